"""Geometry metrics on analytic shapes and against naive references."""

import numpy as np
import pytest
import trimesh
from scipy.optimize import linear_sum_assignment

from benchmark.geometry import Normalisation, crop_to_box, sample_surface
from benchmark.metrics import METRICS, exact_emd, mesh_distance, nearest, prepare_pair, score_pair
from benchmark.protocol import Protocol
from geogen.common.errors import UserError
from geogen.common.seeding import rng_for


def sphere(r, sub=5):
    m = trimesh.creation.icosphere(subdivisions=sub, radius=r)
    return trimesh.Trimesh(m.vertices, m.faces, process=False)


@pytest.fixture(scope="module")
def spheres_scored():
    # no normalisation and a margin that keeps everything: raw distances in sphere units
    proto = Protocol(n_points=50_000, emd_points=2048, crop_margin=10.0)
    return score_pair(sphere(1.1), sphere(1.0), proto, "000001", normalise=False)


def test_concentric_spheres_give_the_radius_gap(spheres_scored):
    s = spheres_scored
    # icosphere facets sit slightly inside the true sphere; tolerance covers that and sampling
    assert s["chamfer_l1"] == pytest.approx(0.1, abs=0.004)
    assert s["hausdorff"] == pytest.approx(0.1, abs=0.012)  # max NN gap grows with sample spacing
    assert s["hausdorff_95"] == pytest.approx(0.1, abs=0.006)
    assert s["msd"] == pytest.approx(0.1, abs=0.003)
    assert s["mse"] == pytest.approx(0.01, rel=0.08)
    assert s["normal_consistency"] == pytest.approx(1.0, abs=0.01)
    assert s["fscore@0.01"] == 0.0 and s["fscore@0.02"] == 0.0
    # every pair is >= the radius gap apart, so EMD >= 0.1; independent 2,048-point subsamples add
    # their discrepancy on top: the "≈ 0.13" docs/benchmark.md quotes
    assert 0.0995 <= s["emd"] == pytest.approx(0.13, abs=0.005)


def test_shifted_cubes_match_closed_forms():
    """Unit cube and its copy shifted by δ along x. With exact point-to-surface distances the
    mean over one surface is δ/3 + 2δ³/9 (face inside the other cube: E min(δ, edge distances);
    face outside: δ; side faces: a strip of width δ at distances 0..δ); precision at τ < δ:
    [1 − (1 − 2τ)² + 4(1 − δ + τ)] / 6, the same for recall; Hausdorff = δ."""
    d = 0.05
    box = trimesh.creation.box(extents=[1.0, 1.0, 1.0])
    shifted = trimesh.Trimesh(box.vertices + [d, 0, 0], box.faces, process=False)
    s = score_pair(shifted, box, Protocol(n_points=100_000, emd_points=256, crop_margin=1.0), "1", normalise=False)
    assert s["msd"] == pytest.approx(d / 3 + 2 * d ** 3 / 9, rel=0.01)
    for tau, tol in ((0.01, 0.008), (0.02, 0.003)):   # τ = 0.01 loses ~0.5 % to the sample spacing
        assert s[f"fscore@{tau}"] == pytest.approx((1 - (1 - 2 * tau) ** 2 + 4 * (1 - d + tau)) / 6, abs=tol)
    assert s["hausdorff"] == pytest.approx(d, abs=0.003)
    assert s["msd"] < s["chamfer_l1"] < s["msd"] + 0.004   # point-to-sample adds the spacing


def test_exact_emd_closed_forms():
    """A translated copy: EMD = |shift| (mean of norms >= norm of the mean shift); the same
    directions on radii 1 and 1.1: EMD = 0.1 (each pair is at least the radius gap apart)."""
    rng = np.random.default_rng(3)
    a = rng.random((700, 3))
    shift = np.array([0.03, -0.04, 0.12])
    assert exact_emd(a + shift, a[rng.permutation(700)]) == pytest.approx(np.linalg.norm(shift), rel=1e-12)
    u = rng.normal(size=(900, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    assert exact_emd(1.1 * u, u[rng.permutation(900)]) == pytest.approx(0.1, rel=1e-12)


def test_identical_surfaces_score_perfectly():
    proto = Protocol(n_points=5_000, emd_points=256)
    s = score_pair(sphere(1.0, 3), sphere(1.0, 3), proto, "7")
    assert s["msd"] < 1e-6  # exact point-to-triangle distance of points on the surface
    assert s["chamfer_l1"] < 0.01 and s["fscore@0.02"] > 0.95 and s["normal_consistency"] > 0.98


def test_every_metric_is_registered_with_direction_and_formula():
    names = set(METRICS.names())
    assert {"chamfer_l1", "mse", "hausdorff", "hausdorff_95", "emd", "msd", "fscore@0.01", "fscore@0.02",
            "normal_consistency"} <= names
    for n in names:
        m = METRICS.get(n)
        assert m.formula and isinstance(m.higher_is_better, bool)
    assert METRICS.get("fscore@0.01").higher_is_better and not METRICS.get("chamfer_l1").higher_is_better
    with pytest.raises(UserError, match="did you mean"):
        METRICS.get("chamfer_l")


def test_nearest_matches_brute_force():
    rng = np.random.default_rng(0)
    # overlapping clouds, and a far cloud (the slow case of a k-d tree: many near-equal candidates)
    for a, b in ((rng.normal(size=(300, 3)), rng.normal(size=(400, 3))),
                 (rng.normal(size=(300, 3)) * 0.1 + 3.0, rng.normal(size=(500, 3))),
                 (np.tile(rng.normal(size=(1, 3)), (7, 1)), rng.normal(size=(50, 3))),   # one repeated query
                 (rng.random((2000, 3)), rng.random((1500, 3)))):                        # many grid cells
        d, i = nearest(a, b)
        full = np.linalg.norm(a[:, None] - b[None], axis=-1)
        np.testing.assert_allclose(d, full.min(axis=1), rtol=1e-12)
        np.testing.assert_array_equal(i, full.argmin(axis=1))
        assert i.dtype == np.int64


def test_emd_is_the_exact_assignment_not_sinkhorn():
    rng = np.random.default_rng(1)
    a, b = rng.random((200, 3)), rng.random((200, 3)) + 0.05
    cost = np.linalg.norm(a[:, None] - b[None], axis=-1)
    r, c = linear_sum_assignment(cost)
    assert exact_emd(a, b) == pytest.approx(cost[r, c].mean(), rel=1e-12)
    # brute force over all bijections on a tiny case
    import itertools
    x, y = rng.random((5, 3)), rng.random((5, 3))
    cxy = np.linalg.norm(x[:, None] - y[None], axis=-1)
    best = min(np.mean([cxy[i, p[i]] for i in range(5)]) for p in itertools.permutations(range(5)))
    assert exact_emd(x, y) == pytest.approx(best, rel=1e-12)


def test_pcu_default_sinkhorn_is_not_the_exact_emd():
    """The figures docs/benchmark.md quotes: point-cloud-utils' default earth_movers_distance
    (an unconverged Sinkhorn; its value is Σ P_ij ‖a_i − b_j‖ with P summing to 1, a mean) gives
    0.066 on two seeded sets of 1,000 uniform points in the unit cube, the exact EMD 0.082."""
    pcu = pytest.importorskip("point_cloud_utils")
    rng = np.random.default_rng(0)
    a, b = rng.random((1000, 3)), rng.random((1000, 3))
    cost = np.linalg.norm(a[:, None] - b[None], axis=-1)
    r, c = linear_sum_assignment(cost)
    exact = exact_emd(a, b)
    assert exact == pytest.approx(cost[r, c].mean(), rel=1e-12) and exact == pytest.approx(0.0822, abs=5e-4)
    sinkhorn, plan = pcu.earth_movers_distance(a, b)
    assert plan.sum() == pytest.approx(1.0) and sinkhorn == pytest.approx(0.066, abs=0.002)


def test_mesh_distance_is_point_to_triangle():
    tri = trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 2]], process=False)
    pts = np.array([[0.2, 0.2, 0.5], [2.0, 0.0, 0.0], [-1.0, -1.0, 0.0]])
    np.testing.assert_allclose(mesh_distance(pts, tri), [0.5, 1.0, np.sqrt(2)], atol=1e-6)


def test_fscore_on_a_shifted_plane():
    """Two unit squares 0.015 apart: τ=0.01 misses everything, τ=0.02 catches nearly everything."""
    plane = trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], [[0, 1, 2], [0, 2, 3]], process=False)
    shifted = plane.copy()
    shifted.vertices = shifted.vertices + [0, 0, 0.015]
    s = score_pair(shifted, plane, Protocol(n_points=20_000, emd_points=256, crop_margin=1.0), "1", normalise=False)
    assert s["fscore@0.01"] == 0.0
    assert s["fscore@0.02"] > 0.95
    assert s["normal_consistency"] == pytest.approx(1.0)


def test_normal_consistency_of_perpendicular_planes_is_zero():
    a = trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 2]], process=False)
    b = trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [0, 0, 1]], [[0, 1, 2]], process=False)
    s = score_pair(b, a, Protocol(n_points=2_000, emd_points=128, crop_margin=1.0), "1", normalise=False,
                   metrics=["normal_consistency"])
    assert s["normal_consistency"] == pytest.approx(0.0, abs=1e-9)


def test_sampling_is_seeded_and_area_uniform():
    box = trimesh.creation.box(extents=[1.0, 2.0, 4.0])
    s1 = sample_surface(box, 40_000, rng_for(0, 3))
    s2 = sample_surface(box, 40_000, rng_for(0, 3))
    np.testing.assert_array_equal(s1.points, s2.points)
    # fraction of points on the two 2x4 faces (|x| = 0.5) = their area share 16/28
    on_x = np.isclose(np.abs(s1.points[:, 0]), 0.5)
    assert on_x.mean() == pytest.approx(16 / 28, abs=0.01)
    np.testing.assert_allclose(np.linalg.norm(s1.normals, axis=1), 1.0)


def test_normalisation_uses_the_gt_box_for_both():
    gt = trimesh.creation.box(extents=[2.0, 2.0, 2.0])
    gt.vertices = gt.vertices + [5, 0, 0]
    norm = Normalisation.from_gt(gt)
    assert norm.scale == pytest.approx(np.sqrt(12))
    np.testing.assert_allclose(norm.apply(gt).bounds.mean(axis=0), 0, atol=1e-12)
    # scale-invariance: scaling both meshes leaves normalised metrics unchanged
    pred, g = sphere(1.1, 3), sphere(1.0, 3)
    proto = Protocol(n_points=5_000, emd_points=128, crop_margin=1.0)
    a = score_pair(pred, g, proto, "1")
    b = score_pair(trimesh.Trimesh(pred.vertices * 3, pred.faces), trimesh.Trimesh(g.vertices * 3, g.faces), proto, "1")
    assert a["chamfer_l1"] == pytest.approx(b["chamfer_l1"], rel=1e-6)


def test_crop_clips_triangles_to_the_box():
    big = trimesh.Trimesh([[-2, -2, 0], [2, -2, 0], [2, 2, 0], [-2, 2, 0]], [[0, 1, 2], [0, 2, 3]], process=False)
    kept = crop_to_box(big, np.array([-0.5, -0.5, -0.5]), np.array([0.5, 0.5, 0.5]))
    assert kept.area == pytest.approx(1.0)
    assert np.all(kept.vertices >= -0.5 - 1e-9) and np.all(kept.vertices <= 0.5 + 1e-9)
    far = trimesh.Trimesh(big.vertices + [0, 0, 5], big.faces, process=False)
    assert len(crop_to_box(far, -0.5 * np.ones(3), 0.5 * np.ones(3)).faces) == 0


def test_clip_triangles_matches_area_of_analytic_cut():
    from benchmark.geometry import clip_triangles
    rng = np.random.default_rng(4)
    tri = rng.random((200, 3, 3))
    above = clip_triangles(tri, np.array([0.0, 0.0, 1.0]), 0.5)
    below = clip_triangles(tri, np.array([0.0, 0.0, -1.0]), -0.5)
    area = lambda t: 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1).sum()
    assert area(above) + area(below) == pytest.approx(area(tri), rel=1e-9)
    assert np.all(above[..., 2] >= 0.5 - 1e-12) and np.all(below[..., 2] <= 0.5 + 1e-12)
    # winding preserved: clipped pieces keep their parent's normal direction
    n = lambda t: np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    single = np.array([[[0, 0, 0], [1, 0, 1], [0, 1, 1]]], dtype=float)
    piece = clip_triangles(single, np.array([0.0, 0.0, 1.0]), 0.5)
    assert np.all(n(piece) @ n(single)[0] > 0)


def test_floaters_outside_the_margin_are_ignored():
    g = sphere(1.0, 3)
    floater = trimesh.creation.icosphere(subdivisions=2, radius=0.2)
    floater.vertices = floater.vertices + [10, 0, 0]
    pred = trimesh.util.concatenate([sphere(1.0, 3), floater])
    proto = Protocol(n_points=5_000, emd_points=128)
    # the floater sits ~2.6 normalised units away; without the crop hausdorff would be ~2.6
    assert score_pair(pred, g, proto, "1")["hausdorff"] < 0.05


def test_prediction_outside_the_box_is_a_one_line_error():
    far = sphere(0.1, 2)
    far.vertices = far.vertices + [50, 0, 0]
    with pytest.raises(UserError, match="no surface inside"):
        score_pair(far, sphere(1.0, 2), Protocol(n_points=1_000, emd_points=64), "1")


def test_zero_area_mesh_is_a_one_line_error():
    flat = trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [2, 0, 0]], [[0, 1, 2]], process=False)
    with pytest.raises(UserError):
        score_pair(flat, sphere(1.0, 2), Protocol(n_points=1_000, emd_points=64, crop_margin=1.0), "1",
                   normalise=False)


def test_non_manifold_prediction_is_scored():
    g = sphere(1.0, 3)
    a = sphere(1.0, 3)
    # add a fin: one triangle sharing an edge with two existing faces → non-manifold edge
    e = a.edges_unique[0]
    v = np.vstack([a.vertices, [[0.0, 0.0, 0.0]]])
    f = np.vstack([a.faces, [[e[0], e[1], len(v) - 1]]])
    fin = trimesh.Trimesh(v, f, process=False)
    assert not fin.is_watertight
    s = score_pair(fin, g, Protocol(n_points=5_000, emd_points=128), "1")
    assert np.isfinite(s["chamfer_l1"]) and s["pred_watertight"] is False


def test_shared_work_is_done_once_per_direction_and_mesh(monkeypatch):
    """All metrics of a pair: two nearest-neighbour queries (P→G, G→P), two mesh-distance scenes."""
    import benchmark.metrics as bm

    calls = {"nearest": 0, "mesh_distance": 0}

    def counting(name, fn):
        def wrapped(*args):
            calls[name] += 1
            return fn(*args)
        return wrapped

    monkeypatch.setattr(bm, "nearest", counting("nearest", bm.nearest))
    monkeypatch.setattr(bm, "mesh_distance", counting("mesh_distance", bm.mesh_distance))
    score_pair(sphere(1.1, 2), sphere(1.0, 2), Protocol(n_points=2_000, emd_points=64, crop_margin=1.0), "1",
               normalise=False)
    assert calls == {"nearest": 2, "mesh_distance": 2}


def test_metrics_match_a_naive_reference():
    """Every metric from its definition with brute-force distances (numpy matrices, trimesh's
    closest points), on the same samples: the fast paths change no number."""
    pred = sphere(0.9, 2)
    pred = trimesh.Trimesh(pred.vertices * [1.0, 1.2, 0.8] + [0.1, 0, 0], pred.faces, process=False)
    gt = sphere(1.0, 2)
    proto = Protocol(n_points=1_500, emd_points=200, crop_margin=1.0)
    ctx, _ = prepare_pair(pred, gt, proto, "5", normalise=False)
    fast = {name: METRICS.get(name).fn(ctx) for name in METRICS.names()}
    P, G = ctx.P, ctx.G
    full = np.linalg.norm(P.points[:, None] - G.points[None], axis=-1)
    pg, gp = full.min(axis=1), full.min(axis=0)
    a, b = ctx.emd_subsamples
    cost = np.linalg.norm(a[:, None] - b[None], axis=-1)
    r, c = linear_sum_assignment(cost)
    to_gt = trimesh.proximity.closest_point(ctx.gt, P.points)[1]
    to_pred = trimesh.proximity.closest_point(ctx.pred, G.points)[1]

    def f(t):
        pr, re = (pg < t).mean(), (gp < t).mean()
        return 2 * pr * re / (pr + re)

    naive = {"chamfer_l1": 0.5 * (pg.mean() + gp.mean()), "mse": 0.5 * ((pg ** 2).mean() + (gp ** 2).mean()),
             "hausdorff": max(pg.max(), gp.max()),
             "hausdorff_95": max(np.percentile(pg, 95), np.percentile(gp, 95)),
             "emd": cost[r, c].mean(), "msd": 0.5 * (to_gt.mean() + to_pred.mean()),
             "fscore@0.01": f(0.01), "fscore@0.02": f(0.02),
             "normal_consistency": 0.5 * (np.abs((P.normals * G.normals[full.argmin(axis=1)]).sum(1)).mean()
                                          + np.abs((G.normals * P.normals[full.argmin(axis=0)]).sum(1)).mean())}
    assert set(naive) == set(fast)
    for name, value in naive.items():
        assert fast[name] == pytest.approx(value, rel=1e-9, abs=1e-6 if name == "msd" else 1e-12), name


def test_every_metric_is_documented_with_its_direction():
    from pathlib import Path

    doc = (Path(__file__).parents[1] / "docs" / "benchmark.md").read_text(encoding="utf-8")
    for name in METRICS.names():
        arrow = "↑" if METRICS.get(name).higher_is_better else "↓"
        assert f"`{name}` {arrow}" in doc or f"`{name}` ({arrow}" in doc or f"`{name}`, " in doc, name


def test_sampling_equals_the_straightforward_formula():
    """sample_surface (cross products once, normals of the drawn faces only) gives exactly the
    points and normals of the plain formula with the same generator."""
    mesh = sphere(1.0, 3)
    mesh = trimesh.Trimesh(mesh.vertices * [1.0, 0.7, 1.3], mesh.faces, process=False)
    s = sample_surface(mesh, 5_000, rng_for(0, 9))
    rng = rng_for(0, 9)
    tri = np.asarray(mesh.triangles, dtype=np.float64)
    areas = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    face = rng.choice(len(tri), size=5_000, p=areas / areas.sum())
    u, v = rng.random(5_000), rng.random(5_000)
    flip = u + v > 1.0
    u[flip], v[flip] = 1.0 - u[flip], 1.0 - v[flip]
    t = tri[face]
    points = t[:, 0] + u[:, None] * (t[:, 1] - t[:, 0]) + v[:, None] * (t[:, 2] - t[:, 0])
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    fn = fn / np.linalg.norm(fn, axis=1, keepdims=True)
    np.testing.assert_array_equal(s.points, points)
    np.testing.assert_array_equal(s.normals, fn[face])


def test_mesh_distance_in_scanline_order_equals_the_plain_query():
    """Queries run in scan-line order and come back in the caller's order: the same distances as one
    plain Open3D query in the original order."""
    import open3d as o3d

    from benchmark.metrics import scanline_order

    rng = np.random.default_rng(5)
    mesh = sphere(0.4, 3)
    pts = rng.normal(size=(3000, 3)) * 0.3
    order = scanline_order(pts)
    assert sorted(order) == list(range(len(pts)))
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(np.asarray(mesh.vertices, dtype=np.float32)),
                        o3d.core.Tensor(np.asarray(mesh.faces, dtype=np.uint32)))
    plain = scene.compute_distance(o3d.core.Tensor(pts.astype(np.float32))).numpy()
    np.testing.assert_array_equal(mesh_distance(pts, mesh), plain.astype(np.float64))
    assert len(scanline_order(np.zeros((0, 3)))) == 0


def test_protocol_accepts_only_the_implemented_normalisation():
    assert Protocol().normalisation == "gt-bbox"
    with pytest.raises(UserError, match="unknown normalisation 'none'"):
        Protocol(normalisation="none")
