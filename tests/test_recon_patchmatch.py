"""PatchMatch MVS: the vectorised cost against a naive per-pixel loop, and depth recovery on
analytic textured shapes (a plane and a sphere) rendered with exact depth."""

import math

import numpy as np
import torch
from scipy.ndimage import binary_erosion

from reconstruction.patchmatch import (PatchMatchConfig, PatchMatchView, ViewGeometry, estimate_depth_maps,
                                       ray_box_depth_range)
from reconstruction.pipeline import select_sources
from reconstruction.synthetic import Sphere, Square, make_scene


def _bilinear(img, x, y):
    """Bilinear sample at continuous pixel coordinates (pixel centres at integer + 0.5), zero outside."""
    x, y = x - 0.5, y - 0.5
    x0, y0 = math.floor(x), math.floor(y)
    val = 0.0
    for dy in (0, 1):
        for dx in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            w = (1 - abs(x - xi)) * (1 - abs(y - yi))
            if 0 <= xi < img.shape[1] and 0 <= yi < img.shape[0]:
                val += w * img[yi, xi]
    return val


def _naive_cost(ref, src, px, py, depth, normal, cfg):
    """1 - weighted NCC for one pixel and one source view, written as a plain loop over the patch."""
    Kr, Ks = ref.K.double().numpy(), src.K.double().numpy()
    Rr, tr, Rs, ts = (a.double().numpy() for a in (ref.R, ref.t, src.R, src.t))
    R_rel, t_rel = Rs @ Rr.T, ts - Rs @ Rr.T @ tr
    gray_r, gray_s = ref.gray.double().numpy(), src.gray.double().numpy()
    Xp = depth * np.linalg.inv(Kr) @ np.array([px + 0.5, py + 0.5, 1.0])
    c = normal @ Xp
    half = cfg.patch_size // 2
    vals_r, vals_s, ws = [], [], []
    for oy in range(-half, half + 1, cfg.patch_stride):
        for ox in range(-half, half + 1, cfg.patch_stride):
            ray = np.linalg.inv(Kr) @ np.array([px + ox + 0.5, py + oy + 0.5, 1.0])
            X = ray * c / (normal @ ray)  # ray-plane intersection
            x = Ks @ (R_rel @ X + t_rel)
            qx, qy = min(max(px + ox, 0), gray_r.shape[1] - 1), min(max(py + oy, 0), gray_r.shape[0] - 1)
            r = gray_r[qy, qx]
            vals_r.append(r)
            vals_s.append(_bilinear(gray_s, x[0] / x[2], x[1] / x[2]))
            ws.append(math.exp(-math.hypot(ox, oy) / (2 * cfg.sigma_spatial**2)
                               - abs(r - gray_r[py, px]) / (2 * cfg.sigma_color**2)))
    r, s, w = np.array(vals_r), np.array(vals_s), np.array(ws) / np.sum(ws)
    mr, ms = w @ r, w @ s
    cov = w @ ((r - mr) * (s - ms))
    ncc = cov / math.sqrt((w @ (r - mr) ** 2) * (w @ (s - ms) ** 2))
    return min(max(1 - ncc, 0.0), 2.0)


def test_vectorised_cost_matches_naive_loop():
    scene, depths, normals = make_scene([Sphere(radius=0.3)], n_views=8, resolution=48)
    cfg = PatchMatchConfig()
    geoms = [ViewGeometry.from_camera(v.image, v.camera, "cpu") for v in scene.views]
    dmin, dmax = ray_box_depth_range(scene.views[0].camera, scene.bounds)
    pm = PatchMatchView(geoms[0], [geoms[1], geoms[7]], torch.ones(48, 48, dtype=torch.bool),
                        torch.as_tensor(dmin), torch.as_tensor(dmax), cfg, seed=0)
    rng = np.random.default_rng(1)
    pixels = [(24, 24), (20, 30), (28, 18)]
    idx = torch.tensor([py * 48 + px for px, py in pixels])
    depth = torch.tensor([2.4, 2.5, 2.45]) + torch.as_tensor(rng.uniform(-0.02, 0.02, 3), dtype=torch.float32)
    normal = torch.as_tensor(rng.normal(size=(3, 3)) * 0.3 + [0, 0, -1], dtype=torch.float32)
    normal = normal / normal.norm(dim=1, keepdim=True)
    fast = pm.photometric_costs(idx, depth, normal).numpy()
    for k, (px, py) in enumerate(pixels):
        for s, src in enumerate([geoms[1], geoms[7]]):
            slow = _naive_cost(geoms[0], src, px, py, float(depth[k]), normal[k].double().numpy(), cfg)
            assert abs(fast[s, k] - slow) < 2e-3, (px, py, s, fast[s, k], slow)


def _depth_errors(maps, depths):
    rel, covered = [], []
    for m, gt in zip(maps, depths):
        both = (m.depth > 0) & (gt > 0)
        rel.append(np.abs(m.depth - gt)[both] / gt[both])
        covered.append(both.sum() / (gt > 0).sum())
    return np.concatenate(rel), float(np.mean(covered))


def test_patchmatch_recovers_a_textured_plane():
    """Tolerance: median relative depth error < 0.1%, 98% of pixels within 1%, 90% coverage."""
    scene, depths, _ = make_scene([Square(size=0.8)], n_views=5, resolution=64, azimuth_span=60)
    cfg = PatchMatchConfig(iterations=3, geom_iterations=1)
    pairs = select_sources(scene, None, 4, 80.0)
    ranges = [ray_box_depth_range(v.camera, scene.bounds) for v in scene.views]
    maps = estimate_depth_maps([(v.image, v.camera) for v in scene.views], pairs, ranges, cfg, device="cpu")
    rel, coverage = _depth_errors(maps, depths)
    assert np.median(rel) < 1e-3
    assert (rel < 0.01).mean() > 0.98
    assert coverage > 0.9


def test_patchmatch_recovers_a_textured_sphere():
    """Tolerance: median relative depth error < 0.3% (≈ 0.008 scene units at distance 2.4), 95% within 1%,
    75% of the sphere's pixels covered (the silhouette band is unmatched by design)."""
    scene, depths, _ = make_scene([Sphere(radius=0.3)], n_views=6, resolution=72, azimuth_span=100)
    cfg = PatchMatchConfig(iterations=4, geom_iterations=1)
    pairs = select_sources(scene, None, 4, 80.0)
    ranges = [ray_box_depth_range(v.camera, scene.bounds) for v in scene.views]
    maps = estimate_depth_maps([(v.image, v.camera) for v in scene.views], pairs, ranges, cfg, device="cpu")
    rel, coverage = _depth_errors(maps, depths)
    assert np.median(rel) < 3e-3
    assert (rel < 0.01).mean() > 0.95
    assert coverage > 0.75


def test_texture_less_pixels_stay_invalid():
    scene, depths, _ = make_scene([Square(size=0.8)], n_views=4, resolution=48, azimuth_span=40, textured=False)
    pairs = select_sources(scene, None, 3, 80.0)
    ranges = [ray_box_depth_range(v.camera, scene.bounds) for v in scene.views]
    maps = estimate_depth_maps([(v.image, v.camera) for v in scene.views], pairs, ranges,
                               PatchMatchConfig(iterations=1, geom_iterations=0), device="cpu")
    cfg_half = PatchMatchConfig().patch_size // 2
    # Only the band along the square's outline (where a patch sees the edge) can be matched.
    interior = [binary_erosion(d > 0, iterations=cfg_half + 1) for d in depths]
    assert all(i.sum() > 300 for i in interior)
    assert all(((m.depth > 0) & i).sum() == 0 for m, i in zip(maps, interior))


def test_half_resolution_averages_blocks_and_keeps_the_widest_depth_range():
    from geogen.common.cameras import Camera, normalized_intrinsics
    from reconstruction.patchmatch import half_resolution

    img = np.arange(4 * 6 * 3, dtype=np.float32).reshape(4, 6, 3)
    cam = Camera(np.eye(4), normalized_intrinsics(), 6, 4)
    dmin = np.array([[1, 2, 1, 1, 5, 1], [1, 1, 1, 1, 1, 1], [3, 3, 3, 3, 3, 3], [3, 3, 3, 3, 3, 3]], np.float32)
    dmax = dmin + 1
    dmax[0, 4], dmax[1, 5] = 0, 9  # one pixel excluded (min > max), one with a wide range
    mask = np.zeros((4, 6), bool)
    mask[3, 5] = True
    (views, ranges, masks) = half_resolution([(img, cam)], [(dmin, dmax)], [mask])
    small, small_cam = views[0]
    assert small.shape == (2, 3, 3) and np.allclose(small[0, 0], img[:2, :2].mean((0, 1)))
    assert (small_cam.width, small_cam.height) == (3, 2)
    assert np.allclose(small_cam.K, cam.K * np.array([[0.5], [0.5], [1]]))  # pixel-centre convention preserved
    assert ranges[0][0][0, 2] == 1 and ranges[0][1][0, 2] == 9  # widest span of the usable pixels
    assert masks[0].tolist() == [[False, False, False], [False, False, True]]


def test_planar_prior_reproduces_a_plane_between_confident_pixels():
    from geogen.common.cameras import Camera, normalized_intrinsics
    from reconstruction.patchmatch import DepthNormal, planar_prior

    cam = Camera(np.eye(4), normalized_intrinsics(), 40, 40)
    ys, xs = np.mgrid[0:40, 0:40] + 0.5
    rays = np.stack([xs, ys, np.ones_like(xs)], -1) @ np.linalg.inv(cam.K).T
    n = np.array([0.2, -0.1, -1.0])
    n /= np.linalg.norm(n)
    depth = (-2.0 / (rays @ n)).astype(np.float32)  # plane n.X = -2, in front of the camera
    cost = np.full((40, 40), 0.9, np.float32)
    cost[::3, ::3] = 0.1  # only the grid pixels are confident
    dn = DepthNormal(np.where(cost < 0.5, depth, 0).astype(np.float32), np.zeros((40, 40, 3), np.float32), cost)
    cfg = PatchMatchConfig(prior_stride=3, prior_max_cost=0.3, prior_max_edge=6.0)
    prior_d, prior_n = planar_prior(dn, cam, cfg)
    has = prior_d > 0
    assert has[1:37, 1:37].all()  # inside the confident grid's hull
    assert np.abs(prior_d[has] - depth[has]).max() < 1e-4
    assert np.allclose(prior_n[has], n, atol=1e-4)
    cfg_short = PatchMatchConfig(prior_stride=3, prior_max_cost=0.3, prior_max_edge=2.0)
    assert not (planar_prior(dn, cam, cfg_short)[0] > 0).any()  # every triangle too long: no prior


def test_coarse_to_fine_with_planar_prior_recovers_a_textured_sphere():
    """Same tolerances as the single-scale search: the coarse start and the prior must not bias depths."""
    scene, depths, _ = make_scene([Sphere(radius=0.3)], n_views=6, resolution=72, azimuth_span=100)
    cfg = PatchMatchConfig(iterations=3, geom_iterations=1, coarse_levels=1, coarse_iterations=2, prior_iterations=1)
    pairs = select_sources(scene, None, 4, 80.0)
    ranges = [ray_box_depth_range(v.camera, scene.bounds) for v in scene.views]
    maps = estimate_depth_maps([(v.image, v.camera) for v in scene.views], pairs, ranges, cfg, device="cpu")
    rel, coverage = _depth_errors(maps, depths)
    assert np.median(rel) < 3e-3
    assert (rel < 0.01).mean() > 0.95
    assert coverage > 0.75
