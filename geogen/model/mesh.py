"""Mesh extraction: sample the field on a grid over the tri-plane box, marching cubes (scikit-image).

SDF variants: the zero level set of the SDF (``level`` default 0). EG3D: the density iso-surface
σ = ``level`` (default 10, EG3D's shape-extraction threshold; useful range roughly 2-20). The
grid is padded by one "outside" layer on every face so surfaces cut by the box (the torso's flat
bottom at y = -0.5) come out closed, with caps half a grid cell outside the box face.

Coarse to fine (:func:`sample_grid_adaptive`, the default of :func:`extract_mesh`): the field is
evaluated on every ``stride``-th grid point, then at full resolution only in the blocks of
``stride``³ cells the surface passes through, growing block by block until no evaluated point
disagrees with the inside/outside side of an unevaluated neighbour. Every cell that marching
cubes turns into triangles is then evaluated exactly as on the dense grid, so the mesh is the
dense grid's mesh for every part of the surface connected to a block the coarse grid sees. A
separate piece smaller than a block that falls between coarse samples is missed.
"""

from __future__ import annotations

import numpy as np
import torch

DEFAULT_DENSITY_LEVEL = 10.0
DEFAULT_STRIDE = 4


def grid_axis(resolution: int, box: float) -> np.ndarray:
    """The ``resolution`` sample positions per axis spanning [-box/2, box/2]."""
    return np.linspace(-box / 2, box / 2, resolution, dtype=np.float32)


def grid_points(resolution: int, box: float) -> np.ndarray:
    """Cell-centre-free grid: ``resolution`` samples per axis spanning [-box/2, box/2], 'ij' (x, y, z) order."""
    ax = grid_axis(resolution, box)
    return np.stack(np.meshgrid(ax, ax, ax, indexing="ij"), axis=-1).reshape(-1, 3)


def _evaluate(query, points: np.ndarray, key: str, chunk: int, device) -> np.ndarray:
    """``query`` at world points (N, 3) in chunks → the ``key`` values (N,) float32."""
    out = np.empty(len(points), np.float32)
    for i in range(0, len(points), chunk):
        p = torch.from_numpy(points[i: i + chunk])
        if device is not None:
            p = p.to(device)
        out[i: i + chunk] = query(p.unsqueeze(0))[key].reshape(-1).float().cpu().numpy()
    return out


@torch.no_grad()
def sample_grid(query, resolution: int, box: float, key: str, chunk: int = 262144, device=None) -> np.ndarray:
    """Evaluate ``query(points (1,N,3)) -> dict`` on the whole grid, returning the ``key`` volume (R, R, R)."""
    vals = _evaluate(query, grid_points(resolution, box), key, chunk, device)
    return vals.reshape(resolution, resolution, resolution)


_DIRECTIONS = [(dx, dy, dz) for dx in (-1, 0, 1) for dy in (-1, 0, 1) for dz in (-1, 0, 1) if (dx, dy, dz) != (0, 0, 0)]


@torch.no_grad()
def sample_grid_adaptive(query, resolution: int, box: float, key: str, level: float, inside_is_low: bool,
                         stride: int = DEFAULT_STRIDE, chunk: int = 262144, device=None) -> tuple[np.ndarray, dict]:
    """Coarse-to-fine grid sampling (module doc): a (R, R, R) volume equal to :func:`sample_grid`'s
    in every cell where the iso-surface is found, and on the same side of ``level`` everywhere else.

    Blocks are ``stride``³ cells (the last one per axis may be shorter); a block's closure is its
    cells' corner points. Returns (volume, stats) with stats = {"evaluated": points queried,
    "dense": R³, "blocks": blocks evaluated at full resolution, "rounds": growth rounds, "mask":
    grid points marching cubes has to visit (:func:`_cells_near`)}.
    """
    R, s = resolution, max(int(stride), 1)
    ax = grid_axis(R, box)
    starts = np.arange(0, R - 1, s)                      # block origins, nb per axis
    nb = len(starts)
    corners = np.r_[starts, R - 1]                       # the coarse grid, nb + 1 per axis

    def side(v):
        return v < level if inside_is_low else v > level

    coarse = _evaluate(query, np.stack(np.meshgrid(*(ax[corners],) * 3, indexing="ij"), -1).reshape(-1, 3),
                       key, chunk, device).reshape((nb + 1,) * 3)
    # each point holds its nearest coarse sample until evaluated itself: inside a block that is one
    # of the block's corners, so an unevaluated block that is not mixed is on one side throughout
    nearest = np.abs(np.arange(R)[:, None] - corners[None]).argmin(axis=1)
    vol = coarse[np.ix_(nearest, nearest, nearest)]
    known = np.zeros((R, R, R), bool)
    known[np.ix_(corners, corners, corners)] = True
    c_in = side(coarse)
    shifts = [c_in[dx:nb + dx, dy:nb + dy, dz:nb + dz] for dx in (0, 1) for dy in (0, 1) for dz in (0, 1)]
    any_in, all_in = np.logical_or.reduce(shifts), np.logical_and.reduce(shifts)
    border = np.zeros((nb,) * 3, bool)
    border[[0, -1]] = border[:, [0, -1]] = border[:, :, [0, -1]] = True
    # mixed blocks; and border blocks with an inside corner, because marching_cubes pads the box
    # with an outside layer
    todo = (any_in & ~all_in) | (border & any_in)
    done = np.zeros_like(todo)
    offsets = np.stack(np.meshgrid(*(np.arange(s + 1),) * 3, indexing="ij"), -1).reshape(-1, 3)
    evaluated, rounds = (nb + 1) ** 3, 0
    while todo.any():
        rounds += 1
        blocks = np.argwhere(todo)                                            # (n, 3)
        pts = np.minimum(starts[blocks][:, None, :] + offsets[None], R - 1)  # closures (n, (s+1)³, 3)
        flat = np.ravel_multi_index((pts[..., 0], pts[..., 1], pts[..., 2]), (R, R, R))
        new = np.sort(flat[~known.flat[flat]])
        new = new[np.r_[True, new[1:] != new[:-1]]] if len(new) else new
        i, j, k = np.unravel_index(new, (R, R, R))
        vol.flat[new] = _evaluate(query, np.stack([ax[i], ax[j], ax[k]], -1), key, chunk, device)
        known.flat[new] = True
        evaluated += len(new)
        done |= todo
        # grow: an unevaluated neighbour is now mixed when a point it shares with an evaluated
        # block lies on the other side of the level than the neighbour's corners
        closure = side(vol.flat[flat]).reshape(-1, s + 1, s + 1, s + 1)
        todo = np.zeros_like(done)
        for d in _DIRECTIONS:
            shared = closure[(slice(None),) + tuple({-1: 0, 0: slice(None), 1: s}[x] for x in d)]
            shared = shared.reshape(len(blocks), -1)
            nbr = blocks + np.array(d)
            ok = np.all((nbr >= 0) & (nbr < nb), axis=1)
            nbr, has_in, has_out = nbr[ok], shared[ok].any(axis=1), ~shared[ok].all(axis=1)
            n_in = any_in[nbr[:, 0], nbr[:, 1], nbr[:, 2]]
            grow = np.where(n_in, has_out, has_in) & ~done[nbr[:, 0], nbr[:, 1], nbr[:, 2]]
            todo[nbr[grow, 0], nbr[grow, 1], nbr[grow, 2]] = True
    return vol, {"evaluated": evaluated, "dense": R ** 3, "blocks": int(done.sum()), "rounds": rounds,
                 "mask": _cells_near(done, s, R)}


def _cells_near(done: np.ndarray, stride: int, R: int) -> np.ndarray:
    """Grid points of the evaluated blocks and their neighbours (R, R, R): every cell with a
    triangle has its first corner there, so marching cubes may skip the rest (same output)."""
    from scipy.ndimage import binary_dilation

    near = binary_dilation(done, structure=np.ones((3, 3, 3), bool))
    block = np.minimum(np.arange(R) // stride, len(done) - 1)
    return near[np.ix_(block, block, block)]


def marching_cubes(volume: np.ndarray, level: float, box: float, inside_is_low: bool,
                   mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Iso-surface of a (R,R,R) 'ij' volume over [-box/2, box/2]^3 → (vertices world, faces) with outward normals.

    ``mask`` (R,R,R) bool: only cells whose first corner is set are visited (scikit-image's mask).
    """
    from skimage import measure

    R = volume.shape[0]
    spacing = box / (R - 1)
    # pad one layer, mirroring inside values to outside (2·level - v): surfaces cut by the box get
    # caps exactly half a cell outside its faces, and the mesh stays watertight. Face by face in
    # place (a mirrored value is outside, so edges met twice are unchanged the second time).
    vol = np.pad(volume, 1, mode="edge")
    for axis in range(3):
        for end in (0, -1):
            face = vol[(slice(None),) * axis + (end,)]
            inside = face < level if inside_is_low else face > level
            face[inside] = 2 * level - face[inside]
    if not (vol.min() < level < vol.max()):
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int64)
    verts, faces, _, _ = measure.marching_cubes(vol, level=level, spacing=(spacing,) * 3,
                                                gradient_direction="descent" if inside_is_low else "ascent",
                                                mask=None if mask is None else np.pad(mask, 1, mode="edge"))
    verts = verts - spacing - box / 2           # undo the padding, move to world coordinates
    return verts.astype(np.float32), faces.astype(np.int64)


@torch.no_grad()
def extract_mesh(G, ws: torch.Tensor, resolution: int = 128, level: float | None = None,
                 chunk: int = 262144, stride: int | None = DEFAULT_STRIDE,
                 planes: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mesh of the generator's field for one latent ws (1, num_ws, w_dim), world coordinates.

    The tri-planes are computed once (or passed in as ``planes`` when the caller has them);
    ``stride`` is the coarse-grid step of the coarse-to-fine sampling (module doc), None or 1 for
    the dense grid. Returns (vertices (V,3) float32, faces (F,3) int64); empty arrays when the
    level is never crossed.
    """
    if ws.shape[0] != 1:
        raise ValueError("extract_mesh takes one latent: ws of shape (1, num_ws, w_dim)")
    if planes is None:
        planes = G.planes(ws)
    is_sdf = G.cfg.field == "sdf"
    key = "sdf" if is_sdf else "sigma"
    level = (0.0 if is_sdf else DEFAULT_DENSITY_LEVEL) if level is None else float(level)

    def query(p):
        return G.query(planes, p)

    mask = None
    if stride is None or stride <= 1:
        vol = sample_grid(query, resolution, G.cfg.box_warp, key, chunk, device=ws.device)
    else:
        vol, stats = sample_grid_adaptive(query, resolution, G.cfg.box_warp, key, level, is_sdf, stride, chunk,
                                          device=ws.device)
        mask = stats["mask"]
    return marching_cubes(vol, level, G.cfg.box_warp, inside_is_low=is_sdf, mask=mask)
