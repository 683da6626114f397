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
