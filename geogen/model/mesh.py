"""Mesh extraction: sample the field on a grid over the tri-plane box, marching cubes (scikit-image).

SDF variants: the zero level set of the SDF (``level`` default 0). EG3D: the density iso-surface
σ = ``level`` (default 10, EG3D's shape-extraction threshold; useful range roughly 2-20). The
grid is padded by one "outside" layer on every face so surfaces cut by the box (the torso's flat
bottom at y = -0.5) come out closed, with caps half a grid cell outside the box face.
"""

from __future__ import annotations

import numpy as np
import torch

DEFAULT_DENSITY_LEVEL = 10.0


def grid_points(resolution: int, box: float) -> np.ndarray:
    """Cell-centre-free grid: ``resolution`` samples per axis spanning [-box/2, box/2], 'ij' (x, y, z) order."""
    ax = np.linspace(-box / 2, box / 2, resolution, dtype=np.float32)
    return np.stack(np.meshgrid(ax, ax, ax, indexing="ij"), axis=-1).reshape(-1, 3)


@torch.no_grad()
def sample_grid(query, resolution: int, box: float, key: str, chunk: int = 262144, device=None) -> np.ndarray:
    """Evaluate ``query(points (1,N,3)) -> dict`` on the grid, returning the ``key`` volume (R, R, R)."""
    pts = torch.from_numpy(grid_points(resolution, box))
    if device is not None:
        pts = pts.to(device)
    vals = [query(pts[i: i + chunk].unsqueeze(0))[key].reshape(-1).float().cpu() for i in range(0, len(pts), chunk)]
    return torch.cat(vals).numpy().reshape(resolution, resolution, resolution)


def marching_cubes(volume: np.ndarray, level: float, box: float, inside_is_low: bool) -> tuple[np.ndarray, np.ndarray]:
    """Iso-surface of a (R,R,R) 'ij' volume over [-box/2, box/2]^3 → (vertices world, faces) with outward normals."""
    from skimage import measure

    R = volume.shape[0]
    spacing = box / (R - 1)
    # pad one layer, mirroring inside values to outside (2·level - v): surfaces cut by the box get
    # caps exactly half a cell outside its faces, and the mesh stays watertight
    vol = np.pad(volume, 1, mode="edge")
    inside = vol < level if inside_is_low else vol > level
    border = np.ones(vol.shape, bool)
    border[1:-1, 1:-1, 1:-1] = False
    vol = np.where(border & inside, 2 * level - vol, vol)
    if not (vol.min() < level < vol.max()):
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int64)
    verts, faces, _, _ = measure.marching_cubes(vol, level=level, spacing=(spacing,) * 3,
                                                gradient_direction="descent" if inside_is_low else "ascent")
    verts = verts - spacing - box / 2           # undo the padding, move to world coordinates
    return verts.astype(np.float32), faces.astype(np.int64)


@torch.no_grad()
def extract_mesh(G, ws: torch.Tensor, resolution: int = 128, level: float | None = None,
                 chunk: int = 262144) -> tuple[np.ndarray, np.ndarray]:
    """Mesh of the generator's field for one latent ws (1, num_ws, w_dim), world coordinates.

    Returns (vertices (V,3) float32, faces (F,3) int64); empty arrays when the level is never crossed.
    """
    if ws.shape[0] != 1:
        raise ValueError("extract_mesh takes one latent: ws of shape (1, num_ws, w_dim)")
    planes = G.planes(ws)
    is_sdf = G.cfg.field == "sdf"
    key = "sdf" if is_sdf else "sigma"
    level = (0.0 if is_sdf else DEFAULT_DENSITY_LEVEL) if level is None else float(level)
    vol = sample_grid(lambda p: G.query(planes, p), resolution, G.cfg.box_warp, key, chunk, device=ws.device)
    return marching_cubes(vol, level, G.cfg.box_warp, inside_is_low=is_sdf)
