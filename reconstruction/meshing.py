"""Meshing: screened Poisson (Open3D) of the fused oriented cloud, then bounding and cleanup.

Poisson extrapolates a closed surface even where no view saw anything. Options, each measured
on validation identities (docs/reconstruction.md):

* ``hull_fill``: where no fused point lies within this distance of the visual hull's surface,
  hull surface points (with the hull's outward normals) are added to the cloud. The hull is an
  upper bound of the object, tight where the silhouettes are (the flat torso bottom the cameras
  never see lies on the scene box, which the hull keeps), so Poisson closes unseen parts on it
  instead of ballooning.
* ``floor_extrude``: the body continues below the bottom edge of every image down to the scene
  box's floor (the dataset cuts the torso there), where no view saw it. From each column of the
  cloud (cells of ``floor_extrude`` scene units in the horizontal plane) whose lowest point faces
  sideways and has only un-carved visual hull below it (nothing any view saw rules it out),
  points are added down to the floor with the horizontal part of its normal, along the hull's
  wall where the silhouettes still bound it, so Poisson continues the torso's walls instead of
  rounding them off under the frame. A prior about the capture (the subject continues past the
  bottom of every image to the box floor), not about any identity's shape.
* ``trim_quantile``: drop vertices whose Poisson density is in the lowest quantile (opens holes).
* ``bounds_mode``: ``clamp`` moves vertices outside the scene box (+ margin) onto it, which keeps
  the surface closed; ``cut`` removes them (an open mesh).
* the largest connected component is kept; how many there were and the share of faces
  dropped are reported, with whether the result is watertight.

``n_threads=1`` because other thread counts were reported to crash (Open3D issue 6828).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geogen.common.config import Config
from geogen.common.errors import UserError


BOUNDS_MODES = ("cut", "clamp")


@dataclass
class MeshingConfig(Config):
    """Options of the screened Poisson meshing and its clean-up."""

    depth: int = 8
    """Octree depth: a 2^depth grid over the cloud's bounding cube."""
    trim_quantile: float = 0.0
    """Drop vertices with density below this quantile (0: keep)."""
    point_weight: float = 4.0
    """Screening weight (Open3D default 2; higher follows the points more)."""
    bounds_margin: float = 0.02
    """Bounding box = scene bounds grown by this (scene units)."""
    bounds_mode: str = "cut"
    """``cut``: remove what lies outside the box; ``clamp``: move it onto the box (stays closed)."""
    hull_fill: float = 0.0
    """Add visual-hull surface points farther than this from every fused point (0: off)."""
    floor_extrude: float = 0.0
    """Cell size (scene units) of the downward extrusion of the cloud's lowest side-facing points through
    un-carved visual hull to the box floor, along -y (the dataset's down); 0: off. Needs the visual hull
    (masks)."""
    cap_holes: bool = False
    """Close each boundary loop with a fan around its centroid (Poisson can leave its surface open where it
    meets its own grid, and ``cut`` opens it at the box)."""
    keep_largest_component: bool = True
    """Keep only the largest connected component of the mesh."""

    def __post_init__(self):
        super().__post_init__()
        if self.bounds_mode not in BOUNDS_MODES:
            raise UserError(f"unknown meshing.bounds_mode {self.bounds_mode!r}; choose {' or '.join(BOUNDS_MODES)}")


@dataclass
class Hull:
    """Visual-hull occupancy (x, y, z index order) over an axis-aligned box."""

    occupancy: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


def hull_surface(hull: Hull) -> tuple[np.ndarray, np.ndarray]:
    """Points and outward unit normals on the hull's boundary (marching cubes of the occupancy,
    padded so the hull closes on the box faces)."""
    from skimage.measure import marching_cubes

    occ = np.pad(hull.occupancy.astype(np.float32), 1)
    if occ.max() < 0.5:
        return np.zeros((0, 3)), np.zeros((0, 3))
    verts, faces, normals, _ = marching_cubes(occ, 0.5)
    res = np.asarray(hull.occupancy.shape, float)
    voxel = (hull.hi - hull.lo) / res
    points = hull.lo + (verts - 1 + 0.5) * voxel  # padded voxel-centre index → world
    # skimage's normals point from high to low values: out of the occupied region
    points = np.clip(points, hull.lo, hull.hi)  # the padding's outer half-voxel back onto the box
    return points, normals / np.linalg.norm(normals, axis=1, keepdims=True).clip(1e-9)


def fill_from_hull(points: np.ndarray, normals: np.ndarray, hull: Hull, distance: float):
    """The cloud plus the hull surface points farther than ``distance`` from every cloud point."""
    from scipy.spatial import cKDTree

    hp, hn = hull_surface(hull)
    if len(hp) == 0 or len(points) == 0:
        return points, normals, 0
    far = cKDTree(points).query(hp, k=1)[0] > distance
    return np.concatenate([points, hp[far]]), np.concatenate([normals, hn[far]]), int(far.sum())


def extrude_to_floor(points: np.ndarray, normals: np.ndarray, hull: Hull, cell: float,
                     max_normal_y: float = 0.5, band: float = 0.06) -> tuple[np.ndarray, np.ndarray, int]:
    """The cloud plus points below each column's lowest point down to the hull box's floor (-y).

    A column is a ``cell`` x ``cell`` square of the x-z plane. Its lowest point is extruded when its
    normal is within 60 degrees of horizontal (|n_y| < ``max_normal_y``: a wall, not a chin or a
    shoulder top), two hull voxels out along that normal the hull is carved (the point is on the
    outer wall, not inside the body), and every hull voxel between it and the floor is occupied (no
    view carved it: the region was outside every frame or inside every silhouette). The new points,
    ``cell`` apart in height, carry the horizontal part of its normal and follow the hull's wall where
    the hull has one nearby (:func:`_hull_offsets`), else go straight down. Returns (points, normals,
    added)."""
    if len(points) == 0:
        return points, normals, 0
    lo, hi = hull.lo, hull.hi
    keys = np.floor((points[:, [0, 2]] - lo[[0, 2]]) / cell).astype(np.int64)
    key = keys[:, 0] * (int(np.ceil((hi[2] - lo[2]) / cell)) + 2) + keys[:, 1]
    order = np.lexsort((points[:, 1], key))                  # by column, lowest first
    first = order[np.r_[True, key[order][1:] != key[order][:-1]]]
    low = first[np.abs(normals[first, 1]) < max_normal_y]
    low = low[points[low, 1] <= np.quantile(points[:, 1], 0.01) + band]   # the cloud's lower edge only
    res = np.asarray(hull.occupancy.shape)
    voxel = (hi - lo) / res
    new_p, new_n = [], []
    for i in low:
        p = points[i]
        ix, iz = np.clip(((p[[0, 2]] - lo[[0, 2]]) / voxel[[0, 2]]).astype(int), 0, res[[0, 2]] - 1)
        iy = int(np.clip((p[1] - lo[1]) / voxel[1], 0, res[1] - 1))
        if not hull.occupancy[ix, :iy + 1, iz].all():
            continue
        n = np.array([normals[i, 0], 0.0, normals[i, 2]])
        n /= max(np.linalg.norm(n), 1e-9)
        ox, oz = (((p + 2 * voxel * n) - lo)[[0, 2]] / voxel[[0, 2]]).astype(int)
        if 0 <= ox < res[0] and 0 <= oz < res[2] and hull.occupancy[ox, iy, oz]:
            continue  # not on the hull's outer wall (a point inside the body): nothing to continue
        ys = np.arange(p[1] - cell, lo[1] - 1e-9, -cell)
        if len(ys) == 0:
            continue
        offsets = _hull_offsets(p, n, ys, hull, voxel, cell)
        new_p.append(np.column_stack([p[0] + offsets * n[0], ys, p[2] + offsets * n[2]]))
        new_n.append(np.broadcast_to(n, (len(ys), 3)))
    if not new_p:
        return points, normals, 0
    add_p, add_n = np.concatenate(new_p), np.concatenate(new_n)
    return np.concatenate([points, add_p]), np.concatenate([normals, add_n]), len(add_p)


def _hull_offsets(p: np.ndarray, n: np.ndarray, ys: np.ndarray, hull: Hull, voxel: np.ndarray,
                  cell: float, search: int = 3) -> np.ndarray:
    """Offsets along ``n`` (horizontal, outward) of the extruded points at heights ``ys`` below ``p``.

    Going down, each point moves to the hull's wall when the hull has one within ``search`` voxels of the
    previous offset (the silhouettes still bound the body there, e.g. a torso widening towards the floor);
    where the hull is occupied (or empty) all across that range it says nothing and the offset is kept.
    The offset changes by at most ``cell`` per ``cell`` of descent (a 45-degree slope)."""
    res = np.asarray(hull.occupancy.shape)
    step = float(np.min(voxel[[0, 2]])) / 2
    ts = np.arange(-2 * search, 2 * search + 1) * step
    out, o = np.zeros(len(ys)), 0.0
    for k, y in enumerate(ys):
        q = p[None, :] + (o + ts)[:, None] * n[None, :]
        q[:, 1] = y
        idx = np.floor((q - hull.lo) / voxel).astype(int)
        valid = np.all((idx >= 0) & (idx < res), axis=1)
        occ = np.zeros(len(ts), dtype=bool)
        occ[valid] = hull.occupancy[idx[valid, 0], idx[valid, 1], idx[valid, 2]]
        edges = np.nonzero(occ[:-1] & ~occ[1:])[0]         # inside -> outside, going outward
        if len(edges) and occ.any() and not occ.all():
            wall = ts[edges[np.argmin(np.abs(ts[edges]))]] + step / 2
            o += float(np.clip(wall, -cell, cell))
        out[k] = o
    return out


def poisson_mesh(points: np.ndarray, normals: np.ndarray, cfg: MeshingConfig,
                 bounds: tuple[np.ndarray, np.ndarray] | None, hull: Hull | None = None,
                 info: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Oriented points → (vertices, faces) of the Poisson surface, bounded and cleaned.

    ``info`` (optional) receives ``hull_points`` added, ``mesh_components`` before the largest
    was kept, ``dropped_face_fraction`` and ``watertight``, and in ``skipped`` the hull steps
    that ``cfg`` asks for but that had no visual hull to work from (no masks)."""
    import open3d as o3d

    info = {} if info is None else info
    if hull is None:
        skipped = [name for name in ("hull_fill", "floor_extrude") if getattr(cfg, name) > 0]
        if skipped:
            info["skipped"] = skipped
    if cfg.hull_fill > 0 and hull is not None:
        points, normals, info["hull_points"] = fill_from_hull(points, normals, hull, cfg.hull_fill)
    if cfg.floor_extrude > 0 and hull is not None:
        points, normals, info["floor_points"] = extrude_to_floor(points, normals, hull, cfg.floor_extrude)
    pcd = o3d.geometry.PointCloud()
    pcd.points = o3d.utility.Vector3dVector(np.asarray(points, dtype=np.float64))
    pcd.normals = o3d.utility.Vector3dVector(np.asarray(normals, dtype=np.float64))
    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
        mesh, densities = o3d.geometry.TriangleMesh.create_from_point_cloud_poisson(
            pcd, depth=cfg.depth, n_threads=1, point_weight=cfg.point_weight)
    densities = np.asarray(densities)
    if len(densities) == 0:
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    if cfg.trim_quantile > 0:
        mesh.remove_vertices_by_mask(densities < np.quantile(densities, cfg.trim_quantile))
    v, f = np.asarray(mesh.vertices), np.asarray(mesh.triangles)
    if bounds is not None:
        lo, hi = np.asarray(bounds[0]) - cfg.bounds_margin, np.asarray(bounds[1]) + cfg.bounds_margin
        if cfg.bounds_mode == "clamp":
            v = np.clip(v, lo, hi)
        else:
            v, f = keep_vertices(v, f, np.all((v >= lo) & (v <= hi), axis=1))
    info["mesh_components"] = 0
    if len(f):
        labels = component_labels(v, f)
        face_labels = labels[f[:, 0]]
        counts = np.bincount(face_labels)
        info["mesh_components"] = int((counts > 0).sum())
        if cfg.keep_largest_component:
            info["dropped_face_fraction"] = round(1.0 - counts.max() / len(f), 6)
            v, f = keep_vertices(v, f, labels == counts.argmax())
    if cfg.cap_holes and len(f):
        v, f, info["holes_capped"] = close_surface(v, f)
        if cfg.keep_largest_component and len(f):  # dropping faces at pinches can split off a sliver
            v, f = largest_component(v, f)
    info["watertight"] = is_watertight(f)
    return v, f


def is_watertight(f: np.ndarray) -> bool:
    """Every edge shared by exactly two faces, in opposite directions (closed and consistently oriented)."""
    if len(f) == 0:
        return False
    edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    n = int(f.max()) + 1
    _, counts = np.unique(edge_ids(edges, n), return_counts=True)
    if counts.max() > 1:
        return False
    _, counts = np.unique(edge_ids(np.sort(edges, axis=1), n), return_counts=True)
    return bool(np.all(counts == 2))


def edge_ids(edges: np.ndarray, n: int) -> np.ndarray:
    """One int64 per vertex pair (a, b) with a, b < n, ordered like the pairs themselves. np.unique on
    these gives the same counts and inverse as on the (E, 2) rows with ``axis=0``, which sorts a
    structured view and took 35 of 63 s of a 256^2, 20-view pseudo-GT's meshing."""
    e = np.asarray(edges, dtype=np.int64)
    return e[:, 0] * np.int64(n) + e[:, 1]


def cap_holes(v: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Close every boundary loop with a fan of triangles around a new vertex at the loop's centroid,
    oriented like the faces along the loop. Returns (vertices, faces, loops closed). Boundary
    vertices shared by two loops (not vertex-manifold) are left alone."""
    edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    _, inverse, counts = np.unique(edge_ids(np.sort(edges, axis=1), len(v)), return_inverse=True, return_counts=True)
    boundary = edges[counts[inverse.reshape(-1)] == 1]  # directed a → b, as their face runs
    nxt: dict[int, int] = {}
    for a, b in boundary:
        if int(a) in nxt:
            return v, f, 0  # a vertex starts two boundary edges: not a set of simple loops
        nxt[int(a)] = int(b)
    new_v, new_f, loops = [v], [f], 0
    seen: set[int] = set()
    n = len(v)
    for start in list(nxt):
        if start in seen:
            continue
        loop, cur = [], start
        while cur not in seen and cur in nxt:
            seen.add(cur)
            loop.append(cur)
            cur = nxt[cur]
        if cur != start or len(loop) < 3:
            continue
        centre = n + loops
        new_v.append(v[loop].mean(0, keepdims=True))
        a = np.asarray(loop)
        new_f.append(np.stack([np.roll(a, -1), a, np.full(len(a), centre)], 1))  # b → a → centre
        loops += 1
    return np.concatenate(new_v), np.concatenate(new_f).astype(f.dtype), loops


def close_surface(v: np.ndarray, f: np.ndarray, rounds: int = 5) -> tuple[np.ndarray, np.ndarray, int]:
    """Make a nearly closed surface watertight: drop the faces on non-manifold edges (used by more
    than two faces) and around vertices where two boundary loops touch, then cap the holes
    (:func:`cap_holes`). Returns (vertices, faces, holes capped); the result may still be open
    if that did not suffice within ``rounds``."""
    for _ in range(rounds):
        edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
        _, inverse, counts = np.unique(edge_ids(np.sort(edges, axis=1), len(v)), return_inverse=True,
                                       return_counts=True)
        per_edge = counts[inverse.reshape(-1)].reshape(3, -1).T  # (F, 3) use count of each face edge
        bad = np.any(per_edge > 2, axis=1)
        starts = edges[counts[inverse.reshape(-1)] == 1][:, 0]
        pinched = np.bincount(starts, minlength=len(v)) > 1
        bad |= np.any(pinched[f], axis=1)
        if not bad.any():
            break
        f = f[~bad]
    v, f = keep_vertices(v, f, np.ones(len(v), bool))
    return cap_holes(v, f)


def keep_vertices(v: np.ndarray, f: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop vertices not in ``keep`` and every face that used one; reindex."""
    f = f[np.all(keep[f], axis=1)]
    used = np.zeros(len(v), dtype=bool)
    used[f.reshape(-1)] = True
    remap = np.cumsum(used) - 1
    return v[used], remap[f]


def component_labels(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Connected-component label per vertex (through shared face edges)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(v)
    rows = np.concatenate([f[:, 0], f[:, 1], f[:, 2]])
    cols = np.concatenate([f[:, 1], f[:, 2], f[:, 0]])
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def largest_component(v: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The connected component (through shared vertices) with the most faces."""
    labels = component_labels(v, f)
    return keep_vertices(v, f, labels == np.bincount(labels[f[:, 0]]).argmax())
