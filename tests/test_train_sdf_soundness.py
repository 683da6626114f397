"""Issue 10 part A: β in its own parameter group and log-parametrised, G_ema's β, the eikonal /
minimal-surface / density regularisers on analytic fields, the depth loss's gradient path, and
type-checked model overrides."""

import math

import pytest
import torch

from geogen.cli.generate import main as gen_main
from geogen.cli.train import main as train_main
from geogen.common.errors import UserError
from geogen.model.config import ModelConfig, model_config
from geogen.training.config import loss_config
from geogen.model.generator import Generator
from geogen.model.regularizers import density_smoothness_loss, eikonal_loss, minimal_surface_loss
from geogen.model.renderer import RaySampling, render_rays
from geogen.training import checkpoint as ckpt
from geogen.training.data import ImageLabelDataset
from geogen.training.losses import update_ema
from geogen.training.run import prepare_run
from geogen.training.synthetic import write_fake_dataset
from geogen.training.trainer import Trainer

from cli_helpers import call_main

BATCH = 4
FAST = [f"loss.batch_size={BATCH}", "loss.r1_interval=2"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_fake_dataset(tmp_path_factory.mktemp("data"), identities=2, views=2, resolution=64)


def _trainer(data, tmp_path, variant="geogen", extra=()):
    cfg, model_cfg, _ = prepare_run("tiny", variant, tmp_path, kimg=1.0, overrides=FAST + list(extra))
    return Trainer(cfg, model_cfg, ImageLabelDataset(data, 64))


def _sphere_points(n=2000, seed=0):
    g = torch.Generator().manual_seed(seed)
    p = torch.randn(1, n, 3, generator=g)
    return p / p.norm(dim=-1, keepdim=True) * (0.2 + 0.3 * torch.rand(1, n, 1, generator=g))


# ---------------------------------------------------------------- A1: β's parameter group and parametrisation
def test_log_beta_has_its_own_group_and_learning_rate(data, tmp_path):
    switch = ["loss.switch_kimg=0", "loss.beta_lr=0.01"]
    t = _trainer(data, tmp_path, extra=switch)
    groups = {g["name"]: g for g in t.opt_G.param_groups}
    assert groups["log_beta"]["params"] == [t.G.field.log_beta] and groups["log_beta"]["lr"] == 0.01
    assert groups["networks"]["lr"] == t.cfg.loss.g_lr
    assert all(p is not t.G.field.log_beta for p in groups["networks"]["params"])
    log_b0 = float(t.G.field.log_beta.detach())
    t.train_step()
    step = abs(float(t.G.field.log_beta.detach()) - log_b0)
    assert 0 < step <= 0.01 * 1.001          # Adam with β1 = 0 moves a scalar by at most its lr


def test_beta_is_above_beta_min_for_any_parameter_value():
    cfg = model_config("tiny", "geogen")
    G = Generator(cfg)
    for value in (-50.0, -3.0, 0.0, 2.0):
        with torch.no_grad():
            G.field.log_beta.fill_(value)
        assert float(G.beta) == pytest.approx(cfg.beta_min + math.exp(value), rel=1e-6)
        assert float(G.beta) > cfg.beta_min or value == -50.0


def test_old_files_with_beta_param_load_with_the_same_beta():
    cfg = model_config("tiny", "geogen")
    G = Generator(cfg)
    state = G.state_dict()
    state.pop("field.log_beta")
    state["field.beta_param"] = torch.tensor(-0.02)       # old parametrisation: β = β_min + |β_param|
    G.load_state_dict(state)
    assert float(G.beta) == pytest.approx(cfg.beta_min + 0.02, rel=1e-6)


# ---------------------------------------------------------------- A2: G_ema's β follows G's β
def test_ema_beta_stays_between_the_betas_g_had():
    """G's β alternating between two values (what a sign-flipping |β_param| did to G_ema): the EMA of
    log β lies between them, never near β_min."""
    cfg = model_config("tiny", "geogen")
    G, G_ema = Generator(cfg), Generator(cfg)
    values = [0.004, 0.006]
    for i in range(200):
        with torch.no_grad():
            G.field.log_beta.fill_(math.log(values[i % 2] - cfg.beta_min))
        update_ema(G_ema, G, 0.9)
    assert values[0] - 1e-6 <= float(G_ema.beta) <= values[1] + 1e-6


def test_g_ema_beta_tracks_g_beta_across_the_switch_and_is_reported(data, tmp_path):
    switch = [f"loss.switch_kimg={2 * BATCH / 1000}", "loss.beta_lr=0.05", "loss.ema_kimg=0.004",
              "loss.ema_rampup=0"]
    t = _trainer(data, tmp_path, extra=switch)
    history = [t.train_step() for _ in range(5)]
    g_betas = [h["schedule/beta"] for h in history]
    assert g_betas[0] == g_betas[1] and g_betas[2] != g_betas[1]          # frozen, then learning
    assert all("schedule/beta_ema" in h for h in history)                # logged: G's and G_ema's β
    ema = history[-1]["schedule/beta_ema"]
    assert min(g_betas) - 1e-9 <= ema <= max(g_betas) + 1e-9
    assert abs(math.log(ema) - math.log(g_betas[-1])) < abs(math.log(g_betas[0]) - math.log(g_betas[-1])) + 1e-9
    assert ema == pytest.approx(float(t.G_ema.beta))
    # the model file and snapshots report the β the saved network (G_ema) uses
    assert t.meta()["beta"] == pytest.approx(float(t.G_ema.beta))
    assert t.state_dict()["schedule"]["beta_ema"] == pytest.approx(float(t.G_ema.beta))


# ---------------------------------------------------------------- A3: eikonal and minimal surface
def test_eikonal_is_zero_for_an_exact_sdf_and_16_for_five_times_one():
    pts = _sphere_points()
    sphere = lambda p: p.norm(dim=-1, keepdim=True) - 0.3          # noqa: E731
    assert float(eikonal_loss(sphere, pts, step=1 / 32)) < 1e-3
    assert float(eikonal_loss(lambda p: 5 * sphere(p), pts, step=1 / 32)) == pytest.approx(16.0, rel=1e-2)
    plane = lambda p: p[..., 2:3] * 0.5                           # noqa: E731  |∇s| = 0.5 → 0.25
    assert float(eikonal_loss(plane, pts, step=1 / 32)) == pytest.approx(0.25, rel=1e-5)


def test_minimal_surface_term_closed_form():
    assert float(minimal_surface_loss(torch.zeros(10))) == pytest.approx(1.0)
    assert float(minimal_surface_loss(torch.full((10,), 0.01))) == pytest.approx(math.exp(-1.0))


def test_training_uses_the_eikonal_term_on_rendered_samples(data, tmp_path):
    assert loss_config("tiny", "geogen").eikonal_weight > 0 and loss_config("tiny", "eg3d").eikonal_weight == 0
    t = _trainer(data, tmp_path)
    calls = []
    original = t.G.eikonal_loss

    def spy(planes, points=None, **kw):
        calls.append(points)
        return original(planes, points, **kw)

    t.G.eikonal_loss = spy
    stats = t.train_step()
    assert "G/eikonal" in stats and stats["G/eikonal"] >= 0
    pts = calls[0]
    assert pts.shape == (BATCH, t.cfg.loss.eikonal_points, 3)
    # points on the camera rays between ray_start and ray_end: some lie outside the box
    # [-0.5, 0.5]³ (uniform box points never do)
    assert (pts.abs().amax(-1) > 0.5).any()
    with pytest.raises(UserError, match="no SDF"):
        prepare_run("tiny", "eg3d", tmp_path / "e", overrides=["loss.eikonal_weight=0.1"])


# ---------------------------------------------------------------- A4: gradient path of the depth loss
@pytest.mark.parametrize("mode", ["full", "surface"])
def test_depth_loss_gradient_path_on_an_analytic_sphere(mode):
    """The rendered depth depends on β, s(p_d) at a fixed point does not: only "full" moves β."""
    log_beta = torch.tensor(math.log(0.05), requires_grad=True)
    radius = torch.tensor(0.3, requires_grad=True)

    def field(p):
        sdf = p.norm(dim=-1, keepdim=True) - radius
        beta = log_beta.exp()
        sigma = (0.5 + 0.5 * torch.sign(sdf) * torch.expm1(-sdf.abs() / beta)) / beta
        return {"sdf": sdf, "sigma": sigma, "features": torch.zeros_like(sdf).expand(*sdf.shape[:-1], 3)}

    origins = torch.tensor([[[0.0, 0.0, 2.7]]]).expand(1, 5, 3).contiguous()
    dirs = torch.nn.functional.normalize(torch.tensor([[[0.0, 0.0, -1.0], [0.02, 0, -1], [0, 0.05, -1],
                                                        [0.04, 0.04, -1], [-0.06, 0, -1]]]), dim=-1)
    sampling = RaySampling(64, 64, 2.1, 3.3)
    res = render_rays(field, origins, dirs, sampling, depth_loss_min_weight=0.5, depth_loss_grad=mode)
    res["sdf_depth_loss"].backward()
    assert radius.grad is not None and radius.grad.abs() > 0         # the surface is trained either way
    if mode == "surface":
        assert log_beta.grad is None or float(log_beta.grad) == 0.0
    else:
        assert log_beta.grad is not None and abs(float(log_beta.grad)) > 1e-6
    with pytest.raises(ValueError, match="depth_loss_grad"):
        render_rays(field, origins, dirs, sampling, depth_loss_min_weight=0.5, depth_loss_grad="half")


# ---------------------------------------------------------------- A5: EG3D's density regulariser
def test_density_regulariser_closed_form_and_use():
    pts = _sphere_points(20000)
    torch.manual_seed(0)
    assert float(density_smoothness_loss(lambda p: torch.ones_like(p[..., :1]), pts, 0.004)) == 0.0
    # σ = k·x: E|k ε_x| = k p_dist sqrt(2/π)
    k, d = 10.0, 0.004
    value = float(density_smoothness_loss(lambda p: k * p[..., :1], pts, d))
    assert value == pytest.approx(k * d * math.sqrt(2 / math.pi), rel=0.03)


def test_eg3d_variant_trains_with_the_density_regulariser(data, tmp_path):
    assert loss_config("tiny", "eg3d").density_reg_weight == 0.25
    t = _trainer(data, tmp_path, "eg3d", extra=["reuse_fakes=false"])
    stats = t.train_step()
    assert stats["G/density_reg"] > 0 and "G/eikonal" not in stats and "schedule/beta" not in stats


# ---------------------------------------------------------------- A6: model overrides with type checks
def test_set_model_field_reaches_the_model(data, tmp_path):
    cfg, model_cfg, _ = prepare_run("tiny", "geogen", tmp_path, overrides=["model.samples_coarse=24",
                                                                          "model.depth_loss_grad=surface"])
    assert model_cfg.samples_coarse == 24 and model_cfg.depth_loss_grad == "surface"
    t = Trainer(cfg, model_cfg, ImageLabelDataset(data, 64))
    assert t.G.cfg.samples_coarse == 24


def test_wrong_types_are_one_line_errors(data, tmp_path):
    res = call_main(train_main, "geogen-train", "--data", data, "--out", tmp_path / "r", "--set", "model.z_dim=abc")
    assert res.returncode == 2
    err = res.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err and "model.z_dim" in err
    res = call_main(train_main, "geogen-train", "--data", data, "--out", tmp_path / "r", "--set", "model.zdim=3")
    assert res.returncode == 2 and "unknown model field" in res.stderr
    with pytest.raises(UserError, match="z_dim"):
        ModelConfig.from_dict({**model_config("tiny").to_dict(), "z_dim": "abc"})
    with pytest.raises(UserError, match="ray_start"):
        ModelConfig.from_dict({**model_config("tiny").to_dict(), "ray_start": True})
    # a model file whose model_config holds a wrong type: one line from geogen-gen, no traceback
    G = Generator(model_config("tiny"))
    bad = ckpt.save_file(tmp_path / "bad.pkl", {"model_config": {**model_config("tiny").to_dict(), "z_dim": "abc"},
                                                "G_ema": G.state_dict(), "meta": {}}, "model")
    res = call_main(gen_main, "geogen-gen", "--model", bad, "--seeds", "0", "--out", tmp_path / "g")
    assert res.returncode == 2 and res.stderr.strip().startswith("error: ") and "\n" not in res.stderr.strip()
    assert "z_dim" in res.stderr and not (tmp_path / "g").exists()
