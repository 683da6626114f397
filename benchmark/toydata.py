"""A tiny analytic dataset in the dataset-folder layout, for tests and demos of the benchmark.

Identities are ellipsoid "heads" (exact GT meshes), rendered by ray casting from a ring of
cameras. It exercises every file the benchmark reads without the dataset pipeline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from geogen.common.atomic import atomic_path, atomic_write_json, sha256_file
from geogen.common.cameras import Camera, normalized_intrinsics, opencv_to_opengl, spherical_cam2world
from geogen.common.meshio import save_ply
from geogen.common.seeding import rng_for
from dataset import format as layout

from .pictures import raycast_shaded


def toy_head(rng: np.random.Generator) -> trimesh.Trimesh:
    radii = np.array([0.16, 0.2, 0.18]) * rng.uniform(0.85, 1.15, size=3)
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=1.0)
    return trimesh.Trimesh(mesh.vertices * radii, mesh.faces, process=False)


def write_toy_dataset(root: str | Path, n_train: int = 1, n_test: int = 2, n_views: int = 4,
                      resolution: int = 32, seed: int = 0, focal: float = 3.2) -> Path:
    """Write manifest.json, images, identities/<id>/transforms.json and meshes/gt for a toy set."""
    root = Path(root)
    ids = [f"{i:06d}" for i in range(n_train + n_test)]
    K = normalized_intrinsics(focal)
    checksums = {}
    for k, sid in enumerate(ids):
        mesh = toy_head(rng_for(seed, k))
        save_ply(root / layout.gt_mesh(sid), mesh.vertices, mesh.faces)
        frames = []
        for v in range(n_views):
            c2w = spherical_cam2world(360.0 * v / n_views, 5.0, 2.7)
            img = raycast_shaded(mesh.vertices, mesh.faces, Camera(c2w, K, resolution, resolution))
            rel = Path(layout.image(sid, v))
            with atomic_path(root / rel) as tmp:
                Image.fromarray(img).save(tmp, format="PNG")
            checksums[str(rel)] = sha256_file(root / rel)
            frames.append({"file_path": f"../../{rel.as_posix()}",
                           "transform_matrix": opencv_to_opengl(c2w).tolist()})
        fl = focal * resolution
        atomic_write_json(root / layout.transforms(sid),
                          {"camera_angle_x": float(2 * np.arctan(0.5 / focal)), "fl_x": fl, "fl_y": fl,
                           "cx": resolution / 2, "cy": resolution / 2, "w": resolution, "h": resolution,
                           "frames": frames})
    atomic_write_json(root / layout.MANIFEST, {
        "schema_version": 1, "generator_version": "toy", "seed": seed, "preset": "toy",
        "resolution": resolution, "split": {"train": ids[:n_train], "test": ids[n_train:]},
        "checksums": checksums})
    return root
