"""Geometry metrics (METRICS.md), each registered with its direction and formula.

Distances are in normalised units (GT bounding-box diagonal = 1). Notation: P = points
sampled on the (cropped) predicted surface, G = points on the GT surface, d(x, Y) = distance
from x to the nearest point of the set Y, dist(x, M) = exact distance from x to mesh M.
"""

from __future__ import annotations

import inspect
import zlib
from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import numpy as np
import trimesh
from scipy.spatial.distance import cdist

from geogen.common.errors import UserError
from geogen.common.registry import Registry
from geogen.common.seeding import rng_for

from .assignment import min_cost_assignment
from .geometry import Normalisation, SurfaceSample, crop_to_box, sample_surface
from .protocol import Protocol


@dataclass(frozen=True)
class Metric:
    """A registered geometry metric: ``fn(pair) -> float``."""

    name: str
    higher_is_better: bool
    formula: str
    fn: Callable[["PairContext"], float]

    def describe(self) -> dict:
        return {"higher_is_better": self.higher_is_better, "formula": self.formula}


METRICS: Registry[Metric] = Registry("metric")


def register_metric(name: str, higher_is_better: bool = False):
    """Decorator: register ``fn`` as metric ``name``; its docstring is the formula."""
    def deco(fn):
        METRICS.add(name, Metric(name, higher_is_better, inspect.getdoc(fn) or "", fn))
        return fn
    return deco


def scanline_order(points: np.ndarray, cells: int = 50) -> np.ndarray:
    """Permutation visiting ``points`` in scan-line order of a ``cells``-cell grid over their bounding
    box: spatial queries (k-d tree, BVH) issued in this order walk the same nodes one after
    another, which is what makes them faster; each query's answer does not depend on the order."""
    if len(points) == 0:
        return np.zeros(0, dtype=np.int64)
    lo = points.min(axis=0)
    cell = max(float((points.max(axis=0) - lo).max()) / cells, 1e-12)
    return np.lexsort(np.floor((points - lo) / cell).astype(np.int64).T[::-1])   # by x cell, then y, then z


def nearest(query: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distance from each query point to its nearest ref point, and that point's index.

    pykdtree (3-5x faster than scipy's cKDTree on surface samples, the same distances: tested);
    scipy's cKDTree where pykdtree is not installed. The queries run in ``scanline_order``
    (1.3-1.8x faster for 100k surface samples) and the results come back in the caller's order.
    """
    query = np.ascontiguousarray(query, dtype=np.float64)
    ref = np.ascontiguousarray(ref, dtype=np.float64)
    try:
        from pykdtree.kdtree import KDTree
    except ImportError:
        from scipy.spatial import cKDTree

        return cKDTree(ref).query(query, k=1)
    order = scanline_order(query)
    d_sorted, i_sorted = KDTree(ref, leafsize=32).query(np.ascontiguousarray(query[order]), k=1)
    d = np.empty(len(query))
    i = np.empty(len(query), dtype=np.int64)
    d[order], i[order] = d_sorted, i_sorted
    return d, i


def exact_emd(a: np.ndarray, b: np.ndarray) -> float:
    """Exact EMD between equal-size point sets: min over bijections of the mean matched distance.

    Solved exactly (not Sinkhorn) by ``assignment.min_cost_assignment``: scipy's
    linear_sum_assignment on the cost matrix reduced by auction prices — the same optimum as
    scipy on the plain matrix (tested), 2-20x faster on surface samples (perf/bench_metrics.py).
    """
    if len(a) != len(b):
        raise ValueError("exact_emd needs two point sets of the same size")
    cost = cdist(a, b)
    rows, cols = min_cost_assignment(cost)
    return float(cost[rows, cols].mean())


def mesh_distance(points: np.ndarray, mesh: trimesh.Trimesh) -> np.ndarray:
    """Exact unsigned point-to-triangle distance from each point to ``mesh`` (Open3D); the points are
    queried in ``scanline_order`` (1.4x faster for 100k surface samples, same distances)."""
    import open3d as o3d

    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(np.asarray(mesh.vertices, dtype=np.float32)),
                        o3d.core.Tensor(np.asarray(mesh.faces, dtype=np.uint32)))
    points = np.asarray(points, dtype=np.float32)
    order = scanline_order(points)
    d = np.empty(len(points))
    d[order] = scene.compute_distance(o3d.core.Tensor(np.ascontiguousarray(points[order]))).numpy()
    return d


class PairContext:
    """A (prediction, GT) pair after normalisation, crop and sampling; caches shared work."""

    def __init__(self, pred: trimesh.Trimesh, gt: trimesh.Trimesh, P: SurfaceSample, G: SurfaceSample,
                 emd_rng: np.random.Generator, emd_points: int):
        self.pred, self.gt, self.P, self.G = pred, gt, P, G
        self._emd_rng, self._emd_points = emd_rng, emd_points

    @cached_property
    def p_to_g(self) -> tuple[np.ndarray, np.ndarray]:
        return nearest(self.P.points, self.G.points)

    @cached_property
    def g_to_p(self) -> tuple[np.ndarray, np.ndarray]:
        return nearest(self.G.points, self.P.points)

    @cached_property
    def p_to_gt_mesh(self) -> np.ndarray:
        return mesh_distance(self.P.points, self.gt)

    @cached_property
    def g_to_pred_mesh(self) -> np.ndarray:
        return mesh_distance(self.G.points, self.pred)

    @cached_property
    def emd_subsamples(self) -> tuple[np.ndarray, np.ndarray]:
        m = self._emd_points
        ip = self._emd_rng.choice(len(self.P.points), size=m, replace=False)
        ig = self._emd_rng.choice(len(self.G.points), size=m, replace=False)
        return self.P.points[ip], self.G.points[ig]


@register_metric("chamfer_l1")
def chamfer_l1(c: PairContext) -> float:
    """½ (mean_{p∈P} d(p,G) + mean_{g∈G} d(g,P))"""
    return 0.5 * float(c.p_to_g[0].mean() + c.g_to_p[0].mean())


@register_metric("mse")
def mse(c: PairContext) -> float:
    """chamfer_l2 = ½ (mean_{p∈P} d(p,G)² + mean_{g∈G} d(g,P)²)"""
    return 0.5 * float((c.p_to_g[0] ** 2).mean() + (c.g_to_p[0] ** 2).mean())


@register_metric("hausdorff")
def hausdorff(c: PairContext) -> float:
    """max(max_{p∈P} d(p,G), max_{g∈G} d(g,P))"""
    return float(max(c.p_to_g[0].max(), c.g_to_p[0].max()))


@register_metric("hausdorff_95")
def hausdorff_95(c: PairContext) -> float:
    """max(q95_{p∈P} d(p,G), q95_{g∈G} d(g,P)), q95 = 95th percentile (linear interpolation)"""
    return float(max(np.percentile(c.p_to_g[0], 95), np.percentile(c.g_to_p[0], 95)))


@register_metric("emd")
def emd(c: PairContext) -> float:
    """min over bijections π of (1/M) Σ_i ||p_i − g_π(i)||, on seeded M-point subsamples of P and G, solved exactly (Hungarian)"""
    a, b = c.emd_subsamples
    return exact_emd(a, b)


@register_metric("msd")
def msd(c: PairContext) -> float:
    """½ (mean_{p∈P} dist(p, M_G) + mean_{g∈G} dist(g, M_P)), exact point-to-triangle distance"""
    return 0.5 * float(c.p_to_gt_mesh.mean() + c.g_to_pred_mesh.mean())


def _fscore(c: PairContext, tau: float) -> float:
    precision = float((c.p_to_g[0] < tau).mean())
    recall = float((c.g_to_p[0] < tau).mean())
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


@register_metric("fscore@0.01", higher_is_better=True)
def fscore_1(c: PairContext) -> float:
    """2PR/(P+R), P = fraction of p∈P with d(p,G) < τ, R = fraction of g∈G with d(g,P) < τ; τ = 0.01"""
    return _fscore(c, 0.01)


@register_metric("fscore@0.02", higher_is_better=True)
def fscore_2(c: PairContext) -> float:
    """2PR/(P+R), P = fraction of p∈P with d(p,G) < τ, R = fraction of g∈G with d(g,P) < τ; τ = 0.02"""
    return _fscore(c, 0.02)


@register_metric("normal_consistency", higher_is_better=True)
def normal_consistency(c: PairContext) -> float:
    """½ (mean_p |n_p · n_{nn(p,G)}| + mean_g |n_g · n_{nn(g,P)}|), n = unit normal of the sampled triangle"""
    a = np.abs(np.einsum("ij,ij->i", c.P.normals, c.G.normals[c.p_to_g[1]])).mean()
    b = np.abs(np.einsum("ij,ij->i", c.G.normals, c.P.normals[c.g_to_p[1]])).mean()
    return 0.5 * float(a + b)


def sample_key(sample_id: str) -> int:
    """Stable integer for a sample id (its number if numeric, else a CRC32), used for seeding."""
    return int(sample_id) if sample_id.isdigit() else zlib.crc32(sample_id.encode("utf-8"))


def prepare_pair(pred: trimesh.Trimesh, gt: trimesh.Trimesh, protocol: Protocol, sample_id: str,
                 normalise: bool = True) -> tuple[PairContext, dict]:
    """Normalise both meshes by the GT box, crop the prediction, sample both surfaces.

    Returns the context and diagnostics (kept area fraction, watertightness). Raises
    UserError if the prediction has no surface inside the crop box.
    """
    if normalise:
        norm = Normalisation.from_gt(gt)
        pred, gt = norm.apply(pred), norm.apply(gt)
    lo, hi = gt.bounds
    area_before = float(pred.area)
    cropped = crop_to_box(pred, lo - protocol.crop_margin, hi + protocol.crop_margin)
    if len(cropped.faces) == 0 or cropped.area <= 0:
        raise UserError("predicted mesh has no surface inside the ground-truth box")
    key = sample_key(sample_id)
    P = sample_surface(cropped, protocol.n_points, rng_for(protocol.seed, key, 0))
    G = sample_surface(gt, protocol.n_points, rng_for(protocol.seed, key, 1))
    ctx = PairContext(cropped, gt, P, G, rng_for(protocol.seed, key, 2), protocol.emd_points)
    diag = {"pred_area_kept": float(cropped.area) / area_before if area_before > 0 else 0.0,
            "pred_faces": int(len(pred.faces)), "pred_watertight": bool(pred.is_watertight)}
    return ctx, diag


def score_pair(pred: trimesh.Trimesh, gt: trimesh.Trimesh, protocol: Protocol, sample_id: str,
               metrics: list[str] | None = None, normalise: bool = True) -> dict:
    """All (or the named) registered metrics for one pair, plus diagnostics, as a flat dict."""
    ctx, diag = prepare_pair(pred, gt, protocol, sample_id, normalise=normalise)
    out = {name: METRICS.get(name).fn(ctx) for name in (metrics or METRICS.names())}
    out.update(diag)
    return out
