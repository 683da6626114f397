"""Vectorised signed-distance primitives and blend operators (numpy, points as (N, 3)).

Written here rather than taken from a library: no maintained Python package offers smooth
SDF modelling on numpy arrays, and these are a few lines each. Distances are exact for the
sphere, capsule, round cone, box and torus, and a tight bound near the surface for the
ellipsoid (its exact distance needs a root solve), so gradients stay close to unit length.
"""

from __future__ import annotations

import numpy as np


def rotation(yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0) -> np.ndarray:
    """3x3 rotation: roll about z, then pitch about x, then yaw about y (radians)."""
    cy, sy = np.cos(yaw), np.sin(yaw)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cr, sr = np.cos(roll), np.sin(roll)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return ry @ rx @ rz


def to_local(p: np.ndarray, center, rot: np.ndarray | None = None) -> np.ndarray:
    """World points → a part's local frame (``rot`` columns are the local axes in world)."""
    q = p - np.asarray(center, dtype=np.float64)
    # (R^T q^T)^T rather than q @ R: numpy's (N,3)@(3,3) is several times slower here
    return q if rot is None else (np.asarray(rot).T @ q.T).T


def norm(q: np.ndarray) -> np.ndarray:
    """Row norms of (N, 3), faster than np.linalg.norm for this shape."""
    return np.sqrt(np.einsum("ij,ij->i", q, q))


def bounded(p: np.ndarray, bound: np.ndarray, fn, margin: float) -> np.ndarray:
    """Evaluate an expensive part only where its cheap lower ``bound`` is below ``margin``.

    Elsewhere the bound itself stands in: it never over-estimates the distance, and as long
    as ``margin`` exceeds every blend radius used with this part, the zero level and the
    values near it are exactly those of the full evaluation.
    """
    out = np.array(bound, dtype=np.float64, copy=True)
    sel = np.nonzero(bound < margin)[0]
    if len(sel):
        out[sel] = fn(p[sel])
    return out


def near_only(values: np.ndarray, limit: float, p: np.ndarray, fn) -> np.ndarray:
    """``fn(p)`` where ``|values| < limit``, zero elsewhere: surface detail (noise displacement)
    only matters near the surface, and skipping it farther away saves most of its cost.

    Keep ``limit`` above the displacement's amplitude plus a finest meshing block's
    half-diagonal (~0.014 at 128³): then the skipped detail can never hide a surface crossing.
    """
    out = np.zeros(len(p))
    sel = np.nonzero(np.abs(values) < limit)[0]
    if len(sel):
        out[sel] = fn(p[sel])
    return out


def sphere(p: np.ndarray, center, radius: float) -> np.ndarray:
    return norm(p - np.asarray(center, dtype=np.float64)) - radius


def ellipsoid(p: np.ndarray, center, radii, rot: np.ndarray | None = None) -> np.ndarray:
    """Ellipsoid distance bound k0 (k0 - 1) / k1: exact on the surface, near-unit gradient there."""
    q = to_local(p, center, rot)
    r = np.asarray(radii, dtype=np.float64)
    k0 = norm(q / r)
    k1 = norm(q / (r * r))
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-12)


def capsule(p: np.ndarray, a, b, radius: float) -> np.ndarray:
    return round_cone(p, a, b, radius, radius)


def round_cone(p: np.ndarray, a, b, ra: float, rb: float) -> np.ndarray:
    """Segment a→b swept by a radius that varies linearly from ``ra`` to ``rb``.

    Uses the interpolated radius at the closest point on the axis: exact for a capsule and
    a close bound for the gentle tapers used here (limbs, neck, strands of a ponytail).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ab = b - a
    q = p - a
    t = np.clip((q[:, 0] * ab[0] + q[:, 1] * ab[1] + q[:, 2] * ab[2]) / float(ab @ ab), 0.0, 1.0)
    dx = q[:, 0] - t * ab[0]
    dy = q[:, 1] - t * ab[1]
    dz = q[:, 2] - t * ab[2]
    return np.sqrt(dx * dx + dy * dy + dz * dz) - (ra + (rb - ra) * t)


def round_box(p: np.ndarray, center, half, radius: float, rot: np.ndarray | None = None) -> np.ndarray:
    """Box with half extents ``half`` whose edges are rounded by ``radius`` (outer size = half)."""
    q = np.abs(to_local(p, center, rot)) - (np.asarray(half, dtype=np.float64) - radius)
    outside = norm(np.maximum(q, 0.0))
    inside = np.minimum(q.max(axis=1), 0.0)
    return outside + inside - radius


def torus(p: np.ndarray, center, major: float, minor: float, rot: np.ndarray | None = None) -> np.ndarray:
    """Ring in the local x-y plane (axis = local z) with tube radius ``minor``."""
    q = to_local(p, center, rot)
    ring = np.sqrt(q[:, 0] ** 2 + q[:, 1] ** 2) - major
    return np.sqrt(ring ** 2 + q[:, 2] ** 2) - minor


def plane(p: np.ndarray, normal, offset: float) -> np.ndarray:
    """Half-space n·p <= offset is inside (n unit)."""
    n = np.asarray(normal, dtype=np.float64)
    return p[:, 0] * n[0] + p[:, 1] * n[1] + p[:, 2] * n[2] - offset


def smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum (smooth union) with blend radius ``k``; equals min when far apart."""
    if k <= 0:
        return np.minimum(a, b)
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


def smax(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Smooth maximum (smooth intersection / subtraction with ``-b``)."""
    return -smin(-a, -b, k)


def smin_weight(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """How much of ``a`` the smooth union takes at each point (1 = all a, 0 = all b)."""
    if k <= 0:
        return (a <= b).astype(np.float64)
    return np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
