"""Geometry regularisers of the generator's field, written for any field function so tests can
check them on analytic shapes.

* eikonal: E(|∇s| − 1)² (VolSDF, StyleSDF) — keeps s a distance, so that a fixed β fixes the
  sharpness β/|∇s| of the Laplace density;
* minimal surface: E exp(−k|s|) (StyleSDF, k = 100) — discourages spurious zero crossings;
* density smoothness: E|σ(p) − σ(p + ε)| (EG3D's density regulariser, its "l1" type).

∇s is taken by central differences: ``grid_sample`` has no double backward on CPU, so an
autograd gradient of the SDF could not itself be trained through.
"""

from __future__ import annotations

from typing import Callable

import torch

SdfFn = Callable[[torch.Tensor], torch.Tensor]   # points (B, N, 3) → sdf (B, N, 1)


def fd_gradient(sdf_fn: SdfFn, points: torch.Tensor, step: float) -> torch.Tensor:
    """∇s at points (B, N, 3) by central differences of half-width ``step``; (B, N, 3)."""
    B, N, _ = points.shape
    offsets = torch.eye(3, dtype=points.dtype, device=points.device) * step
    probes = torch.cat([points + o for o in offsets] + [points - o for o in offsets], dim=1)   # (B, 6N, 3)
    s = sdf_fn(probes).reshape(B, 6, N)
    return ((s[:, :3] - s[:, 3:]) / (2 * step)).permute(0, 2, 1)


def eikonal_loss(sdf_fn: SdfFn, points: torch.Tensor, step: float) -> torch.Tensor:
    """E(|∇s| − 1)² over points (B, N, 3); 0 for an exact distance function."""
    return (fd_gradient(sdf_fn, points, step).norm(dim=-1) - 1.0).square().mean()


def minimal_surface_loss(sdf: torch.Tensor, sharpness: float = 100.0) -> torch.Tensor:
    """StyleSDF's minimal-surface term E exp(−k|s|) over sampled SDF values."""
    return torch.exp(-sharpness * sdf.abs()).mean()


def density_smoothness_loss(sigma_fn: Callable[[torch.Tensor], torch.Tensor], points: torch.Tensor,
                            p_dist: float) -> torch.Tensor:
    """EG3D's density regulariser: E|σ(p) − σ(p + ε)|, ε ~ N(0, p_dist²), at points (B, N, 3)."""
    N = points.shape[1]
    both = torch.cat([points, points + torch.randn_like(points) * p_dist], dim=1)
    sigma = sigma_fn(both)
    return (sigma[:, :N] - sigma[:, N:]).abs().mean()


def subsample_points(points: torch.Tensor, n: int) -> torch.Tensor:
    """n random points per batch element from (B, ..., 3) (all of them if there are fewer)."""
    B = points.shape[0]
    flat = points.reshape(B, -1, 3)
    if flat.shape[1] <= n:
        return flat
    idx = torch.stack([torch.randperm(flat.shape[1], device=flat.device)[:n] for _ in range(B)])
    return flat.gather(1, idx.unsqueeze(-1).expand(-1, -1, 3))
