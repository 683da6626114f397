"""Forward shapes, config round-trips and gradient routing of the GeoGen networks (tiny preset)."""

import dataclasses
import json

import pytest
import torch

from geogen.common.cameras import normalized_intrinsics, spherical_cam2world, to_label
from geogen.common.errors import UserError
from geogen.model import Discriminator, Generator, ModelConfig, model_config
from geogen.training.config import LossConfig, loss_config


def labels(n, focal=3.2):
    return torch.tensor([to_label(spherical_cam2world(45.0 * i, 10.0), normalized_intrinsics(focal))
                         for i in range(n)], dtype=torch.float32)


@pytest.mark.parametrize("preset", ["tiny", "small", "paper"])
@pytest.mark.parametrize("variant", ["geogen", "geogen-nodepth", "eg3d"])
def test_config_round_trip(preset, variant):
    cfg = model_config(preset, variant)
    again = ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    lc = loss_config(preset, variant)
    assert LossConfig.from_dict(json.loads(json.dumps(lc.to_dict()))) == lc
    assert cfg.field == ("density" if variant == "eg3d" else "sdf")
    assert (cfg.pe_levels == 0) == (variant == "eg3d")
    assert (lc.depth_weight_at(1e9) > 0) == (variant == "geogen")


def test_config_rejects_bad_input():
    with pytest.raises(UserError, match="unknown preset"):
        model_config("huge", "geogen")
    with pytest.raises(UserError, match="did you mean|choose from"):
        model_config("tiny", "geogan")
    with pytest.raises(UserError, match="unknown ModelConfig field"):
        ModelConfig.from_dict({"variant": "geogen", "z_dimm": 3})


def test_schedules():
    lc = loss_config("tiny", "geogen")
    N = lc.switch_kimg
    assert not lc.switched_at(N - 1) and lc.switched_at(N)
    assert lc.depth_weight_at(lc.switch_kimg - 1) == 0.0
    assert lc.depth_weight_at(lc.switch_kimg) == pytest.approx(0.1)
    assert lc.blur_sigma_at(0) == lc.blur_sigma and lc.blur_sigma_at(lc.blur_fade_kimg) == 0.0
    assert lc.swap_prob_at(0) == 1.0 and lc.swap_prob_at(lc.gpc_fade_kimg * 2) == pytest.approx(lc.gpc_prob)


@pytest.mark.parametrize("variant", ["geogen", "geogen-nodepth", "eg3d"])
def test_forward_shapes_tiny(variant):
    torch.manual_seed(0)
    cfg = model_config("tiny", variant)
    G, D = Generator(cfg), Discriminator(cfg)
    B, c = 4, labels(4)
    ws = G.mapping(torch.randn(B, cfg.z_dim), c)
    assert ws.shape == (B, G.num_ws, cfg.w_dim)
    out = G.synthesis(ws, c, noise_mode="random")
    h, H = cfg.neural_resolution, cfg.image_resolution
    assert out["image"].shape == (B, 3, H, H)
    assert out["image_raw"].shape == (B, 3, h, h)
    assert out["image_depth"].shape == (B, 1, h, h)
    assert out["weights_sum"].shape == (B, 1, h, h)
    assert out["image_raw"].min() >= -1.01 and out["image_raw"].max() <= 1.01
    assert ((out["image_depth"] >= cfg.ray_start) & (out["image_depth"] <= cfg.ray_end)).all()
    assert ("sdf_depth_loss" in out) == (cfg.field == "sdf")
    logits = D(out, c, blur_sigma=1.5)
    assert logits.shape == (B, 1) and torch.isfinite(logits).all()
    pts = torch.rand(B, 10, 3) - 0.5
    field = G.sample_field(ws, pts)
    assert field["rgb"].shape == (B, 10, 3)
    assert field["sdf" if cfg.field == "sdf" else "sigma"].shape == (B, 10, 1)


def test_untrained_geogen_starts_as_sphere():
    cfg = model_config("tiny", "geogen")
    G = Generator(cfg).eval()
    ws = G.mapping(torch.randn(1, cfg.z_dim), labels(1))
    d = torch.linspace(-0.45, 0.45, 7)
    pts = torch.stack(torch.meshgrid(d, d, d, indexing="ij"), -1).reshape(1, -1, 3)
    sdf = G.sample_field(ws, pts)["sdf"].squeeze()
    sphere = pts.squeeze(0).norm(dim=-1) - cfg.sphere_init_radius
    assert (sdf - sphere).abs().max() < 0.1


def test_beta_gradient_only_when_trainable():
    torch.manual_seed(0)
    cfg = model_config("tiny", "geogen")
    G = Generator(cfg)
    c = labels(2)
    for trainable in (False, True):
        G.zero_grad(set_to_none=True)
        G.set_beta_trainable(trainable)
        out = G(torch.randn(2, cfg.z_dim), c)
        (out["image"].mean() + out["sdf_depth_loss"]).backward()
        grad = G.field.log_beta.grad
        assert (grad is not None and grad.abs() > 0) if trainable else grad is None
        assert G.mapping_network.layers[0].weight.grad is not None
    assert float(G.beta.detach()) == pytest.approx(cfg.beta_min + cfg.beta_init)
    with pytest.raises(AttributeError):
        Generator(model_config("tiny", "eg3d")).beta



def test_extract_mesh_of_untrained_generator_is_the_prior_sphere():
    import numpy as np

    from geogen.model import extract_mesh
    torch.manual_seed(0)
    cfg = model_config("tiny", "geogen")
    G = Generator(cfg).eval()
    ws = G.mapping(torch.randn(1, cfg.z_dim), labels(1))
    V, F = extract_mesh(G, ws, resolution=48)
    assert V.dtype == np.float32 and F.dtype == np.int64 and F.shape[1] == 3
    r = np.linalg.norm(V, axis=1)
    assert abs(r.mean() - cfg.sphere_init_radius) < 0.02          # decoder starts within ~0.01 of the prior
    with pytest.raises(ValueError, match="one latent"):
        extract_mesh(G, ws.repeat(2, 1, 1), resolution=16)
    Ge = Generator(model_config("tiny", "eg3d")).eval()
    V, F = extract_mesh(Ge, Ge.mapping(torch.randn(1, 64), labels(1)), resolution=16, level=0.3)
    assert V.ndim == 2 and V.shape[1] == 3 and np.abs(V).max() <= 0.5 + 0.5 / 15 + 1e-5   # caps: half a cell out


@pytest.mark.parametrize("up_mode", ["bilinear", "transposed"])
def test_neural_resolution_override_keeps_the_output_size(up_mode):
    cfg = dataclasses.replace(model_config("tiny", "eg3d"), up_mode=up_mode)
    G, D = Generator(cfg), Discriminator(cfg)
    c = labels(2)
    out = G(torch.randn(2, cfg.z_dim), c, neural_resolution=16)
    assert out["image_raw"].shape[-1] == 16 and out["image"].shape[-1] == cfg.image_resolution
    assert D(out, c).shape == (2, 1)


def test_eikonal_term_is_small_for_the_prior_and_differentiable():
    torch.manual_seed(0)
    cfg = model_config("tiny", "geogen")
    G = Generator(cfg)
    planes = G.planes(G.mapping(torch.randn(1, cfg.z_dim), labels(1)))
    e = G.eikonal_loss(planes, n_points=256)
    assert e < 0.05                                   # |∇(|p| - r)| = 1 away from the origin
    e.backward()
    assert G.field.out_geometry.weight.grad is not None
    planes_big = planes.detach() * 0 + torch.randn_like(planes) * 50
    assert G.eikonal_loss(planes_big, n_points=256) > e


def test_gradient_background_blends_top_to_bottom_by_row():
    cfg = model_config("tiny", "geogen")
    G = Generator(cfg)
    ws = G.mapping(torch.randn(2, cfg.z_dim), labels(2))
    bg = G.background(ws, 4).reshape(2, 4, 4, -1)          # (B, rows, cols, F)
    top, bottom = torch.sigmoid(G.background_net(ws[:, -1])).reshape(2, 2, 3).unbind(1)
    assert torch.allclose(bg[:, 0, 0, :3], 0.875 * top + 0.125 * bottom, atol=1e-6)
    assert torch.allclose(bg[:, 3, 2, :3], 0.125 * top + 0.875 * bottom, atol=1e-6)
    assert (bg[..., 3:] == 0).all() and torch.allclose(bg[:, :, 0], bg[:, :, 3])
    const = Generator(ModelConfig.from_dict({**model_config("tiny", "eg3d").to_dict(), "background_mode": "constant"}))
    bgc = const.background(ws, 4)
    assert torch.allclose(bgc[..., :3], torch.tensor(const.cfg.background).expand_as(bgc[..., :3]))
