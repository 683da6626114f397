"""Meshing: screened Poisson (Open3D) of the fused oriented cloud, then trimming and cleanup.

Poisson extrapolates a closed surface even where no view saw anything; vertices whose
Poisson density (how many samples supported them) is in the lowest ``trim_quantile`` are
removed, then everything outside the scene box and all but the largest connected component.
``n_threads=1`` because other thread counts were reported to crash (Open3D issue 6828).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class MeshingConfig:
    depth: int = 8  # octree depth: a 2^depth grid over the cloud's bounding cube
    trim_quantile: float = 0.0  # drop vertices with density below this quantile (0: keep; the crop and the
    # largest-component step remove the far extrapolation, and the GT is watertight)
    point_weight: float = 4.0  # screening weight (Open3D default 2; higher follows the points more)
    bounds_margin: float = 0.02  # crop box = scene bounds grown by this (scene units)
    keep_largest_component: bool = True


def poisson_mesh(points: np.ndarray, normals: np.ndarray, cfg: MeshingConfig,
                 bounds: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
    """Oriented points → (vertices, faces) of the trimmed, cropped, cleaned Poisson surface."""
    import open3d as o3d

    pcd = o3d.geometry.PointCloud()
    pcd.points = o3d.utility.Vector3dVector(np.asarray(points, dtype=np.float64))
    pcd.normals = o3d.utility.Vector3dVector(np.asarray(normals, dtype=np.float64))
    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
        mesh, densities = o3d.geometry.TriangleMesh.create_from_point_cloud_poisson(
            pcd, depth=cfg.depth, n_threads=1, point_weight=cfg.point_weight)
    densities = np.asarray(densities)
    if len(densities) == 0:
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    mesh.remove_vertices_by_mask(densities < np.quantile(densities, cfg.trim_quantile))
    v, f = np.asarray(mesh.vertices), np.asarray(mesh.triangles)
    if bounds is not None:
        lo, hi = np.asarray(bounds[0]) - cfg.bounds_margin, np.asarray(bounds[1]) + cfg.bounds_margin
        v, f = keep_vertices(v, f, np.all((v >= lo) & (v <= hi), axis=1))
    if cfg.keep_largest_component and len(f):
        v, f = largest_component(v, f)
    return v, f


def keep_vertices(v: np.ndarray, f: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop vertices not in ``keep`` and every face that used one; reindex."""
    f = f[np.all(keep[f], axis=1)]
    used = np.zeros(len(v), dtype=bool)
    used[f.reshape(-1)] = True
    remap = np.cumsum(used) - 1
    return v[used], remap[f]


def largest_component(v: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The connected component (through shared vertices) with the most faces."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(v)
    rows = np.concatenate([f[:, 0], f[:, 1], f[:, 2]])
    cols = np.concatenate([f[:, 1], f[:, 2], f[:, 0]])
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    face_labels = labels[f[:, 0]]
    biggest = np.bincount(face_labels).argmax()
    return keep_vertices(v, f, labels == biggest)
