"""The GAN objective of EG3D / GeoGen as small functions (facts from EG3D's loss.py).

* non-saturating logistic loss for G and D;
* R1 gradient penalty on real images, γ/2·E‖∇D(x)‖², taken over both inputs of the dual
  discriminator (final and raw image) and applied lazily (every N steps, scaled by N);
* the generator EMA with StyleGAN2's half-life in images and ramp-up.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from geogen.model.config import VARIANT_REGISTRY

from .config import LossConfig


def g_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """G loss: softplus(-D(G(z))) = -log sigmoid(D(G(z)))."""
    return F.softplus(-fake_logits).mean()


def d_logistic(fake_logits: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
    """D loss: softplus(D(fake)) + softplus(-D(real))."""
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def r1_penalty(real_logits: torch.Tensor, inputs: list[torch.Tensor]) -> torch.Tensor:
    """Per-sample ‖∂ΣD/∂x‖² summed over all ``inputs`` (each must require grad); shape (B,)."""
    grads = torch.autograd.grad(real_logits.sum(), inputs, create_graph=True)
    return sum(g.square().flatten(1).sum(1) for g in grads)


def ema_beta(batch: int, nimg: int, ema_kimg: float, rampup: float | None) -> float:
    """Per-step EMA decay: half-life ``ema_kimg`` thousand images, ramped up to ``rampup``·nimg early on."""
    ema_nimg = ema_kimg * 1000.0
    if rampup:
        ema_nimg = min(ema_nimg, nimg * rampup)
    return 0.5 ** (batch / max(ema_nimg, 1e-8))


@torch.no_grad()
def update_ema(G_ema: torch.nn.Module, G: torch.nn.Module, beta: float) -> None:
    """G_ema ← β·G_ema + (1-β)·G for parameters; buffers are copied.

    The Laplace density's β is stored as log β, so G_ema's β is a (geometric) average of G's recent
    β values and always lies between them."""
    params_ema, params = list(G_ema.parameters()), [p.detach() for p in G.parameters()]
    if params:  # one foreach call per list instead of a Python loop over ~350 tensors; same lerp, same values
        torch._foreach_copy_(params_ema, torch._foreach_lerp(params, params_ema, beta))
    buffers_ema, buffers = list(G_ema.buffers()), list(G.buffers())
    if buffers:
        torch._foreach_copy_(buffers_ema, buffers)


@dataclass(frozen=True)
class Schedule:
    """Scheduled training values at one point of the run."""

    blur_sigma: float        # px of blur on D's inputs (fades in from blur_sigma to 0)
    swap_prob: float         # probability of conditioning G's mapping on another camera (GPC)
    beta_trainable: bool     # β of the Laplace density learnable yet?
    depth_weight: float      # λ of Eq. 7

    def to_dict(self) -> dict:
        return {"blur_sigma": self.blur_sigma, "swap_prob": self.swap_prob,
                "beta_trainable": self.beta_trainable, "depth_weight": self.depth_weight}


def schedule_at(loss: LossConfig, kimg: float, variant: str) -> Schedule:
    """All scheduled values after ``kimg`` thousand images; from the switch point on, β is learnable
    and λ > 0 as far as the variant's registry entry has them (``learnable_beta``, ``depth_loss``)."""
    spec, switched = VARIANT_REGISTRY.get(variant), loss.switched_at(kimg)
    return Schedule(blur_sigma=loss.blur_sigma_at(kimg), swap_prob=loss.swap_prob_at(kimg),
                    beta_trainable=spec.learnable_beta and switched,
                    depth_weight=loss.depth_weight_at(kimg) if spec.depth_loss else 0.0)
