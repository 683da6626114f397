"""``add_upsampled2x_`` (the toRGB skip, interpolated into the output in place) equals
``out + F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False)``, forward and
backward, on the compiled CPU path and on the fallback path, including odd sizes and borders."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from geogen.model import upsample
from geogen.model.upsample import add_upsampled2x_


def reference(out_nhwc, img_nhwc):
    up = F.interpolate(img_nhwc.permute(0, 3, 1, 2), scale_factor=2, mode="bilinear", align_corners=False)
    return out_nhwc + up.permute(0, 2, 3, 1)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("shape", [(2, 5, 7, 3), (1, 1, 1, 4), (3, 8, 8, 96)])
def test_matches_interpolate_forward_and_backward(dtype, shape):
    g = torch.Generator().manual_seed(sum(shape))
    B, H, W, C = shape
    img = torch.randn(B, H, W, C, generator=g, dtype=dtype, requires_grad=True)
    base = torch.randn(B, 2 * H, 2 * W, C, generator=g, dtype=dtype, requires_grad=True)
    weight = torch.randn(B, 2 * H, 2 * W, C, generator=g, dtype=dtype)   # a non-uniform output gradient

    out = add_upsampled2x_(base * 1.0, img)                   # base * 1.0: a non-leaf to modify in place
    flat = add_upsampled2x_((base * 1.0).view(B, -1, C).clone(), img)     # the rows flattened
    torch.testing.assert_close(flat.view(out.shape), out, rtol=0, atol=0)
    (out * weight).sum().backward()
    grads = img.grad.clone(), base.grad.clone()
    img.grad = base.grad = None
    ref = reference(base, img)
    (ref * weight).sum().backward()

    tol = dict(rtol=1e-12, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out, ref, **tol)
    torch.testing.assert_close(grads[0], img.grad, **tol)
    torch.testing.assert_close(grads[1], base.grad, **tol)


def test_writes_into_its_argument_and_fallback_agrees(monkeypatch):
    g = torch.Generator().manual_seed(0)
    img = torch.randn(2, 4, 6, 5, generator=g)
    out = torch.zeros(2, 8, 12, 5)
    res = add_upsampled2x_(out, img)
    assert res.data_ptr() == out.data_ptr()
    # the device-independent path (F.interpolate), forced by a non-contiguous output
    out2 = torch.zeros(2, 12, 8, 5).transpose(1, 2)
    add_upsampled2x_(out2, img)
    assert not out2.is_contiguous()
    torch.testing.assert_close(out2, out)
    torch.testing.assert_close(out, reference(torch.zeros_like(out), img))
    assert upsample._compiled.cache_info().currsize == 1      # the compiled loop was used above
    with pytest.raises(ValueError, match="2x the rows"):
        add_upsampled2x_(torch.zeros(2, 8, 10, 5), img)
