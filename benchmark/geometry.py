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


def crop_to_box(mesh: trimesh.Trimesh, lo: np.ndarray, hi: np.ndarray) -> trimesh.Trimesh:
    """The part of ``mesh`` inside the axis-aligned box [lo, hi], triangles clipped exactly.

    Clipping (not dropping whole triangles) keeps area-uniform sampling of the kept region
    exact. Returns a mesh with no faces if nothing lies inside.
    """
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    v = np.asarray(mesh.vertices)
    if len(mesh.faces) and np.all(v >= lo) and np.all(v <= hi):
        return mesh
    out = mesh
    for axis in range(3):
        for origin, sign in ((lo, 1.0), (hi, -1.0)):
            if len(out.faces) == 0:
                return out
            normal = np.zeros(3)
            normal[axis] = sign  # keep the side the normal points to
            out = trimesh.intersections.slice_mesh_plane(out, normal, origin)
    return out


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
    areas = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    total = areas.sum()
    if not np.isfinite(total) or total <= 0:
        raise UserError("mesh has zero surface area; nothing to sample")
    face = rng.choice(len(tri), size=n, p=areas / total)
    u, v = rng.random(n), rng.random(n)
    flip = u + v > 1.0
    u[flip], v[flip] = 1.0 - u[flip], 1.0 - v[flip]
    t = tri[face]
    points = t[:, 0] + u[:, None] * (t[:, 1] - t[:, 0]) + v[:, None] * (t[:, 2] - t[:, 0])
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    with np.errstate(invalid="ignore", divide="ignore"):
        fn = fn / np.linalg.norm(fn, axis=1, keepdims=True)
    normals = np.nan_to_num(fn[face])
    return SurfaceSample(points=points, normals=normals)
