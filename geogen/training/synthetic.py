"""A stand-in EG3D-style dataset (shaded coloured spheres from orbit cameras) for tests and
benchmarks, so they run before or without ``geogen-data build``. Not the head dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from geogen.common.atomic import atomic_write_json
from geogen.common.cameras import normalized_intrinsics, pixel_rays, spherical_cam2world, to_label
from geogen.common.seeding import rng_for


def _render_sphere(c2w, K, res: int, radius: float, color: np.ndarray) -> np.ndarray:
    """Lambert-shaded sphere at the origin on a white background, (res, res, 3) uint8."""
    o, d = pixel_rays(c2w, K, res, res)
    b = np.sum(o * d, axis=1)
    disc = b * b - (np.sum(o * o, axis=1) - radius ** 2)
    hit = disc > 0
    t = -b - np.sqrt(np.maximum(disc, 0))
    n = (o + t[:, None] * d) / radius
    shade = np.clip(n @ np.array([0.3, 0.8, 0.5]) / np.linalg.norm([0.3, 0.8, 0.5]), 0, 1) * 0.8 + 0.2
    rgb = np.where(hit[:, None], color[None] * shade[:, None], 1.0)
    return (rgb.reshape(res, res, 3) * 255).round().astype(np.uint8)


def write_fake_dataset(out: str | Path, identities: int = 4, views: int = 4, resolution: int = 64,
                       seed: int = 0, focal: float = 3.2) -> Path:
    """Write images/<id>/<vvv>.png and dataset.json (360° azimuths, small random elevations)."""
    out = Path(out)
    labels = []
    for i in range(identities):
        rng = rng_for(seed, i)
        color, radius = rng.uniform(0.2, 0.9, 3), rng.uniform(0.2, 0.35)
        for v in range(views):
            az, el = 360.0 * v / views + rng.uniform(0, 30), rng.uniform(-10, 20)
            c2w, K = spherical_cam2world(az, el, 2.7), normalized_intrinsics(focal)
            rel = f"images/{i:06d}/{v:03d}.png"
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(_render_sphere(c2w, K, resolution, radius, color)).save(out / rel)
            labels.append([rel, to_label(c2w, K)])
    atomic_write_json(out / "dataset.json", {"labels": labels})
    return out
