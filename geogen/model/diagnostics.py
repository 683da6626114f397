"""Geometry diagnostics of a trained SDF generator: is the field a distance, and does the surface
that the renderer shows (rendered depth) sit on the surface that is meshed (SDF zero level set)?

* ``grad_norm_median``: median |∇s| (central differences of one plane texel) at the extracted
  mesh's vertices — 1 for a true distance function; the sharpness of the Laplace density is β/|∇s|.
* ``depth_offset_median`` / ``depth_offset_abs_median``: along camera rays that hit the head
  (weights_sum > 0.5), rendered depth d(r) minus the depth of the first mesh intersection, in scene
  units (the head is ~0.5 across); positive = the rendered surface lies behind the mesh.
* ``sdf_at_depth_abs_median``: median |s(o + d(r)·dir)| over the same rays (Eq. 6's integrand).
"""

from __future__ import annotations

import numpy as np
import torch

from .mesh import extract_mesh
from .regularizers import fd_gradient


@torch.no_grad()
def _depth_offsets(G, ws, planes, labels, mesh, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    from .renderer import rays_from_labels

    res = G.synthesis(ws.expand(labels.shape[0], -1, -1), labels, noise_mode="const",
                      neural_resolution=resolution, randomize=False)
    depth = res["image_depth"].flatten(1)                       # (V, R*R), row-major like the rays
    hit = res["weights_sum"].flatten(1) > 0.5
    origins, dirs = rays_from_labels(labels, resolution)          # (V, R*R, 3)
    o, d, t = origins[hit].numpy(), dirs[hit].numpy(), depth[hit].numpy()
    sdf = G.field(planes, torch.from_numpy(o + t[:, None] * d)[None].float())["sdf"].abs().flatten().numpy()
    if len(o) == 0 or mesh is None:
        return np.empty(0), sdf
    locations, index_ray, _ = mesh.ray.intersects_location(o, d, multiple_hits=False)
    mesh_t = np.full(len(o), np.nan)
    mesh_t[index_ray] = np.einsum("ij,ij->i", locations - o[index_ray], d[index_ray])
    offsets = t - mesh_t
    return offsets[np.isfinite(offsets)], sdf


@torch.no_grad()
def surface_diagnostics(G, ws: torch.Tensor, labels: torch.Tensor, mesh_resolution: int = 96,
                        render_resolution: int = 32, grad_points: int = 4000, seed: int = 0) -> dict:
    """Diagnostics (module doc) of one latent ws (1, num_ws, w_dim) seen from cameras ``labels`` (V, 25)."""
    import trimesh

    if not G.field.is_sdf:
        raise ValueError("surface diagnostics need an SDF variant")
    planes = G.planes(ws)
    V, F = extract_mesh(G, ws, resolution=mesh_resolution, planes=planes)
    out = {"beta": float(G.beta), "mesh_vertices": int(len(V))}
    mesh = trimesh.Trimesh(V, F, process=False) if len(F) else None
    if len(V):
        idx = np.random.default_rng(seed).choice(len(V), size=min(grad_points, len(V)), replace=False)
        pts = torch.from_numpy(V[idx]).float()[None]
        h = G.cfg.box_warp / G.cfg.plane_resolution
        g = fd_gradient(lambda p: G.field(planes, p)["sdf"], pts, h).norm(dim=-1)
        out["grad_norm_median"] = float(g.median())
    offsets, sdf = _depth_offsets(G, ws, planes, labels, mesh, render_resolution)
    out["depth_offset_median"] = float(np.median(offsets)) if len(offsets) else None
    out["depth_offset_abs_median"] = float(np.median(np.abs(offsets))) if len(offsets) else None
    out["sdf_at_depth_abs_median"] = float(np.median(sdf)) if len(sdf) else None
    return out
