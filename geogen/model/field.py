"""The neural field decoded from tri-planes: SDF + Laplace density (GeoGen) or density (EG3D), plus colour features.

SDF sign convention: negative inside, positive outside. Eq. 2 of the paper is written for a
function that is positive *inside*; we apply it to −sdf, which is VolSDF's form:
σ(s) = (1/β)·(½ + ½·sign(s)·(exp(−|s|/β) − 1)) → 1/β deep inside, 0 far outside, 1/(2β) on the surface.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .layers import FullyConnected
from .triplane import pe_dim, positional_encoding, sample_triplane


def laplace_density(sdf: torch.Tensor, beta: torch.Tensor | float) -> torch.Tensor:
    """Density of Eq. 2 (VolSDF) for an SDF that is negative inside: σ = Ψ_β(−sdf) / β."""
    beta = torch.as_tensor(beta, dtype=sdf.dtype, device=sdf.device)
    return (0.5 + 0.5 * torch.sign(sdf) * torch.expm1(-sdf.abs() / beta)) / beta


class TriplaneField(nn.Module):
    """Tri-plane features (+ PE of Eq. 1) → small MLP → SDF or density, and colour features in [0, 1]."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.is_sdf = cfg.field == "sdf"
        plane_dim = cfg.plane_channels * (3 if cfg.plane_aggregation == "concat" else 1)
        in_dim = plane_dim + (pe_dim(cfg.pe_levels) if cfg.pe_levels > 0 else 0)
        self.hidden = FullyConnected(in_dim, cfg.decoder_hidden, activation="softplus")
        # small output weights: the SDF starts close to the sphere prior, colours close to grey.
        # The SDF/density output has its own lr multiplier (cfg.geometry_lr_mul, default 1 = EG3D).
        self.out_geometry = FullyConnected(cfg.decoder_hidden, 1, weight_init=0.01, lr_mul=cfg.geometry_lr_mul)
        self.out_features = FullyConnected(cfg.decoder_hidden, cfg.decoder_features, weight_init=0.01)
        if self.is_sdf:
            # β = β_min + exp(log_beta): always > β_min, smooth, and an average of log_beta values (the
            # G_ema update) is again a valid β between them — |β_param| could flip sign and average to β_min.
            self.log_beta = nn.Parameter(torch.tensor(math.log(cfg.beta_init)), requires_grad=False)

    # --- β of the Laplace density
    @property
    def beta(self) -> torch.Tensor:
        if not self.is_sdf:
            raise AttributeError("the density variant has no β (its density is softplus(σ - 1))")
        return self.cfg.beta_min + self.log_beta.exp()

    def set_beta_trainable(self, flag: bool) -> None:
        if self.is_sdf:
            self.log_beta.requires_grad_(bool(flag))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Read files written before log_beta existed (β = β_min + |beta_param|): same β."""
        old = state_dict.pop(prefix + "beta_param", None)
        if old is not None and self.is_sdf and prefix + "log_beta" not in state_dict:
            state_dict[prefix + "log_beta"] = old.abs().clamp(min=1e-12).log()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # --- evaluation
    def features_at(self, planes: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Decoder input: aggregated plane features (+ PE when pe_levels > 0), (B, N, D)."""
        f = sample_triplane(planes, points, self.cfg.box_warp)            # (B, 3, N, C)
        if self.cfg.plane_aggregation == "concat":
            f = f.permute(0, 2, 1, 3).flatten(2)                           # [F_xy, F_xz, F_yz]
        else:
            f = f.mean(dim=1)
        if self.cfg.pe_levels > 0:
            f = torch.cat([f, positional_encoding(points, self.cfg.pe_levels)], dim=-1)
        return f

    def forward(self, planes: torch.Tensor, points: torch.Tensor) -> dict:
        """points (B, N, 3) world → {"sigma", "features" (B,N,F), "rgb" (B,N,3), and "sdf" for SDF variants}."""
        x = self.hidden(self.features_at(planes, points))
        geometry = self.out_geometry(x)
        features = torch.sigmoid(self.out_features(x)) * (1 + 2 * 0.001) - 0.001    # EG3D's colour activation
        out = {"features": features, "rgb": features[..., :3]}
        if self.is_sdf:
            sdf = geometry + (points.norm(dim=-1, keepdim=True) - self.cfg.sphere_init_radius)
            out["sdf"] = sdf
            out["sigma"] = laplace_density(sdf, self.beta)
        else:
            out["sigma"] = F.softplus(geometry - 1.0)
        return out
