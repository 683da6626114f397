"""Embree renderer on analytic shapes, checked against independent references."""

import numpy as np
import pytest
import trimesh

from dataset.render import RENDERERS, RenderSettings, make_renderer
from dataset.render.embree import RayTracer, ambient_occlusion, offset_rays, soft_shadow, subsample_offsets
from dataset.render.lighting import sample_lighting
from dataset.scene import Material
from geogen.common.cameras import Camera, normalized_intrinsics, pixel_rays, spherical_cam2world
from geogen.common.errors import UserError


class Ball:
    """A sphere scene with a checkerboard albedo (so material lookups are per point)."""

    def __init__(self, radius=0.3):
        self.radius = radius
        self.bounds = (np.full(3, -radius), np.full(3, radius))

    def sdf(self, p):
        return np.linalg.norm(p, axis=1) - self.radius

    def material(self, p, n):
        check = (np.floor(p * 20).sum(axis=1) % 2)[:, None]
        albedo = 0.2 + 0.6 * check * np.ones((1, 3))
        return Material(albedo, np.full(len(p), 0.5), np.full(len(p), 0.3))


def _camera(az=30.0, el=10.0, res=40):
    return Camera(spherical_cam2world(az, el, 2.7), normalized_intrinsics(3.2), res, res)


@pytest.fixture(scope="module")
def ball_mesh():
    m = trimesh.creation.icosphere(subdivisions=2, radius=0.3)
    return np.asarray(m.vertices), np.asarray(m.faces)


def test_registry_and_did_you_mean():
    assert "embree" in RENDERERS
    with pytest.raises(UserError, match="did you mean 'embree'"):
        make_renderer("embre", RenderSettings())


def test_depth_mask_normals_match_a_pure_numpy_ray_caster(ball_mesh):
    v, f = ball_mesh
    cam = _camera()
    out = make_renderer("embree", RenderSettings(supersample=2)).render(
        Ball(), v, f, [cam], sample_lighting(np.random.default_rng(0)), np.random.default_rng(1))[0]
    origins, dirs = pixel_rays(cam.c2w, cam.K_norm, cam.width, cam.height)
    ref = trimesh.ray.ray_triangle.RayMeshIntersector(trimesh.Trimesh(v, f, process=False))
    locs, ray_idx, tri_idx = ref.intersects_location(origins, dirs, multiple_hits=False)
    ref_mask = np.zeros(len(dirs), bool)
    ref_mask[ray_idx] = True
    ref_depth = np.zeros(len(dirs))
    ref_depth[ray_idx] = (locs - origins[ray_idx]) @ cam.c2w[:3, 2]
    assert (out.mask.ravel() != ref_mask).sum() <= 2  # only rays grazing a triangle edge may differ
    both = out.mask.ravel() & ref_mask
    assert np.abs(out.depth.ravel()[both] - ref_depth[both]).max() < 1e-6  # float32 storage
    assert np.all(out.depth[~out.mask] == 0)
    # smooth normals of a sphere point (nearly) radially outward
    pts = origins[both] + dirs[both] * (ref_depth[both] / (dirs[both] @ cam.c2w[:3, 2]))[:, None]
    radial = pts / np.linalg.norm(pts, axis=1, keepdims=True)
    cosang = np.sum(out.normals.reshape(-1, 3)[both] * radial, axis=1)
    assert np.degrees(np.arccos(np.clip(cosang, -1, 1))).max() < 8.0
    assert np.all(out.normals[~out.mask] == 0)


def test_rgb_shows_background_gradient_and_textured_foreground(ball_mesh):
    v, f = ball_mesh
    light = sample_lighting(np.random.default_rng(3))
    out = make_renderer("embree", RenderSettings()).render(Ball(), v, f, [_camera(res=64)], light,
                                                          np.random.default_rng(0))[0]
    top = np.round(np.asarray(light.background_top) * 255)
    assert np.abs(out.rgb[0, 0].astype(float) - top).max() <= 4  # first row ~ the top colour
    fg = out.rgb[out.mask].astype(float)
    assert fg.std(axis=0).max() > 10  # the checker texture shows


def test_rendering_is_deterministic_for_a_seed(ball_mesh):
    v, f = ball_mesh
    r = make_renderer("embree", RenderSettings())
    light = sample_lighting(np.random.default_rng(0))
    a = r.render(Ball(), v, f, [_camera()], light, np.random.default_rng(5))[0]
    b = r.render(Ball(), v, f, [_camera()], light, np.random.default_rng(5))[0]
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.depth, b.depth)


def test_offset_rays_at_zero_equal_pixel_centre_rays():
    cam = _camera(res=16)
    _, d = pixel_rays(cam.c2w, cam.K_norm, 16, 16)
    assert np.allclose(offset_rays(cam, np.zeros(2)), d)
    for ss in (1, 2, 3):
        off = subsample_offsets(ss)
        assert len(off) == ss * ss and np.allclose(off.mean(axis=0), 0) and np.abs(off).max() < 0.5


def test_ambient_occlusion_open_outside_closed_inside(ball_mesh):
    v, f = ball_mesh
    tracer = RayTracer(v, f)
    rng = np.random.default_rng(0)
    n = rng.normal(size=(200, 3))
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    outside = ambient_occlusion(tracer, 0.31 * n, n, 8, 0.5, rng)
    inside = ambient_occlusion(tracer, 0.0 * n, n, 8, 1.0, rng)  # from the centre every ray hits the shell
    short = ambient_occlusion(tracer, 0.0 * n, n, 8, 0.1, rng)  # ... unless the rays are too short
    assert np.all(outside == 1.0) and np.all(inside == 0.0) and np.all(short == 1.0)


def test_soft_shadow_behind_an_occluder():
    blocker = trimesh.creation.icosphere(subdivisions=2, radius=0.2)
    tracer = RayTracer(np.asarray(blocker.vertices), np.asarray(blocker.faces))
    light = np.array([0.0, 1.0, 0.0])
    points = np.array([[0.0, -0.5, 0.0], [0.6, -0.5, 0.0]])  # under the ball / beside it
    vis = soft_shadow(tracer, points, light, 0.05, 16, np.random.default_rng(0), np.ones(2, bool))
    assert vis[0] == 0.0 and vis[1] == 1.0
    wide = soft_shadow(tracer, np.array([[0.19, -0.5, 0.0]]), light, 0.6, 64, np.random.default_rng(0),
                       np.ones(1, bool))
    assert 0.0 < wide[0] < 1.0  # penumbra under a wide light


def test_stratified_samples_form_a_latin_hypercube_per_pixel():
    from dataset.render.embree import stratified_samples

    n_pix, n_sub, count = 50, 4, 2
    idx = np.arange(n_pix * n_sub)  # every sub-sample of every pixel
    u, v = stratified_samples(np.random.default_rng(0), n_pix, n_sub, count, idx)
    assert u.shape == (n_pix * n_sub, count) and (0 <= u).all() and (u < 1).all() and (0 <= v).all() and (v < 1).all()
    total = n_sub * count
    for p in range(n_pix):
        rows = idx % n_pix == p
        pu, pv = u[rows].ravel(), v[rows].ravel()
        assert sorted(np.floor(pu * total).astype(int)) == list(range(total))  # one point per u stratum
        # v is a rotated stratification: after undoing the rotation, one point per stratum
        order = np.sort((pv - pv.min()) % 1.0)
        assert np.all(np.diff(order) < 2.0 / total + 1e-12)


def test_normal_encoding_round_trips_within_8_bit_precision():
    from dataset.writers.images import decode_normals, encode_normals

    rng = np.random.default_rng(0)
    n = rng.normal(size=(16, 16, 3))
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    mask = rng.random((16, 16)) > 0.3
    enc = encode_normals(n, mask)
    assert enc.dtype == np.uint8 and np.all(enc[~mask] == 0)
    assert np.abs(decode_normals(enc[mask]) - n[mask]).max() <= 1.0 / 255 + 1e-12
