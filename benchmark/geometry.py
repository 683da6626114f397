"""Mesh preparation for scoring: normalisation, crop and seeded area-uniform surface sampling."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from geogen.common.errors import UserError


@dataclass(frozen=True)
class Normalisation:
    """x ↦ (x − centre) / scale, with centre/scale taken from the GT bounding box."""

    centre: np.ndarray
    scale: float

    @classmethod
    def from_gt(cls, gt: trimesh.Trimesh) -> "Normalisation":
        lo, hi = gt.bounds
        diag = float(np.linalg.norm(hi - lo))
        if not np.isfinite(diag) or diag <= 0:
            raise UserError("ground-truth mesh has a degenerate (zero-size) bounding box")
        return cls(centre=(lo + hi) / 2.0, scale=diag)

    def apply(self, mesh: trimesh.Trimesh) -> trimesh.Trimesh:
        return trimesh.Trimesh((np.asarray(mesh.vertices, dtype=np.float64) - self.centre) / self.scale,
                               np.asarray(mesh.faces), process=False)


def clip_triangles(tri: np.ndarray, normal: np.ndarray, offset: float) -> np.ndarray:
    """Clip a triangle soup (T,3,3) to the half-space n·x >= offset, exactly.

    Our own few lines (trimesh's slice_mesh_plane needs shapely, not a dependency here):
    a triangle with one vertex inside becomes one smaller triangle, with two inside a quad
    (two triangles); wholly inside/outside triangles are kept/dropped.
    """
    s = tri @ normal - offset  # (T,3) signed distances
    inside = s >= 0
    count = inside.sum(axis=1)
    out = [tri[count == 3]]

    def cut(a, b, sa, sb):  # point on edge ab where the signed distance is zero
        t = (sa / (sa - sb))[:, None]
        return a + t * (b - a)

    for k, n_in in ((1, 1), (2, 2)):
        sel = count == n_in
        if not sel.any():
            continue
        t, d, ins = tri[sel], s[sel], inside[sel]
        # roll each triangle so the odd vertex (the lone inside one for k=1, the lone outside one
        # for k=2) comes first; rolling keeps the winding (orientation) of the triangle
        odd = np.argmax(ins if k == 1 else ~ins, axis=1)
        order = (odd[:, None] + np.arange(3)[None]) % 3
        t = np.take_along_axis(t, order[:, :, None], axis=1)
        d = np.take_along_axis(d, order, axis=1)
        p01 = cut(t[:, 0], t[:, 1], d[:, 0], d[:, 1])
        p02 = cut(t[:, 0], t[:, 2], d[:, 0], d[:, 2])
        if k == 1:
            out.append(np.stack([t[:, 0], p01, p02], axis=1))
        else:
            out.append(np.stack([p01, t[:, 1], t[:, 2]], axis=1))
            out.append(np.stack([p01, t[:, 2], p02], axis=1))
    return np.concatenate(out, axis=0)


def crop_to_box(mesh: trimesh.Trimesh, lo: np.ndarray, hi: np.ndarray) -> trimesh.Trimesh:
    """The part of ``mesh`` inside the axis-aligned box [lo, hi], triangles clipped exactly.

    Clipping (not dropping whole triangles) keeps area-uniform sampling of the kept region
    exact. Returns a mesh with no faces if nothing lies inside. Clipped meshes are triangle
    soups (vertices not shared), which every metric here accepts.
    """
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    v = np.asarray(mesh.vertices, dtype=np.float64)
    if len(mesh.faces) and np.all(v >= lo) and np.all(v <= hi):
        return mesh
    tri = v[np.asarray(mesh.faces)]
    for axis in range(3):
        e = np.zeros(3)
        e[axis] = 1.0
        tri = clip_triangles(tri, e, lo[axis])
        tri = clip_triangles(tri, -e, -hi[axis])
    faces = np.arange(3 * len(tri)).reshape(-1, 3)
    return trimesh.Trimesh(tri.reshape(-1, 3), faces, process=False)


@dataclass(frozen=True)
class SurfaceSample:
    """Points on a surface with the unit normal of the triangle each came from."""

    points: np.ndarray   # (N, 3) float64
    normals: np.ndarray  # (N, 3) float64, unit


def sample_surface(mesh: trimesh.Trimesh, n: int, rng: np.random.Generator) -> SurfaceSample:
    """``n`` points uniformly distributed by area, from an explicit generator.

    Written here rather than with trimesh.sample so the draw depends only on ``rng``:
    triangle chosen with probability ∝ area, then uniform barycentric coordinates
    (reflection of the unit square onto the triangle).
    """
    tri = np.asarray(mesh.triangles, dtype=np.float64)
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    cross = np.cross(e1, e2)                     # once: areas, and the normals of the drawn faces
    areas = 0.5 * np.linalg.norm(cross, axis=1)
    total = areas.sum()
    if not np.isfinite(total) or total <= 0:
        raise UserError("mesh has zero surface area; nothing to sample")
    face = rng.choice(len(tri), size=n, p=areas / total)
    u, v = rng.random(n), rng.random(n)
    flip = u + v > 1.0
    u[flip], v[flip] = 1.0 - u[flip], 1.0 - v[flip]
    points = tri[face, 0] + u[:, None] * e1[face] + v[:, None] * e2[face]
    fn = cross[face]
    with np.errstate(invalid="ignore", divide="ignore"):
        fn = fn / np.linalg.norm(fn, axis=1, keepdims=True)
    normals = np.nan_to_num(fn)
    return SurfaceSample(points=points, normals=normals)
