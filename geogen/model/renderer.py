"""Volume rendering of a field along camera rays: stratified + importance sampling, Eqs. 3-6.

A *field function* maps world points (B, N, 3) to a dict with "sigma" (B, N, 1), "features"
(B, N, F) and, for SDF fields, "sdf" (B, N, 1). The renderer never looks inside the field, so
tests can feed it analytic shapes.

Compositing (Eq. 3): w_i = T_i (1 - exp(-σ_i δ_i)), T_i = exp(-Σ_{j<i} σ_j δ_j), δ_i = t_{i+1} - t_i
(the last interval ends at ray_end). Depth (Eq. 4) is Σ w_i t_i, reported normalised by the weight
sum Σ w_i (EG3D's convention): for a ray that hits an opaque surface Σ w_i = 1 and the two agree;
for a partly transparent ray the normalised depth stays on the surface instead of being pulled
toward the camera. Features are composited over a background (per ray or constant): F = Σ w_i f_i + (1 - Σ w_i) f_bg.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

FieldFn = Callable[[torch.Tensor], dict]


@dataclass
class RaySampling:
    """How rays are sampled: counts, interval, and whether sample positions are jittered."""

    samples_coarse: int
    samples_fine: int
    ray_start: float
    ray_end: float
    randomize: bool = False
    coarse_grad: bool = True     # False: the coarse pass only places the fine samples (no gradient through it)


def rays_from_labels(c: torch.Tensor, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    """EG3D labels (B, 25) → ray origins and unit directions (B, R*R, 3) through pixel centres, row-major.

    Same convention as :func:`geogen.common.cameras.pixel_rays` (intrinsic skew ignored, as there).
    """
    B = c.shape[0]
    c2w = c[:, :16].reshape(B, 4, 4)
    K = c[:, 16:25].reshape(B, 3, 3)
    pix = (torch.arange(resolution, dtype=c.dtype, device=c.device) + 0.5) / resolution
    v, u = torch.meshgrid(pix, pix, indexing="ij")                       # row (y) then column (x)
    u, v = u.reshape(1, -1), v.reshape(1, -1)
    x = (u - K[:, 0, 2:3]) / K[:, 0, 0:1]
    y = (v - K[:, 1, 2:3]) / K[:, 1, 1:2]
    dirs_cam = torch.stack([x, y, torch.ones_like(x)], dim=-1)            # (B, N, 3)
    dirs = F.normalize(dirs_cam @ c2w[:, :3, :3].transpose(1, 2), dim=-1)
    origins = c2w[:, None, :3, 3].expand_as(dirs)
    return origins, dirs


def stratified_depths(shape: tuple[int, int], n: int, start: float, end: float, randomize: bool,
                      device=None, dtype=torch.float32) -> torch.Tensor:
    """(B, R, n) depths, one per equal bin of [start, end]: bin centres, or uniform in each bin if randomize."""
    B, R = shape
    edges = torch.linspace(start, end, n + 1, device=device, dtype=dtype)[:-1]
    offset = torch.rand(B, R, n, device=device, dtype=dtype) if randomize else torch.full((B, R, n), 0.5,
                                                                                          device=device, dtype=dtype)
    return edges + offset * ((end - start) / n)


def sample_pdf(t: torch.Tensor, weights: torch.Tensor, n: int, randomize: bool) -> torch.Tensor:
    """Inverse-CDF importance samples (B, R, n) from coarse depths ``t`` and their weights (B, R, M).

    The pdf is piecewise constant between midpoints of consecutive coarse samples, with each
    interior weight widened to its neighbours' maximum and a floor of 0.01 so empty rays still
    spread their samples (a smoothing also used by EG3D).
    """
    w = weights.detach()[..., 1:-1]
    w = torch.maximum(w, torch.maximum(F.pad(w, (1, 0))[..., :-1], F.pad(w, (0, 1))[..., 1:])) + 0.01
    pdf = w / w.sum(dim=-1, keepdim=True)
    cdf = torch.cat([torch.zeros_like(pdf[..., :1]), pdf.cumsum(dim=-1)], dim=-1).clamp(max=1.0)   # (B, R, M-1)
    edges = 0.5 * (t[..., 1:] + t[..., :-1])                                                          # (B, R, M-1)
    if randomize:
        u = torch.rand(*t.shape[:-1], n, device=t.device, dtype=t.dtype)
    else:
        u = torch.linspace(0.0, 1.0, n + 2, device=t.device, dtype=t.dtype)[1:-1].expand(*t.shape[:-1], n)
    u = u.contiguous()
    idx = torch.searchsorted(cdf.contiguous(), u, right=True)
    lo = (idx - 1).clamp(0, cdf.shape[-1] - 1)
    hi = idx.clamp(0, cdf.shape[-1] - 1)
    c_lo, c_hi = cdf.gather(-1, lo), cdf.gather(-1, hi)
    e_lo, e_hi = edges.gather(-1, lo), edges.gather(-1, hi)
    frac = ((u - c_lo) / (c_hi - c_lo).clamp(min=1e-8)).clamp(0.0, 1.0)
    return (e_lo + frac * (e_hi - e_lo)).detach()


def composite_weights(sigma: torch.Tensor, t: torch.Tensor, ray_end: float) -> torch.Tensor:
    """Eq. 3's weights w_i = T_i (1 - exp(-σ_i δ_i)) (B,R,M) of sorted samples: sigma (B,R,M,1), t (B,R,M)."""
    deltas = torch.cat([t[..., 1:] - t[..., :-1], (ray_end - t[..., -1:]).clamp(min=0.0)], dim=-1)
    tau = sigma.squeeze(-1) * deltas                                     # σ_i δ_i
    alpha = 1.0 - torch.exp(-tau)
    trans = torch.exp(-torch.cumsum(F.pad(tau[..., :-1], (1, 0)), dim=-1))   # T_i = exp(-Σ_{j<i} σ_j δ_j)
    return alpha * trans


def _depth(weights: torch.Tensor, t: torch.Tensor, ray_end: float) -> dict:
    weights_sum = weights.sum(dim=-1, keepdim=True)                      # (B, R, 1)
    depth_sum = (weights * t).sum(dim=-1, keepdim=True)                  # Eq. 4
    depth = depth_sum / weights_sum.clamp(min=1e-6)
    depth = torch.where(weights_sum > 1e-6, depth, torch.full_like(depth, ray_end))
    depth = depth.clamp(t.min().detach(), ray_end)
    return {"depth": depth, "weights_sum": weights_sum, "weights": weights}


def composite(sigma: torch.Tensor, features: torch.Tensor, t: torch.Tensor, ray_end: float) -> dict:
    """Eqs. 3-4 on sorted samples. sigma (B,R,M,1), features (B,R,M,F), t (B,R,M) → per-ray results."""
    weights = composite_weights(sigma, t, ray_end)                       # (B, R, M)
    feat = (weights.unsqueeze(-1) * features).sum(dim=-2)                # (B, R, F)
    return {"features": feat, **_depth(weights, t, ray_end)}


def _eval(field_fn: FieldFn, origins: torch.Tensor, dirs: torch.Tensor, t: torch.Tensor) -> dict:
    B, R, M = t.shape
    pts = origins.unsqueeze(2) + t.unsqueeze(-1) * dirs.unsqueeze(2)      # (B, R, M, 3)
    out = field_fn(pts.reshape(B, R * M, 3))
    out = {k: v.reshape(B, R, M, -1) for k, v in out.items()}
    out["points"] = pts.detach()
    return out


DEPTH_LOSS_GRADS = ("full", "surface")


def render_rays(field_fn: FieldFn, origins: torch.Tensor, dirs: torch.Tensor, sampling: RaySampling,
                background: torch.Tensor | None = None, depth_loss_min_weight: float | None = None,
                depth_loss_grad: str = "full") -> dict:
    """Render rays (B, R, 3) through ``field_fn``.

    Returns "features" (B,R,F) composited over ``background`` ((F,) or (B,R,F)) if given, "depth" (B,R,1),
    "weights_sum" (B,R,1), "weights" (B,R,M), "samples" (the field's one-channel outputs — "sigma",
    "sdf" — and the "points" (B,R,M,3) at the sorted depths "t"; with fine samples, not the
    colour features) and, when the field has an "sdf" and ``depth_loss_min_weight`` is set,
    "sdf_depth_loss": Eq. 6, the mean |s(o + d(r) d)| over rays with weights_sum > the threshold.

    ``depth_loss_grad``: "full" differentiates Eq. 6 through the rendered depth d(r) as well (so it also
    moves every sample's SDF and β — it can lower the loss by sharpening the density rather than by
    moving the surface); "surface" treats d(r) as a fixed target, so only s(p_d) is trained.
    """
    if depth_loss_grad not in DEPTH_LOSS_GRADS:
        raise ValueError(f"depth_loss_grad must be one of {DEPTH_LOSS_GRADS}, got {depth_loss_grad!r}")
    B, R, _ = origins.shape
    t_c = stratified_depths((B, R), sampling.samples_coarse, sampling.ray_start, sampling.ray_end,
                            sampling.randomize, origins.device, origins.dtype)
    with torch.set_grad_enabled(sampling.coarse_grad and torch.is_grad_enabled()):
        out_c = _eval(field_fn, origins, dirs, t_c)
    if sampling.samples_fine > 0:
        w_c = composite_weights(out_c["sigma"], t_c, sampling.ray_end)
        t_f = sample_pdf(t_c, w_c, sampling.samples_fine, sampling.randomize)
        out_f = _eval(field_fn, origins, dirs, t_f)
        t_all, order = torch.sort(torch.cat([t_c, t_f], dim=-1), dim=-1)
        # One-channel outputs (σ, SDF) are merged in depth order; the sample points are recomputed
        # at the sorted depths (the same values). The multi-channel colour features are not merged:
        # Σ_i w_i f_i does not depend on the order of the samples, so each set is composited with
        # its own samples' weights (the merged weights put back in coarse, fine order).
        merged = {}
        for k in out_c.keys() & out_f.keys() - {"points"}:
            if out_c[k].shape[-1] == 1:
                v = torch.cat([out_c[k], out_f[k]], dim=2)
                merged[k] = v.gather(2, order.unsqueeze(-1))
        merged["points"] = (origins.unsqueeze(2) + t_all.unsqueeze(-1) * dirs.unsqueeze(2)).detach()
        res = _depth(composite_weights(merged["sigma"], t_all, sampling.ray_end), t_all, sampling.ray_end)
        w = torch.zeros_like(res["weights"]).scatter(-1, order, res["weights"])    # coarse, then fine order
        M = t_c.shape[-1]
        res["features"] = ((w[..., :M, None] * out_c["features"]).sum(dim=-2)
                           + (w[..., M:, None] * out_f["features"]).sum(dim=-2))
        out_c, t_c = merged, t_all
    else:
        res = composite(out_c["sigma"], out_c["features"], t_c, sampling.ray_end)
    if background is not None:
        res["features"] = res["features"] + (1.0 - res["weights_sum"]) * background
    res["t"] = t_c
    res["samples"] = out_c
    if "sdf" in out_c and depth_loss_min_weight is not None:
        depth = res["depth"] if depth_loss_grad == "full" else res["depth"].detach()
        p_d = origins + depth * dirs                                        # Eq. 5
        s = field_fn(p_d)["sdf"]                                            # (B, R, 1)
        mask = (res["weights_sum"] > depth_loss_min_weight).to(s.dtype)
        res["sdf_depth_loss"] = (s.abs() * mask).sum() / mask.sum().clamp(min=1.0)   # Eq. 6
        res["sdf_at_depth"] = s
    return res
