"""Bilinear 2x upsampling of a channels-last tensor added in place into another (the toRGB skip).

StyleGAN2's skip architecture adds the upsampled image of the previous block to each toRGB output.
At EG3D's tri-plane settings that image has 96 channels and the sum is 256² (100 MB per batch of
4): ``out + F.interpolate(img)`` allocates and writes the upsampled tensor, then reads it again (and
``torch.baddbmm`` with it as the accumulator first copies it whole). ``add_upsampled2x_`` instead
adds the interpolated values straight into ``out`` in one pass, and its backward reads the output
gradient once to form the image's gradient (the adjoint of the interpolation). PyTorch has no fused
"upsample and add" op; on CPU these are two compiled loops (numba, cached next to this module),
elsewhere the plain ``F.interpolate`` sum.

Interpolation: ``F.interpolate(scale_factor=2, mode="bilinear", align_corners=False)``: output pixel
m samples input coordinate m/2 - 1/4, i.e. 3/4 of its own source pixel and 1/4 of the neighbour on
its side, clamped at the border (tests/test_model_upsample.py compares both directions with it).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F


def _add_up2x(out, img):  # pragma: no cover - run compiled
    B, H, W, C = img.shape
    for b in range(B):
        for oy in range(2 * H):
            sy = oy // 2
            ny = min(max(sy - 1 if oy % 2 == 0 else sy + 1, 0), H - 1)
            for ox in range(2 * W):
                sx = ox // 2
                nx = min(max(sx - 1 if ox % 2 == 0 else sx + 1, 0), W - 1)
                for c in range(C):
                    out[b, oy, ox, c] += (0.5625 * img[b, sy, sx, c] + 0.1875 * (img[b, sy, nx, c] + img[b, ny, sx, c])
                                          + 0.0625 * img[b, ny, nx, c])


def _up2x_adjoint(grad_img, grad_out):  # pragma: no cover - run compiled
    B, H, W, C = grad_img.shape
    for b in range(B):
        for oy in range(2 * H):
            sy = oy // 2
            ny = min(max(sy - 1 if oy % 2 == 0 else sy + 1, 0), H - 1)
            for ox in range(2 * W):
                sx = ox // 2
                nx = min(max(sx - 1 if ox % 2 == 0 else sx + 1, 0), W - 1)
                for c in range(C):
                    g = grad_out[b, oy, ox, c]
                    grad_img[b, sy, sx, c] += 0.5625 * g
                    grad_img[b, sy, nx, c] += 0.1875 * g
                    grad_img[b, ny, sx, c] += 0.1875 * g
                    grad_img[b, ny, nx, c] += 0.0625 * g


@functools.cache
def _compiled():
    """The two loops compiled by numba (imported here: CLI start-up need not pay for it)."""
    from numba import njit

    return njit(cache=True, nogil=True)(_add_up2x), njit(cache=True, nogil=True)(_up2x_adjoint)


class _AddUpsampled2x(torch.autograd.Function):
    @staticmethod
    def forward(ctx, out, img):
        ctx.mark_dirty(out)
        _compiled()[0](out.detach().numpy(), img.detach().numpy())
        return out

    @staticmethod
    def backward(ctx, grad_out):
        grad_img = None
        if ctx.needs_input_grad[1]:
            B, H2, W2, C = grad_out.shape
            grad_img = grad_out.new_zeros(B, H2 // 2, W2 // 2, C)
            _compiled()[1](grad_img.numpy(), grad_out.contiguous().numpy())
        return grad_out, grad_img


def add_upsampled2x_(out: torch.Tensor, img: torch.Tensor) -> torch.Tensor:
    """``out`` (B, 2H, 2W, C) += bilinear 2x upsampling of ``img`` (B, H, W, C), both channels-last
    *rows* (NHWC indexing, contiguous ``out``); in place, differentiable; returns ``out``."""
    if (out.device.type == "cpu" and out.dtype in (torch.float32, torch.float64) and img.dtype == out.dtype
            and out.is_contiguous()):
        return _AddUpsampled2x.apply(out, img.contiguous())
    up = F.interpolate(img.permute(0, 3, 1, 2), scale_factor=2, mode="bilinear", align_corners=False)
    return out.add_(up.permute(0, 2, 3, 1))
