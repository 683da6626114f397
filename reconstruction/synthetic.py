"""Synthetic calibrated scenes with exact depth, for tests and benchmarks.

Shapes are ray cast analytically (sphere, square plane) or through trimesh/embree (any mesh),
coloured by a seeded procedural 3D texture (a sum of random sinusoids, so it is defined on
any surface without UV maps) with Lambertian shading, and seen by EG3D-convention cameras
on a circle around the origin (:func:`geogen.common.cameras.spherical_cam2world`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geogen.common.cameras import Camera, normalized_intrinsics, pixel_rays, spherical_cam2world, world_to_camera
from geogen.common.seeding import rng_for

from .scene import MVSScene, View


@dataclass(frozen=True)
class Sphere:
    centre: tuple = (0.0, 0.0, 0.0)
    radius: float = 0.3

    def intersect(self, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ray distance t (inf on a miss) and outward unit normals for unit directions d."""
        oc = o - np.asarray(self.centre)
        b = np.sum(oc * d, axis=1)
        disc = b * b - (np.sum(oc * oc, axis=1) - self.radius**2)
        t = np.where(disc >= 0, -b - np.sqrt(np.maximum(disc, 0)), np.inf)
        t = np.where(t > 0, t, np.inf)
        n = (o + t[:, None] * d - np.asarray(self.centre)) / self.radius
        return t, np.nan_to_num(n)

    def sample_surface(self, n: int, seed: int = 0) -> np.ndarray:
        p = rng_for(seed, 1).normal(size=(n, 3))
        return np.asarray(self.centre) + self.radius * p / np.linalg.norm(p, axis=1, keepdims=True)


@dataclass(frozen=True)
class Square:
    """A square of side ``size`` through ``centre`` with unit ``normal`` (facing the cameras)."""

    centre: tuple = (0.0, 0.0, 0.0)
    normal: tuple = (0.0, 0.0, 1.0)
    size: float = 0.8

    def intersect(self, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = np.asarray(self.normal, float) / np.linalg.norm(self.normal)
        c = np.asarray(self.centre, float)
        denom = d @ n
        with np.errstate(divide="ignore", invalid="ignore"):
            t = ((c - o) @ n) / denom
        p = o + np.nan_to_num(t)[:, None] * d
        inside = np.max(np.abs(p - c), axis=1) <= self.size / 2  # box test is exact for axis-aligned normals
        t = np.where((t > 0) & inside & (np.abs(denom) > 1e-9), t, np.inf)
        return t, np.broadcast_to(n, o.shape).copy()


class MeshShape:
    """Any triangle mesh (trimesh) ray cast with embree when available."""

    def __init__(self, mesh):
        self.mesh = mesh

    def intersect(self, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        loc, ray_idx, tri_idx = self.mesh.ray.intersects_location(o, d, multiple_hits=False)
        t = np.full(len(o), np.inf)
        n = np.zeros_like(o)
        t[ray_idx] = np.sum((loc - o[ray_idx]) * d[ray_idx], axis=1)
        n[ray_idx] = self.mesh.face_normals[tri_idx]
        return t, n


def procedural_texture(points: np.ndarray, seed: int = 0, octaves: int = 24, base_freq: float = 6.0) -> np.ndarray:
    """Seeded RGB albedo in [0.1, 0.9] at world points: random sinusoids over 3 octaves of frequency."""
    rng = rng_for(seed, 2)
    dirs = rng.normal(size=(octaves, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    freqs = base_freq * 2.0 ** rng.integers(0, 3, size=octaves)
    phase = rng.uniform(0, 2 * np.pi, size=octaves)
    colour = rng.uniform(0.2, 1.0, size=(octaves, 3))
    waves = np.sin(points @ (dirs * freqs[:, None] * 2 * np.pi).T + phase)  # (N, octaves)
    value = waves @ colour / np.sqrt(octaves)
    return np.clip(0.5 + 0.35 * value, 0.1, 0.9)


def ring_cameras(n_views: int, resolution: int, focal: float = 3.2, radius: float = 2.7,
                 elevations: tuple = (10.0, -5.0), azimuth_span: float = 360.0) -> list[Camera]:
    """``n_views`` cameras evenly spread in azimuth, alternating the given elevations."""
    K = normalized_intrinsics(focal)
    cams = []
    for i in range(n_views):
        az = azimuth_span * i / n_views if azimuth_span >= 360 else -azimuth_span / 2 + azimuth_span * i / max(n_views - 1, 1)
        cams.append(Camera(spherical_cam2world(az, elevations[i % len(elevations)], radius), K, resolution, resolution))
    return cams


def render(shapes, camera: Camera, seed: int = 0, textured: bool = True,
           background: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """RGB (H,W,3), z-depth (H,W; 0 on background), world normals (H,W,3) and mask of the nearest shape."""
    w, h = camera.width, camera.height
    o, d = pixel_rays(camera.c2w, camera.K_norm, w, h)
    t_best = np.full(len(o), np.inf)
    n_best = np.zeros_like(o)
    for s in shapes:
        t, n = s.intersect(o, d)
        closer = t < t_best
        t_best[closer], n_best[closer] = t[closer], n[closer]
    hit = np.isfinite(t_best)
    p = o + np.where(hit, t_best, 0)[:, None] * d
    n_best = np.where((np.sum(n_best * d, axis=1) > 0)[:, None], -n_best, n_best)  # face the camera
    albedo = procedural_texture(p, seed) if textured else np.full_like(p, 0.6)
    light = np.array([0.3, 0.8, 0.5]) / np.linalg.norm([0.3, 0.8, 0.5])
    shade = 0.55 + 0.45 * np.clip(n_best @ light, 0, 1)
    rgb = np.where(hit[:, None], albedo * shade[:, None], background)
    R, tr = world_to_camera(camera.c2w)
    z = (p @ R.T + tr)[:, 2]
    depth = np.where(hit, z, 0.0)
    return (rgb.reshape(h, w, 3).astype(np.float32), depth.reshape(h, w).astype(np.float32),
            n_best.reshape(h, w, 3).astype(np.float32), hit.reshape(h, w))


def make_scene(shapes, n_views: int = 10, resolution: int = 128, seed: int = 0, textured: bool = True,
               with_masks: bool = False, **camera_kw) -> tuple[MVSScene, list[np.ndarray], list[np.ndarray]]:
    """A rendered scene plus the exact depth and world-normal maps of every view."""
    views, depths, normals = [], [], []
    for i, cam in enumerate(ring_cameras(n_views, resolution, **camera_kw)):
        rgb, depth, nrm, mask = render(shapes, cam, seed, textured)
        views.append(View(f"{i:03d}", rgb, cam, mask if with_masks else None))
        depths.append(depth)
        normals.append(nrm)
    lo, hi = np.full(3, -0.5), np.full(3, 0.5)
    return MVSScene(views, (lo, hi)), depths, normals
