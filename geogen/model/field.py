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
from .triplane import pe_dim, positional_encoding_channels_first, sample_planes, sample_planes_stacked


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
    def _hidden(self, planes: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """The decoder's hidden layer softplus(W·[F_xy, F_xz, F_yz, PE(p)] + b) (``concat``) or
        softplus(W·[mean(F_xy, F_xz, F_yz), PE(p)] + b) (``mean``), channels first: (B, hidden, N).

        The MLP runs channels first, the layout grid_sample returns, each layer one batched matrix
        product W·x with N columns (faster on CPU than N rows times Wᵀ). The input is never
        concatenated: W·x = W_F·F + (W_PE·PE + b), so the plane features are read where
        grid_sample wrote them, and the backward computes no gradient rows for the positional
        encoding unless the points need one (the depth loss).
        """
        fc = self.hidden
        B = points.shape[0]
        weight = fc.weight * fc.weight_gain                                # (hidden, in_dim)
        if self.cfg.plane_aggregation == "concat":
            feats = sample_planes_stacked(planes, points, self.cfg.box_warp).flatten(1, 2)   # (B, 3C, N)
        else:
            f = sample_planes(planes, points, self.cfg.box_warp)
            feats = (f[0] + f[1] + f[2]) / 3
        n = feats.shape[1]
        pre = (fc.bias * fc.bias_gain)[:, None]
        if self.cfg.pe_levels > 0:
            pe = positional_encoding_channels_first(points, self.cfg.pe_levels)   # (B, 3(1+2L), N)
            pre = torch.baddbmm(pre, weight[:, n:].expand(B, -1, -1), pe)
        return F.softplus(torch.baddbmm(pre, weight[:, :n].expand(B, -1, -1), feats))

    def forward(self, planes: torch.Tensor, points: torch.Tensor, geometry_only: bool = False) -> dict:
        """points (B, N, 3) world → {"sigma", "features" (B,N,F), "rgb" (B,N,3), and "sdf" for SDF variants}.

        ``geometry_only``: only "sigma" (and "sdf"), without the colour features (regularisers).
        The geometry and colour outputs are one matrix product; "features" is a (B, N, F) view of
        a channels-first (B, F, N) tensor.
        """
        x = self._hidden(planes, points)
        layers = (self.out_geometry,) if geometry_only else (self.out_geometry, self.out_features)
        weight = torch.cat([fc.weight * fc.weight_gain for fc in layers]).expand(x.shape[0], -1, -1)
        bias = torch.cat([fc.bias * fc.bias_gain for fc in layers])
        y = torch.baddbmm(bias[:, None], weight, x)                        # (B, 1 [+ F], N)
        geometry = y[:, :1].transpose(1, 2)                                 # (B, N, 1)
        out = {}
        if not geometry_only:   # EG3D's colour activation
            features = torch.sigmoid(y[:, 1:]).mul(1 + 2 * 0.001).sub_(0.001).transpose(1, 2)
            out = {"features": features, "rgb": features[..., :3]}
        if self.is_sdf:
            sdf = geometry + (points.norm(dim=-1, keepdim=True) - self.cfg.sphere_init_radius)
            out["sdf"] = sdf
            out["sigma"] = laplace_density(sdf, self.beta)
        else:
            out["sigma"] = F.softplus(geometry - 1.0)
        return out
