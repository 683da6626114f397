"""The training-speed rewrites of issue 14 compute the same function as the formulations they replace.

Each rewritten piece is evaluated on fixed (seeded) weights and inputs, once through the library
and once through the original formulation written out naively here, and outputs and gradients are
compared. Most checks run in float64, where both formulations must agree to ~1e-10 (the rewrites
only reorder float additions), plus float32 at training tolerance:

* the decoder field (channels-first MLP on the per-plane features, its hidden layer as two products
  W_F·F + W_PE·PE with no concatenated input, one output product for geometry
  and colour, the positional encoding written into its output) vs concatenated input + three
  linear layers, both aggregations, both tri-plane sampling paths;
* the renderer compositing the coarse and fine colour features separately vs merging them;
* every sampling of one planes tensor accumulating into one shared gradient buffer vs a buffer each
  (also when a backward pass does not reach the planes);
* torch's fused Adam vs its per-parameter loop, the foreach G_ema update vs a loop.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from geogen.model import triplane
from geogen.model.config import model_config
from geogen.model.field import TriplaneField, laplace_density
from geogen.model.generator import Generator
from geogen.model.renderer import RaySampling, composite, rays_from_labels, render_rays, sample_pdf, \
    stratified_depths
from geogen.model.triplane import positional_encoding, positional_encoding_channels_first, project_onto_planes, \
    sample_triplane, share_plane_gradient
from geogen.training.losses import update_ema


# ---------------------------------------------------------------- original formulations
def ref_positional_encoding(x, levels):
    freqs = (2.0 ** torch.arange(levels, dtype=x.dtype)) * math.pi
    angles = x.unsqueeze(-1) * freqs
    sincos = torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).flatten(-2)
    return torch.cat([x.unsqueeze(-1), sincos], dim=-1).flatten(-2)


def ref_sample_triplane(planes, points, box_warp):
    B, P, C, R, _ = planes.shape
    grid = project_onto_planes(points, box_warp).reshape(B * P, 1, -1, 2)
    feats = F.grid_sample(planes.reshape(B * P, C, R, R), grid, mode="bilinear", padding_mode="zeros",
                          align_corners=False)
    return feats.reshape(B, P, C, -1).permute(0, 1, 3, 2)                       # (B, 3, N, C)


def ref_linear(fc, x, activation=None):
    x = F.linear(x, fc.weight * fc.weight_gain, fc.bias * fc.bias_gain)
    return F.softplus(x) if activation == "softplus" else x


def ref_field(field, planes, points):
    cfg = field.cfg
    f = ref_sample_triplane(planes, points, cfg.box_warp)
    f = f.permute(0, 2, 1, 3).flatten(2) if cfg.plane_aggregation == "concat" else f.mean(dim=1)
    if cfg.pe_levels > 0:
        f = torch.cat([f, ref_positional_encoding(points, cfg.pe_levels)], dim=-1)
    x = ref_linear(field.hidden, f, "softplus")
    geometry = ref_linear(field.out_geometry, x)
    features = torch.sigmoid(ref_linear(field.out_features, x)) * (1 + 2 * 0.001) - 0.001
    out = {"features": features, "rgb": features[..., :3]}
    if field.is_sdf:
        out["sdf"] = geometry + (points.norm(dim=-1, keepdim=True) - cfg.sphere_init_radius)
        out["sigma"] = laplace_density(out["sdf"], field.beta)
    else:
        out["sigma"] = F.softplus(geometry - 1.0)
    return out


def ref_render_rays(field_fn, origins, dirs, sampling, depth_loss_min_weight):
    """The renderer before issue 14: every field output merged in depth order, composited once."""
    def evaluate(t):
        B, R, M = t.shape
        pts = origins.unsqueeze(2) + t.unsqueeze(-1) * dirs.unsqueeze(2)
        out = {k: v.reshape(B, R, M, -1) for k, v in field_fn(pts.reshape(B, R * M, 3)).items()}
        out["points"] = pts.detach()
        return out

    B, R, _ = origins.shape
    t_c = stratified_depths((B, R), sampling.samples_coarse, sampling.ray_start, sampling.ray_end,
                            sampling.randomize, origins.device, origins.dtype)
    out_c = evaluate(t_c)
    w_c = composite(out_c["sigma"], out_c["features"][..., :0], t_c, sampling.ray_end)["weights"]
    t_f = sample_pdf(t_c, w_c, sampling.samples_fine, sampling.randomize)
    out_f = evaluate(t_f)
    t_all, order = torch.sort(torch.cat([t_c, t_f], dim=-1), dim=-1)
    merged = {}
    for k in out_c:
        v = torch.cat([out_c[k], out_f[k]], dim=2)
        merged[k] = v.gather(2, order.unsqueeze(-1).expand_as(v))
    res = composite(merged["sigma"], merged["features"], t_all, sampling.ray_end)
    res["samples"] = merged
    depth = res["depth"]
    s = field_fn(origins + depth * dirs)["sdf"]
    mask = (res["weights_sum"] > depth_loss_min_weight).to(s.dtype)
    res["sdf_depth_loss"] = (s.abs() * mask).sum() / mask.sum().clamp(min=1.0)
    return res


# ---------------------------------------------------------------- helpers
def randomize_(module, seed=0, scale=0.5):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * scale + (0.2 if p.ndim <= 1 else 0.0))
    return module


def compare(fn_new, fn_ref, inputs, params, rtol, atol):
    """Outputs (dicts of tensors) and gradients of a fixed random projection of every output."""
    results = []
    for fn in (fn_new, fn_ref):
        for t in [*inputs, *params]:
            t.grad = None
        out = fn()
        loss = 0
        for i, k in enumerate(sorted(out)):
            proj = torch.randn(out[k].shape, generator=torch.Generator().manual_seed(i), dtype=out[k].dtype)
            loss = loss + (out[k] * proj).sum()
        loss.backward()
        results.append(({k: v.detach().clone() for k, v in out.items()},
                         [None if t.grad is None else t.grad.clone() for t in [*inputs, *params]]))
    (a, ga), (b, gb) = results
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=rtol, atol=atol, msg=lambda m: f"{k}: {m}")
    for i, (x, y) in enumerate(zip(ga, gb)):
        assert (x is None) == (y is None), i
        if x is not None:
            torch.testing.assert_close(x, y, rtol=rtol, atol=atol * 10, msg=lambda m: f"gradient {i}: {m}")


@pytest.fixture(params=["rows", "batched"])
def sampling_path(request, monkeypatch):
    """Both tri-plane sampling paths: per plane with row accumulation (large planes), batched (small)."""
    monkeypatch.setattr(triplane._SampleTriplane, "ROWS_MIN_BYTES", 0 if request.param == "rows" else 1 << 40)
    return request.param


# ---------------------------------------------------------------- positional encoding
def test_positional_encoding_values_are_the_original_ones_and_gradients_match():
    x = (torch.rand(2, 50, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) - 0.5)
    x.requires_grad_(True)
    assert torch.equal(positional_encoding(x.float(), 4), ref_positional_encoding(x.float(), 4))  # bit for bit
    compare(lambda: {"pe": positional_encoding(x, 6)}, lambda: {"pe": ref_positional_encoding(x, 6)}, [x], [],
            rtol=1e-12, atol=1e-12)
    assert positional_encoding(x, 0) is x


def test_channels_first_positional_encoding_is_the_transposed_encoding_with_its_gradient():
    x = (torch.rand(2, 50, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64) - 0.5)
    x.requires_grad_(True)
    pe = positional_encoding_channels_first(x.float(), 4)
    assert pe.shape == (2, 27, 50) and pe.is_contiguous()
    assert torch.equal(pe, ref_positional_encoding(x.float(), 4).transpose(1, 2))   # bit for bit
    compare(lambda: {"pe": positional_encoding_channels_first(x, 6)},
            lambda: {"pe": ref_positional_encoding(x, 6).transpose(1, 2)}, [x], [], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(positional_encoding_channels_first(x, 0), x.transpose(1, 2))


# ---------------------------------------------------------------- field
@pytest.mark.parametrize("variant", ["geogen", "eg3d"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_field_matches_concatenated_input_and_three_linear_layers(variant, dtype, sampling_path):
    cfg = model_config("tiny", variant)
    field = randomize_(TriplaneField(cfg).to(dtype), scale=0.3)
    g = torch.Generator().manual_seed(1)
    C, R = cfg.plane_channels, 16
    img = torch.randn(2, 3 * C, R, R, generator=g, dtype=dtype).contiguous(memory_format=torch.channels_last)
    img.requires_grad_(True)
    points = ((torch.rand(2, 60, 3, generator=g, dtype=dtype) - 0.5) * 1.2 * cfg.box_warp).requires_grad_(True)
    params = [p for p in field.parameters() if p.requires_grad]
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-4, atol=1e-5)
    compare(lambda: field(img.view(2, 3, C, R, R), points), lambda: ref_field(field, img.view(2, 3, C, R, R), points),
            [img, points], params, **tol)


def test_field_geometry_only_is_the_geometry_of_the_full_output(sampling_path):
    cfg = model_config("tiny", "geogen")
    field = randomize_(TriplaneField(cfg).double(), scale=0.3)
    planes = torch.randn(2, 3, cfg.plane_channels, 16, 16, dtype=torch.float64)
    points = (torch.rand(2, 40, 3, dtype=torch.float64) - 0.5) * cfg.box_warp
    full, geo = field(planes, points), field(planes, points, geometry_only=True)
    assert set(geo) == {"sdf", "sigma"}
    torch.testing.assert_close(geo["sdf"], full["sdf"], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(geo["sigma"], full["sigma"], rtol=1e-12, atol=1e-12)


def test_sample_triplane_is_the_stacked_per_plane_features(sampling_path):
    g = torch.Generator().manual_seed(2)
    planes = torch.randn(2, 3, 4, 16, 16, generator=g, dtype=torch.float64).requires_grad_(True)
    points = ((torch.rand(2, 30, 3, generator=g, dtype=torch.float64) - 0.5) * 1.2).requires_grad_(True)
    compare(lambda: {"f": sample_triplane(planes, points, 1.0)}, lambda: {"f": ref_sample_triplane(planes, points, 1.0)},
            [planes, points], [], rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- renderer
def test_renderer_compositing_coarse_and_fine_features_apart_equals_merging_them():
    c = torch.tensor([[1.0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2.7, 0, 0, 0, 1, 2.4, 0, 0.5, 0, 2.4, 0.5, 0, 0, 1]],
                     dtype=torch.float64)
    c[0, :16] = torch.tensor([[-1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, -1, 2.7], [0, 0, 0, 1]]).flatten()
    origins, dirs = rays_from_labels(c, 12)
    r = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    tint = torch.tensor([0.2, 0.5, 0.7, 0.1, 0.9], dtype=torch.float64, requires_grad=True)

    def field(p):
        sdf = p.norm(dim=-1, keepdim=True) - r + 0.05 * torch.sin(7 * p[..., :1])
        return {"sdf": sdf, "sigma": laplace_density(sdf, 0.03),
                "features": torch.sigmoid(p.sum(-1, keepdim=True) * tint + sdf)}

    sampling = RaySampling(16, 16, 2.2, 3.2)

    def new():
        res = render_rays(field, origins, dirs, sampling, depth_loss_min_weight=0.5)
        return {"features": res["features"], "depth": res["depth"], "weights_sum": res["weights_sum"],
                "sdf_depth_loss": res["sdf_depth_loss"], "sample_sdf": res["samples"]["sdf"],
                "sample_sigma": res["samples"]["sigma"], "points": res["samples"]["points"]}

    def ref():
        res = ref_render_rays(field, origins, dirs, sampling, 0.5)
        return {"features": res["features"], "depth": res["depth"], "weights_sum": res["weights_sum"],
                "sdf_depth_loss": res["sdf_depth_loss"], "sample_sdf": res["samples"]["sdf"],
                "sample_sigma": res["samples"]["sigma"], "points": res["samples"]["points"]}

    compare(new, ref, [], [r, tint], rtol=1e-10, atol=1e-12)
    # depth, weights and the merged samples are bit-identical (only the colour sum is reordered)
    a, b = new(), ref()
    for k in ("depth", "weights_sum", "sample_sdf", "sample_sigma", "points"):
        assert torch.equal(a[k], b[k]), k


# ---------------------------------------------------------------- shared plane gradient
def _samplings(planes, points_list):
    """Several samplings of the same planes, as the G phase makes (coarse, fine, depth loss, eikonal)."""
    return {f"f{i}": torch.cat(triplane.sample_planes(planes, p, 1.0), dim=1) for i, p in enumerate(points_list)}


def test_samplings_of_shared_planes_accumulate_the_same_gradient(monkeypatch):
    monkeypatch.setattr(triplane._SampleTriplane, "ROWS_MIN_BYTES", 0)
    g = torch.Generator().manual_seed(3)
    img = torch.randn(2, 3 * 4, 16, 16, generator=g, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    img.requires_grad_(True)
    pts = [((torch.rand(2, n, 3, generator=g, dtype=torch.float64) - 0.5) * 1.1).requires_grad_(True)
           for n in (40, 25, 7)]
    seen = []

    def new():
        base = img.view(2, 3, 4, 16, 16)
        base.register_hook(lambda grad: seen.append(grad.stride()))
        return _samplings(share_plane_gradient(base), pts)

    def ref():
        planes = img.view(2, 3, 4, 16, 16)
        return {f"f{i}": ref_sample_triplane(planes, p, 1.0).transpose(2, 3).flatten(1, 2)
                for i, p in enumerate(pts)}

    compare(new, ref, [img, *pts], [], rtol=1e-12, atol=1e-12)
    assert seen[0] == img.view(2, 3, 4, 16, 16).stride()             # the backbone's NHWC layout, no copy


def test_shared_plane_gradient_with_a_pass_that_does_not_reach_the_planes(monkeypatch):
    """autograd.grad w.r.t. the points only leaves nothing behind; a second full backward (retained
    graph) gets the full gradient again, not twice."""
    monkeypatch.setattr(triplane._SampleTriplane, "ROWS_MIN_BYTES", 0)
    g = torch.Generator().manual_seed(4)
    img = torch.randn(1, 3 * 2, 8, 8, generator=g, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    img.requires_grad_(True)
    pts = [((torch.rand(1, 20, 3, generator=g, dtype=torch.float64) - 0.5)).requires_grad_(True) for _ in range(2)]
    planes = share_plane_gradient(img.view(1, 3, 2, 8, 8))
    loss = sum((v * v).sum() for v in _samplings(planes, pts).values())
    torch.autograd.grad(loss, pts, retain_graph=True)
    loss.backward(retain_graph=True)
    once = img.grad.clone()
    ref_loss = sum((ref_sample_triplane(img.view(1, 3, 2, 8, 8), p, 1.0) ** 2).sum() for p in pts)
    expected = torch.autograd.grad(ref_loss, img)[0]
    torch.testing.assert_close(once, expected, rtol=1e-12, atol=1e-12)
    loss.backward()
    torch.testing.assert_close(img.grad, 2 * expected, rtol=1e-12, atol=1e-12)


def test_generator_planes_share_their_gradient_only_with_grad():
    cfg = model_config("tiny", "geogen")
    G = Generator(cfg)
    ws = torch.randn(1, G.num_ws, cfg.w_dim)
    assert hasattr(G.planes(ws), "_geogen_shared_rows")
    with torch.no_grad():
        assert not hasattr(G.planes(ws), "_geogen_shared_rows")


# ---------------------------------------------------------------- optimizer and EMA
def test_fused_adam_matches_the_per_parameter_loop():
    g = torch.Generator().manual_seed(5)
    params = [torch.randn(s, generator=g) for s in ((64, 32), (32,), (), (3, 3, 4, 4))]
    runs = {}
    for name, kw in (("loop", dict(foreach=False)), ("fused", dict(fused=True))):
        ps = [p.clone().requires_grad_(True) for p in params]
        opt = torch.optim.Adam(ps, lr=0.0025, betas=(0.0, 0.99), eps=1e-8, **kw)
        gg = torch.Generator().manual_seed(6)
        for step in range(6):
            ratio = 16 / 17 if step % 3 == 2 else 1.0          # lazy-R1 style lr / betas changes
            for group in opt.param_groups:
                group["lr"], group["betas"] = 0.002 * ratio, (0.0, 0.99 ** ratio)
            for p in ps:
                p.grad = torch.randn(p.shape, generator=gg)
            opt.step()
        runs[name] = ps
    for a, b in zip(runs["loop"], runs["fused"]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_foreach_ema_update_is_the_per_parameter_lerp_bit_for_bit():
    cfg = model_config("tiny", "geogen")
    torch.manual_seed(0)
    G, G_ema = Generator(cfg), Generator(cfg)
    with torch.no_grad():
        for p in G.parameters():
            p.add_(torch.randn_like(p))
        G.mapping_network.w_avg.normal_()
    expected = copy.deepcopy(G_ema)
    with torch.no_grad():
        for p_ema, p in zip(expected.parameters(), G.parameters()):
            p_ema.copy_(p.detach().lerp(p_ema, 0.993))
        for b_ema, b in zip(expected.buffers(), G.buffers()):
            b_ema.copy_(b)
    update_ema(G_ema, G, 0.993)
    for a, b in zip(G_ema.state_dict().values(), expected.state_dict().values()):
        assert torch.equal(a, b)
