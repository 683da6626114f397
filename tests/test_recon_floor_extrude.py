"""meshing.extrude_to_floor: the cloud's lower edge continued straight down through un-carved hull."""

import numpy as np

from reconstruction.meshing import Hull, extrude_to_floor

RES = 64
LO, HI = np.full(3, -0.5), np.full(3, 0.5)


def _cylinder_hull(radius: float, top: float, widening: float = 0.0) -> Hull:
    """Occupancy of a vertical cylinder (axis y) from the floor up to ``top``, plus a 'head' ball above it;
    ``widening``: the radius grows by this much per unit of descent (a cone)."""
    c = -0.5 + (np.arange(RES) + 0.5) / RES   # voxel centres along each axis of the unit box
    X, Y, Z = np.meshgrid(c, c, c, indexing="ij")
    r = radius + widening * np.maximum(top - Y, 0.0)
    occ = ((X ** 2 + Z ** 2 <= r ** 2) & (Y <= top)) | (X ** 2 + (Y - top - 0.1) ** 2 + Z ** 2 <= 0.1 ** 2)
    return Hull(occ, LO.copy(), HI.copy())


def _wall(radius: float, y_lo: float, y_hi: float, n: int = 4000, seed: int = 0):
    rng = np.random.default_rng(seed)
    a, y = rng.uniform(0, 2 * np.pi, n), rng.uniform(y_lo, y_hi, n)
    normals = np.column_stack([np.cos(a), np.zeros(n), np.sin(a)])
    return np.column_stack([radius * np.cos(a), y, radius * np.sin(a)]), normals


def test_wall_seen_down_to_the_frame_is_continued_to_the_floor_on_the_cylinder():
    r, cell = 0.3, 0.02
    points, normals = _wall(r, -0.3, 0.0)          # the cameras saw the wall down to y = -0.3 only
    out_p, out_n, added = extrude_to_floor(points, normals, _cylinder_hull(r, 0.0), cell)
    assert added > 0 and len(out_p) == len(points) + added
    new, new_n = out_p[len(points):], out_n[len(points):]
    assert new[:, 1].min() >= -0.5 - 1e-9 and new[:, 1].min() < -0.5 + cell   # reaches the floor
    assert new[:, 1].max() < -0.3 + 0.06                                          # starts at the lower edge
    np.testing.assert_allclose(np.hypot(new[:, 0], new[:, 2]), r, atol=1.0 / RES)   # on the wall (a voxel)
    np.testing.assert_allclose(new_n[:, 1], 0.0)                                   # horizontal normals
    np.testing.assert_allclose(np.linalg.norm(new_n, axis=1), 1.0, atol=1e-9)
    np.testing.assert_array_equal(out_p[:len(points)], points)                     # the cloud is kept


def test_no_extrusion_where_a_view_carved_the_space_below():
    r = 0.3
    points, normals = _wall(r, -0.3, 0.0)
    hull = _cylinder_hull(r, 0.0)
    hull.occupancy[:, : RES // 8, :] = False         # the bottom slab was seen empty by some view
    _, _, added = extrude_to_floor(points, normals, hull, 0.02)
    assert added == 0


def test_points_inside_the_body_and_down_facing_points_are_not_extruded():
    r = 0.3
    rng = np.random.default_rng(1)
    inner = np.column_stack([rng.uniform(-0.1, 0.1, 200), np.full(200, -0.35), rng.uniform(-0.1, 0.1, 200)])
    side = np.tile([1.0, 0.0, 0.0], (200, 1))       # sideways normals, but deep inside the hull
    _, _, added = extrude_to_floor(inner, side, _cylinder_hull(r, 0.0), 0.02)
    assert added == 0
    wall, _ = _wall(r, -0.3, -0.25)
    down = np.tile([0.0, -1.0, 0.0], (len(wall), 1))   # a chin, not a wall
    _, _, added = extrude_to_floor(wall, down, _cylinder_hull(r, 0.0), 0.02)
    assert added == 0


def test_extrusion_follows_the_hull_where_the_body_widens_towards_the_floor():
    r, cell, widening = 0.2, 0.02, 0.3
    points, normals = _wall(r + widening * 0.3, -0.3, -0.25)   # seen down to y = -0.3, where r = 0.29
    hull = _cylinder_hull(r, 0.0, widening)
    out_p, _, added = extrude_to_floor(points, normals, hull, cell)
    new = out_p[len(points):]
    assert added > 0
    expected = r + widening * (0.0 - new[:, 1])                # the cone's radius at each height: 0.29 -> 0.35
    radius = np.hypot(new[:, 0], new[:, 2])
    assert np.abs(radius - expected).max() < 1.5 / RES
    assert radius[new[:, 1] < -0.45].mean() > r + widening * 0.3 + 0.03   # not straight down
