"""End to end: sparse with known poses, failure reporting, the dataset build (resume, report) and the CLI."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import trimesh
from PIL import Image

from geogen.common.cameras import opencv_to_opengl
from geogen.common.meshio import save_ply
from reconstruction.config import make_recon_config
from reconstruction.pipeline import ReconstructionFailure, reconstruct_scene
from reconstruction.pseudo_gt import build_for_dataset
from reconstruction.sparse import triangulate_known_poses
from reconstruction.synthetic import Sphere, Square, make_scene
from dataset.format import PSEUDO_GT_DIR


def _fast_config():
    cfg = make_recon_config("tiny")
    cfg.patchmatch.iterations, cfg.patchmatch.geom_iterations = 3, 1
    cfg.meshing.depth = 7
    return cfg


def test_sparse_triangulates_on_the_surface_with_known_cameras():
    scene, _, _ = make_scene([Sphere(radius=0.3)], n_views=8, resolution=160)
    sparse = triangulate_known_poses(scene)
    assert len(sparse.points) >= 20
    assert np.median(np.abs(np.linalg.norm(sparse.points, axis=1) - 0.3)) < 2e-3
    assert sparse.shared[0, [1, 7]].sum() > 0 and sparse.shared[0, 4] == 0  # neighbours share points, opposite views do not


def test_texture_less_scene_is_a_reported_failure():
    # A uniformly coloured wall that fills every view: no contrast anywhere.
    scene, _, _ = make_scene([Square(size=4.0)], n_views=5, resolution=48, azimuth_span=60, textured=False)
    with pytest.raises(ReconstructionFailure) as info:
        reconstruct_scene(scene, _fast_config())
    assert info.value.reason == "too_little_texture"


def _write_identity(root, ident, scene, gt_mesh):
    frames = []
    for k, view in enumerate(scene.views):
        path = root / "images" / ident / f"{k:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.round(view.image * 255).astype(np.uint8)).save(path)
        frames.append({"file_path": f"../../images/{ident}/{k:03d}.png",
                       "transform_matrix": opencv_to_opengl(view.camera.c2w).tolist()})
    w = scene.views[0].camera.width
    K = scene.views[0].camera.K
    meta = {"w": w, "h": w, "fl_x": K[0, 0], "fl_y": K[1, 1], "cx": K[0, 2], "cy": K[1, 2], "frames": frames}
    (root / "identities" / ident).mkdir(parents=True)
    (root / "identities" / ident / "transforms.json").write_text(json.dumps(meta))
    save_ply(root / "meshes" / "gt" / f"{ident}.ply", gt_mesh.vertices, gt_mesh.faces)


@pytest.mark.slow
def test_build_for_dataset_writes_meshes_records_failures_and_resumes(tmp_path):
    textured, _, _ = make_scene([Sphere(radius=0.3)], n_views=10, resolution=72)
    flat, _, _ = make_scene([Square(size=4.0)], n_views=10, resolution=72, azimuth_span=60, textured=False)
    _write_identity(tmp_path, "000001", textured, trimesh.creation.icosphere(subdivisions=4, radius=0.3))
    _write_identity(tmp_path, "000002", flat, trimesh.creation.box(extents=(0.8, 0.8, 0.01)))
    (tmp_path / "manifest.json").write_text(json.dumps({"split": {"train": ["000000"], "test": ["000001", "000002"]}}))
    logs = []
    summary = build_for_dataset(tmp_path, config=_fast_config(), log=logs.append)
    assert (tmp_path / "meshes" / "pseudo_gt" / "000001.ply").is_file()
    assert not (tmp_path / "meshes" / "pseudo_gt" / "000002.ply").exists()
    assert summary["succeeded"] == 1 and summary["failures"] == {"000002": "too_little_texture"}
    rows = list(csv.DictReader((tmp_path / "meshes" / "pseudo_gt" / "quality.csv").open()))
    ok = [r for r in rows if r["id"] == "000001"][0]
    assert ok["status"] == "ok" and float(ok["fscore@0.02"]) > 0.7
    assert ok["watertight"] == "True" and int(ok["mesh_components"]) >= 1  # one closed component kept, count reported
    assert summary["watertight"] == 1
    assert (tmp_path / "meshes" / "pseudo_gt" / "quality.png").stat().st_size > 1000
    # Resume: both identities are skipped (done or recorded as failed).
    logs.clear()
    build_for_dataset(tmp_path, config=_fast_config(), log=logs.append)
    assert sum("skipping" in line for line in logs) == 2


def test_cli_bad_input_is_one_line_exit_2(tmp_path):
    cmd = [sys.executable, "-c", "from reconstruction.cli import main; main()", "run", "--out", str(tmp_path / "m.ply"),
           "--transforms", str(tmp_path / "missing.json")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "not found" in proc.stderr


def test_fallbacks_are_warned_on_the_console_and_recorded(monkeypatch):
    """No --bounds, no sparse points, no masks: unit cube and scene-box depth ranges, and the tiny
    preset's floor extrusion skipped for want of a visual hull, each a warning line."""
    import reconstruction.pipeline as pipeline
    from reconstruction.sparse import SparseResult

    scene, _, _ = make_scene([Sphere(radius=0.3)], n_views=6, resolution=64)
    scene.bounds = None
    n = len(scene.views)
    monkeypatch.setattr(pipeline, "triangulate_known_poses", lambda *a, **k: SparseResult(
        np.zeros((0, 3)), [], np.zeros((n, n), dtype=int), notes=["no verified feature matches between views"]))
    logs = []
    result = reconstruct_scene(scene, _fast_config(), log=logs.append)
    warnings = result.stats["warnings"]
    assert len(warnings) == 3 and "unit cube" in warnings[0] and "scene box" in warnings[1]
    assert warnings[2].startswith("meshing.floor_extrude skipped: it needs the visual hull")
    printed = [line for line in logs if line.startswith("warning: ")]
    assert printed == [f"warning: {w}" for w in warnings] and all("\n" not in w for w in printed)
    assert result.stats["bounds"] == [[-0.5] * 3, [0.5] * 3]


def test_pseudo_gt_resume_recomputes_when_the_config_changed(tmp_path, monkeypatch):
    """A --preset small re-run must not keep the tiny meshes; threads/device alone change nothing."""
    import reconstruction.pseudo_gt as pseudo_gt
    from benchmark.toydata import write_toy_dataset
    from reconstruction.pipeline import ReconstructionResult

    root = write_toy_dataset(tmp_path / "D", n_train=1, n_test=2, n_views=4)
    calls = []

    def fake(scene, cfg, **kwargs):
        calls.append(cfg.preset)
        m = trimesh.creation.icosphere(subdivisions=2, radius=0.2)
        return ReconstructionResult(np.asarray(m.vertices), np.asarray(m.faces), {"total": 0.0}, {"warnings": []})

    monkeypatch.setattr(pseudo_gt, "reconstruct_scene", fake)
    build = lambda cfg, logs: pseudo_gt.build_for_dataset(root, config=cfg, report=False, log=logs.append)  # noqa: E731
    build(make_recon_config("tiny"), [])
    assert calls == ["tiny", "tiny"]
    logs = []
    build(make_recon_config("tiny", num_threads=2), logs)
    assert calls == ["tiny", "tiny"] and sum("skipping" in line for line in logs) == 2
    logs = []
    build(make_recon_config("small"), logs)
    assert calls == ["tiny", "tiny", "small", "small"]
    warned = [line for line in logs if line.startswith("warning: ")]
    assert len(warned) == 2 and all("preset tiny → small" in line and "recomputing" in line for line in warned)
    record = json.loads((root / f"{PSEUDO_GT_DIR}/records/000001.json").read_text())
    assert record["config"]["preset"] == "small" and record["replaced"].startswith("reconstruction config changed")


def test_colmap_backend_says_which_settings_it_ignores(monkeypatch):
    """COLMAP's PatchMatch (needs CUDA, stubbed here) takes one depth range and three settings: the
    run records that the rest applied to the torch backend only."""
    import reconstruction.colmap_backend as colmap_backend
    import reconstruction.pipeline as pipeline

    scene, depths, normals = make_scene([Sphere(radius=0.3)], n_views=6, resolution=64)
    monkeypatch.setattr(colmap_backend, "colmap_depth_maps", lambda scene, ranges, cfg: (depths, normals))
    cfg = _fast_config()
    cfg.backend = "colmap"
    logs, stats = [], {}
    maps = pipeline.estimate_maps(scene, cfg, {}, stats, log=logs.append)
    assert maps.depths is depths
    said = [w for w in stats["warnings"] if w.startswith("backend colmap:")]
    assert len(said) == 1 and "apply to --backend torch only" in said[0]
    assert f"warning: {said[0]}" in logs
