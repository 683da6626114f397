"""SDF primitives, blends and noise against naive references and analytic shapes."""

import itertools
import math

import numpy as np
from scipy.spatial import cKDTree

from dataset.head import primitives as P
from dataset.head.noise import GradientNoise

RNG = np.random.default_rng(0)


def _near_surface_distance(points: np.ndarray, surface: np.ndarray) -> np.ndarray:
    return cKDTree(surface).query(points)[0]


def test_ellipsoid_matches_brute_force_near_surface():
    radii = np.array([0.1, 0.15, 0.12])
    center = np.array([0.02, -0.01, 0.03])
    u = RNG.normal(size=(200000, 3))
    surface = center + radii * u / np.linalg.norm(u, axis=1, keepdims=True)
    on = surface[:500]
    assert np.abs(P.ellipsoid(on, center, radii)).max() < 1e-12
    normal_dirs = (on - center) / radii ** 2
    normal_dirs /= np.linalg.norm(normal_dirs, axis=1, keepdims=True)
    for offset in (-0.01, 0.004, 0.01):
        q = on + offset * normal_dirs
        d = P.ellipsoid(q, center, radii)
        assert np.all(np.sign(d) == np.sign(offset))
        brute = _near_surface_distance(q, surface)
        assert np.allclose(np.abs(d), brute, rtol=0.12, atol=2e-3)


def test_equal_radii_ellipsoid_is_a_sphere():
    q = RNG.uniform(-0.5, 0.5, size=(1000, 3))
    assert np.allclose(P.ellipsoid(q, [0.1, 0, 0], [0.2, 0.2, 0.2]), P.sphere(q, [0.1, 0, 0], 0.2))


def test_capsule_and_round_cone_match_naive_segment_distance():
    a, b, r = np.array([0.0, -0.1, 0.0]), np.array([0.1, 0.2, -0.05]), 0.03
    q = RNG.uniform(-0.3, 0.3, size=(300, 3))
    ts = np.linspace(0.0, 1.0, 20001)
    segment = a + ts[:, None] * (b - a)
    naive = np.array([np.min(np.linalg.norm(segment - x, axis=1)) for x in q]) - r
    assert np.allclose(P.capsule(q, a, b, r), naive, atol=1e-5)
    assert np.allclose(P.round_cone(q, a, b, r, r), naive, atol=1e-5)
    # a taper: radius at the ends is exactly ra / rb along the axis
    end_points = np.array([a + [0.0, -0.05, 0.0]])
    assert np.allclose(P.round_cone(end_points, a, b, 0.02, 0.04), 0.05 - 0.02)


def test_round_box_matches_brute_force():
    half, radius = np.array([0.1, 0.05, 0.08]), 0.02
    grid = np.linspace(-1, 1, 121)
    pts = np.stack(np.meshgrid(grid, grid, grid, indexing="ij"), axis=-1).reshape(-1, 3) * half
    inner = np.abs(pts) - (half - radius)
    surface_core = pts[np.linalg.norm(np.maximum(inner, 0), axis=1) < 1e-12]  # inner core box samples
    q = RNG.uniform(-0.25, 0.25, size=(400, 3))
    outside_core = q[np.any(np.abs(q) > half, axis=1)]
    d = P.round_box(outside_core, [0, 0, 0], half, radius)
    core_dist = _near_surface_distance(outside_core, surface_core)
    assert np.allclose(d, core_dist - radius, atol=1.5e-3)
    assert P.round_box(np.zeros((1, 3)), [0, 0, 0], half, radius)[0] == -half.min()


def test_torus_matches_sampled_ring():
    major, minor = 0.1, 0.02
    t = np.linspace(0, 2 * math.pi, 20000, endpoint=False)
    ring = np.stack([major * np.cos(t), major * np.sin(t), np.zeros_like(t)], axis=1)
    q = RNG.uniform(-0.2, 0.2, size=(300, 3))
    assert np.allclose(P.torus(q, [0, 0, 0], major, minor), _near_surface_distance(q, ring) - minor, atol=1e-4)
    rot = P.rotation(pitch=math.pi / 2)  # ring in the x-z plane
    assert abs(P.torus(np.array([[major, 0.0, 0.0]]), [0, 0, 0], major, minor, rot)[0] + minor) < 1e-12
    assert abs(P.torus(np.array([[0.0, 0.0, major]]), [0, 0, 0], major, minor, rot)[0] + minor) < 1e-12


def test_smooth_min_and_max():
    a = RNG.uniform(-1, 1, 1000)
    b = RNG.uniform(-1, 1, 1000)
    k = 0.1
    s = P.smin(a, b, k)
    assert np.all(s <= np.minimum(a, b) + 1e-15)
    assert np.all(s >= np.minimum(a, b) - k / 4 - 1e-15)
    far = np.abs(a - b) >= k
    assert np.array_equal(s[far], np.minimum(a, b)[far])
    assert np.allclose(P.smax(a, b, k), -P.smin(-a, -b, k))
    assert np.array_equal(P.smin(a, b, 0.0), np.minimum(a, b))


def test_bounded_evaluates_only_near_the_part():
    q = RNG.uniform(-0.5, 0.5, size=(2000, 3))
    a, b = [-0.05, 0.0, 0.0], [0.05, 0.0, 0.0]
    exact = P.capsule(q, a, b, 0.04)
    bound = P.sphere(q, [0, 0, 0], 0.09)  # contains the capsule
    calls = []
    out = P.bounded(q, bound, lambda x: calls.append(len(x)) or P.capsule(x, a, b, 0.04), 0.05)
    near = bound < 0.05
    assert calls == [near.sum()]
    assert np.array_equal(out[near], exact[near])
    assert np.array_equal(out[~near], bound[~near])
    assert np.all(out[~near] <= exact[~near] + 1e-12)  # a lower bound never over-estimates


def _naive_noise(noise: GradientNoise, x: float, y: float, z: float) -> float:
    """Per-point reference: sum over the 8 lattice corners of (trilinear fade weight) x (gradient . offset)."""
    perm, grad = noise._perm, noise._grad
    cx, cy, cz = math.floor(x), math.floor(y), math.floor(z)
    fx, fy, fz = x - cx, y - cy, z - cz

    def fade(t):
        return t * t * t * (t * (t * 6 - 15) + 10)

    total = 0.0
    for dx, dy, dz in itertools.product((0, 1), repeat=3):
        h = perm[perm[perm[(cx & 255) + dx] + (cy & 255) + dy] + (cz & 255) + dz]
        g = grad[h]
        dot = g[0] * (fx - dx) + g[1] * (fy - dy) + g[2] * (fz - dz)
        w = ((fade(fx) if dx else 1 - fade(fx)) * (fade(fy) if dy else 1 - fade(fy))
             * (fade(fz) if dz else 1 - fade(fz)))
        total += w * dot
    return 1.6 * total


def test_noise_matches_naive_reference_and_is_seeded():
    noise = GradientNoise(42)
    q = RNG.uniform(-300, 300, size=(200, 3))
    fast = noise(q)
    slow = np.array([_naive_noise(noise, *x) for x in q])
    assert np.allclose(fast, slow, atol=1e-5)  # the fast path interpolates in float32
    assert np.array_equal(GradientNoise(42)(q), fast)
    assert not np.allclose(GradientNoise(43)(q), fast)
    lattice = np.array([[3.0, -7.0, 12.0], [0.0, 0.0, 0.0]])
    assert np.allclose(noise(lattice), 0.0)  # gradient noise vanishes on lattice points


def test_noise_range_mean_and_smoothness():
    noise = GradientNoise(7)
    q = RNG.uniform(-50, 50, size=(50000, 3))
    v = noise(q)
    assert np.abs(v).max() <= 1.6 and abs(v.mean()) < 0.02 and v.std() > 0.15
    step = noise(q + 1e-4) - v
    assert np.abs(step).max() < 1e-3  # continuous
    f = noise.fbm(q, octaves=4)
    assert np.abs(f).max() <= 1.6 and f.std() > 0.1
