"""CPU ray-casting backend on Embree (embreex): exact depth/normals/masks, semi-realistic RGB.

Per view: one ray through each pixel centre gives the exact z-depth, smooth world normal and
mask. RGB uses ``supersample``^2 samples per pixel (a rotated grid for 2x2), each shaded with
a key area light (wrap-diffuse + normalised Blinn-Phong specular, soft shadows from jittered
shadow rays), an unshadowed fill light, a sky/ground environment term darkened by ambient
occlusion (cosine-weighted hemisphere rays), and a Fresnel sheen; samples are tone-mapped to
sRGB and box-averaged. Materials are evaluated per hit point by the scene's material function.

We call embreex directly (trimesh wraps the same library) because it hands back the triangle
id and barycentrics (u, v) of each hit, and an occlusion query with a maximum distance.
"""

from __future__ import annotations

import numpy as np

from dataset.scene import SceneModel
from geogen.common.cameras import Camera, pixel_intrinsics, pixel_rays

from . import RENDERERS
from .base import Renderer, RenderOutput
from .lighting import Lighting

_EPS = 5e-4  # ray-origin offset along the geometric normal (scene units; grid cells are ~5e-3)
_WRAP = 0.15  # wrap-diffuse amount: softens the terminator like light scattering under skin
_F0 = 0.04  # normal-incidence reflectance of dielectrics (skin, hair, cloth)
_SPEC_SCALE = 2.5  # Material.specular = 1 gives a reflectance of 0.1 at normal incidence
# Rotated-grid 2x2 supersampling pattern (pixel units, relative to the pixel centre).
_RGSS = np.array([[-0.375, -0.125], [0.125, -0.375], [0.375, 0.125], [-0.125, 0.375]])


class RayTracer:
    """An Embree scene of one triangle mesh, with its face and smooth vertex normals."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray):
        from embreex import rtcore_scene
        from embreex.mesh_construction import TriangleMesh

        self.vertices = np.asarray(vertices, dtype=np.float64)
        self.faces = np.asarray(faces, dtype=np.int64)
        self._scene = rtcore_scene.EmbreeScene()
        TriangleMesh(scene=self._scene, vertices=self.vertices.astype(np.float32),
                     indices=self.faces.astype(np.int32))
        self.face_normals, self.vertex_normals = mesh_normals(self.vertices, self.faces)

    def intersect(self, origins: np.ndarray, dirs: np.ndarray):
        """First hits: (hit bool, t float64, triangle id, barycentric u, v) per ray."""
        n = len(origins)
        if n == 0:
            e = np.zeros(0)
            return e.astype(bool), e, e.astype(np.int64), e, e
        res = self._scene.run(np.ascontiguousarray(origins, dtype=np.float32),
                              np.ascontiguousarray(dirs, dtype=np.float32), output=1)
        prim = res["primID"].astype(np.int64)
        hit = prim >= 0
        t = res["tfar"].astype(np.float64)
        # Embree works in float32; refine t in float64 on the hit triangle's plane (exact depth).
        tri = self.vertices[self.faces[prim[hit]]]
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        denom = np.sum(np.asarray(dirs, dtype=np.float64)[hit] * normal, axis=1)
        ok = np.abs(denom) > 1e-12
        num = np.sum((tri[:, 0] - np.asarray(origins, dtype=np.float64)[hit]) * normal, axis=1)
        t_hit = t[hit]
        t_hit[ok] = num[ok] / denom[ok]
        t[hit] = t_hit
        return hit, t, prim, res["u"].astype(np.float64), res["v"].astype(np.float64)

    def occluded(self, origins: np.ndarray, dirs: np.ndarray, max_dist: float | None = None) -> np.ndarray:
        """True where a ray hits the mesh (within ``max_dist`` if given)."""
        if len(origins) == 0:
            return np.zeros(0, dtype=bool)
        kwargs = {}
        if max_dist is not None:
            kwargs["dists"] = np.full(len(origins), max_dist, dtype=np.float32)
        res = self._scene.run(np.ascontiguousarray(origins, dtype=np.float32),
                              np.ascontiguousarray(dirs, dtype=np.float32), query="OCCLUDED", **kwargs)
        return np.asarray(res) != -1

    def facing_normals(self, prim: np.ndarray, u: np.ndarray, v: np.ndarray, view: np.ndarray):
        """(geometric, smooth) unit normals of hits, flipped to face the viewer direction ``view``.

        From outside a closed mesh the first hit always faces the camera; flipping makes the
        result independent of the mesh's winding, and a smooth normal that turns away at a
        silhouette falls back to the geometric one.
        """
        ng = self.face_normals[prim]
        ng = np.where((np.sum(ng * view, axis=1) < 0.0)[:, None], -ng, ng)
        n = self.smooth_normals(prim, u, v)
        n = np.where((np.sum(n * ng, axis=1) < 0.0)[:, None], -n, n)
        n = np.where((np.sum(n * view, axis=1) <= 0.0)[:, None], ng, n)
        return ng, n

    def smooth_normals(self, prim: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Vertex normals interpolated with the hit's barycentrics (Embree: p = (1-u-v) v0 + u v1 + v v2)."""
        f = self.faces[prim]
        vn = self.vertex_normals
        n = (1.0 - u - v)[:, None] * vn[f[:, 0]] + u[:, None] * vn[f[:, 1]] + v[:, None] * vn[f[:, 2]]
        return _normalize(n)


def mesh_normals(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(face normals, area-weighted vertex normals), unit length, oriented by the winding."""
    tri = np.asarray(vertices, dtype=np.float64)[faces]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # length = 2 * area
    vn = np.zeros((len(vertices), 3))
    for k in range(3):
        np.add.at(vn, faces[:, k], cross)
    return _normalize(cross), _normalize(vn)


@RENDERERS.register("embree")
class EmbreeRenderer(Renderer):
    """Fast CPU backend (see module docstring)."""

    def render(self, scene: SceneModel, vertices: np.ndarray, faces: np.ndarray, cameras: list[Camera],
               lighting: Lighting, rng: np.random.Generator) -> list[RenderOutput]:
        tracer = RayTracer(vertices, faces)
        return [self.render_view(tracer, scene, cam, lighting, rng) for cam in cameras]

    def render_view(self, tracer: RayTracer, scene: SceneModel, cam: Camera, lighting: Lighting,
                    rng: np.random.Generator) -> RenderOutput:
        W, H = cam.width, cam.height
        origins, dirs = pixel_rays(cam.c2w, cam.K_norm, W, H)
        hit, t, prim, u, v = tracer.intersect(origins, dirs)
        forward = np.asarray(cam.c2w)[:3, 2]
        depth = np.where(hit, t * (dirs @ forward), 0.0).reshape(H, W).astype(np.float32)
        normals = np.zeros((H * W, 3))
        normals[hit] = tracer.facing_normals(prim[hit], u[hit], v[hit], -dirs[hit])[1]
        mask = hit.reshape(H, W)

        offsets = subsample_offsets(self.settings.supersample)
        if len(offsets) == 1:
            s_dirs, s_hit, s_t, s_prim, s_u, s_v = dirs, hit, t, prim, u, v
        else:
            s_dirs = np.concatenate([offset_rays(cam, off) for off in offsets])
            s_hit, s_t, s_prim, s_u, s_v = tracer.intersect(np.broadcast_to(origins[0], s_dirs.shape), s_dirs)
        colour = np.empty((len(s_dirs), 3))
        rows = np.tile(np.repeat(np.arange(H), W), len(offsets))
        colour[~s_hit] = background(lighting, rows[~s_hit], H)
        if s_hit.any():
            d = s_dirs[s_hit]
            points = origins[0] + s_t[s_hit, None] * d
            idx = np.flatnonzero(s_hit)
            cfg = self.settings
            ao_uv = stratified_samples(rng, H * W, len(offsets), cfg.ao_rays, idx)
            shadow_uv = stratified_samples(rng, H * W, len(offsets), cfg.shadow_rays, idx)
            colour[s_hit] = tonemap(shade(tracer, scene, points, s_prim[s_hit], s_u[s_hit], s_v[s_hit], d,
                                          lighting, cfg, rng, ao_uv, shadow_uv), lighting.exposure)
        rgb = colour.reshape(len(offsets), H, W, 3).mean(axis=0)
        rgb8 = np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)
        return RenderOutput(rgb=rgb8, depth=depth, normals=normals.reshape(H, W, 3).astype(np.float32), mask=mask)


def subsample_offsets(ss: int) -> np.ndarray:
    """Sub-pixel sample offsets: centre for 1, rotated grid for 2, regular ss x ss grid otherwise."""
    if ss == 1:
        return np.zeros((1, 2))
    if ss == 2:
        return _RGSS
    g = (np.arange(ss) + 0.5) / ss - 0.5
    gx, gy = np.meshgrid(g, g, indexing="xy")
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def offset_rays(cam: Camera, offset: np.ndarray) -> np.ndarray:
    """Unit world directions through every pixel centre shifted by ``offset`` pixels (row-major)."""
    K = pixel_intrinsics(cam.K_norm, cam.width, cam.height)
    j, i = np.meshgrid(np.arange(cam.height) + 0.5 + offset[1], np.arange(cam.width) + 0.5 + offset[0],
                       indexing="ij")
    d = np.stack([(i - K[0, 2]) / K[0, 0], (j - K[1, 2]) / K[1, 1], np.ones_like(i)], axis=-1).reshape(-1, 3)
    return _normalize(d @ np.asarray(cam.c2w)[:3, :3].T)


def stratified_samples(rng: np.random.Generator, n_pixels: int, n_sub: int, count: int,
                       sample_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel, ``n_sub * count`` 2D points in [0, 1)^2 forming a Latin hypercube; returns the
    ``count`` points of each shaded sample, whose flat index is ``subsample * n_pixels + pixel``.

    Point s of a pixel takes u-stratum (a s + b) mod T (a fixed stride coprime with T, b a
    random shift per pixel) and v-stratum s rotated by a random offset per pixel, each jittered
    within its stratum. Spreading a pixel's shadow/AO rays over strata instead of drawing them
    independently lowers the noise of the box-filtered pixel at no extra ray cost.
    """
    total = n_sub * count
    if count == 0:
        empty = np.zeros((len(sample_index), 0))
        return empty, empty
    shift = rng.integers(0, total, size=n_pixels)
    theta = rng.random(n_pixels)
    xi = rng.random((len(sample_index), count, 2))
    pixel, sub = sample_index % n_pixels, sample_index // n_pixels
    s = sub[:, None] * count + np.arange(count)
    u = (((_coprime_stride(total) * s + shift[pixel, None]) % total) + xi[..., 0]) / total
    v = (theta[pixel, None] + (s + xi[..., 1]) / total) % 1.0
    return u, v


def _coprime_stride(total: int) -> int:
    """A stride near total / golden ratio that is coprime with ``total`` (so s -> a s mod T is a bijection)."""
    import math

    a = max(1, round(total * 0.618))
    while math.gcd(a, total) != 1:
        a += 1
    return a


def background(lighting: Lighting, rows: np.ndarray, height: int) -> np.ndarray:
    """Display-space vertical gradient colour for image ``rows``."""
    a = (rows + 0.5)[:, None] / height
    return (1.0 - a) * np.asarray(lighting.background_top) + a * np.asarray(lighting.background_bottom)


def shade(tracer: RayTracer, scene: SceneModel, points: np.ndarray, prim: np.ndarray, u: np.ndarray,
          v: np.ndarray, dirs: np.ndarray, lighting: Lighting, settings, rng: np.random.Generator,
          ao_uv=None, shadow_uv=None) -> np.ndarray:
    """Linear RGB radiance toward the camera at surface hits (``*_uv``: stratified ray samples)."""
    view = -dirs
    ng, n = tracer.facing_normals(prim, u, v, view)
    mat = scene.material(points, n)
    albedo = np.clip(np.asarray(mat.albedo, dtype=np.float64), 0.0, 1.0)
    rough = np.clip(np.asarray(mat.roughness, dtype=np.float64), 0.02, 1.0)
    spec = np.clip(np.asarray(mat.specular, dtype=np.float64), 0.0, 1.0)
    lifted = points + _EPS * ng

    ao = ambient_occlusion(tracer, lifted, ng, settings.ao_rays, settings.ao_distance, rng, ao_uv)
    key_dir = np.asarray(lighting.key_direction)
    n_dot_key = n @ key_dir
    vis = soft_shadow(tracer, lifted, key_dir, lighting.key_angular_radius, settings.shadow_rays, rng,
                      active=(n_dot_key > -_WRAP) & (ng @ key_dir > -0.3), samples=shadow_uv)
    exponent = np.clip(2.0 / rough**4 - 2.0, 2.0, 4000.0)  # GGX alpha = roughness^2 -> Blinn exponent

    def light(direction, colour, visibility):
        diffuse = np.clip((n @ direction + _WRAP) / (1.0 + _WRAP), 0.0, None)
        half = _normalize(direction + view)
        n_dot_h = np.clip(np.sum(n * half, axis=1), 0.0, 1.0)
        blinn = (exponent + 8.0) / (8.0 * np.pi) * n_dot_h**exponent * np.clip(n @ direction, 0.0, None)
        v_dot_h = np.clip(np.sum(view * half, axis=1), 0.0, 1.0)
        fresnel = _F0 + (1.0 - _F0) * (1.0 - v_dot_h) ** 5  # Schlick
        radiance = albedo * diffuse[:, None] + (spec * _SPEC_SCALE * fresnel * blinn)[:, None]
        return radiance * (np.asarray(colour) * visibility[:, None])

    out = light(key_dir, lighting.key_color, vis)
    out += light(np.asarray(lighting.fill_direction), lighting.fill_color, 0.5 + 0.5 * ao)
    up = 0.5 + 0.5 * n[:, 1]
    env = up[:, None] * np.asarray(lighting.sky_color) + (1.0 - up)[:, None] * np.asarray(lighting.ground_color)
    n_dot_v = np.clip(np.sum(n * view, axis=1), 0.0, 1.0)
    fresnel = _F0 + (1.0 - _F0) * (1.0 - n_dot_v) ** 5
    out += (albedo * env + (spec * _SPEC_SCALE * fresnel)[:, None] * np.asarray(lighting.sky_color)) * ao[:, None]
    return out


def soft_shadow(tracer: RayTracer, origins: np.ndarray, direction: np.ndarray, radius: float, count: int,
                rng: np.random.Generator, active: np.ndarray, samples=None) -> np.ndarray:
    """Fraction of ``count`` rays toward a disk light of angular ``radius`` that escape (1 if count = 0).

    ``samples``: optional (u, v) arrays (N, count) in [0, 1) choosing the disk points; random otherwise.
    """
    vis = np.ones(len(origins))
    idx = np.flatnonzero(active)
    if count == 0 or len(idx) == 0:
        return vis
    t1, t2 = _basis(direction[None, :])
    su, sv = samples if samples is not None else (rng.random((len(origins), count)), rng.random((len(origins), count)))
    r = np.tan(radius) * np.sqrt(su[idx])
    phi = 2.0 * np.pi * sv[idx]
    d = direction + (r * np.cos(phi))[..., None] * t1[0] + (r * np.sin(phi))[..., None] * t2[0]
    blocked = tracer.occluded(np.repeat(origins[idx], count, axis=0), _normalize(d.reshape(-1, 3)))
    vis[idx] = 1.0 - blocked.reshape(len(idx), count).mean(axis=1)
    return vis


def ambient_occlusion(tracer: RayTracer, origins: np.ndarray, normals: np.ndarray, count: int, distance: float,
                      rng: np.random.Generator, samples=None) -> np.ndarray:
    """Unoccluded fraction of ``count`` cosine-weighted hemisphere rays of length ``distance``.

    ``samples``: optional (u, v) arrays (N, count) in [0, 1) choosing the directions; random otherwise.
    """
    if count == 0 or len(origins) == 0:
        return np.ones(len(origins))
    t1, t2 = _basis(normals)
    u1, v1 = samples if samples is not None else (rng.random((len(origins), count)), rng.random((len(origins), count)))
    phi = 2.0 * np.pi * v1
    s = np.sqrt(u1)
    d = ((s * np.cos(phi))[..., None] * t1[:, None] + (s * np.sin(phi))[..., None] * t2[:, None]
         + np.sqrt(1.0 - u1)[..., None] * normals[:, None])
    blocked = tracer.occluded(np.repeat(origins, count, axis=0), _normalize(d.reshape(-1, 3)), max_dist=distance)
    return 1.0 - blocked.reshape(len(origins), count).mean(axis=1)


def tonemap(radiance: np.ndarray, exposure: float) -> np.ndarray:
    """Linear radiance → display sRGB in [0, 1] (extended Reinhard, white point 2, then sRGB curve)."""
    c = np.clip(radiance * exposure, 0.0, None)
    c = np.clip(c * (1.0 + c / 4.0) / (1.0 + c), 0.0, 1.0)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * np.power(c, 1.0 / 2.4) - 0.055)


def _basis(n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit tangents orthogonal to each unit vector in ``n`` (N, 3)."""
    a = np.where((np.abs(n[:, 0]) < 0.9)[:, None], np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
    t1 = _normalize(np.cross(n, a))
    return t1, np.cross(n, t1)


def _normalize(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(norm > 0.0, norm, 1.0)
