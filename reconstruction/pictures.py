"""Side-by-side pictures: GT mesh beside pseudo-GT mesh, shaded, from a few azimuths (ray cast, no GL)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

from geogen.common.cameras import Camera, normalized_intrinsics, spherical_cam2world

from .synthetic import MeshShape, render


def shaded_views(mesh, azimuths=(0.0, 90.0, 180.0, 270.0), size: int = 128, focal: float = 2.8) -> list[np.ndarray]:
    """Grey Lambert renderings (uint8 RGB) of a trimesh mesh around the vertical axis."""
    shape = MeshShape(mesh)
    out = []
    for az in azimuths:
        cam = Camera(spherical_cam2world(az, 10.0), normalized_intrinsics(focal), size, size)
        rgb, _, _, hit = render([shape], cam, textured=False, background=1.0)
        out.append(np.clip(np.round(rgb * 255), 0, 255).astype(np.uint8))
    return out


def comparison_picture(gts, preds, labels, size: int = 128) -> bytes:
    """PNG bytes: one row per identity, GT | pseudo-GT pairs for 4 azimuths."""
    rows = []
    for gt, pred, label in zip(gts, preds, labels):
        tiles = []
        for g, p in zip(shaded_views(gt, size=size), shaded_views(pred, size=size)):
            tiles += [g, p, np.full((size, 4, 3), 255, np.uint8)]
        row = Image.fromarray(np.concatenate(tiles, 1))
        ImageDraw.Draw(row).text((3, 2), f"{label}: GT | pseudo-GT", fill=(200, 0, 0))
        rows.append(np.asarray(row))
    buf = io.BytesIO()
    Image.fromarray(np.concatenate(rows, 0)).save(buf, format="PNG")
    return buf.getvalue()
