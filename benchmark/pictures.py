"""Per-sample pictures: GT and predicted meshes from several views, ray cast on the CPU.

Uses Open3D's RaycastingScene (no GL context needed, safe on headless machines and CI).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from geogen.common.atomic import atomic_path
from geogen.common.cameras import Camera, look_at, pixel_rays, spherical_position

VIEW_AZIMUTHS = (0.0, 90.0, 180.0, 270.0)


def orbit_cameras(centre: np.ndarray, diag: float, size: int, azimuths=VIEW_AZIMUTHS,
                  elevation: float = 10.0) -> list[Camera]:
    """Cameras around ``centre`` that frame a box of diagonal ``diag``."""
    dist = 3.0 * diag
    focal = 0.5 * dist / (0.6 * diag)  # half the frame spans 0.6 diag at the centre
    K = np.array([[focal, 0, 0.5], [0, focal, 0.5], [0, 0, 1.0]])
    return [Camera(look_at(centre + spherical_position(az, elevation, dist), centre), K, size, size)
            for az in azimuths]


def raycast_shaded(vertices: np.ndarray, faces: np.ndarray, camera: Camera,
                   colour=(0.75, 0.75, 0.78)) -> np.ndarray:
    """Headlight-shaded render (uint8 H×W×3, white background) of a triangle mesh."""
    import open3d as o3d

    h, w = camera.height, camera.width
    img = np.ones((h * w, 3))
    if len(faces):
        scene = o3d.t.geometry.RaycastingScene()
        scene.add_triangles(o3d.core.Tensor(np.asarray(vertices, dtype=np.float32)),
                            o3d.core.Tensor(np.asarray(faces, dtype=np.uint32)))
        origins, dirs = pixel_rays(camera.c2w, camera.K_norm, w, h)
        rays = np.concatenate([origins, dirs], axis=1).astype(np.float32)
        hit = scene.cast_rays(o3d.core.Tensor(rays))
        t = hit["t_hit"].numpy()
        n = hit["primitive_normals"].numpy()
        ok = np.isfinite(t)
        shade = np.abs(np.einsum("ij,ij->i", n[ok], dirs[ok]))  # two-sided headlight
        img[ok] = (0.25 + 0.75 * shade)[:, None] * np.asarray(colour)[None]
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8).reshape(h, w, 3)


def _label(tile: np.ndarray, text: str) -> Image.Image:
    im = Image.fromarray(tile)
    ImageDraw.Draw(im).text((3, 2), text, fill=(200, 0, 0))
    return im


def sample_picture(path: str | Path, gt: tuple[np.ndarray, np.ndarray], pred: tuple[np.ndarray, np.ndarray] | None,
                   size: int = 160, extra: list[tuple[str, np.ndarray]] | None = None) -> None:
    """Write a grid: row 1 GT mesh, row 2 prediction, from VIEW_AZIMUTHS; ``extra`` images
    (e.g. input and inversion) come first, two per column. Written atomically."""
    gv, gf = gt
    lo, hi = gv.min(axis=0), gv.max(axis=0)
    cams = orbit_cameras((lo + hi) / 2, float(np.linalg.norm(hi - lo)), size)
    rows = [[_label(raycast_shaded(gv, gf, c, (0.7, 0.75, 0.85)), f"GT {int(az)}")
             for c, az in zip(cams, VIEW_AZIMUTHS)]]
    pv, pf = pred if pred is not None else (np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64))
    rows.append([_label(raycast_shaded(pv, pf, c, (0.85, 0.75, 0.7)), f"pred {int(az)}")
                 for c, az in zip(cams, VIEW_AZIMUTHS)])
    extra = extra or []
    extra_cols = -(-len(extra) // 2)  # extra images fill columns top to bottom, two per column
    canvas = Image.new("RGB", ((extra_cols + len(VIEW_AZIMUTHS)) * size, 2 * size), (255, 255, 255))
    for k, (name, im) in enumerate(extra):
        tile = Image.fromarray(np.asarray(im, dtype=np.uint8)).convert("RGB").resize((size, size), Image.BILINEAR)
        canvas.paste(_label(np.asarray(tile), name), ((k // 2) * size, (k % 2) * size))
    off = extra_cols * size
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            canvas.paste(tile, (off + c * size, r * size))
    with atomic_path(path) as tmp:
        canvas.save(tmp, format="PNG")
