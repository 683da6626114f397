"""The compiled CPU loop of the tri-plane sampler's gradient equals the index_add_ formulation and
grid_sample's own gradient (geogen.model.scatter)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from geogen.model.scatter import accumulate_bilinear_rows, accumulate_with_index_add


def _case(dtype, B=2, N=300, C=5, H=7, W=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    coords = torch.rand(B, N, 2, generator=g, dtype=dtype) * 2.6 - 1.3        # some corners outside
    coords[0, :4] = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [-1.0 - 1 / W, 0.0], [0.0, 1.0 + 1 / H]], dtype=dtype)
    coords[1, 0] = float("nan")                                                   # ignored
    grad = torch.randn(B, N, C, generator=g, dtype=dtype)
    return coords, grad, (B, C, H, W)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_compiled_loop_equals_index_add_passes(dtype):
    coords, grad, (B, C, H, W) = _case(dtype)
    P = 3
    acc_loop = torch.randn(B * H * W * P, C, dtype=dtype)
    acc_ref = acc_loop.clone()
    for plane in range(P):
        accumulate_bilinear_rows(acc_loop, grad, coords, H, W, P, plane)
        accumulate_with_index_add(acc_ref, grad.nan_to_num(), coords.nan_to_num(nan=5.0), H, W, P, plane)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(acc_loop, acc_ref, rtol=tol, atol=tol)


def test_rows_are_grid_samples_gradient():
    coords, grad, (B, C, H, W) = _case(torch.float64, seed=1)
    coords = coords.nan_to_num(nan=0.3)
    plane = torch.randn(B, C, H, W, dtype=torch.float64, requires_grad=True)
    out = F.grid_sample(plane, coords.unsqueeze(1), mode="bilinear", padding_mode="zeros", align_corners=False)
    out.squeeze(2).backward(grad.transpose(1, 2))                                  # out (B, C, 1, N)
    acc = torch.zeros(B * H * W, C, dtype=torch.float64)
    accumulate_bilinear_rows(acc, grad, coords, H, W, 1, 0)
    torch.testing.assert_close(acc.view(B, H, W, C).permute(0, 3, 1, 2), plane.grad, rtol=1e-12, atol=1e-12)
