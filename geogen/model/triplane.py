"""Tri-plane sampling on the XY, XZ and YZ planes and the positional encoding of Eq. 1.

Plane order and axes (tested): plane 0 = XY (u = x, v = y), plane 1 = XZ (u = x, v = z),
plane 2 = YZ (u = y, v = z). ``u`` indexes the plane's width (grid_sample's x), ``v`` its height.
EG3D's reference code projects onto XY, XZ and ZX by accident; we use the intended YZ plane.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# (u axis, v axis) of each plane, as indices into (x, y, z)
PLANE_AXES = ((0, 1), (0, 2), (1, 2))
PLANE_NAMES = ("xy", "xz", "yz")


def project_onto_planes(points: torch.Tensor, box_warp: float) -> torch.Tensor:
    """World points (B, N, 3) → plane coordinates (B, 3, N, 2) in grid_sample's [-1, 1] range."""
    p = points * (2.0 / box_warp)
    return torch.stack([p[..., list(axes)] for axes in PLANE_AXES], dim=1)


def _bilinear_corners(coords: torch.Tensor, H: int, W: int):
    """The 4 bilinear corners of grid_sample (align_corners=False, zero padding) at ``coords``
    (B, N, 2) in [-1, 1]: yields (flat pixel index b·H·W + y·W + x, weight) per corner, the
    weight 0 where the corner lies outside the plane (its index is then clamped inside)."""
    B = coords.shape[0]
    ix = ((coords[..., 0] + 1) * W - 1) / 2                 # grid_sample's unnormalisation
    iy = ((coords[..., 1] + 1) * H - 1) / 2
    x0, y0 = ix.floor(), iy.floor()
    base = (torch.arange(B, device=coords.device) * (H * W))[:, None]
    for x, wx in ((x0, x0 + 1 - ix), (x0 + 1, ix - x0)):
        for y, wy in ((y0, y0 + 1 - iy), (y0 + 1, iy - y0)):
            inside = (x >= 0) & (x <= W - 1) & (y >= 0) & (y <= H - 1)
            idx = base + y.clamp(0, H - 1).long() * W + x.clamp(0, W - 1).long()
            yield idx, wx * wy * inside


class _SampleTriplane(torch.autograd.Function):
    """Bilinear grid_sample of each plane (zero padding, align_corners=False).

    The planes' gradient is accumulated as rows of C contiguous features (index_add_ into a
    channels-last buffer) instead of aten's per-channel scatter into a standard-layout one,
    which is slow on CPU once the gradient no longer fits in cache and would hand the
    channels-last backbone a gradient in the other layout. The gradient w.r.t. the coordinates
    (SDF depth loss) is aten's.
    """

    ROWS_MIN_BYTES = 8 << 20     # size of one plane (all samples) from which sample_triplane uses this

    @staticmethod
    def forward(ctx, planes: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(planes, coords)
        feats = [F.grid_sample(plane, coords[:, i].unsqueeze(1), mode="bilinear", padding_mode="zeros",
                               align_corners=False).squeeze(2).transpose(1, 2)     # (B, N, C)
                 for i, plane in enumerate(planes.unbind(1))]
        return torch.stack(feats, dim=2).transpose(1, 2)                            # (B, 3, N, C)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        planes, coords = ctx.saved_tensors
        need_planes, need_coords = ctx.needs_input_grad
        B, P, C, H, W = planes.shape
        grad_planes = grad_coords = None
        if need_planes:
            acc = torch.zeros(B * H * W * P, C, dtype=grad.dtype, device=grad.device)   # rows (b, y, x, plane)
            for i in range(P):
                g = grad[:, i]                                                      # (B, N, C)
                for idx, w in _bilinear_corners(coords[:, i], H, W):
                    acc.index_add_(0, (idx * P + i).flatten(), (g * w.unsqueeze(-1)).reshape(-1, C))
            grad_planes = acc.view(B, H, W, P, C).permute(0, 3, 4, 1, 2)            # (B, P, C, H, W), NHWC strides
        if need_coords:
            grad_coords = torch.stack([torch.ops.aten.grid_sampler_2d_backward(
                grad[:, i].transpose(1, 2).unsqueeze(2), planes[:, i], coords[:, i].unsqueeze(1),
                0, 0, False, [False, True])[1].squeeze(1) for i in range(P)], dim=1)
        return grad_planes, grad_coords


def sample_triplane(planes: torch.Tensor, points: torch.Tensor, box_warp: float) -> torch.Tensor:
    """Bilinear features of ``planes`` (B, 3, C, R, R) at ``points`` (B, N, 3) → (B, 3, N, C).

    Points outside the box get zero features (grid_sample's zero padding, as EG3D). Large planes
    (EG3D's 256²) are sampled with one grid_sample per plane on the planes as they are laid out:
    the backbone's channels-last output is read without a copy, a corner's C features are
    contiguous in memory, and the backward accumulates rows (see ``_SampleTriplane``); the result
    is then a (B, 3, N, C) view of a contiguous (B, N, 3, C) tensor, so concatenating the three
    planes' features per point is free. Small planes (the tiny preset's 32²) take one batched
    grid_sample, which is faster there.
    """
    B, P, C, H, W = planes.shape
    coords = project_onto_planes(points, box_warp)                  # (B, 3, N, 2)
    if B * C * H * W * planes.element_size() >= _SampleTriplane.ROWS_MIN_BYTES:
        return _SampleTriplane.apply(planes, coords)
    feats = F.grid_sample(planes.reshape(B * P, C, H, W), coords.reshape(B * P, 1, -1, 2), mode="bilinear",
                          padding_mode="zeros", align_corners=False)  # (B*3, C, 1, N)
    return feats.reshape(B, P, C, -1).permute(0, 1, 3, 2)


def positional_encoding(x: torch.Tensor, levels: int) -> torch.Tensor:
    """Eq. 1 per coordinate: PE(a) = [a, sin(2^0 π a), cos(2^0 π a), ..., sin(2^{L-1} π a), cos(2^{L-1} π a)].

    ``x`` (..., D) → (..., D * (1 + 2L)), laid out coordinate by coordinate: [PE(x), PE(y), PE(z)].
    """
    if levels <= 0:
        return x
    freqs = (2.0 ** torch.arange(levels, dtype=x.dtype, device=x.device)) * math.pi   # (L,)
    angles = x.unsqueeze(-1) * freqs                                                    # (..., D, L)
    sincos = torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).flatten(-2)    # (..., D, 2L)
    return torch.cat([x.unsqueeze(-1), sincos], dim=-1).flatten(-2)


def pe_dim(levels: int, dims: int = 3) -> int:
    return dims * (1 + 2 * max(levels, 0))
