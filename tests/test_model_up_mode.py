"""``up_mode="transposed"``: EG3D's upsampling convolution (stride-2 transposed conv + [1,3,3,1] low-pass).

The layer is checked against a written-out reference (zero insertion, flipped-kernel convolution,
then the separable filter), on analytic inputs (a constant keeps the stride-1 conv's value away from
the border; a ramp through a centre-tap kernel lands where bilinear upsampling puts it), and wired
through the generator: same weights as the bilinear model (a checkpoint of either loads into the
other's architecture), a different function, fewer multiply-adds.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from geogen.common.errors import UserError
from geogen.model.config import model_config
from geogen.model.generator import Generator
from geogen.model.layers import SynthesisLayer, transposed_up_conv, upsample2x


def reference_up_conv(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Zero-insert to 2H-1 samples, pad 2, conv with the flipped kernel (= transposed conv), filter."""
    B, I, H, W = x.shape
    u = torch.zeros(B, I, 2 * H - 1, 2 * W - 1, dtype=x.dtype)
    u[:, :, ::2, ::2] = x
    y = F.conv2d(F.pad(u, (2, 2, 2, 2)), weight.flip(-1, -2))              # (B, O, 2H+1, 2W+1)
    f = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=x.dtype) / 4
    O = y.shape[1]
    y = F.pad(y, (1, 1, 1, 1))
    y = F.conv2d(y, f.view(1, 1, 1, 4).repeat(O, 1, 1, 1), groups=O)       # along x
    return F.conv2d(y, f.view(1, 1, 4, 1).repeat(O, 1, 1, 1), groups=O)    # along y


def test_matches_written_out_reference():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, 7, 6, generator=g, dtype=torch.float64)
    w = torch.randn(4, 5, 3, 3, generator=g, dtype=torch.float64)
    y = transposed_up_conv(x, w)
    assert y.shape == (2, 4, 14, 12)
    torch.testing.assert_close(y, reference_up_conv(x, w), rtol=1e-12, atol=1e-12)
    # channels-last input (the layers' default layout) gives the same values
    y_cl = transposed_up_conv(x.contiguous(memory_format=torch.channels_last), w)
    torch.testing.assert_close(y_cl, y, rtol=1e-12, atol=1e-12)


def test_constant_input_keeps_stride1_gain_in_the_interior():
    g = torch.Generator().manual_seed(1)
    w = torch.randn(3, 2, 3, 3, generator=g, dtype=torch.float64)
    x = torch.full((1, 2, 8, 8), 1.5, dtype=torch.float64)
    y = transposed_up_conv(x, w)
    stride1 = F.conv2d(x, w, padding=1)[0, :, 4, 4]                         # interior value of a 3x3 conv
    torch.testing.assert_close(y[0, :, 3:-3, 3:-3], stride1[:, None, None].expand(3, 10, 10))


def test_ramp_lands_where_bilinear_upsampling_puts_it():
    centre = torch.zeros(1, 1, 3, 3, dtype=torch.float64)
    centre[0, 0, 1, 1] = 1.0
    ramp = torch.arange(8, dtype=torch.float64).view(1, 1, 1, 8).expand(1, 1, 8, 8)
    y = transposed_up_conv(ramp, centre)
    torch.testing.assert_close(y[..., 2:-2, 2:-2], upsample2x(ramp)[..., 2:-2, 2:-2])
    # output pixel m sits at input coordinate m/2 - 1/4 (align_corners=False)
    torch.testing.assert_close(y[0, 0, 5, 2:-2], torch.arange(2, 14, dtype=torch.float64) / 2 - 0.25)


def test_synthesis_layer_transposed_uses_the_up_conv_and_backpropagates():
    torch.manual_seed(0)
    layer = SynthesisLayer(6, 5, 16, resolution=16, up=True, up_mode="transposed")
    x = torch.randn(2, 6, 8, 8, requires_grad=True)
    w = torch.randn(2, 16)
    y = layer(x, w, noise_mode="none")
    styles = layer.conv.affine(w)
    weight = layer.conv.weight * layer.conv.weight_gain
    d = (styles.square() @ weight.square().sum(dim=[2, 3]).t() + 1e-8).rsqrt()
    expect = reference_up_conv(x * styles[:, :, None, None], weight) * d[:, :, None, None]
    expect = F.leaky_relu(expect + layer.bias[None, :, None, None], 0.2) * 2 ** 0.5
    torch.testing.assert_close(y, expect, rtol=1e-5, atol=1e-5)
    y.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_generator_same_weights_different_function_fewer_flops():
    from torch.utils.flop_counter import FlopCounterMode

    cfg = model_config("tiny", "geogen")
    G_bil = Generator(cfg).eval()
    G_tr = Generator(dataclasses.replace(cfg, up_mode="transposed")).eval()
    G_tr.load_state_dict(G_bil.state_dict())          # identical parameter and buffer names/shapes
    ws = torch.randn(1, G_bil.num_ws, cfg.w_dim)

    def flops(G):
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            planes = G.backbone(ws, noise_mode="const")
        return planes, counter.get_total_flops()

    planes_bil, f_bil = flops(G_bil)
    planes_tr, f_tr = flops(G_tr)
    assert planes_tr.shape == planes_bil.shape
    assert not torch.allclose(planes_tr, planes_bil)
    assert f_tr < 0.8 * f_bil


def test_unknown_up_mode_is_a_user_error():
    with pytest.raises(UserError, match="up_mode"):
        dataclasses.replace(model_config("tiny"), up_mode="nearest")
