"""Training data: dataset.json/zip reading, one-line errors, camera-consistent x-flip, resumable batches."""

import json
import zipfile

import numpy as np
import pytest
import torch

from geogen.common.cameras import Camera, from_label, normalized_intrinsics, spherical_cam2world, to_label
from geogen.common.errors import UserError
from geogen.training.data import ImageLabelDataset, ResumableBatchSampler, camera_stats, mirror_label
from geogen.training.synthetic import write_fake_dataset


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    return write_fake_dataset(tmp_path_factory.mktemp("ds"), identities=2, views=3, resolution=32)


def test_reads_images_and_labels(fake):
    ds = ImageLabelDataset(fake, resolution=32)
    labels = json.loads((fake / "dataset.json").read_text())["labels"]
    assert len(ds) == 6
    img, lab = ds[4]
    assert img.shape == (3, 32, 32) and img.dtype == torch.float32
    assert -1.0 <= img.min() and img.max() <= 1.0
    assert torch.allclose(lab, torch.tensor(labels[4][1], dtype=torch.float32))
    corner = img[:, 0, 0]  # fake images have a white background
    assert torch.allclose(corner, torch.ones(3))


def test_resizes_to_model_resolution(fake):
    img, _ = ImageLabelDataset(fake, resolution=16)[0]
    assert img.shape == (3, 16, 16)


def test_zip_layout_matches_folder(fake, tmp_path):
    archive = tmp_path / "data.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in fake.rglob("*"):
            if p.is_file():
                zf.write(p, p.relative_to(fake).as_posix())
    a, b = ImageLabelDataset(fake, 32), ImageLabelDataset(archive, 32)
    for i in range(len(a)):
        assert torch.equal(a[i][0], b[i][0]) and torch.equal(a[i][1], b[i][1])


@pytest.mark.parametrize("content, match", [
    (None, "has no dataset.json"),
    ("{oops", "not valid JSON"),
    ('{"labels": null}', "no 'labels' list"),
    ('{"labels": [["images/000000/000.png", [1, 2, 3]]]}', r"labels\[0\] is not \[relpath, 25 finite floats\]"),
    ('{"labels": [["images/nope.png", ' + json.dumps([0.0] * 25) + "]]}", "1 image.* missing .*nope.png"),
])
def test_bad_dataset_json_is_one_line_error(tmp_path, content, match):
    if content is not None:
        (tmp_path / "dataset.json").write_text(content)
    with pytest.raises(UserError, match=match) as err:
        ImageLabelDataset(tmp_path, 32)
    assert "\n" not in str(err.value)


def test_missing_dataset_folder(tmp_path):
    with pytest.raises(UserError, match="not found; pass --data"):
        ImageLabelDataset(tmp_path / "absent", 32)


def test_mirror_label_is_the_reflected_camera():
    K = normalized_intrinsics(3.2)
    for az, el in [(30.0, 10.0), (135.0, -5.0), (250.0, 20.0)]:
        mirrored = np.array(mirror_label(to_label(spherical_cam2world(az, el), K)))
        np.testing.assert_allclose(mirrored, to_label(spherical_cam2world(-az, el), K), atol=1e-12)


def test_mirrored_camera_sees_the_flipped_image():
    """A point X seen at pixel (u, v) ⇒ its mirror (-x, y, z) is seen at (W - u, v) by the mirrored camera."""
    rng = np.random.default_rng(0)
    c2w = spherical_cam2world(40.0, 15.0)
    K = normalized_intrinsics(3.2)
    K[0, 2] = 0.47  # off-centre principal point: checks cx' = 1 - cx too
    cam = Camera(c2w, K, 64, 64)
    c2w_m, K_m = from_label(mirror_label(to_label(c2w, K)))
    cam_m = Camera(c2w_m, K_m, 64, 64)
    pts = rng.uniform(-0.3, 0.3, (20, 3))
    uv, z = cam.project(pts)
    uv_m, z_m = cam_m.project(pts * np.array([-1.0, 1.0, 1.0]))
    np.testing.assert_allclose(uv_m[:, 0], 64 - uv[:, 0], atol=1e-9)
    np.testing.assert_allclose(uv_m[:, 1], uv[:, 1], atol=1e-9)
    np.testing.assert_allclose(z_m, z, atol=1e-12)


def test_xflip_doubles_with_flipped_images_and_mirrored_labels(fake):
    ds = ImageLabelDataset(fake, 32, xflip=True)
    n = ds.num_images
    assert len(ds) == 2 * n and ds.all_labels().shape == (2 * n, 25)
    img, lab = ds[1]
    img_f, lab_f = ds[1 + n]
    assert torch.equal(img_f, img.flip(-1))
    np.testing.assert_allclose(lab_f.numpy(), mirror_label(lab.double().numpy()), atol=1e-6)


def test_camera_stats(fake):
    stats = camera_stats(ImageLabelDataset(fake, 32).labels)
    assert stats["radius"] == pytest.approx(2.7, abs=1e-5)
    assert stats["focal"] == pytest.approx(3.2, abs=1e-6)
    assert -10 <= stats["elevation"] <= 20


def _take(sampler, n):
    it = iter(sampler)
    return [next(it) for _ in range(n)]


def test_sampler_resumes_at_any_batch():
    full = _take(ResumableBatchSampler(10, 3, seed=5), 12)
    for k in (1, 3, 7):
        assert _take(ResumableBatchSampler(10, 3, seed=5, start_batch=k), 12 - k) == full[k:]


def test_sampler_covers_each_epoch_and_shards_by_rank():
    # 12 items, 2 ranks, 3 per batch: each rank sees 6 per epoch; together every index once per epoch
    r0 = sum(_take(ResumableBatchSampler(12, 3, rank=0, world=2, seed=1), 2), [])
    r1 = sum(_take(ResumableBatchSampler(12, 3, rank=1, world=2, seed=1), 2), [])
    assert sorted(r0 + r1) == list(range(12))
    epoch1 = sum(_take(ResumableBatchSampler(12, 3, rank=0, world=1, seed=1), 8)[4:], [])
    assert sorted(epoch1) == list(range(12))


def test_sampler_handles_dataset_smaller_than_batch():
    batches = _take(ResumableBatchSampler(3, 5, seed=0), 3)
    assert all(len(b) == 5 for b in batches)
    assert sorted(sum(batches, [])[:3]) == [0, 1, 2]
