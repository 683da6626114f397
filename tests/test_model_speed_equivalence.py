"""The CPU-speed rewrites of the network layers compute the same function as the original ones.

Each test evaluates a layer on fixed (random, seeded) weights and inputs, once through the module
and once through the original formulation written out here (bilinear upsampling → modulated conv
→ demodulation → noise → bias → lrelu·√2; conv → 2x2 average pooling; one batched grid_sample),
and compares outputs and gradients within float32 tolerance. Both layouts (channels-last, the
default, and standard) are checked.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from geogen.model.discriminator import DiscriminatorBlock
from geogen.model.layers import (Conv2dLayer, SynthesisBlock, SynthesisLayer, SynthesisNetwork, ToRGB,
                                 pooled_kernel, to_layout)
from geogen.model.superres import SuperResolution
from geogen.model.triplane import project_onto_planes, sample_triplane

W_DIM = 16


# ---------------------------------------------------------------- original formulations
def ref_modconv(conv, x, w):
    styles = conv.affine(w)
    weight = conv.weight * conv.weight_gain
    x = F.conv2d(x * styles[:, :, None, None], weight, padding=conv.padding)
    if conv.demodulate:
        x = x * (styles.square() @ weight.square().sum(dim=[2, 3]).t() + 1e-8).rsqrt()[:, :, None, None]
    return x


def ref_synthesis_layer(layer, x, w, noise_mode):
    if layer.up:
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    x = ref_modconv(layer.conv, x, w)
    if noise_mode == "random":
        x = x + torch.randn(x.shape[0], 1, layer.resolution, layer.resolution) * layer.noise_strength
    elif noise_mode == "const":
        x = x + layer.noise_const * layer.noise_strength
    return F.leaky_relu(x + layer.bias[None, :, None, None], 0.2) * math.sqrt(2.0)


def ref_torgb(torgb, x, w):
    return ref_modconv(torgb.conv, x, w) + torgb.bias[None, :, None, None]


def ref_block(block, x, img, ws, noise_mode):
    if block.first:
        x = block.const.unsqueeze(0).repeat(ws.shape[0], 1, 1, 1)
    for i, conv in enumerate(block.convs):
        x = ref_synthesis_layer(conv, x, ws[:, i], noise_mode)
    y = ref_torgb(block.torgb, x, ws[:, block.num_conv])
    if img is not None:
        y = y + F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False)
    return x, y


def ref_network(net, ws, noise_mode):
    x = img = None
    idx = 0
    for block in net.blocks:
        x, img = ref_block(block, x, img, ws[:, idx: idx + block.num_conv + 1], noise_mode)
        idx += block.num_conv
    return img


def ref_conv2d_layer(layer, x):
    x = F.conv2d(x, layer.weight * layer.weight_gain, layer.bias, padding=layer.padding)
    if layer.down:
        x = F.avg_pool2d(x, 2)
    if layer.activation == "lrelu":
        x = F.leaky_relu(x, 0.2) * math.sqrt(2.0)
    return x


def ref_sample_triplane(planes, points, box_warp):
    B, P, C, R, _ = planes.shape
    grid = project_onto_planes(points, box_warp).reshape(B * P, 1, -1, 2)
    feats = F.grid_sample(planes.reshape(B * P, C, R, R), grid, mode="bilinear", padding_mode="zeros",
                          align_corners=False)
    return feats.reshape(B, P, C, -1).permute(0, 1, 3, 2)


# ---------------------------------------------------------------- helpers
def randomize_(module, seed=0):
    """Non-trivial values for every parameter (the defaults zero the biases and noise strengths)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5 + (0.3 if p.ndim <= 1 else 0.0))
    return module


def assert_same(fn_new, fn_ref, inputs, params, rtol=1e-4, atol=1e-5):
    """Same outputs, and same gradients of a fixed random projection w.r.t. inputs and parameters."""
    outs = []
    for fn in (fn_new, fn_ref):
        for t in [*inputs, *params]:
            t.grad = None
        out = fn()
        proj = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
        (out * proj).sum().backward()
        outs.append((out.detach().clone(), [None if t.grad is None else t.grad.clone() for t in [*inputs, *params]]))
    (a, ga), (b, gb) = outs
    torch.testing.assert_close(a, b, rtol=rtol, atol=atol)
    for x, y in zip(ga, gb):
        assert (x is None) == (y is None)
        if x is not None:
            torch.testing.assert_close(x, y, rtol=rtol, atol=atol * 10)


# ---------------------------------------------------------------- tests
@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("up", [False, True])
@pytest.mark.parametrize("noise_mode", ["random", "const", "none"])
def test_synthesis_layer_matches_original(up, noise_mode, channels_last):
    torch.manual_seed(0)
    layer = randomize_(SynthesisLayer(6, 5, W_DIM, resolution=16, up=up))
    x = to_layout(torch.randn(3, 6, 8 if up else 16, 8 if up else 16), channels_last).requires_grad_(True)
    w = torch.randn(3, W_DIM, requires_grad=True)

    def run(fn):
        def call():
            torch.manual_seed(5)   # the same noise draw for both
            return fn()
        return call

    assert_same(run(lambda: layer(x, w, noise_mode=noise_mode)), run(lambda: ref_synthesis_layer(layer, x, w, noise_mode)),
                [x, w], list(layer.parameters()))


def test_torgb_matches_original():
    torgb = randomize_(ToRGB(6, 9, W_DIM))
    x = to_layout(torch.randn(2, 6, 8, 8), True).requires_grad_(True)
    w = torch.randn(2, W_DIM, requires_grad=True)
    assert_same(lambda: torgb(x, w), lambda: ref_torgb(torgb, x, w), [x, w], list(torgb.parameters()))


@pytest.mark.parametrize("channels_last", [True, False])
def test_synthesis_network_matches_original_and_returns_its_layout(channels_last):
    torch.manual_seed(0)
    net = randomize_(SynthesisNetwork(W_DIM, 32, 9, channel_base=256, channel_max=16, channels_last=channels_last))
    ws = torch.randn(2, net.num_ws, W_DIM, requires_grad=True)

    def call(fn):
        def run():
            torch.manual_seed(3)
            return fn()
        return run

    assert_same(call(lambda: net(ws, noise_mode="random")), call(lambda: ref_network(net, ws, "random")),
                [ws], list(net.parameters()))
    out = net(ws)
    assert out.is_contiguous(memory_format=torch.channels_last) == channels_last
    assert out.is_contiguous() != channels_last


def test_synthesis_block_with_skip_matches_original():
    block = randomize_(SynthesisBlock(8, 6, W_DIM, resolution=16, img_channels=4))
    x = to_layout(torch.randn(2, 8, 8, 8), True).requires_grad_(True)
    img = torch.randn(2, 4, 8, 8, requires_grad=True)
    ws = torch.randn(2, 3, W_DIM, requires_grad=True)
    assert_same(lambda: block(x, img, ws, noise_mode="const")[1], lambda: ref_block(block, x, img, ws, "const")[1],
                [x, img, ws], list(block.parameters()))


def test_pooled_kernel_is_conv_then_average_pooling():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(5, 4, 3, 3, generator=g)
    x = torch.randn(2, 4, 12, 12, generator=g)
    fused = F.conv2d(x, pooled_kernel(w), stride=2, padding=1)
    torch.testing.assert_close(fused, F.avg_pool2d(F.conv2d(x, w, padding=1), 2), rtol=1e-5, atol=1e-5)
    assert pooled_kernel(w).shape == (5, 4, 4, 4)


@pytest.mark.parametrize("kernel_size,size", [(3, 16), (1, 16), (3, 9)])
@pytest.mark.parametrize("channels_last", [True, False])
def test_downsampling_conv_matches_conv_then_pool(kernel_size, size, channels_last):
    layer = randomize_(Conv2dLayer(5, 7, kernel_size=kernel_size, down=True, bias=kernel_size == 3,
                                   activation="lrelu" if kernel_size == 3 else "linear"))
    x = to_layout(torch.randn(3, 5, size, size), channels_last).requires_grad_(True)
    assert_same(lambda: layer(x), lambda: ref_conv2d_layer(layer, x), [x], list(layer.parameters()))


def test_discriminator_block_matches_original():
    block = randomize_(DiscriminatorBlock(6, 8))
    x = to_layout(torch.randn(2, 6, 16, 16), True).requires_grad_(True)

    def ref():
        skip = ref_conv2d_layer(block.skip, x)
        return (skip + ref_conv2d_layer(block.conv1, ref_conv2d_layer(block.conv0, x))) / math.sqrt(2.0)

    assert_same(lambda: block(x), ref, [x], list(block.parameters()))


@pytest.mark.parametrize("image_resolution", [16, 24])   # 2x (an upsampling conv0); 2x then 1.5x (a resize)
def test_superresolution_matches_original(image_resolution):
    sr = randomize_(SuperResolution(7, 6, W_DIM, neural_resolution=8, image_resolution=image_resolution))
    rgb = torch.randn(2, 3, 8, 8, requires_grad=True)
    feat = torch.randn(2, 7, 8, 8, requires_grad=True)
    w = torch.randn(2, W_DIM, requires_grad=True)

    def ref():
        r, x = rgb, feat
        for stage in sr.stages:
            size = stage["conv0"].resolution
            r = F.interpolate(r, size=(size, size), mode="bilinear", align_corners=False)
            if size != 2 * x.shape[-1]:         # otherwise ref_synthesis_layer upsamples 2x itself
                x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
            x = ref_synthesis_layer(stage["conv0"], x, w, "const")
            x = ref_synthesis_layer(stage["conv1"], x, w, "const")
            r = r + ref_torgb(stage["torgb"], x, w)
        return r

    assert_same(lambda: sr(rgb, feat, w, noise_mode="const"), ref, [rgb, feat, w], list(sr.parameters()))


@pytest.mark.parametrize("channels_last", [True, False])
def test_sample_triplane_matches_one_batched_grid_sample(channels_last, triplane_backward):
    g = torch.Generator().manual_seed(0)
    img = to_layout(torch.randn(2, 3 * 4, 16, 16, generator=g), channels_last).requires_grad_(True)
    points = (torch.rand(2, 50, 3, generator=g) - 0.5) * 1.2          # some outside the box
    assert_same(lambda: sample_triplane(img.reshape(2, 3, 4, 16, 16), points, 1.0),
                lambda: ref_sample_triplane(img.reshape(2, 3, 4, 16, 16), points, 1.0), [img], [])


@pytest.fixture(params=["rows", "aten"])
def triplane_backward(request, monkeypatch):
    """Both paths of sample_triplane: per plane with row accumulation (large planes), batched (small)."""
    from geogen.model import triplane
    monkeypatch.setattr(triplane._SampleTriplane, "ROWS_MIN_BYTES", 0 if request.param == "rows" else 1 << 40)
    return request.param


def test_sample_triplane_gradient_keeps_the_planes_layout_and_reaches_the_points(triplane_backward):
    g = torch.Generator().manual_seed(0)
    img = to_layout(torch.randn(2, 3 * 4, 16, 16, generator=g), True).requires_grad_(True)
    planes = img.reshape(2, 3, 4, 16, 16)                           # a view of the NHWC tensor
    points = ((torch.rand(2, 40, 3, generator=g) - 0.5) * 0.9).requires_grad_(True)
    hook = []
    planes.register_hook(lambda grad: hook.append(grad.stride()))
    assert_same(lambda: sample_triplane(planes, points, 1.0), lambda: ref_sample_triplane(planes, points, 1.0),
                [img, points], [])
    if triplane_backward == "rows":
        assert hook[0] == planes.stride()
