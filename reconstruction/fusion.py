"""Depth-map fusion: keep depths that other views confirm, as an oriented point cloud.

A reference pixel's 3D point is *consistent* with another view when (ACMP's defaults) its
projection lands on a valid depth there whose relative depth difference is below 1%, that
depth's point reprojects into the reference image within 2 px, and the two normals differ by
less than 10 degrees. Points confirmed by at least ``min_consistent`` other views are kept
(default 1, i.e. two views agree: 10 views around 360° rarely see a point three times),
averaged with their confirmations, and the cloud is voxel-averaged to remove the overlap
between views. Our own (not pycolmap's ``stereo_fusion``) so it needs no workspace on disk
and works directly on the in-memory maps; vectorised over pixels with numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geogen.common.cameras import Camera, world_to_camera
from geogen.common.config import Config


@dataclass
class FusionConfig(Config):
    """Options of the fusion stage: which depth-map pixels agree across views and become points."""

    max_reproj_error: float = 2.0
    """Largest reprojection error (pixels) of an agreeing view."""
    max_rel_depth_diff: float = 0.01
    """Largest relative depth difference of an agreeing view."""
    max_normal_angle: float = 10.0
    """Largest angle (degrees) between the normals of agreeing views; 180 turns the normal test off."""
    min_consistent: int = 1
    """Other views that must agree (1: the pixel's view + one more = 2 views)."""
    voxel_size: float = 0.002
    """Voxel size (scene units) of the point averaging; 0 disables it."""


@dataclass
class FusedCloud:
    points: np.ndarray  # (N, 3)
    normals: np.ndarray  # (N, 3) unit, pointing towards the cameras (outwards)
    colors: np.ndarray  # (N, 3) in [0, 1]


def _unproject(depth: np.ndarray, camera: Camera) -> np.ndarray:
    """World points (H, W, 3) of a z-depth map."""
    h, w = depth.shape
    ys, xs = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")
    rays = np.stack([xs, ys, np.ones_like(xs)], -1) @ np.linalg.inv(camera.K).T
    cam = rays * depth[..., None]
    return cam @ camera.c2w[:3, :3].T + camera.c2w[:3, 3]


def fuse_depth_maps(cameras: list[Camera], depths: list[np.ndarray], normals_world: list[np.ndarray],
                    images: list[np.ndarray] | None, cfg: FusionConfig) -> FusedCloud:
    """Consistency-checked fusion of per-view depth maps (0 = invalid) and world-frame normal maps."""
    n = len(cameras)
    world = [_unproject(d, c) for d, c in zip(depths, cameras)]
    cos_max = np.cos(np.radians(cfg.max_normal_angle))
    all_pts, all_nrm, all_col = [], [], []
    for r in range(n):
        valid = depths[r] > 0
        if not valid.any():
            continue
        X = world[r][valid]
        nr = normals_world[r][valid]
        ys, xs = np.nonzero(valid)
        ref_uv = np.stack([xs + 0.5, ys + 0.5], -1)
        sum_pts, sum_nrm, count = X.copy(), nr.copy(), np.zeros(len(X), dtype=int)
        for j in range(n):
            if j == r:
                continue
            cam = cameras[j]
            uv, z = cam.project(X)
            col, row = np.floor(uv[:, 0]).astype(int), np.floor(uv[:, 1]).astype(int)
            inside = (z > 0) & (col >= 0) & (col < cam.width) & (row >= 0) & (row < cam.height)
            col, row = np.clip(col, 0, cam.width - 1), np.clip(row, 0, cam.height - 1)
            dj = depths[j][row, col]
            ok = inside & (dj > 0) & (np.abs(dj - z) < cfg.max_rel_depth_diff * np.maximum(z, 1e-9))
            Xj = world[j][row, col]
            uv_back, _ = cameras[r].project(Xj)
            ok &= np.linalg.norm(uv_back - ref_uv, axis=1) < cfg.max_reproj_error
            nj = normals_world[j][row, col]
            if cfg.max_normal_angle < 180.0:
                ok &= np.sum(nj * nr, axis=1) > cos_max
            sum_pts[ok] += Xj[ok]
            sum_nrm[ok] += nj[ok]
            count[ok] += 1
        keep = count >= cfg.min_consistent
        if not keep.any():
            continue
        pts = sum_pts[keep] / (count[keep] + 1)[:, None]
        nrm = sum_nrm[keep]
        nrm /= np.linalg.norm(nrm, axis=1, keepdims=True).clip(1e-9)
        all_pts.append(pts)
        all_nrm.append(nrm)
        all_col.append(images[r][valid][keep] if images is not None else np.full_like(pts, 0.5))
    if not all_pts:
        return FusedCloud(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 3)))
    cloud = FusedCloud(np.concatenate(all_pts), np.concatenate(all_nrm), np.concatenate(all_col))
    return voxel_average(cloud, cfg.voxel_size) if cfg.voxel_size > 0 else cloud


def voxel_average(cloud: FusedCloud, voxel: float) -> FusedCloud:
    """Average points, normals and colours that fall into the same voxel (removes view overlap)."""
    keys = np.floor(cloud.points / voxel).astype(np.int64)
    keys -= keys.min(axis=0)
    dims = [int(d) + 1 for d in keys.max(axis=0)]
    if dims[0] * dims[1] * dims[2] < 2 ** 62:  # one int64 per voxel, ordered like the rows: np.unique is
        flat = (keys[:, 0] * dims[1] + keys[:, 1]) * dims[2] + keys[:, 2]  # much faster than with axis=0
        _, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    else:
        _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)

    def mean(a):
        sums = [np.bincount(inverse, weights=a[:, k], minlength=len(counts)) for k in range(a.shape[1])]
        return np.stack(sums, 1) / counts[:, None]

    nrm = mean(cloud.normals)
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True).clip(1e-9)
    return FusedCloud(mean(cloud.points), nrm, mean(cloud.colors))


def camera_normals_to_world(normal_cam: np.ndarray, camera: Camera) -> np.ndarray:
    """Normal map in the camera frame (COLMAP's convention) → world frame."""
    R, _ = world_to_camera(camera.c2w)
    return normal_cam @ R  # R^T n, row-wise
