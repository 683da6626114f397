"""Geometry metrics on analytic shapes and against naive references."""

import numpy as np
import pytest
import trimesh
from scipy.optimize import linear_sum_assignment

from benchmark.geometry import Normalisation, crop_to_box, sample_surface
from benchmark.metrics import METRICS, PairContext, exact_emd, mesh_distance, nearest, score_pair
from benchmark.protocol import Protocol
from geogen.common.errors import UserError
from geogen.common.seeding import rng_for


def sphere(r, sub=5):
    m = trimesh.creation.icosphere(subdivisions=sub, radius=r)
    return trimesh.Trimesh(m.vertices, m.faces, process=False)


@pytest.fixture(scope="module")
def spheres_scored():
    # no normalisation and a margin that keeps everything: raw distances in sphere units
    proto = Protocol(n_points=50_000, emd_points=512, crop_margin=10.0)
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
    assert s["emd"] >= s["chamfer_l1"] - 0.01  # EMD (a bijection) is never much below the NN distance


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
    a, b = rng.normal(size=(300, 3)), rng.normal(size=(400, 3))
    d, i = nearest(a, b)
    full = np.linalg.norm(a[:, None] - b[None], axis=-1)
    np.testing.assert_allclose(d, full.min(axis=1), rtol=1e-12)
    np.testing.assert_array_equal(i, full.argmin(axis=1))


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


def test_emd_differs_from_pcu_default_sinkhorn():
    pcu = pytest.importorskip("point_cloud_utils")
    rng = np.random.default_rng(2)
    a, b = rng.random((500, 3)), rng.random((500, 3))
    sinkhorn, _ = pcu.earth_movers_distance(a, b)
    exact = exact_emd(a, b)
    # pcu returns a transport-weighted sum: scale to a mean matched distance before comparing
    assert abs(sinkhorn / len(a) - exact) > 1e-3 or abs(sinkhorn - exact) > 1e-3


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


def test_pair_context_caches_nearest_neighbours():
    P = sample_surface(sphere(1.0, 2), 500, rng_for(0, 1))
    G = sample_surface(sphere(1.2, 2), 500, rng_for(0, 2))
    ctx = PairContext(sphere(1.0, 2), sphere(1.2, 2), P, G, rng_for(0, 3), 100)
    assert ctx.p_to_g is ctx.p_to_g


def test_every_metric_is_documented_with_its_direction():
    from pathlib import Path

    doc = (Path(__file__).parents[1] / "docs" / "benchmark.md").read_text(encoding="utf-8")
    for name in METRICS.names():
        arrow = "↑" if METRICS.get(name).higher_is_better else "↓"
        assert f"`{name}` {arrow}" in doc or f"`{name}` ({arrow}" in doc or f"`{name}`, " in doc, name
