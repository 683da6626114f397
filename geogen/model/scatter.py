"""Gradient of bilinear plane sampling, accumulated as rows of C features (the tri-plane backward).

``accumulate_bilinear_rows`` adds, for every sample n of one plane, w_k · g_n to the row of each of
its 4 bilinear corners k (grid_sample's align_corners=False, zero padding: corners outside the plane
get nothing). On CPU this is one compiled loop (numba) over the samples: samples along a ray fall
on neighbouring texels, so its rows stay in cache, and nothing is materialised per corner. PyTorch
has no fused op for it: four ``index_add_`` passes (one per corner, each with a weighted copy of the
gradient) took 2.7x as long on EG3D-sized planes (perf/bench_train.py, docs/training.md). Other
devices take those ``index_add_`` passes.
"""

from __future__ import annotations

import functools

import numpy as np
import torch


def bilinear_corners(coords: torch.Tensor, H: int, W: int):
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


def _accumulate(acc, g, coords, H, W, P, plane):  # pragma: no cover - run compiled
    B, N, C = g.shape
    for b in range(B):
        for n in range(N):
            ix = ((coords[b, n, 0] + 1) * W - 1) / 2
            iy = ((coords[b, n, 1] + 1) * H - 1) / 2
            if not (ix > -1 and ix < W and iy > -1 and iy < H):   # no corner inside (or NaN)
                continue
            x0 = np.floor(ix)
            y0 = np.floor(iy)
            fx = ix - x0
            fy = iy - y0
            for dy in range(2):
                y = int(y0) + dy
                if y < 0 or y > H - 1:
                    continue
                wy = fy if dy else 1 - fy
                for dx in range(2):
                    x = int(x0) + dx
                    if x < 0 or x > W - 1:
                        continue
                    w = (fx if dx else 1 - fx) * wy
                    row = ((b * H + y) * W + x) * P + plane
                    for c in range(C):
                        acc[row, c] += w * g[b, n, c]


@functools.cache
def _compiled():
    """``_accumulate`` compiled by numba (imported here: 0.2 s that CLI start-up need not pay;
    the machine code is cached next to this module, ≈ 0.3-0.7 s to compile once)."""
    from numba import njit

    return njit(cache=True, nogil=True)(_accumulate)


def accumulate_bilinear_rows(acc: torch.Tensor, g: torch.Tensor, coords: torch.Tensor, H: int, W: int,
                             P: int, plane: int) -> None:
    """acc (B·H·W·P, C) rows (b, y, x, plane) += the bilinear scatter of ``g`` (B, N, C) at
    ``coords`` (B, N, 2) onto plane ``plane`` of P; in place."""
    if acc.device.type == "cpu" and acc.is_contiguous():
        _compiled()(acc.detach().numpy(), g.detach().contiguous().numpy(), coords.detach().contiguous().numpy(),
                    H, W, P, plane)
    else:
        accumulate_with_index_add(acc, g, coords, H, W, P, plane)


def accumulate_with_index_add(acc: torch.Tensor, g: torch.Tensor, coords: torch.Tensor, H: int, W: int,
                              P: int, plane: int) -> None:
    """``accumulate_bilinear_rows`` as one ``index_add_`` per corner (any device)."""
    C = g.shape[-1]
    for idx, w in bilinear_corners(coords, H, W):
        acc.index_add_(0, (idx * P + plane).flatten(), (g * w.unsqueeze(-1)).reshape(-1, C))
