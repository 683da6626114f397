"""Reconstruction I/O: COLMAP depth/normal maps, transforms.json and COLMAP text cameras."""

import json

import numpy as np
import pytest
from PIL import Image

from geogen.common.cameras import (opencv_to_opengl, rotation_to_quaternion, spherical_cam2world, world_to_camera,
                                   normalized_intrinsics)
from geogen.common.errors import UserError
from reconstruction.depthmap_io import read_colmap_array, write_colmap_array
from reconstruction.scene import read_colmap_text, read_transforms


def test_depth_and_normal_maps_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    depth = rng.random((7, 5)).astype(np.float32)
    normal = rng.normal(size=(7, 5, 3)).astype(np.float32)
    write_colmap_array(tmp_path / "d.bin", depth)
    write_colmap_array(tmp_path / "n.bin", normal)
    np.testing.assert_array_equal(read_colmap_array(tmp_path / "d.bin"), depth)
    np.testing.assert_array_equal(read_colmap_array(tmp_path / "n.bin"), normal)


def test_depth_map_layout_is_colmap_column_major(tmp_path):
    depth = np.arange(6, dtype=np.float32).reshape(2, 3)  # H=2, W=3
    write_colmap_array(tmp_path / "d.bin", depth)
    raw = (tmp_path / "d.bin").read_bytes()
    assert raw.startswith(b"3&2&1&")
    data = np.frombuffer(raw[len(b"3&2&1&"):], dtype="<f4")
    # Column-major: the first column (rows 0, 1) comes first.
    np.testing.assert_array_equal(data, [0, 3, 1, 4, 2, 5])


def test_truncated_map_is_a_user_error(tmp_path):
    (tmp_path / "bad.bin").write_bytes(b"4&4&1&" + b"\0" * 8)
    with pytest.raises(UserError, match="truncated"):
        read_colmap_array(tmp_path / "bad.bin")


def _cameras(w=48, h=40):
    Ks = [normalized_intrinsics(3.2), np.array([[2.9, 0, 0.47], [0, 3.1, 0.52], [0, 0, 1.0]])]
    c2ws = [spherical_cam2world(20.0, 10.0), spherical_cam2world(-75.0, -5.0, 2.5), spherical_cam2world(160.0, 30.0)]
    return [(c2ws[i], Ks[i % 2]) for i in range(3)], w, h


def _write_images(folder, n, w, h):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(np.full((h, w, 3), 40 * i, np.uint8)).save(folder / f"{i:03d}.png")


def test_transforms_json_gives_the_project_cameras(tmp_path):
    cams, w, h = _cameras()
    _write_images(tmp_path / "images", 3, w, h)
    frames = [{"file_path": f"images/{i:03d}.png", "transform_matrix": opencv_to_opengl(c2w).tolist(),
               "fl_x": K[0, 0] * w, "fl_y": K[1, 1] * h, "cx": K[0, 2] * w, "cy": K[1, 2] * h}
              for i, (c2w, K) in enumerate(cams)]
    (tmp_path / "transforms.json").write_text(json.dumps({"w": w, "h": h, "frames": frames}))
    scene = read_transforms(tmp_path / "transforms.json")
    assert [v.name for v in scene.views] == ["000", "001", "002"]
    for view, (c2w, K) in zip(scene.views, cams):
        np.testing.assert_allclose(view.camera.c2w, c2w, atol=1e-12)
        np.testing.assert_allclose(view.camera.K_norm, K, atol=1e-12)
        assert (view.camera.width, view.camera.height) == (w, h)


def test_transforms_camera_angle_x_only(tmp_path):
    cams, w, h = _cameras(w=40, h=40)
    _write_images(tmp_path / "images", 3, 40, 40)
    f = 3.2
    frames = [{"file_path": f"images/{i:03d}.png", "transform_matrix": opencv_to_opengl(c2w).tolist()}
              for i, (c2w, _) in enumerate(cams)]
    (tmp_path / "t.json").write_text(json.dumps({"camera_angle_x": 2 * np.arctan(0.5 / f), "frames": frames}))
    scene = read_transforms(tmp_path / "t.json")
    np.testing.assert_allclose(scene.views[0].camera.K_norm, normalized_intrinsics(f), atol=1e-12)


def test_colmap_text_model_gives_the_project_cameras(tmp_path):
    cams, w, h = _cameras()
    _write_images(tmp_path / "images", 3, w, h)
    cam_lines, img_lines = ["# cameras"], ["# images"]
    for i, (c2w, K) in enumerate(cams):
        cam_lines.append(f"{i + 1} PINHOLE {w} {h} {float(K[0, 0] * w)!r} {float(K[1, 1] * h)!r} {float(K[0, 2] * w)!r} {float(K[1, 2] * h)!r}")
        R, t = world_to_camera(c2w)
        q = rotation_to_quaternion(R)
        img_lines += [f"{i + 1} {' '.join(repr(float(x)) for x in q)} {' '.join(repr(float(x)) for x in t)} "
                      f"{i + 1} {i:03d}.png", ""]
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "cameras.txt").write_text("\n".join(cam_lines) + "\n")
    (tmp_path / "model" / "images.txt").write_text("\n".join(img_lines) + "\n")
    scene = read_colmap_text(tmp_path / "model", tmp_path / "images")
    for view, (c2w, K) in zip(scene.views, cams):
        np.testing.assert_allclose(view.camera.c2w, c2w, atol=1e-9)
        np.testing.assert_allclose(view.camera.K_norm, K, atol=1e-12)


def test_colmap_text_rejects_distorted_models(tmp_path):
    (tmp_path / "cameras.txt").write_text("1 OPENCV 10 10 5 5 5 5 0 0 0 0\n")
    (tmp_path / "images.txt").write_text("")
    with pytest.raises(UserError, match="PINHOLE"):
        read_colmap_text(tmp_path, tmp_path)
