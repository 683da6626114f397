"""``ModelConfig.sr_layout``: the super-resolution's stages, this project's ``uniform`` or EG3D's ``two_block``.

The stage plan is checked against EG3D's blocks (SuperresolutionHybrid2X / 4X / 8X: 128 channels at
half the image size, then 64 at the image size; the first block upsamples only when the neural
rendering is below half the image size), wired through the generator at several resolutions, and
compared in multiply-adds with the uniform layout; a model file records the layout and loads it back.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from geogen.common.cameras import normalized_intrinsics, spherical_cam2world, to_label
from geogen.common.errors import UserError
from geogen.model.config import ModelConfig, model_config
from geogen.model.discriminator import Discriminator
from geogen.model.generator import Generator
from geogen.model.io import build_generator
from geogen.model.superres import SuperResolution, sr_stages


def test_stage_plans_match_eg3d_blocks_and_the_uniform_layout():
    # EG3D's 2X (64 -> 128) and 4X (128 -> 256, input at 128): a no-up block at half the size, then an up block
    assert sr_stages("two_block", 128, 64, 128) == [(64, 128), (128, 64)]
    assert sr_stages("two_block", 128, 128, 256) == [(128, 128), (256, 64)]
    # EG3D's 8X (128 -> 512): both blocks upsample
    assert sr_stages("two_block", 128, 128, 512) == [(256, 128), (512, 64)]
    # uniform: one stage per doubling, all of the same width; a non power of two ends at the image size
    assert sr_stages("uniform", 32, 32, 64) == [(64, 32)]
    assert sr_stages("uniform", 32, 32, 128) == [(64, 32), (128, 32)]
    assert sr_stages("uniform", 32, 32, 96) == [(64, 32), (96, 32)]
    assert sr_stages("uniform", 32, 64, 64) == []


def test_two_block_layout_first_block_upsamples_only_from_below_half_size():
    sr = SuperResolution(7, 8, 16, neural_resolution=32, image_resolution=64, layout="two_block")
    assert [(s["conv0"].up, s["conv0"].resolution) for s in sr.stages] == [(False, 32), (True, 64)]
    sr = SuperResolution(7, 8, 16, neural_resolution=16, image_resolution=64, layout="two_block")
    assert [(s["conv0"].up, s["conv0"].resolution) for s in sr.stages] == [(True, 32), (True, 64)]
    assert [s["torgb"].conv.weight.shape[1] for s in sr.stages] == [8, 4]     # toRGB input channels


@pytest.mark.parametrize("up_mode", ["bilinear", "transposed"])
@pytest.mark.parametrize("neural", [None, 16])
def test_generator_with_two_block_layout_renders_at_the_image_size(up_mode, neural):
    torch.manual_seed(0)
    cfg = dataclasses.replace(model_config("tiny", "geogen"), sr_layout="two_block", up_mode=up_mode)
    G, D = Generator(cfg), Discriminator(cfg)
    c = torch.tensor([to_label(spherical_cam2world(45.0 * i, 10.0), normalized_intrinsics(3.2)) for i in range(2)],
                     dtype=torch.float32)
    out = G(torch.randn(2, cfg.z_dim), c, neural_resolution=neural)
    assert out["image"].shape == (2, 3, cfg.image_resolution, cfg.image_resolution)
    assert torch.isfinite(out["image"]).all()
    score = D(out, c)
    assert score.shape == (2, 1)
    score.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in G.superresolution.parameters()
               if p.requires_grad)


@pytest.mark.parametrize("up_mode", ["bilinear", "transposed"])
def test_two_block_layout_does_fewer_multiply_adds_at_eg3d_sizes(up_mode):
    """At 32² -> 64² with 128 channels EG3D's blocks run 128 channels at 32² and 64 at 64²; the
    uniform layout runs 128 at 64². The counted FLOPs match the 3x3 convolutions' multiply-adds
    (toRGB, modulation and the skip are < 3 %)."""
    def flops(layout):
        sr = SuperResolution(32, 128, 64, neural_resolution=32, image_resolution=64, up_mode=up_mode,
                             layout=layout).eval()
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            img = sr(torch.zeros(1, 3, 32, 32), torch.randn(1, 32, 32, 32), torch.randn(1, 64), noise_mode="const")
        assert img.shape == (1, 3, 64, 64)
        return counter.get_total_flops()

    def conv_macs(res, cin, cout):
        return res * res * cin * cout * 9

    up = (lambda cin, cout: conv_macs(32, cin, cout)) if up_mode == "transposed" else \
         (lambda cin, cout: conv_macs(64, cin, cout))        # transposed: at the input size; bilinear: at the output
    uniform = up(32, 128) + conv_macs(64, 128, 128)
    two_block = conv_macs(32, 32, 128) + conv_macs(32, 128, 128) + up(128, 64) + conv_macs(64, 64, 64)
    assert flops("uniform") == pytest.approx(2 * uniform, rel=0.03)
    assert flops("two_block") == pytest.approx(2 * two_block, rel=0.03)
    assert two_block / uniform < (0.9 if up_mode == "bilinear" else 0.7)


def test_layout_is_validated_and_round_trips_through_a_model_file():
    with pytest.raises(UserError, match="sr_layout"):
        dataclasses.replace(model_config("tiny"), sr_layout="eg3D")
    with pytest.raises(UserError, match="sr_layout 'two_block' needs"):
        dataclasses.replace(model_config("tiny"), sr_layout="two_block", image_resolution=32)
    assert model_config("tiny").sr_layout == "uniform"
    cfg = dataclasses.replace(model_config("tiny", "eg3d"), sr_layout="two_block")
    G = Generator(cfg)
    G2, cfg2 = build_generator({"model_config": cfg.to_dict(), "G_ema": G.state_dict()})
    assert cfg2.sr_layout == "two_block" and len(G2.superresolution.stages) == 2
    # a model file written before the field existed has no "sr_layout" key: the uniform layout
    old = cfg.to_dict()
    old.pop("sr_layout")
    assert ModelConfig.from_dict(old).sr_layout == "uniform"
