"""GAN losses, R1, EMA and the schedules, against closed forms."""

import math

import pytest
import torch

from geogen.training.config import TrainConfig, loss_config, train_config, with_overrides
from geogen.common.errors import UserError
from geogen.training.losses import (d_logistic, ema_beta, g_nonsaturating, r1_penalty, schedule_at,
                                    update_ema)


def test_logistic_losses_match_log_sigmoid():
    f, r = torch.tensor([[0.3], [-1.2]]), torch.tensor([[2.0], [0.1]])
    sig = torch.sigmoid
    assert g_nonsaturating(f).item() == pytest.approx(-torch.log(sig(f)).mean().item(), rel=1e-6)
    expected = -torch.log(1 - sig(f)).mean() - torch.log(sig(r)).mean()
    assert d_logistic(f, r).item() == pytest.approx(expected.item(), rel=1e-6)


def test_r1_penalty_of_a_quadratic_discriminator():
    """D(x) = Σ a·x² + b·y  ⇒  ∇ = (2a·x, b), penalty = Σ(2a·x)² + Σ b² per sample."""
    x = torch.randn(3, 2, 4, 4, requires_grad=True)
    y = torch.randn(3, 2, 2, 2, requires_grad=True)
    a, b = 0.7, -1.5
    logits = (a * x.square()).flatten(1).sum(1) + (b * y).flatten(1).sum(1)
    pen = r1_penalty(logits[:, None], [x, y])
    expected = (2 * a * x.detach()).square().flatten(1).sum(1) + b * b * 8
    torch.testing.assert_close(pen, expected)
    pen.sum().backward()  # create_graph: the penalty is differentiable (needed to train D on it)
    torch.testing.assert_close(x.grad, 2 * (2 * a) ** 2 * x.detach())


def test_ema_beta_half_life_and_rampup():
    # half-life ema_kimg: after ema_kimg·1000 images the old weights count 1/2
    beta = ema_beta(batch=10, nimg=10**9, ema_kimg=1.0, rampup=None)
    assert beta ** 100 == pytest.approx(0.5)
    # ramp-up: early on the half-life is rampup·nimg
    assert ema_beta(10, nimg=1000, ema_kimg=10.0, rampup=0.05) == pytest.approx(0.5 ** (10 / 50))


def test_update_ema():
    G, G_ema = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    before = G_ema.weight.detach().clone()
    update_ema(G_ema, G, 0.9)
    torch.testing.assert_close(G_ema.weight, 0.9 * before + 0.1 * G.weight.detach())


def test_schedules_switch_at_configured_kimg():
    L = loss_config("tiny", "geogen")
    L.switch_kimg, L.depth_loss_weight = 5.0, 0.1     # one switch point for β and λ
    L.blur_sigma, L.blur_fade_kimg, L.gpc_prob, L.gpc_fade_kimg = 4.0, 10.0, 0.5, 20.0
    s = schedule_at(L, 4.999, "geogen")
    assert not s.beta_trainable and s.depth_weight == 0.0
    assert schedule_at(L, 5.0, "geogen").beta_trainable and schedule_at(L, 5.0, "geogen").depth_weight == 0.1
    assert schedule_at(L, 8.0, "geogen").depth_weight == 0.1
    assert schedule_at(L, 0.0, "geogen").blur_sigma == 4.0
    assert schedule_at(L, 5.0, "geogen").blur_sigma == pytest.approx(2.0)
    assert schedule_at(L, 12.0, "geogen").blur_sigma == 0.0
    assert schedule_at(L, 0.0, "geogen").swap_prob == 1.0
    assert schedule_at(L, 10.0, "geogen").swap_prob == pytest.approx(0.75)
    assert schedule_at(L, 100.0, "geogen").swap_prob == pytest.approx(0.5)
    # the ablation never uses the depth loss; eg3d has no β at all
    assert schedule_at(L, 100.0, "geogen-nodepth").depth_weight == 0.0
    assert schedule_at(L, 100.0, "geogen-nodepth").beta_trainable
    assert not schedule_at(L, 100.0, "eg3d").beta_trainable and schedule_at(L, 100.0, "eg3d").depth_weight == 0.0


def test_train_config_round_trip_and_overrides():
    cfg = train_config("tiny", "geogen")
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    new = with_overrides(cfg, ["kimg=3", "xflip=false", "loss.r1_gamma=2.5", "loss.adam_betas=0,0.9"])
    assert new.kimg == 3.0 and new.xflip is False and new.loss.r1_gamma == 2.5 and new.loss.adam_betas == (0.0, 0.9)
    assert cfg.loss.r1_gamma != 2.5  # the original is untouched
    for bad in ["kimg", "nope=1", "loss.nope=1", "seed=1.5", "xflip=maybe"]:
        with pytest.raises(UserError):
            with_overrides(cfg, [bad])
    assert math.isclose(train_config("paper", "eg3d").loss.g_lr, 0.0025)
