"""NeRF-style ``transforms.json`` (instant-ngp / nerfstudio): OpenGL cam2world per frame."""

from __future__ import annotations

import math
from pathlib import Path

from geogen.common.atomic import atomic_write_json, sha256_file
from geogen.common.cameras import Camera, opencv_to_opengl


def transforms_dict(cameras: list[Camera], image_paths: list[str], mask_paths: list[str],
                    depth_paths: list[str]) -> dict:
    """All cameras share intrinsics; paths are relative to the transforms.json file."""
    cam = cameras[0]
    K = cam.K
    return {
        "camera_model": "OPENCV",
        "w": cam.width, "h": cam.height,
        "fl_x": float(K[0, 0]), "fl_y": float(K[1, 1]), "cx": float(K[0, 2]), "cy": float(K[1, 2]),
        "camera_angle_x": 2.0 * math.atan(cam.width / (2.0 * K[0, 0])),
        "camera_angle_y": 2.0 * math.atan(cam.height / (2.0 * K[1, 1])),
        "depth_unit_scale_factor": 1.0,
        "frames": [
            {"file_path": img, "mask_path": msk, "depth_file_path": dep,
             "transform_matrix": opencv_to_opengl(c.c2w).tolist()}
            for c, img, msk, dep in zip(cameras, image_paths, mask_paths, depth_paths)
        ],
    }


def write_transforms(path: Path, cameras: list[Camera], image_paths: list[str], mask_paths: list[str],
                     depth_paths: list[str]) -> str:
    atomic_write_json(path, transforms_dict(cameras, image_paths, mask_paths, depth_paths))
    return sha256_file(path)
