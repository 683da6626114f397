"""End-to-end dataset builds with the real head generator (3 identities x 4 views at 48^2)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import dataset.build as build_mod
from dataset.build import BuildOptions, build_dataset, merge, parse_shard
from dataset.config import make_config
from dataset.validate import validate_dataset
from dataset.views import max_azimuth_gap
from dataset import format as layout
from geogen.common.cameras import from_label, opencv_to_opengl, pixel_rays, world_to_camera
from geogen.common.errors import UserError
from geogen.common.meshio import load_mesh
from dataset.format import GT_MESH_DIR

CFG = make_config("tiny", identities=3, views=4, resolution=48, mesh_resolution=64)
QUIET = BuildOptions(progress=False)


def _all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds") / "d"
    summary = build_dataset(CFG, root, QUIET)
    assert summary.complete and sorted(summary.built) == [0, 1, 2]
    return root


@pytest.fixture(scope="module")
def manifest(built):
    return json.loads((built / "manifest.json").read_text())


def _raycasting_scene(mesh):
    import open3d as o3d

    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(np.asarray(mesh.vertices, dtype=np.float32)),
                        o3d.core.Tensor(np.asarray(mesh.faces, dtype=np.uint32)))
    return scene


def _views(manifest):
    for id_, entry in sorted(manifest["identities"].items()):
        for v in entry["views"]:
            yield int(id_), v


def test_validate_passes_and_layout_is_complete(built, manifest):
    assert validate_dataset(built) == []
    assert manifest["counts"]["images"] == 12 and manifest["seed"] == CFG.seed
    split = manifest["split"]
    assert sorted(split["train"] + split["val"] + split["test"]) == ["000000", "000001", "000002"]
    assert all(split[k] for k in ("train", "val", "test"))       # one identity each
    for i, v in _views(manifest):
        for rel in (v["image"], v["depth"], v["normals"], v["mask"]):
            assert (built / rel).is_file() and rel in manifest["files"]
        assert v["image"] == layout.image(i, v["index"])
    assert (built / f"{GT_MESH_DIR}/000000.ply").is_file()


def test_depth_back_projects_onto_the_gt_mesh(built, manifest):
    import open3d as o3d

    for i, v in _views(manifest):
        mesh = load_mesh(built / layout.gt_mesh(i))
        scene = _raycasting_scene(mesh)
        c2w, K = from_label(v["label"])
        depth = np.load(built / v["depth"])
        fg = depth > 0
        origins, dirs = pixel_rays(c2w, K, CFG.resolution, CFG.resolution)
        z_per_t = dirs @ c2w[:3, 2]
        pts = origins + dirs * (depth.ravel() / z_per_t)[:, None]
        dist = scene.compute_distance(o3d.core.Tensor(pts[fg.ravel()].astype(np.float32))).numpy()
        diag = np.linalg.norm(mesh.bounds[1] - mesh.bounds[0])
        assert np.median(dist) < 1e-3 * diag and dist.max() < 1e-2 * diag


def test_masks_equal_an_independent_silhouette(built, manifest):
    import open3d as o3d

    for i, v in _views(manifest):
        mesh = load_mesh(built / layout.gt_mesh(i))
        scene = _raycasting_scene(mesh)
        c2w, K = from_label(v["label"])
        origins, dirs = pixel_rays(c2w, K, CFG.resolution, CFG.resolution)
        rays = o3d.core.Tensor(np.concatenate([origins, dirs], axis=1).astype(np.float32))
        ref = np.isfinite(scene.cast_rays(rays)["t_hit"].numpy()).reshape(CFG.resolution, CFG.resolution)
        mask = np.asarray(Image.open(built / v["mask"])) == 255
        assert mask.sum() > 50
        assert (mask != ref).sum() <= 2  # grazing rays at a triangle edge may round differently


def test_azimuth_coverage_per_identity(manifest):
    for entry in manifest["identities"].values():
        assert max_azimuth_gap([v["azimuth_deg"] for v in entry["views"]]) <= 90.0


def test_dataset_json_labels(built, manifest):
    labels = json.loads((built / "dataset.json").read_text())["labels"]
    train = manifest["split"]["train"]
    assert [p for p, _ in labels] == [layout.image(int(i), k) for i in train for k in range(CFG.views)]
    for _, lab in labels:
        assert len(lab) == 25 and all(isinstance(x, float) for x in lab)
        c2w, K = from_label(lab)
        R = c2w[:3, :3]
        assert np.allclose(R.T @ R, np.eye(3), atol=1e-9) and np.isclose(np.linalg.det(R), 1.0)
        axis, to_centre = R[:, 2], -c2w[:3, 3] / np.linalg.norm(c2w[:3, 3])
        assert np.degrees(np.arccos(np.clip(axis @ to_centre, -1, 1))) < 1.0
        assert np.allclose(K, [[CFG.focal, 0, 0.5], [0, CFG.focal, 0.5], [0, 0, 1]])


def test_pycolmap_reads_every_model_with_the_right_cameras_and_poses(built, manifest):
    import pycolmap

    for id_, entry in manifest["identities"].items():
        rec = pycolmap.Reconstruction(str(built / layout.colmap_dir(int(id_))))
        assert len(rec.cameras) == 1 and len(rec.images) == CFG.views
        cam = rec.cameras[1]
        f_px = CFG.focal * CFG.resolution
        assert np.allclose(cam.params, [f_px, f_px, CFG.resolution / 2, CFG.resolution / 2])
        for image_id, v in enumerate(entry["views"], start=1):
            img = rec.images[image_id]
            assert img.name == f"{v['index']:03d}.png"
            R, t = world_to_camera(from_label(v["label"])[0])
            assert np.allclose(img.cam_from_world().matrix(), np.hstack([R, t[:, None]]), atol=1e-9)


def test_transforms_json_frames_match_poses(built, manifest):
    for id_, entry in manifest["identities"].items():
        path = built / layout.transforms(int(id_))
        data = json.loads(path.read_text())
        assert data["w"] == data["h"] == CFG.resolution
        assert np.isclose(data["fl_x"], CFG.focal * CFG.resolution)
        assert len(data["frames"]) == CFG.views
        for frame, v in zip(data["frames"], entry["views"]):
            assert (path.parent / frame["file_path"]).resolve() == (built / v["image"]).resolve()
            gl = np.asarray(frame["transform_matrix"])
            assert np.allclose(gl, opencv_to_opengl(from_label(v["label"])[0]))
            assert np.allclose(gl[:3, 2], -from_label(v["label"])[0][:3, 2])  # OpenGL looks down -z


def test_same_seed_is_byte_identical_with_other_workers_and_zip(built, tmp_path):
    other = tmp_path / "again"
    build_dataset(CFG, other, BuildOptions(workers=2, progress=False, write_zip=True))
    a, b = _all_files(built), _all_files(other)
    b_zip = b.pop("eg3d.zip")
    assert set(a) == set(b)
    for rel in a:
        if rel != "manifest.json":  # the manifest also lists the zip's checksum
            assert a[rel] == b[rel], rel
    ma, mb = json.loads(a["manifest.json"]), json.loads(b["manifest.json"])
    assert set(mb["derived_files"]) == {"dataset.json", "eg3d.zip"}
    mb["derived_files"].pop("eg3d.zip")
    assert ma == mb
    import zipfile

    with zipfile.ZipFile(other / "eg3d.zip") as zf:
        names = zf.namelist()
        assert "dataset.json" in names
        labels = json.loads(zf.read("dataset.json"))["labels"]
        assert sorted(p for p, _ in labels) == sorted(n for n in names if n.endswith(".png"))
    assert len(b_zip) > 0 and validate_dataset(other) == []


def test_interrupted_build_resumes_to_the_same_files(built, tmp_path, monkeypatch):
    root = tmp_path / "killed"
    real = build_mod.write_transforms

    def crash_on_identity_1(path, *args, **kwargs):
        if "000001" in str(path):
            raise RuntimeError("simulated crash mid-identity")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(build_mod, "write_transforms", crash_on_identity_1)
    with pytest.raises(RuntimeError, match="simulated"):
        build_dataset(CFG, root, QUIET)
    assert (root / layout.image(1, 0)).is_file()  # half-written identity ...
    assert not (root / layout.record(1)).exists()  # ... is not committed
    assert not (root / "manifest.json").exists()
    assert validate_dataset(root)[0].startswith("manifest.json missing")
    monkeypatch.setattr(build_mod, "write_transforms", real)
    summary = build_dataset(CFG, root, QUIET)
    assert summary.skipped == [0] and sorted(summary.built) == [1, 2] and summary.complete
    assert validate_dataset(root) == []
    assert _all_files(root) == _all_files(built)


def test_resume_rebuilds_an_identity_whose_files_changed(built, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(built, root)
    (root / layout.depth(2, 1)).unlink()
    summary = build_dataset(CFG, root, QUIET)
    assert summary.built == [2] and summary.skipped == [0, 1]
    assert _all_files(root) == _all_files(built)


def test_validate_reports_corrupt_and_missing_files(built, tmp_path):
    root = tmp_path / "bad"
    shutil.copytree(built, root)
    img = root / layout.image(0, 1)
    img.write_bytes(img.read_bytes()[:-10])
    (root / layout.mask(1, 2)).unlink()
    labels = json.loads((root / "dataset.json").read_text())
    labels["labels"][0][1][3] += 0.5
    (root / "dataset.json").write_text(json.dumps(labels))
    problems = validate_dataset(root)
    text = "\n".join(problems)
    assert f"{layout.image(0, 1)}: checksum mismatch" in text
    assert f"{layout.mask(1, 2)}: missing" in text
    assert "dataset.json" in text


def test_shards_merge_into_the_same_dataset(built, tmp_path):
    s0, s1 = tmp_path / "s0", tmp_path / "s1"
    assert not build_dataset(CFG, s0, BuildOptions(shard=(0, 2), progress=False)).complete
    assert not build_dataset(CFG, s1, BuildOptions(shard=(1, 2), progress=False)).complete
    assert (s0 / "shards/manifest-0-of-2.json").is_file() and not (s0 / "manifest.json").exists()
    with pytest.raises(UserError, match="missing"):
        merge(tmp_path / "partial", [s0])
    merge(s0, [s1])
    assert validate_dataset(s0) == []
    merged = {k: v for k, v in _all_files(s0).items() if not k.startswith("shards/")}
    assert merged == _all_files(built)


def test_parse_shard_and_foreign_folder_errors(built):
    assert parse_shard("1/4") == (1, 4) and parse_shard(None) == (0, 1)
    for bad in ("3/2", "1", "a/b", "0/0", "-1/2"):
        with pytest.raises(UserError, match="--shard"):
            parse_shard(bad)
    with pytest.raises(UserError, match="different settings"):
        build_dataset(make_config("tiny", identities=3, views=4, resolution=64, mesh_resolution=64), built, QUIET)


@pytest.mark.parametrize("args, needle", [
    (["build", "--out", "{tmp}/x", "--shard", "3/2"], "--shard"),
    (["build", "--out", "{tmp}/x", "--resolution", "0"], "--resolution"),
    (["build", "--out", "{tmp}/x", "--preset", "tyni"], "did you mean 'tiny'"),
    (["build", "--out", "/proc/forbidden/x"], "writable"),
    (["validate", "{tmp}/nothing-here"], "not found"),
])
def test_cli_bad_arguments_exit_2_with_one_line(tmp_path, args, needle):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    res = subprocess.run([sys.executable, "-c", "from geogen.cli.data import main; main()", *argv],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], res.stderr


def test_cli_validate_exit_codes(built, tmp_path):
    ok = subprocess.run([sys.executable, "-c", "from geogen.cli.data import main; main()", "validate", str(built)],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = tmp_path / "bad"
    shutil.copytree(built, bad)
    (bad / layout.normals(0, 0)).unlink()
    res = subprocess.run([sys.executable, "-c", "from geogen.cli.data import main; main()", "validate", str(bad)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and "missing" in res.stdout


def test_preview_contact_sheet_and_turntable(built, manifest, tmp_path):
    from dataset.preview import contact_sheet, turntable

    sheet = Image.open(contact_sheet(built, tmp_path / "sheet.png", max_identities=2, gap=2))
    assert sheet.size == (4 * 48 + 3 * 2, 2 * 48 + 2)
    first = sorted(manifest["identities"]["000000"]["views"], key=lambda v: v["azimuth_deg"])[0]
    assert np.array_equal(np.asarray(sheet)[:48, :48], np.asarray(Image.open(built / first["image"])))
    gif = Image.open(turntable(built, tmp_path / "turn.gif", identity=1, frames=3, resolution=32))
    assert gif.n_frames == 3 and gif.size == (32, 32)
    with pytest.raises(UserError, match="not in"):
        turntable(built, tmp_path / "x.gif", identity=99)


def test_build_killed_with_sigkill_then_rerun_validates(built, tmp_path):
    import signal
    import time

    root = tmp_path / "sigkill"
    code = ("from dataset.build import build_dataset, BuildOptions; from dataset.config import make_config; "
            f"build_dataset(make_config('tiny', identities=3, views=4, resolution=48, mesh_resolution=64), "
            f"{str(root)!r}, BuildOptions(progress=False))")
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.time() + 60
    while not (root / layout.record(0)).exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (root / "manifest.json").exists()
    summary = build_dataset(CFG, root, QUIET)
    assert summary.complete and 0 in summary.skipped
    assert validate_dataset(root) == []
    assert _all_files(root) == _all_files(built)  # including: no temporary files left behind
