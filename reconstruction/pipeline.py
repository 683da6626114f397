"""The whole image → mesh pipeline: sparse → dense (PatchMatch) → fusion → Poisson.

``reconstruct_scene`` returns the mesh with per-stage timings and statistics; a scene that
cannot be reconstructed (too little texture, no fused points, empty mesh) raises
:class:`ReconstructionFailure`, a :class:`UserError` whose ``reason`` is a short code, so a
dataset build records it per identity and a CLI prints one line.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import uniform_filter

from geogen.common.errors import UserError

from .config import ReconConfig
from .depthmap_io import write_colmap_array
from .fusion import camera_normals_to_world, fuse_depth_maps
from .meshing import Hull, poisson_mesh
from .patchmatch import angle_between_views, estimate_depth_maps, ray_box_depth_range
from .scene import DEFAULT_BOUNDS, MVSScene
from .sparse import SparseResult, bounds_from_points, triangulate_known_poses


class ReconstructionFailure(UserError):
    """The scene could not be reconstructed; ``reason`` is one of the codes below."""

    REASONS = ("too_little_texture", "no_matches", "empty_fusion", "empty_mesh")

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass
class ReconstructionResult:
    vertices: np.ndarray
    faces: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    stats: dict = field(default_factory=dict)
    points: np.ndarray | None = None  # fused cloud
    normals: np.ndarray | None = None
    depths: list[np.ndarray] | None = None


def textured_fraction(scene: MVSScene, masks: list[np.ndarray | None], min_std: float, size: int = 11) -> float:
    """Share of candidate pixels whose local grey-level std (0-255 scale) reaches ``min_std``."""
    total, textured = 0, 0
    for view, mask in zip(scene.views, masks):
        g = 255.0 * (view.image[..., :3] @ np.array([0.299, 0.587, 0.114]))
        var = uniform_filter(g * g, size) - uniform_filter(g, size) ** 2
        sel = mask if mask is not None else np.ones(g.shape, bool)
        total += int(sel.sum())
        textured += int((np.sqrt(np.maximum(var, 0))[sel] >= min_std).sum())
    return textured / max(total, 1)


def select_sources(scene: MVSScene, sparse: SparseResult | None, k: int, max_angle: float) -> list[list[int]]:
    """Per view, the ``k`` best source views: most shared sparse points, then smallest viewing angle."""
    n = len(scene.views)
    pairs = []
    for i in range(n):
        cands = []
        for j in range(n):
            if j == i:
                continue
            angle = angle_between_views(scene.views[i].camera, scene.views[j].camera)
            shared = int(sparse.shared[i, j]) if sparse is not None and sparse.ok else 0
            cands.append((angle > max_angle, -shared, angle, j))
        cands.sort()
        usable = [c for c in cands if not c[0]]
        chosen = (usable if len(usable) >= min(2, n - 1) else cands)[:k]
        pairs.append([c[3] for c in chosen])
    return pairs


def depth_ranges(scene: MVSScene, bounds, sparse: SparseResult | None, margin: float):
    """Per-view per-pixel (min, max) z-depth: the ray's span in the box, narrowed by the sparse points."""
    out = []
    for i, view in enumerate(scene.views):
        dmin, dmax = ray_box_depth_range(view.camera, bounds)
        if sparse is not None and sparse.ok:
            seen = np.array([i in tr for tr in sparse.tracks])
            if seen.sum() >= 10:
                _, z = view.camera.project(sparse.points[seen])
                lo, hi = np.percentile(z, 1), np.percentile(z, 99)
                pad = margin * (hi - lo) + 0.02 * np.median(z)
                dmin, dmax = np.maximum(dmin, lo - pad), np.minimum(dmax, hi + pad)
        out.append((dmin.astype(np.float32), dmax.astype(np.float32)))
    return out


def _warn(stats: dict, log, message: str) -> None:
    """A fallback the user should know about: kept in ``stats["warnings"]`` and logged as one line."""
    stats["warnings"].append(message)
    if log is not None:
        log(f"warning: {message}")


@dataclass
class DepthMaps:
    """What the dense stage hands to fusion: per-view z-depth (0 = invalid) and camera-frame normals."""

    depths: list[np.ndarray]
    normals_cam: list[np.ndarray]
    bounds: tuple[np.ndarray, np.ndarray]
    sparse_ok: bool  # False: SIFT found nothing usable (an empty fusion is then reported as "no_matches")
    hull: Hull | None = None  # the visual hull, when masks were used


def reconstruct_scene(scene: MVSScene, cfg: ReconConfig, workspace: str | os.PathLike | None = None,
                      log=None) -> ReconstructionResult:
    """Reconstruct a mesh from calibrated images; ``workspace`` (optional) receives the COLMAP-format maps.

    Fallbacks (unit-cube bounds, depth ranges from the scene box when the sparse stage fails) are
    listed in ``stats["warnings"]`` and logged as ``warning: ...`` lines."""
    timings: dict[str, float] = {}
    stats = {"views": len(scene.views), "resolution": list(scene.size), "notes": [], "warnings": []}
    maps = estimate_maps(scene, cfg, timings, stats, log=log)
    if workspace is not None:
        write_workspace(Path(workspace), scene, maps.depths, maps.normals_cam)
    return mesh_from_maps(scene, maps, cfg, timings, stats, log=log)


def estimate_maps(scene: MVSScene, cfg: ReconConfig, timings: dict, stats: dict, log=None) -> DepthMaps:
    """Sparse stage, depth ranges (visual hull) and dense stereo; fills ``timings`` and ``stats``."""
    torch.set_num_threads(max(1, cfg.num_threads))
    stats.setdefault("notes", [])
    stats.setdefault("warnings", [])
    masks = [v.mask if cfg.use_masks else None for v in scene.views]
    stats["masks_used"] = any(m is not None for m in masks)

    # --- sparse
    t0 = time.perf_counter()
    sparse = None
    if cfg.use_sparse:
        sparse = triangulate_known_poses(scene, num_threads=cfg.num_threads)
        stats["sparse_points"] = len(sparse.points)
        stats["sparse_reprojection_error_px"] = None if math.isnan(sparse.mean_reprojection_error) else round(
            sparse.mean_reprojection_error, 4)
        stats["notes"] += sparse.notes
    bounds = scene.bounds
    if bounds is None:
        if sparse is not None and len(sparse.points) >= 20:
            bounds = bounds_from_points(sparse.points)
            stats["notes"].append("scene bounds estimated from sparse points")
        else:
            bounds = DEFAULT_BOUNDS
            _warn(stats, log, f"no --bounds given and too few sparse points ({0 if sparse is None else len(sparse.points)}"
                  " < 20) to estimate them: using the unit cube [-0.5, 0.5]^3; pass --bounds if the object "
                  "lies elsewhere")
    stats["bounds"] = [np.asarray(bounds[0]).tolist(), np.asarray(bounds[1]).tolist()]
    texture = textured_fraction(scene, masks, cfg.patchmatch.min_ref_std)
    stats["textured_fraction"] = round(texture, 4)
    if sparse is not None and not sparse.ok:
        if texture < cfg.min_textured_fraction:
            raise ReconstructionFailure("too_little_texture", f"too little texture: {texture:.1%} of the pixels are "
                                        "textured and SIFT found no usable matches")
        _warn(stats, log, "sparse stage found no points (" + "; ".join(sparse.notes or ["no matches"]) + "): depth "
              "ranges fall back to the whole scene box and source views are chosen by angle only")
    elif texture < cfg.min_textured_fraction:
        raise ReconstructionFailure("too_little_texture", f"too little texture: only {texture:.1%} of the pixels "
                                    "are textured")
    pairs = select_sources(scene, sparse, cfg.patchmatch.num_sources, cfg.max_source_angle)
    use_hull = cfg.use_hull and stats["masks_used"]
    # With a visual hull the sparse points are not used to narrow depths: a few points on one textured
    # part (a shirt) must not cut off the rest of the object, and the hull bounds are tighter anyway.
    ranges = depth_ranges(scene, bounds, None if use_hull else sparse, cfg.depth_margin)
    timings["sparse"] = time.perf_counter() - t0

    # --- dense (the visual hull's depth bounds count as part of it)
    t0 = time.perf_counter()
    hull = None
    if use_hull:
        from .hull import carve, hull_depth_bounds

        occ = carve(scene, bounds, cfg.hull_resolution)
        hull = Hull(occ, np.asarray(bounds[0], float), np.asarray(bounds[1], float))
        ranges = hull_depth_bounds(scene, bounds, ranges, occupancy=occ)
        stats["notes"].append("depth ranges limited to the visual hull of the masks")
    if cfg.backend == "colmap":
        from .colmap_backend import colmap_depth_maps

        depths, normals_cam = colmap_depth_maps(scene, ranges, cfg)
        _warn(stats, log, "backend colmap: COLMAP's PatchMatch used patchmatch.num_sources, patch_size and "
                          "patch_stride and one depth range for all pixels; the masks, per-pixel (hull) depth "
                          "ranges, chosen source views and the other patchmatch settings apply to --backend torch only")
    else:
        maps = estimate_depth_maps([(v.image, v.camera) for v in scene.views], pairs, ranges, cfg.patchmatch,
                                   valid_masks=masks, device=cfg.device, log=log)
        depths, normals_cam = [m.depth for m in maps], [m.normal for m in maps]
    stats["valid_depth_fraction"] = round(float(np.mean([(d > 0).mean() for d in depths])), 4)
    timings["dense"] = time.perf_counter() - t0
    return DepthMaps(depths, normals_cam, bounds, sparse is None or sparse.ok, hull)


def mesh_from_maps(scene: MVSScene, maps: DepthMaps, cfg: ReconConfig, timings: dict | None = None,
                   stats: dict | None = None, log=None) -> ReconstructionResult:
    """Fusion of the depth maps, then Poisson meshing; raises ReconstructionFailure on an empty result."""
    timings = {} if timings is None else timings
    stats = {} if stats is None else stats
    t0 = time.perf_counter()
    cams = [v.camera for v in scene.views]
    normals_world = [camera_normals_to_world(n, c) for n, c in zip(maps.normals_cam, cams)]
    cloud = fuse_depth_maps(cams, maps.depths, normals_world, [v.image for v in scene.views], cfg.fusion)
    stats["fused_points"] = len(cloud.points)
    timings["fusion"] = time.perf_counter() - t0
    if len(cloud.points) < cfg.min_fused_points and not maps.sparse_ok:
        raise ReconstructionFailure("no_matches", f"no matches: SIFT found no usable matches and fusion kept only "
                                    f"{len(cloud.points)} points; the images may be too small, blurred or "
                                    "too far apart")
    if len(cloud.points) < cfg.min_fused_points:
        raise ReconstructionFailure("empty_fusion", f"fusion kept only {len(cloud.points)} points (need "
                                    f"{cfg.min_fused_points}); the views do not agree on any surface")

    # --- meshing
    t0 = time.perf_counter()
    mesh_info: dict = {}
    v, f = poisson_mesh(cloud.points, cloud.normals, cfg.meshing, maps.bounds, hull=maps.hull, info=mesh_info)
    for name in mesh_info.pop("skipped", []):
        stats.setdefault("warnings", [])
        _warn(stats, log, f"meshing.{name} skipped: it needs the visual hull, which needs masks "
                          f"(use_masks and masks in the scene)")
    stats.update(mesh_info)
    timings["poisson"] = time.perf_counter() - t0
    if len(f) == 0:
        raise ReconstructionFailure("empty_mesh", "Poisson meshing produced no surface inside the scene bounds")
    stats["mesh_vertices"], stats["mesh_faces"] = len(v), len(f)
    timings = {k: round(t, 3) for k, t in timings.items()}
    return ReconstructionResult(v, f, timings, stats, cloud.points, cloud.normals, maps.depths)


def write_workspace(root: Path, scene: MVSScene, depths, normals_cam) -> None:
    """COLMAP's dense layout: ``stereo/depth_maps/<image>.geometric.bin`` and ``stereo/normal_maps/...``."""
    for view, d, n in zip(scene.views, depths, normals_cam):
        write_colmap_array(root / "stereo" / "depth_maps" / f"{view.name}.png.geometric.bin", d)
        write_colmap_array(root / "stereo" / "normal_maps" / f"{view.name}.png.geometric.bin", n)
