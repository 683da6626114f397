"""Formulas of the field and renderer checked on analytic shapes and against naive references."""

import math

import numpy as np
import pytest
import torch

from geogen.common.cameras import normalized_intrinsics, pixel_rays, spherical_cam2world, to_label
from geogen.model.discriminator import gaussian_blur
from geogen.model.field import laplace_density
from geogen.model.mesh import marching_cubes, sample_grid
from geogen.model.renderer import RaySampling, composite, rays_from_labels, render_rays, sample_pdf
from geogen.model.triplane import PLANE_AXES, positional_encoding, sample_triplane


# --- Laplace density (Eq. 2, VolSDF form, SDF negative inside)
def test_laplace_density_values_and_limits():
    beta = 0.1
    s = torch.tensor([-10.0, -0.2, 0.0, 0.2, 10.0], dtype=torch.float64)
    sigma = laplace_density(s, beta)
    inside = (1 / beta) * (1 - 0.5 * math.exp(-0.2 / beta))
    outside = (1 / (2 * beta)) * math.exp(-0.2 / beta)
    expected = torch.tensor([1 / beta, inside, 1 / (2 * beta), outside, 0.0], dtype=torch.float64)
    assert torch.allclose(sigma, expected, atol=1e-12)
    eps = torch.tensor([-1e-7, 1e-7], dtype=torch.float64)     # continuous across the surface
    a, b = laplace_density(eps, beta)
    assert abs(a - b) < 1e-5 and abs(a - 1 / (2 * beta)) < 1e-5
    s = torch.linspace(-1, 1, 201, dtype=torch.float64)
    assert (laplace_density(s, beta).diff() <= 0).all()         # monotone: denser inside
    assert laplace_density(torch.tensor(0.1), 1e-4) < 1e-6      # β → 0: an indicator of the inside


# --- positional encoding (Eq. 1)
def test_positional_encoding_layout():
    L = 3
    p = torch.tensor([[0.1, -0.3, 0.25]])
    pe = positional_encoding(p, L)
    assert pe.shape == (1, 3 * (1 + 2 * L))
    for axis in range(3):
        a = float(p[0, axis])
        block = pe[0, axis * (1 + 2 * L): (axis + 1) * (1 + 2 * L)]
        ref = [a]
        for k in range(L):
            ref += [math.sin(2 ** k * math.pi * a), math.cos(2 ** k * math.pi * a)]
        assert torch.allclose(block, torch.tensor(ref), atol=1e-6)


# --- tri-plane axes: XY, XZ, YZ (not EG3D's accidental ZX)
def test_triplane_projects_onto_xy_xz_yz():
    R, box = 16, 1.0
    centres = (torch.arange(R) + 0.5) / R * 2 - 1               # grid_sample pixel centres, align_corners=False
    v, u = torch.meshgrid(centres, centres, indexing="ij")       # rows index v, columns index u
    planes = torch.stack([torch.stack([u, v])] * 3).unsqueeze(0)   # (1, 3, 2, R, R): ch0 = u, ch1 = v
    pts = (torch.rand(1, 50, 3) - 0.5) * 0.8 * box
    f = sample_triplane(planes, pts, box)                        # (1, 3, N, 2)
    norm = pts[0] * 2 / box
    assert PLANE_AXES == ((0, 1), (0, 2), (1, 2))
    for k, (a, b) in enumerate([(0, 1), (0, 2), (1, 2)]):        # (x, y), (x, z), (y, z)
        assert torch.allclose(f[0, k, :, 0], norm[:, a], atol=1e-5)
        assert torch.allclose(f[0, k, :, 1], norm[:, b], atol=1e-5)


# --- rays
def test_rays_match_common_pixel_rays():
    c2w = spherical_cam2world(37.0, 12.0, 2.7)
    K = normalized_intrinsics(3.2)
    K[0, 2], K[1, 2] = 0.48, 0.53                                 # off-centre principal point too
    o_ref, d_ref = pixel_rays(c2w, K, 12, 12)
    o, d = rays_from_labels(torch.tensor([to_label(c2w, K)], dtype=torch.float64), 12)
    assert np.allclose(o[0].numpy(), o_ref, atol=1e-10) and np.allclose(d[0].numpy(), d_ref, atol=1e-10)


# --- compositing against a naive loop
def test_composite_matches_naive_loop():
    torch.manual_seed(0)
    t = torch.sort(torch.rand(2, 3, 7) * 1.2 + 2.1, dim=-1).values
    sigma, feats, end = torch.rand(2, 3, 7, 1) * 5, torch.rand(2, 3, 7, 4), 3.3
    res = composite(sigma, feats, t, end)
    for b in range(2):
        for r in range(3):
            T, acc, depth, wsum = 1.0, torch.zeros(4), 0.0, 0.0
            for i in range(7):
                delta = (t[b, r, i + 1] if i < 6 else end) - t[b, r, i]
                w = T * (1 - math.exp(-float(sigma[b, r, i]) * float(delta)))
                acc += w * feats[b, r, i]
                depth += w * float(t[b, r, i])
                wsum += w
                T *= math.exp(-float(sigma[b, r, i]) * float(delta))
            assert torch.allclose(res["features"][b, r], acc, atol=1e-5)
            assert res["weights_sum"][b, r, 0] == pytest.approx(wsum, abs=1e-5)
            assert res["depth"][b, r, 0] == pytest.approx(depth / wsum, abs=1e-4)


def test_importance_samples_follow_the_weights():
    t = torch.linspace(2.1, 3.3, 12).expand(1, 1, 12)
    w = torch.zeros(1, 1, 12)
    w[..., 6] = 1.0
    fine = sample_pdf(t, w, 64, randomize=False)
    # weight 1 at sample 6, widened to its neighbours: ~98% of the mass between midpoints 4.5 and 7.5
    near = ((fine > t[..., 4]) & (fine < t[..., 8])).float().mean()
    assert near > 0.9
    assert ((fine > t[..., 5]) & (fine < t[..., 7])).float().mean() > 0.5
    assert (fine.diff(dim=-1) >= 0).all()


# --- analytic sphere: rendered depth vs the exact ray-sphere intersection
RADIUS = 0.3


def sphere_field(radius=RADIUS, beta=0.004, density_radius=None):
    """Analytic field: SDF of a sphere; the density may come from a sphere of another radius."""
    def fn(p):
        sdf = p.norm(dim=-1, keepdim=True) - radius
        dens_sdf = sdf if density_radius is None else p.norm(dim=-1, keepdim=True) - density_radius
        return {"sdf": sdf, "sigma": laplace_density(dens_sdf, beta),
                "features": torch.cat([p * 0 + 0.5, sdf], dim=-1)}
    return fn


def camera_rays(res=24, az=30.0):
    c = torch.tensor([to_label(spherical_cam2world(az, 15.0), normalized_intrinsics(2.4))], dtype=torch.float64)
    return rays_from_labels(c, res)


def test_rendered_depth_of_sphere_equals_intersection():
    o, d = camera_rays()
    sampling = RaySampling(64, 64, 2.1, 3.3)
    res = render_rays(sphere_field(), o, d, sampling, depth_loss_min_weight=0.5)
    # exact intersection: |o + t d| = r
    b = (o * d).sum(-1)
    disc = b ** 2 - (o.square().sum(-1) - RADIUS ** 2)
    hit = disc > 1e-4
    t_true = -b - torch.sqrt(disc.clamp(min=0))
    depth, wsum = res["depth"][..., 0], res["weights_sum"][..., 0]
    assert hit.sum() > 50 and (~hit).sum() > 50
    grazing = disc < 0.01                                          # rays that only graze the rim are fuzzy
    core = hit & ~grazing
    # tolerance: 1.5 β-widths of the Laplace transition (β = 0.004) plus the sample spacing error
    assert (depth[core] - t_true[core]).abs().max() < 0.01
    assert (wsum[core] > 0.99).all() and (wsum[~hit & (disc < -0.02)] < 0.01).all()
    assert res["sdf_depth_loss"] < 0.005                          # Eq. 6 ~ 0 for an exact SDF


@pytest.mark.parametrize("shift", [0.02, 0.05])
def test_depth_loss_grows_when_surface_is_shifted(shift):
    o, d = camera_rays()
    sampling = RaySampling(64, 64, 2.1, 3.3)
    exact = render_rays(sphere_field(), o, d, sampling, depth_loss_min_weight=0.5)["sdf_depth_loss"]
    shifted = render_rays(sphere_field(density_radius=RADIUS + shift), o, d, sampling,
                          depth_loss_min_weight=0.5)["sdf_depth_loss"]
    assert shifted > exact + 0.5 * shift
    assert shifted == pytest.approx(shift, rel=0.3)     # |s| at the rendered surface ≈ the offset


def test_background_composite():
    o, d = camera_rays(8)
    bg = torch.tensor([0.2, -1.0], dtype=torch.float64)
    res = render_rays(lambda p: {"sigma": torch.zeros_like(p[..., :1]), "features": torch.ones_like(p[..., :2])},
                      o, d, RaySampling(8, 8, 2.1, 3.3), background=bg)
    assert torch.allclose(res["features"], bg.expand_as(res["features"]))


# --- mesh extraction of an analytic SDF
def test_marching_cubes_sphere_in_world_coordinates():
    import trimesh
    centre = torch.tensor([0.1, -0.05, 0.0])
    vol = sample_grid(lambda p: {"sdf": (p - centre).norm(dim=-1, keepdim=True) - 0.3}, 48, 1.0, "sdf")
    V, F = marching_cubes(vol, 0.0, 1.0, inside_is_low=True)
    r = np.linalg.norm(V - centre.numpy(), axis=1)
    assert np.abs(r - 0.3).max() < 0.01
    m = trimesh.Trimesh(V, F)
    assert m.is_watertight and m.volume == pytest.approx(4 / 3 * math.pi * 0.3 ** 3, rel=0.03)   # outward faces


def test_marching_cubes_closes_surfaces_cut_by_the_box():
    import trimesh
    vol = sample_grid(lambda p: {"sdf": p[..., 1:2] - 0.2}, 24, 1.0, "sdf")  # half-space y < 0.2 fills the box
    V, F = marching_cubes(vol, 0.0, 1.0, inside_is_low=True)
    m = trimesh.Trimesh(V, F)
    h = 1.0 / 23                                                  # grid spacing; caps lie h/2 outside the box
    assert m.is_watertight and m.volume == pytest.approx((1 + h) ** 2 * (0.7 + h / 2), rel=0.01)
    assert V[:, 1].min() == pytest.approx(-0.5 - h / 2, abs=1e-5)


def test_gaussian_blur_preserves_constants_and_spreads_impulses():
    x = torch.zeros(1, 2, 33, 33)
    x[:, :, 16, 16] = 1.0
    y = gaussian_blur(x, 2.0)
    assert y.sum() == pytest.approx(2.0, rel=1e-5)
    assert y[0, 0, 16, 16] == pytest.approx(1 / (2 * math.pi * 4), rel=0.05)
    assert torch.allclose(gaussian_blur(torch.ones(1, 1, 9, 9), 1.0), torch.ones(1, 1, 9, 9))


def test_coarse_grad_flag_only_changes_gradients():
    o, d = camera_rays(6)
    r = torch.tensor(RADIUS, dtype=torch.float64, requires_grad=True)

    def field(p):
        sdf = p.norm(dim=-1, keepdim=True) - r
        return {"sdf": sdf, "sigma": laplace_density(sdf, 0.02), "features": p * 0 + 0.5}

    a = render_rays(field, o, d, RaySampling(16, 16, 2.1, 3.3, coarse_grad=True))
    b = render_rays(field, o, d, RaySampling(16, 16, 2.1, 3.3, coarse_grad=False))
    assert torch.allclose(a["depth"], b["depth"]) and torch.allclose(a["weights_sum"], b["weights_sum"])
    ga = torch.autograd.grad(a["weights_sum"].sum(), r)[0]
    gb = torch.autograd.grad(b["weights_sum"].sum(), r)[0]
    assert ga > 0 and gb > 0 and not torch.isclose(ga, gb)
