"""SDF → watertight triangle mesh by marching cubes, evaluated only near the surface.

A coarse pass samples the SDF at the centre of 8³-voxel blocks; only blocks whose centre lies
within the block's half-diagonal (times a safety factor for SDFs that are bounds rather than
exact distances) of the surface get the fine grid. Other voxels take their block's value,
whose sign is right because the surface cannot reach them. scikit-image's Lewiner marching
cubes then gives a closed, consistently wound mesh; tiny floating pieces are dropped.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from skimage.measure import marching_cubes

from geogen.common.errors import UserError

from .scene import SceneModel

LEVELS = (16, 4, 2)  # block sizes (in voxels) of the coarse-to-fine passes
LIPSCHITZ_MARGIN = 1.5  # our blended SDFs may under-estimate gradients; widen the band for safety


def _block_centers(origin: np.ndarray, spacing: float, block: int, index: np.ndarray) -> np.ndarray:
    return origin + (index.astype(np.float64) + 0.5) * block * spacing


def _upsample(a: np.ndarray, factor: int) -> np.ndarray:
    """Repeat every element of a 3D array ``factor`` times along each axis."""
    n = a.shape[0]
    return np.broadcast_to(a[:, None, :, None, :, None],
                           (n, factor, n, factor, n, factor)).reshape(n * factor, n * factor, n * factor)


def sample_grid(scene: SceneModel, resolution: int, pad_cells: int = 2) -> tuple[np.ndarray, np.ndarray, float]:
    """Narrow-band SDF samples on a vertex grid over ``scene.bounds`` (padded by ``pad_cells``).

    Returns (values, origin, spacing): ``values[i, j, k]`` is the SDF at
    ``origin + spacing * (i, j, k)``. Blocks of 16³ then 4³ voxels are tested at their centres;
    only vertices of blocks that may hold surface get exact values, the rest inherit the value
    of the finest tested block around them, which has the right sign.
    """
    if resolution < 16:
        raise UserError(f"mesh resolution {resolution} is too small; use at least 16 (e.g. 128)")
    lo, hi = (np.asarray(b, dtype=np.float64) for b in scene.bounds)
    spacing = float((hi - lo).max()) / resolution
    # half a cell off: no grid plane falls on the flat cuts at the box faces (y = -0.5), where
    # exact zeros would give sliver triangles
    origin = lo - (pad_cells + 0.5) * spacing
    big = LEVELS[0]
    n = -(-(resolution + 2 * pad_cells + 1) // big) * big  # cells per axis, whole coarse blocks

    # level 0: every coarse block
    nb = n // big
    grid = np.stack(np.meshgrid(*[np.arange(nb)] * 3, indexing="ij"), axis=-1).reshape(-1, 3)
    vals = scene.sdf(_block_centers(origin, spacing, big, grid)).reshape(nb, nb, nb)
    active = np.abs(vals) < LIPSCHITZ_MARGIN * 0.5 * np.sqrt(3.0) * big * spacing + spacing
    block = big
    for sub in LEVELS[1:]:
        ratio = block // sub
        nb_sub = n // sub
        vals = _upsample(vals, ratio)
        act_sub = _upsample(active, ratio)
        idx = np.argwhere(act_sub)
        if len(idx):
            vals[tuple(idx.T)] = scene.sdf(_block_centers(origin, spacing, sub, idx))
        active = act_sub & (np.abs(vals) < LIPSCHITZ_MARGIN * 0.5 * np.sqrt(3.0) * sub * spacing + spacing)
        block = sub
        assert vals.shape == (nb_sub,) * 3

    # fine vertices: inherit the finest block value, exact where a touching cell's block is active
    nb = n // block
    values = np.empty((n + 1,) * 3)
    values[:n, :n, :n] = _upsample(vals, block)
    values[n, :, :] = values[n - 1, :, :]
    values[:, n, :] = values[:, n - 1, :]
    values[:, :, n] = values[:, :, n - 1]
    cell_active = np.zeros((n + 2,) * 3, dtype=bool)  # one cell of padding on each side
    cell_active[1:-1, 1:-1, 1:-1] = _upsample(active, block)
    need = np.zeros((n + 1,) * 3, dtype=bool)
    for dx in (0, 1):  # a vertex (i, j, k) touches cells (i-1..i, j-1..j, k-1..k)
        for dy in (0, 1):
            for dz in (0, 1):
                need |= cell_active[dx:dx + n + 1, dy:dy + n + 1, dz:dz + n + 1]
    ii = np.nonzero(need)
    values[ii] = scene.sdf(origin + spacing * np.stack(ii, axis=1).astype(np.float64))
    values[values == 0.0] = 1e-9  # exact zeros make degenerate triangles
    return values, origin, spacing


def largest_pieces(vertices: np.ndarray, faces: np.ndarray, min_fraction: float = 0.01):
    """Keep connected pieces with at least ``min_fraction`` of the faces of the largest one."""
    nv = len(vertices)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]]])
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(nv, nv))
    _, comp = connected_components(graph, directed=False)
    face_comp = comp[faces[:, 0]]
    counts = np.bincount(face_comp)
    keep_comp = counts >= min_fraction * counts.max()
    keep_faces = keep_comp[face_comp]
    faces = faces[keep_faces]
    used = np.zeros(nv, dtype=bool)
    used[faces.ravel()] = True
    remap = np.cumsum(used) - 1
    return vertices[used], remap[faces]


def extract_mesh(scene: SceneModel, resolution: int = 160) -> tuple[np.ndarray, np.ndarray]:
    """Watertight mesh of ``scene``'s zero level: (vertices float64 (V, 3) world, faces int64 (F, 3)).

    Faces wind counter-clockwise seen from outside (normals point out of the solid).
    """
    values, origin, spacing = sample_grid(scene, resolution)
    if values.min() >= 0.0:
        raise UserError("the scene's SDF is positive everywhere in its bounds: nothing to mesh")
    verts, faces, _, _ = marching_cubes(values, level=0.0, spacing=(spacing,) * 3,
                                        gradient_direction="descent", method="lewiner")
    verts = verts.astype(np.float64) + origin
    verts, faces = largest_pieces(verts, faces.astype(np.int64))
    return verts, faces
