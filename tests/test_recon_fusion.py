"""Fusion + Poisson on exact depth maps of a sphere, and the mesh cleanup helpers."""

import numpy as np
import trimesh

from reconstruction.fusion import FusionConfig, fuse_depth_maps
from reconstruction.meshing import MeshingConfig, keep_vertices, largest_component, poisson_mesh
from reconstruction.quality import mesh_quality
from reconstruction.synthetic import Sphere, make_scene


def test_fusion_and_poisson_of_exact_sphere_depths_give_the_sphere():
    """chamfer_l1 (METRICS.md normalisation: GT bounding-box diagonal) below 0.5%."""
    sphere = Sphere(radius=0.3)
    scene, depths, normals = make_scene([sphere], n_views=12, resolution=80, elevations=(50.0, 0.0, -50.0))
    cams = [v.camera for v in scene.views]
    cloud = fuse_depth_maps(cams, depths, normals, None, FusionConfig())
    assert len(cloud.points) > 5000
    # Fused points lie on the sphere and their normals point outwards.
    r = np.linalg.norm(cloud.points, axis=1)
    assert np.abs(r - 0.3).max() < 2e-3
    assert np.mean(np.sum(cloud.normals * cloud.points / r[:, None], axis=1)) > 0.99
    v, f = poisson_mesh(cloud.points, cloud.normals, MeshingConfig(depth=7), scene.bounds)
    gt = trimesh.creation.icosphere(subdivisions=5, radius=0.3)
    q = mesh_quality(trimesh.Trimesh(v, f, process=False), gt, "0")
    assert q["chamfer_l1"] < 0.005, q
    assert q["fscore@0.01"] > 0.95, q


def test_fusion_rejects_depths_that_no_other_view_confirms():
    scene, depths, normals = make_scene([Sphere(radius=0.3)], n_views=6, resolution=48, elevations=(0.0,))
    cams = [v.camera for v in scene.views]
    noisy = [d.copy() for d in depths]
    noisy[0][noisy[0] > 0] *= 1.05  # view 0 alone is 5% off: nothing should survive from it
    strict = FusionConfig(voxel_size=0.0)
    n_exact = len(fuse_depth_maps(cams, depths, normals, None, strict).points)
    n_noisy = len(fuse_depth_maps(cams, noisy, normals, None, strict).points)
    per_view = n_exact / 6
    assert n_exact - n_noisy > 0.8 * per_view


def test_normal_test_rejects_disagreeing_normals_and_180_turns_it_off():
    """Exact depths with view 0's normals reversed: a 30-degree test drops view 0's points (and view 0
    no longer confirms its neighbours); 180 turns the test off and keeps every point of the exact run."""
    scene, depths, normals = make_scene([Sphere(radius=0.3)], n_views=6, resolution=48, elevations=(0.0,))
    cams = [v.camera for v in scene.views]
    flipped = [n.copy() for n in normals]
    flipped[0] = -flipped[0]
    count = lambda nrm, angle: len(fuse_depth_maps(cams, depths, nrm, None,  # noqa: E731
                                                   FusionConfig(voxel_size=0.0, max_normal_angle=angle)).points)
    exact = count(normals, 30.0)
    assert count(flipped, 30.0) < exact - 0.9 * exact / 6
    assert count(flipped, 180.0) == count(normals, 180.0) == exact


def test_largest_component_and_keep_vertices():
    a = trimesh.creation.box()
    b = trimesh.creation.icosphere(subdivisions=2)
    b.apply_translation([5, 0, 0])
    both = trimesh.util.concatenate([a, b])
    v, f = largest_component(np.asarray(both.vertices), np.asarray(both.faces))
    assert len(f) == len(b.faces) and np.allclose(v.mean(0), [5, 0, 0], atol=1e-6)
    v2, f2 = keep_vertices(np.asarray(a.vertices), np.asarray(a.faces), np.asarray(a.vertices)[:, 0] > 0)
    assert len(v2) == 4 and f2.max() < 4


def _ball_hull(res=48, radius=0.3):
    from reconstruction.meshing import Hull

    c = (np.arange(res) + 0.5) / res - 0.5
    X, Y, Z = np.meshgrid(c, c, c, indexing="ij")
    return Hull(X**2 + Y**2 + Z**2 <= radius**2, np.full(3, -0.5), np.full(3, 0.5))


def test_hull_surface_lies_on_the_occupancy_boundary_with_outward_normals():
    from reconstruction.meshing import hull_surface

    points, normals = hull_surface(_ball_hull())
    r = np.linalg.norm(points, axis=1)
    assert np.abs(r - 0.3).max() < 1.5 / 48  # within a voxel and a half of the ball's boundary
    cosine = np.sum(normals * points / r[:, None], axis=1)  # a binary grid's normals are blocky
    assert cosine.min() > 0.3 and cosine.mean() > 0.9


def test_hull_fill_adds_hull_points_only_where_the_cloud_has_none():
    from reconstruction.meshing import fill_from_hull, hull_surface

    hull = _ball_hull()
    hp, hn = hull_surface(hull)
    upper = hp[:, 1] > 0  # the cloud covers the upper half only
    pts, nrm, added = fill_from_hull(hp[upper], hn[upper], hull, distance=0.03)
    assert 0 < added < (~upper).sum()
    assert np.all(pts[len(hp[upper]):, 1] < -0.02)  # every added point is in the uncovered half, away from its rim


def test_watertight_check_and_clamped_poisson_reports_components():
    from reconstruction.meshing import is_watertight

    ball = trimesh.creation.icosphere(subdivisions=2)
    assert is_watertight(np.asarray(ball.faces))
    assert not is_watertight(np.asarray(ball.faces)[1:])  # one face removed: a hole
    assert not is_watertight(np.asarray(ball.faces)[:, ::-1][np.r_[0, 1:len(ball.faces)]][:1].repeat(2, 0))
    # Half a sphere of oriented points (the unseen lower half): clamping keeps the Poisson surface closed.
    scene, depths, normals = make_scene([Sphere(radius=0.3)], n_views=8, resolution=64, elevations=(40.0,))
    cloud = fuse_depth_maps([v.camera for v in scene.views], depths, normals, None, FusionConfig())
    box = (np.full(3, -0.35), np.full(3, 0.35))
    info_cut, info_clamp = {}, {}
    poisson_mesh(cloud.points, cloud.normals, MeshingConfig(depth=6, bounds_margin=0.0), box, info=info_cut)
    v, f = poisson_mesh(cloud.points, cloud.normals, MeshingConfig(depth=6, bounds_margin=0.0, bounds_mode="clamp",
                                                                   cap_holes=True), box, info=info_clamp)
    assert info_clamp["watertight"] and info_clamp["mesh_components"] == 1
    assert trimesh.Trimesh(v, f, process=False).is_watertight
    assert np.all(np.abs(v) <= 0.35 + 1e-9)
    assert not info_cut["watertight"]  # cutting at the box opens the extrapolated bottom


def test_cap_holes_closes_a_removed_fan_consistently():
    from reconstruction.meshing import cap_holes, is_watertight

    ball = trimesh.creation.icosphere(subdivisions=3)
    f = np.asarray(ball.faces)
    f_open = f[~np.any(f == 0, axis=1)]  # remove the fan around vertex 0: one pentagonal hole
    assert not is_watertight(f_open)
    v2, f2, loops = cap_holes(np.asarray(ball.vertices), f_open)
    assert loops == 1 and is_watertight(f2)
    closed = trimesh.Trimesh(v2, f2, process=False)
    assert closed.is_watertight and abs(closed.volume - ball.volume) < 0.01 * ball.volume


def test_edge_ids_give_the_same_unique_counts_and_inverse_as_rows():
    from reconstruction.meshing import edge_ids

    rng = np.random.default_rng(0)
    n = 50
    edges = rng.integers(0, n, size=(2000, 2))  # many repeats, both orders
    rows, inv_rows, cnt_rows = np.unique(edges, axis=0, return_inverse=True, return_counts=True)
    ids, inv_ids, cnt_ids = np.unique(edge_ids(edges, n), return_inverse=True, return_counts=True)
    assert np.array_equal(np.stack([ids // n, ids % n], 1), rows)
    assert np.array_equal(inv_ids.reshape(-1), inv_rows.reshape(-1)) and np.array_equal(cnt_ids, cnt_rows)
    big = np.array([[3_000_000, 2_999_999], [2_999_999, 3_000_000], [3_000_000, 2_999_999]])
    assert np.unique(edge_ids(big, 3_000_001), return_counts=True)[1].tolist() == [1, 2]  # no int32 overflow


def test_voxel_average_matches_a_per_voxel_loop():
    from reconstruction.fusion import FusedCloud, voxel_average

    rng = np.random.default_rng(1)
    pts = rng.uniform(-0.5, 0.5, size=(3000, 3))
    nrm = rng.normal(size=(3000, 3))
    col = rng.uniform(size=(3000, 3))
    out = voxel_average(FusedCloud(pts, nrm, col), 0.1)
    groups: dict = {}
    for i, key in enumerate(map(tuple, np.floor(pts / 0.1).astype(int))):
        groups.setdefault(key, []).append(i)
    order = sorted(groups)  # lexicographic voxel order, as np.unique of the rows gives
    expect_p = np.array([pts[groups[k]].mean(0) for k in order])
    expect_n = np.array([nrm[groups[k]].mean(0) for k in order])
    expect_n /= np.linalg.norm(expect_n, axis=1, keepdims=True)
    assert np.allclose(out.points, expect_p) and np.allclose(out.normals, expect_n)
    assert np.allclose(out.colors, np.array([col[groups[k]].mean(0) for k in order]))


def test_meshing_config_refuses_unknown_bounds_mode_and_reports_skipped_hull_steps():
    import pytest

    from geogen.common.errors import UserError

    with pytest.raises(UserError, match="bounds_mode 'clmap'"):
        MeshingConfig(bounds_mode="clmap")
    scene, depths, normals = make_scene([Sphere(radius=0.3)], n_views=8, resolution=48, elevations=(40.0, -40.0))
    cloud = fuse_depth_maps([v.camera for v in scene.views], depths, normals, None, FusionConfig())
    info = {}
    poisson_mesh(cloud.points, cloud.normals, MeshingConfig(depth=5, floor_extrude=0.01, hull_fill=0.02),
                 scene.bounds, hull=None, info=info)
    assert info["skipped"] == ["hull_fill", "floor_extrude"]
    info = {}
    poisson_mesh(cloud.points, cloud.normals, MeshingConfig(depth=5), scene.bounds, hull=None, info=info)
    assert "skipped" not in info
