"""Pivotal Tuning Inversion (PTI) with known cameras, for generators with the GeoGen interface.

Stage 1 (W-space): optimise one w (shared by all ``num_ws`` layers), starting at the mean w,
with Adam, a learning-rate ramp (up over the first 5 %, cosine down over the last 25 %) and
decaying noise on w (StyleGAN2 projector practice, as PTI does). Stage 2 (pivotal tuning):
freeze that w (the pivot) and fine-tune a copy of the generator's weights. The loss in both
stages is the image loss of :class:`ImageLoss` over all input views.

β of the Laplace density (SDF variants) is not tuned by default: it is one scalar of the renderer
(how sharp the surface is), not an identity's appearance, and Adam moves every parameter by about
lr per step — 3e-4 per step is ≈30 % of a trained β ≈ 0.017 in 20 steps. Tuned, β grows and the
image is fitted with a blurrier shell whose zero level set can vanish (measured on 1.5-kimg models).
"""

from __future__ import annotations

import copy
import math
import sys
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from geogen.common.config import Config
from geogen.common.errors import UserError


@dataclass(frozen=True)
class PTIConfig(Config):
    """Inversion settings (recorded in every result)."""

    steps_w: int = 450
    """PTI's W-inversion length."""
    steps_g: int = 350
    """PTI's pivotal-tuning length."""
    lr_w: float = 0.01
    """Peak learning rate of w."""
    lr_g: float = 3e-4
    """Generator learning rate while tuning."""
    w_avg_samples: int = 1000
    """Z samples used for the mean w (and its spread, for the noise)."""
    noise_strength: float = 0.05
    """Initial noise on w, as a fraction of the w spread; 0 disables."""
    tune_beta: bool = False
    """Also tune β of the Laplace density while pivotal tuning (see module doc)."""
    seed: int = 0
    """Seed of the noise on w."""

    def __post_init__(self):
        super().__post_init__()
        if self.steps_w < 0 or self.steps_g < 0:
            raise UserError("--steps-w and --steps-g must be >= 0")
        if self.w_avg_samples < 1:
            raise UserError("w_avg_samples must be >= 1")


PTI_PRESETS = {
    "paper": PTIConfig(),
    "small": PTIConfig(steps_w=200, steps_g=100, w_avg_samples=500),
    "tiny": PTIConfig(steps_w=40, steps_g=20, w_avg_samples=200),
}


class ImageLoss:
    """PTI's image loss on images in [-1, 1]: MSE + LPIPS.

    LPIPS needs its VGG16 weights locally; without them (``lpips_model`` None) the loss is MSE
    alone. That substitution is printed once as a one-line console warning (at the first
    inversion) and recorded by :meth:`describe` in the inversion settings of every result.
    """

    def __init__(self, lpips_model=None, lpips_weight: float = 1.0,
                 unavailable_reason: str = "no lpips package or no local VGG16 weights"):
        self.lpips_model, self.lpips_weight = lpips_model, lpips_weight
        self.unavailable_reason = unavailable_reason
        self._warned = False

    @property
    def name(self) -> str:
        return "mse+lpips" if self.lpips_model is not None else "mse"

    @property
    def substitution(self) -> str | None:
        """What replaced PTI's loss, or None when it is the real one."""
        if self.lpips_model is not None:
            return None
        return f"MSE alone instead of MSE + LPIPS (LPIPS unavailable: {self.unavailable_reason})"

    def describe(self) -> dict:
        """The loss as recorded with the inversion settings."""
        return {"loss": self.name, **({"loss_substituted": self.substitution} if self.substitution else {})}

    def warn_once(self) -> None:
        if self.substitution and not self._warned:
            print(f"warning: PTI loss is {self.substitution}; recorded in the result", file=sys.stderr, flush=True)
            self._warned = True

    def __call__(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = F.mse_loss(pred, target)
        if self.lpips_model is not None:
            loss = loss + self.lpips_weight * self.lpips_model(pred, target).mean()
        return loss


class Adam:
    """Adam with the arithmetic of ``torch.optim.Adam``'s default CPU path (tested equal), written
    out because constructing the first torch optimiser of a process imports ``torch._dynamo``:
    1.5-4 s once per process on these CPUs, as long as a ``tiny`` inversion's steps."""

    def __init__(self, params, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.params = list(params)
        self.lr, self.betas, self.eps = lr, betas, eps
        self.state: dict[int, tuple] = {}   # index → (step, exp_avg, exp_avg_sq)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2 = self.betas
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            step, exp_avg, exp_avg_sq = self.state.get(i) or (0, torch.zeros_like(p), torch.zeros_like(p))
            step += 1
            self.state[i] = (step, exp_avg, exp_avg_sq)
            exp_avg.lerp_(p.grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
            denom = (exp_avg_sq.sqrt() / (1 - beta2 ** step) ** 0.5).add_(self.eps)
            p.addcdiv_(exp_avg, denom, value=-(self.lr / (1 - beta1 ** step)))


def lr_schedule(t: float, peak: float) -> float:
    """Learning rate at progress t ∈ [0, 1): linear ramp-up over 5 %, cosine ramp-down over the last 25 %."""
    down = 0.5 - 0.5 * math.cos(min(1.0, (1.0 - t) / 0.25) * math.pi)
    return peak * down * min(1.0, t / 0.05 + 1e-3)


@torch.no_grad()
def mean_w(G, c: torch.Tensor, n: int, seed: int) -> tuple[torch.Tensor, float]:
    """Mean w (1, w_dim) over ``n`` seeded z for camera ``c`` (1, 25), and the w spread (RMS)."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, G.cfg.z_dim, generator=gen).to(c.device)
    w = G.mapping(z, c.expand(n, -1))[:, 0, :]
    avg = w.mean(0, keepdim=True)
    spread = float(((w - avg).square().sum(dim=1).mean()).sqrt())
    return avg, spread


def invert(G, targets: torch.Tensor, cams: torch.Tensor, cfg: PTIConfig, loss: ImageLoss,
           progress=None) -> tuple[torch.nn.Module, torch.Tensor, dict]:
    """PTI: returns (tuned generator copy, pivot ws (1, num_ws, w_dim), log).

    ``targets`` (V, 3, H, W) in [-1, 1] at the generator's image resolution; ``cams`` (V, 25).
    The mean w is taken for the first camera (EG3D conditions the mapping on the camera).
    """
    loss.warn_once()
    V = targets.shape[0]
    w_avg, w_spread = mean_w(G, cams[:1], cfg.w_avg_samples, cfg.seed)
    w = w_avg.clone().requires_grad_(True)
    opt = Adam([w], lr=cfg.lr_w, betas=(0.9, 0.999))
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    log = {"loss_w": [], "loss_g": []}
    G.requires_grad_(False)
    for step in range(cfg.steps_w):
        t = step / max(cfg.steps_w, 1)
        opt.lr = lr_schedule(t, cfg.lr_w)
        noise_scale = w_spread * cfg.noise_strength * max(0.0, 1.0 - t / 0.75) ** 2
        w_noisy = w + torch.randn(w.shape, generator=gen).to(w.device) * noise_scale
        ws = w_noisy.unsqueeze(1).expand(V, G.num_ws, -1)
        img = G.synthesis(ws, cams)["image"]
        value = loss(img, targets)
        opt.zero_grad()
        value.backward()
        opt.step()
        log["loss_w"].append(value.item())
        if progress:
            progress()
    pivot = w.detach().unsqueeze(1).expand(1, G.num_ws, -1).contiguous()
    tuned = copy.deepcopy(G)
    tuned.requires_grad_(True)
    if not cfg.tune_beta and hasattr(tuned, "set_beta_trainable"):
        tuned.set_beta_trainable(False)  # no-op for eg3d, which has no β
    params = [p for p in tuned.parameters() if p.requires_grad]
    opt_g = Adam(params, lr=cfg.lr_g)
    for _ in range(cfg.steps_g):
        img = tuned.synthesis(pivot.expand(V, -1, -1), cams)["image"]
        value = loss(img, targets)
        opt_g.zero_grad()
        value.backward()
        opt_g.step()
        log["loss_g"].append(value.item())
        if progress:
            progress()
    tuned.requires_grad_(False)
    return tuned, pivot, log
