"""Extra reconstruction-only views (``--recon-views``): written, deterministic, used by the pseudo-GT
stage, kept out of the training data, and invisible to ``geogen-data validate``.

2 identities x 4 views at 48^2; 4 extra views at 64^2. The reconstruction itself is replaced by a
stand-in that records what it was given and returns the exact GT mesh (the real pipeline has its
own tests in test_recon_*.py).
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import reconstruction.pseudo_gt as pseudo_gt
from dataset.build import BuildOptions, build_dataset
from dataset.config import make_config
from dataset.recon_views import render_recon_views
from dataset.validate import validate_dataset
from dataset.views import max_azimuth_gap
from geogen.common.cameras import pixel_rays
from geogen.common.errors import UserError
from geogen.common.meshio import load_mesh
from reconstruction.pipeline import ReconstructionResult
from reconstruction.scene import read_transforms
from dataset.format import PSEUDO_GT_DIR

CFG = make_config("tiny", identities=2, views=4, resolution=48, mesh_resolution=64)
IDS = ["000000", "000001"]


def _files(root: Path, exclude=()) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not str(p.relative_to(root)).startswith(exclude)}


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    root = tmp_path_factory.mktemp("rv") / "plain"
    assert build_dataset(CFG, root, BuildOptions(progress=False)).complete
    return root


@pytest.fixture()
def fake_recon(monkeypatch):
    """Replace the MVS pipeline: remember which transforms.json files were read, answer with the exact GT mesh."""
    seen = []  # (transforms paths, scene) per reconstruction
    real_read = pseudo_gt.read_transforms_files

    def read(paths, **kwargs):
        scene = real_read(paths, **kwargs)
        seen.append(([Path(p) for p in paths], scene))
        return scene

    def reconstruct(scene, cfg, **kwargs):
        path = seen[-1][0][0]  # <root>/<recon_views|identities>/<id>/transforms.json
        gt = load_mesh(path.parents[2] / "meshes" / "gt" / f"{path.parent.name}.ply")
        return ReconstructionResult(np.asarray(gt.vertices), np.asarray(gt.faces), {"total": 0.0}, {})

    monkeypatch.setattr(pseudo_gt, "read_transforms_files", read)
    monkeypatch.setattr(pseudo_gt, "reconstruct_scene", reconstruct)
    return seen


def test_recon_views_are_written_used_and_kept_out_of_the_training_data(plain, tmp_path, fake_recon):
    root = tmp_path / "d"
    shutil.copytree(plain, root)
    before = _files(root)
    summary = pseudo_gt.build_for_dataset(root, all_ids=True, log=lambda m: None, recon_views=4, recon_resolution=64)

    # Written: 4 images + masks + depth at 64^2 and a transforms.json, committed by a record.
    for ident in IDS:
        folder = root / "recon_views" / ident
        record = json.loads((folder / "record.json").read_text())
        assert (record["views"], record["resolution"]) == (4, 64)
        for k in range(4):
            with Image.open(folder / "images" / f"{k:03d}.png") as im:
                assert (im.mode, im.size) == ("RGB", (64, 64))
            with Image.open(folder / "masks" / f"{k:03d}.png") as im:
                assert im.size == (64, 64) and 0 < np.mean(np.asarray(im) == 255) < 1
        assert max_azimuth_gap([f["azimuth_deg"] for f in record["frames"]]) <= 90.0
        training = json.loads((root / "identities" / ident / "record.json").read_text())["views"]
        assert [f["label"] for f in record["frames"]] != [v["label"] for v in training]  # own seed stream

    # Used: the reconstruction got exactly those views, and the records/summary say so.
    assert [[p.relative_to(root).as_posix() for p in paths] for paths, _ in fake_recon] == [
        [f"recon_views/{i}/transforms.json"] for i in IDS]
    for _, scene in fake_recon:
        assert len(scene.views) == 4 and scene.size == (64, 64) and all(v.mask is not None for v in scene.views)
    expected = {"source": "recon_views", "views": 4, "resolution": 64}
    for ident in IDS:
        record = json.loads((root / "meshes" / "pseudo_gt" / "records" / f"{ident}.json").read_text())
        assert record["inputs"] == expected
    assert summary["inputs"] == [expected] and "never sees" in summary["inputs_note"]
    assert summary["fscore@0.01"]["median"] == pytest.approx(1.0)

    # Kept out: every file of the dataset is byte-identical, dataset.json/manifest never name them,
    # and validate passes with them present.
    assert _files(root, exclude=("recon_views", PSEUDO_GT_DIR)) == before
    for name in ("dataset.json", "manifest.json"):
        assert "recon_views" not in (root / name).read_text()
    assert validate_dataset(root) == []

    # Deterministic: rendering again from scratch gives the same bytes (record timings aside).
    first = _files(root / "recon_views")
    shutil.rmtree(root / "recon_views")
    render_recon_views(root, CFG, [0, 1], 4, 64, log=lambda m: None)
    again = _files(root / "recon_views")
    assert {k for k in again if not k.endswith("record.json")} == {k for k in first if not k.endswith("record.json")}
    assert all(again[k] == first[k] for k in first if not k.endswith("record.json"))

    # Resumable: a re-run skips both stages; a different view count re-renders and redoes the pseudo-GT.
    logs = []
    fake_recon.clear()
    pseudo_gt.build_for_dataset(root, all_ids=True, log=logs.append, recon_views=4, recon_resolution=64)
    assert sum("skipping" in line for line in logs) == 4 and not fake_recon
    pseudo_gt.build_for_dataset(root, all_ids=True, log=lambda m: None, recon_views=5, recon_resolution=64)
    assert [len(scene.views) for _, scene in fake_recon] == [5, 5]
    assert (root / "recon_views" / "000000" / "images" / "004.png").is_file()


def test_recon_views_match_the_gt_geometry(plain, tmp_path):
    """The transforms.json the reconstruction reads agrees with the rendered depth and the GT mesh."""
    import open3d as o3d

    root = tmp_path / "d"
    shutil.copytree(plain, root)
    render_recon_views(root, CFG, [1], 4, 64, log=lambda m: None)
    scene = read_transforms(root / "recon_views" / "000001" / "transforms.json")
    gt = load_mesh(root / "meshes" / "gt" / "000001.ply")
    rc = o3d.t.geometry.RaycastingScene()
    rc.add_triangles(o3d.core.Tensor(np.asarray(gt.vertices, np.float32)),
                     o3d.core.Tensor(np.asarray(gt.faces, np.uint32)))
    for k, view in enumerate(scene.views):
        depth = np.load(root / "recon_views" / "000001" / "depth" / f"{k:03d}.npy")
        assert np.array_equal(depth > 0, view.mask)
        origins, dirs = pixel_rays(view.camera.c2w, view.camera.K_norm, 64, 64)
        forward = view.camera.c2w[:3, 2]
        d = depth.reshape(-1)
        fg = d > 0
        points = origins[fg] + dirs[fg] * (d[fg] / (dirs[fg] @ forward))[:, None]
        dist = rc.compute_distance(o3d.core.Tensor(points.astype(np.float32))).numpy()
        assert np.median(dist) < 1e-3


def test_without_recon_views_the_training_views_are_used(plain, tmp_path, fake_recon):
    root = tmp_path / "d"
    shutil.copytree(plain, root)
    summary = pseudo_gt.build_for_dataset(root, log=lambda m: None)
    assert not (root / "recon_views").exists()
    assert summary["inputs"] == [{"source": "training_views", "views": 4, "resolution": 48}]
    assert "inputs_note" not in summary
    assert [([p.parent.parent.name for p in paths], len(scene.views)) for paths, scene in fake_recon] == [
        (["identities"], 4)]


def test_recon_views_at_the_dataset_resolution_are_added_to_the_training_views(plain, tmp_path, fake_recon):
    root = tmp_path / "d"
    shutil.copytree(plain, root)
    summary = pseudo_gt.build_for_dataset(root, log=lambda m: None, recon_views=5)  # default: the dataset's 48^2
    (paths, scene), = fake_recon
    assert [p.parent.parent.name for p in paths] == ["identities", "recon_views"]
    assert len(scene.views) == 4 + 5 and scene.size == (48, 48)
    names = [v.name for v in scene.views]
    assert len(set(names)) == 9 and names[0].startswith("identities_") and names[-1].startswith("recon_views_")
    expected = {"source": "training_views+recon_views", "views": 9, "resolution": 48}
    assert summary["inputs"] == [expected] and "never sees" in summary["inputs_note"]
    # the training views come first and are the dataset's own, unchanged
    training = read_transforms(root / "identities" / paths[0].parent.name / "transforms.json")
    assert all(np.array_equal(a.image, b.image) and np.allclose(a.camera.c2w, b.camera.c2w)
               for a, b in zip(scene.views[:4], training.views))


def test_bad_recon_view_options_are_one_line_errors(plain, tmp_path):
    with pytest.raises(UserError, match="--recon-views"):
        render_recon_views(plain, CFG, [0], 2, 64)
    with pytest.raises(UserError, match="--recon-resolution needs --recon-views"):
        pseudo_gt.build_for_dataset(plain, recon_resolution=64, report=False)
    res = subprocess.run([sys.executable, "-c", "from geogen.cli.data import main; main()", "build", "--out",
                          str(tmp_path / "x"), "--recon-views", "3"], capture_output=True, text=True, timeout=60)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and "--recon-views" in lines[0], res.stderr
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())
