"""Bilinear 2x upsampling of a channels-last tensor added in place into another (the toRGB skip).

StyleGAN2's skip architecture adds the upsampled image of the previous block to each toRGB output.
At EG3D's tri-plane settings that image has 96 channels and the sum is 256² (100 MB per batch of
4): ``out + F.interpolate(img)`` allocates and writes the upsampled tensor, then reads it again (and
``torch.baddbmm`` with it as the accumulator first copies it whole). ``add_upsampled2x_`` instead
adds the interpolated values straight into ``out`` in one pass; its backward is aten's adjoint of
the interpolation (``upsample_bilinear2d_backward``, as before: a compiled scatter loop of the same
adjoint was 1.6x slower forward + backward). PyTorch has no fused "upsample and add" op; on CPU
the forward is a compiled loop (numba, cached next to this module), elsewhere the plain
``F.interpolate`` sum.

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


@functools.cache
def _compiled():
    """The loop compiled by numba (imported here: CLI start-up need not pay for it)."""
    from numba import njit

    return njit(cache=True, nogil=True)(_add_up2x)


class _AddUpsampled2x(torch.autograd.Function):
    @staticmethod
    def forward(ctx, out, img):
        ctx.mark_dirty(out)
        B, H, W, C = img.shape
        ctx.out_hw = (2 * H, 2 * W)
        _compiled()(out.detach().view(B, 2 * H, 2 * W, C).numpy(), img.detach().numpy())
        return out

    @staticmethod
    def backward(ctx, grad_out):
        grad_img = None
        if ctx.needs_input_grad[1]:   # aten's adjoint of the same interpolation, on the NCHW view
            B, C = grad_out.shape[0], grad_out.shape[-1]
            H2, W2 = ctx.out_hw
            g = grad_out.reshape(B, H2, W2, C).permute(0, 3, 1, 2)
            grad_img = torch.ops.aten.upsample_bilinear2d_backward(
                g, [H2, W2], [B, C, H2 // 2, W2 // 2], False).permute(0, 2, 3, 1)
        return grad_out, grad_img


def add_upsampled2x_(out: torch.Tensor, img: torch.Tensor) -> torch.Tensor:
    """``out`` += bilinear 2x upsampling of ``img`` (B, H, W, C) (channels-last rows, NHWC indexing);
    ``out`` is (B, 2H, 2W, C) or the same rows flattened, (B, 4HW, C). In place, differentiable;
    returns ``out``.

    Pass a tensor that is not a view (e.g. a fresh ``torch.bmm`` output): autograd records an
    in-place op on a view as a copy of the whole base in the backward, which costs more than the
    fusion saves.
    """
    B, H, W, C = img.shape
    if out.shape not in ((B, 2 * H, 2 * W, C), (B, 4 * H * W, C)):
        raise ValueError(f"add_upsampled2x_: out {tuple(out.shape)} does not hold 2x the rows of img {tuple(img.shape)}")
    if (out.device.type == "cpu" and out.dtype in (torch.float32, torch.float64) and img.dtype == out.dtype
            and out.is_contiguous()):
        return _AddUpsampled2x.apply(out, img.contiguous())
    up = F.interpolate(img.permute(0, 3, 1, 2), scale_factor=2, mode="bilinear", align_corners=False)
    return out.add_(up.permute(0, 2, 3, 1).reshape(out.shape))
