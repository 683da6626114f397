"""PatchMatch multi-view stereo in PyTorch (ACMP/COLMAP-style), device-agnostic and vectorised.

Per reference view every pixel carries a plane hypothesis (z-depth + unit normal in the
reference camera frame). A hypothesis is scored against each source view by warping an
11x11 patch (sampled with stride 2) through the plane-induced homography and comparing it
with the reference patch by bilateral-weighted NCC; the per-view costs are aggregated by
averaging the best ``k`` of them (a simple multi-view selection robust to occlusion).

Each iteration updates the two colours of a checkerboard in turn ("red-black"): a pixel
tries the planes of neighbours of the other colour (at distances 1 and 5 along the four
axes, ACMP's near and far checkerboard samples), then random refinement (a fresh random
plane and perturbations of the current one with ranges that halve every iteration). After
all views have a photometric estimate, a geometric-consistency round repeats the search
with a forward-backward reprojection error against the source depth maps added to the cost.

Why our own code: ACMP and COLMAP's dense stereo are CUDA-only; this runs on a CPU (and on a
GPU through PyTorch when there is one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from geogen.common.cameras import Camera, world_to_camera
from geogen.common.config import Config


@dataclass
class PatchMatchConfig(Config):
    """Options of the dense stage (defaults follow ACMP: 11x11 patch, stride 2, sigma 5 / 3)."""

    patch_size: int = 11
    """Side of the matching patch in (strided) pixels."""
    patch_stride: int = 2
    """Pixel step between the patch samples."""
    sigma_spatial: float = 5.0
    """Spatial σ of the bilateral patch weights (pixels)."""
    sigma_color: float = 3.0
    """Colour σ of the bilateral patch weights (grey levels on a 0-255 scale)."""
    num_sources: int = 4
    """Source views per reference view."""
    best_k: int = 2
    """Cost = mean of the best k source costs."""
    iterations: int = 5
    """Photometric red-black iterations."""
    geom_iterations: int = 2
    """Iterations of the geometric-consistency round (0: skip the round)."""
    geom_weight: float = 0.2
    """Cost += geom_weight * min(reprojection error px, geom_max_error)."""
    geom_max_error: float = 3.0
    """Cap of the reprojection error in the geometric cost (pixels)."""
    max_cost: float = 0.5
    """Aggregated 1-NCC above this → pixel invalid in the output."""
    min_ref_std: float = 1.0
    """Patches flatter than this (grey levels) are texture-less → invalid."""
    far_offset: int = 5
    """Distance of the far checkerboard neighbours."""
    coarse_levels: int = 0
    """Coarse-to-fine: estimate at 1/2^k resolution first and start from the upsampled maps."""
    coarse_iterations: int = 3
    """Photometric iterations at each coarser level."""
    prior_iterations: int = 0
    """ACMP's planar prior: iterations with the prior after the photometric round (0: off)."""
    prior_weight: float = 0.1
    """Cost += prior_weight * (1 - exp(-(relative depth deviation / prior_sigma)^2 / 2))."""
    prior_sigma: float = 0.01
    """Relative depth deviation from the prior plane at which the penalty is 39 % of its weight."""
    prior_max_cost: float = 0.3
    """Pixels with a photometric cost below this are the prior's vertices."""
    prior_stride: int = 3
    """Confident pixels are taken on a grid with this step (pixels) before triangulating."""
    prior_max_edge: float = 12.0
    """Triangles with a longer image edge (pixels) give no prior."""
    seed: int = 0
    """Seed of the random initialisation and the random refinements."""


@dataclass
class ViewGeometry:
    """What PatchMatch needs about a view: grey image (0-255), pixel intrinsics, world→camera pose."""

    gray: torch.Tensor  # (H, W)
    K: torch.Tensor  # (3, 3)
    R: torch.Tensor  # (3, 3) world → camera
    t: torch.Tensor  # (3,)

    @staticmethod
    def from_camera(image: np.ndarray, camera: Camera, device) -> "ViewGeometry":
        rgb = np.asarray(image, dtype=np.float32)
        gray = 255.0 * (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2])
        R, t = world_to_camera(camera.c2w)
        f32 = dict(dtype=torch.float32, device=device)
        return ViewGeometry(torch.as_tensor(gray, **f32), torch.as_tensor(camera.K, **f32),
                            torch.as_tensor(R, **f32), torch.as_tensor(t, **f32))


@dataclass
class DepthNormal:
    """Result for one view: z-depth (0 = invalid), camera-frame normals, aggregated cost."""

    depth: np.ndarray  # (H, W) float32
    normal: np.ndarray  # (H, W, 3) float32, reference-camera frame, facing the camera
    cost: np.ndarray  # (H, W) float32, 2 where invalid


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class PatchMatchView:
    """PatchMatch state and search for one reference view against its source views."""

    def __init__(self, ref: ViewGeometry, sources: list[ViewGeometry], valid: torch.Tensor,
                 depth_min: torch.Tensor, depth_max: torch.Tensor, cfg: PatchMatchConfig, seed: int):
        self.cfg = cfg
        self.device = ref.gray.device
        self.H, self.W = ref.gray.shape
        self.gen = torch.Generator(device=self.device).manual_seed(int(seed))
        f32 = dict(dtype=torch.float32, device=self.device)
        # Relative poses: X_src = R_rel X_ref + t_rel.
        self.R_rel = torch.stack([s.R @ ref.R.T for s in sources])  # (S, 3, 3)
        self.t_rel = torch.stack([s.t - s.R @ ref.R.T @ ref.t for s in sources])  # (S, 3)
        self.K_src = torch.stack([s.K for s in sources])
        self.K_ref_inv = torch.linalg.inv(ref.K)
        self.src_gray = torch.stack([s.gray for s in sources])[:, None]  # (S, 1, H, W)
        self.S = len(sources)

        ys, xs = torch.meshgrid(torch.arange(self.H, device=self.device), torch.arange(self.W, device=self.device),
                                indexing="ij")
        self.xs, self.ys = xs.reshape(-1), ys.reshape(-1)
        pix = torch.stack([self.xs + 0.5, self.ys + 0.5, torch.ones_like(self.xs, dtype=torch.float32)], -1).float()
        self.rays = pix @ self.K_ref_inv.T  # (HW, 3), z = 1: X = depth * ray
        half = cfg.patch_size // 2
        offs = torch.arange(-half, half + 1, cfg.patch_stride, **f32)
        oy, ox = torch.meshgrid(offs, offs, indexing="ij")
        self.offsets = torch.stack([ox.reshape(-1), oy.reshape(-1)], -1)  # (P, 2) in pixels
        self.offsets_h = torch.cat([torch.ones_like(self.offsets[:, :1]), self.offsets], -1)  # (P, 3): 1, ox, oy
        self.grid_scale = torch.tensor([2.0 / self.W, 2.0 / self.H], **f32)

        # Reference patches and bilateral weights never change: precompute them once.
        gray = ref.gray.reshape(-1)
        px = (self.xs[:, None] + self.offsets[None, :, 0].long()).clamp(0, self.W - 1)
        py = (self.ys[:, None] + self.offsets[None, :, 1].long()).clamp(0, self.H - 1)
        ref_patch = gray[py * self.W + px]  # (HW, P)
        centre = gray[:, None]
        spatial = torch.linalg.norm(self.offsets, dim=-1)[None]
        # ACMP's weight: exp(-|dx| / (2 sigma_s^2) - |dI| / (2 sigma_c^2)) (distances not squared).
        w = torch.exp(-spatial / (2 * cfg.sigma_spatial**2) - (ref_patch - centre).abs() / (2 * cfg.sigma_color**2))
        self.weights = w / w.sum(-1, keepdim=True)
        self.ref_mean = (self.weights * ref_patch).sum(-1)
        self.ref_centred = ref_patch - self.ref_mean[:, None]
        self.ref_var = (self.weights * self.ref_centred**2).sum(-1)
        self.weights_t = self.weights.T.contiguous()  # (P, HW): cost evaluation reduces over patch rows
        self.w_ref_centred_t = (self.weights * self.ref_centred).T.contiguous()
        ref_std = torch.sqrt(self.ref_var.clamp_min(0))

        self.valid = valid.reshape(-1) & (ref_std >= cfg.min_ref_std)
        self.dmin, self.dmax = depth_min.reshape(-1).to(**f32), depth_max.reshape(-1).to(**f32)
        self.depth = torch.zeros(self.H * self.W, **f32)
        self.normal = torch.zeros(self.H * self.W, 3, **f32)
        self.cost = torch.full((self.H * self.W,), 2.0, **f32)
        self.src_depths: torch.Tensor | None = None  # (S, 1, H, W) for the geometric round
        self.prior_depth: torch.Tensor | None = None  # (HW,) planar-prior depth, 0 where there is none
        self.prior_normal: torch.Tensor | None = None  # (HW, 3)
        self.K_src_inv = torch.linalg.inv(self.K_src)
        self.K_ref = ref.K

    # ----------------------------------------------------------------------------------- cost
    def photometric_costs(self, idx: torch.Tensor, depth: torch.Tensor, normal: torch.Tensor) -> torch.Tensor:
        """1 - NCC per source view, shape (S, N); 2 where the warp leaves the image or is degenerate."""
        rays = self.rays[idx]
        X = depth[:, None] * rays  # (N, 3)
        plane_d = (normal * X).sum(-1)  # n . X for points X on the plane
        plane_d = torch.where(plane_d.abs() < 1e-8, torch.full_like(plane_d, -1e-8), plane_d)
        # Plane-induced homography H = K_s (R + t n^T / (n.X)) K_ref^-1, per source and pixel.
        A = self.R_rel[:, None] + self.t_rel[:, None, :, None] * (normal / plane_d[:, None])[None, :, None, :]
        Hm = self.K_src[:, None] @ A @ self.K_ref_inv  # (S, N, 3, 3)
        # Patch samples q = (u + ox, v + oy, 1) mapped by the homography:
        # H q = H p + ox H[:, 0] + oy H[:, 1], one (P, 3) x (3, N*3) matrix product per source
        # (much faster on a CPU than batched 3x3 products or broadcasting).
        u = self.xs[idx].float() + 0.5
        v = self.ys[idx].float() + 0.5
        N, P = len(idx), len(self.offsets)
        centre = Hm[..., 0] * u[:, None] + Hm[..., 1] * v[:, None] + Hm[..., 2]  # (S, N, 3) = H p
        samples = []
        for s in range(self.S):
            coeffs = torch.stack([centre[s], Hm[s, :, :, 0], Hm[s, :, :, 1]], 0).reshape(3, -1)
            q = (self.offsets_h @ coeffs).reshape(P, N, 3)
            grid = q[..., :2] / q[..., 2:3].clamp_min(1e-6) * self.grid_scale - 1.0  # align_corners=False
            samples.append(F.grid_sample(self.src_gray[s:s + 1], grid[None], mode="bilinear",
                                         padding_mode="zeros", align_corners=False)[0, 0])
        src = torch.stack(samples)  # (S, P, N)
        # Weighted NCC; the reference side is precomputed and sum_w (ref - mean) = 0, so
        # cov = sum_w ref_centred * src needs no centring of the source patch.
        w = self.weights_t[:, idx]
        src_mean = (src * w).sum(1)
        src_var = (src * src * w).sum(1) - src_mean**2
        cov = (src * self.w_ref_centred_t[:, idx]).sum(1)
        ncc = cov / torch.sqrt((self.ref_var[idx][None] * src_var).clamp_min(1e-10))
        cost = (1.0 - ncc).clamp(0.0, 2.0)
        # Invalid where the patch centre leaves the source image or the source patch is flat (padding).
        cz = centre[..., 2].clamp_min(1e-6)
        cx, cy = centre[..., 0] / cz, centre[..., 1] / cz
        outside = (cx < 0) | (cx > self.W) | (cy < 0) | (cy > self.H) | (centre[..., 2] <= 1e-6) | (src_var < 1e-2)
        return torch.where(outside, torch.full_like(cost, 2.0), cost)

    def geometric_errors(self, idx: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        """Forward-backward reprojection error (pixels) against each source depth map, (S, N)."""
        X = depth[:, None] * self.rays[idx]
        Xs = torch.einsum("sij,nj->sni", self.R_rel, X) + self.t_rel[:, None]
        ps = torch.einsum("sij,snj->sni", self.K_src, Xs)
        zs = ps[..., 2].clamp_min(1e-6)
        us, vs = ps[..., 0] / zs, ps[..., 1] / zs
        grid = torch.stack([2 * us / self.W - 1, 2 * vs / self.H - 1], -1)[:, :, None]  # (S, N, 1, 2)
        d_src = F.grid_sample(self.src_depths, grid, mode="nearest", padding_mode="zeros", align_corners=False)[:, 0, :, 0]
        # Back-project the source depth at that pixel and bring it back to the reference image.
        rays_s = torch.einsum("sij,snj->sni", self.K_src_inv, torch.stack([us, vs, torch.ones_like(us)], -1))
        Xs_back = d_src[..., None] * rays_s
        X_back = torch.einsum("sji,snj->sni", self.R_rel, Xs_back - self.t_rel[:, None])  # R^T (X - t)
        pb = X_back @ self.K_ref.T
        zb = pb[..., 2].clamp_min(1e-6)
        u0 = self.xs[idx].float() + 0.5
        v0 = self.ys[idx].float() + 0.5
        err = torch.sqrt((pb[..., 0] / zb - u0) ** 2 + (pb[..., 1] / zb - v0) ** 2)
        return torch.where(d_src > 0, err, torch.full_like(err, self.cfg.geom_max_error))

    def total_cost(self, idx: torch.Tensor, depth: torch.Tensor, normal: torch.Tensor) -> torch.Tensor:
        """Aggregated cost (N,): mean of the best-k per-view costs (+ geometric term when enabled)."""
        per_view = self.photometric_costs(idx, depth, normal)
        if self.src_depths is not None:
            geo = self.geometric_errors(idx, depth).clamp(max=self.cfg.geom_max_error)
            per_view = per_view + self.cfg.geom_weight * geo
        k = min(self.cfg.best_k, self.S)
        best = torch.topk(per_view, k, dim=0, largest=False).values
        cost = best.mean(0)
        if self.prior_depth is not None:
            dp = self.prior_depth[idx]
            rel = (depth - dp) / dp.clamp_min(1e-6)
            penalty = 1.0 - torch.exp(-0.5 * (rel / self.cfg.prior_sigma) ** 2)
            cost = cost + torch.where(dp > 0, self.cfg.prior_weight * penalty, torch.zeros_like(cost))
        return cost

    # --------------------------------------------------------------------------- hypotheses
    def _rand(self, *shape) -> torch.Tensor:
        return torch.rand(*shape, generator=self.gen, device=self.device)

    def _face_camera(self, idx: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        n = n / n.norm(dim=-1, keepdim=True).clamp_min(1e-8)
        flip = (n * self.rays[idx]).sum(-1) > 0
        return torch.where(flip[:, None], -n, n)

    def random_normals(self, idx: torch.Tensor) -> torch.Tensor:
        g = torch.randn(len(idx), 3, generator=self.gen, device=self.device)
        return self._face_camera(idx, g)

    def random_depths(self, idx: torch.Tensor) -> torch.Tensor:
        return self.dmin[idx] + self._rand(len(idx)) * (self.dmax[idx] - self.dmin[idx])

    def initialise(self, depth: torch.Tensor | None = None, normal: torch.Tensor | None = None) -> None:
        """Random planes (or given maps, e.g. from the photometric round), then their costs."""
        idx = self.valid.nonzero()[:, 0]
        if depth is None:
            self.depth[idx] = self.random_depths(idx)
            self.normal[idx] = self.random_normals(idx)
        else:
            d, n = depth.reshape(-1)[idx], normal.reshape(-1, 3)[idx]
            bad = (d <= 0) | (n.norm(dim=-1) < 0.5) | (d < self.dmin[idx]) | (d > self.dmax[idx])
            self.depth[idx] = torch.where(bad, self.random_depths(idx), d)
            self.normal[idx] = torch.where(bad[:, None], self.random_normals(idx), n)
        for chunk in self._chunks(idx):
            self.cost[chunk] = self.total_cost(chunk, self.depth[chunk], self.normal[chunk])

    def _chunks(self, idx: torch.Tensor, size: int = 16384):
        return [idx[i:i + size] for i in range(0, len(idx), size)]

    def _try(self, idx: torch.Tensor, depth: torch.Tensor, normal: torch.Tensor, ok: torch.Tensor) -> None:
        """Evaluate candidate planes and keep each one that lowers its pixel's cost."""
        if not bool(ok.all()):
            idx, depth, normal = idx[ok], depth[ok], normal[ok]
        if len(idx) == 0:
            return
        cost = self.total_cost(idx, depth, normal)
        better = cost < self.cost[idx]
        sel = idx[better]
        self.depth[sel], self.normal[sel], self.cost[sel] = depth[better], normal[better], cost[better]

    def propagate_and_refine(self, idx: torch.Tensor, scale: float) -> None:
        """One colour's update: neighbour planes (other colour), then random refinement."""
        x, y = self.xs[idx], self.ys[idx]
        r = self.cfg.far_offset
        for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1), (r, 0), (-r, 0), (0, r), (0, -r)):
            nx, ny = x + dx, y + dy
            inside = (nx >= 0) & (nx < self.W) & (ny >= 0) & (ny < self.H)
            nb = ny.clamp(0, self.H - 1) * self.W + nx.clamp(0, self.W - 1)
            ok = inside & self.valid[nb] & (self.cost[nb] < 2.0)
            # The neighbour's plane n.X = n.X_nb, intersected with this pixel's ray.
            n = self.normal[nb]
            X_nb = self.depth[nb, None] * self.rays[nb]
            denom = (n * self.rays[idx]).sum(-1)
            d = (n * X_nb).sum(-1) / torch.where(denom.abs() < 1e-6, torch.full_like(denom, 1e-6), denom)
            ok = ok & (d >= self.dmin[idx]) & (d <= self.dmax[idx])
            self._try(idx, d, n, ok)
        all_ok = torch.ones(len(idx), dtype=torch.bool, device=self.device)
        if self.prior_depth is not None:  # the prior plane itself is a candidate
            dp = self.prior_depth[idx]
            self._try(idx, dp, self.prior_normal[idx], (dp >= self.dmin[idx]) & (dp <= self.dmax[idx]))
        # Random refinement: a fresh plane, then the current one perturbed in depth and normal.
        self._try(idx, self.random_depths(idx), self.random_normals(idx), all_ok)
        span = (self.dmax[idx] - self.dmin[idx]) * scale
        d_pert = (self.depth[idx] + (self._rand(len(idx)) - 0.5) * span).clamp(self.dmin[idx], self.dmax[idx])
        n_pert = self._face_camera(idx, self.normal[idx] + scale * (self._rand(len(idx), 3) - 0.5) * 2)
        self._try(idx, d_pert, n_pert, all_ok)
        self._try(idx, self.depth[idx], n_pert, all_ok)

    def run(self, iterations: int) -> None:
        parity = (self.xs + self.ys) % 2
        red = (self.valid & (parity == 0)).nonzero()[:, 0]
        black = (self.valid & (parity == 1)).nonzero()[:, 0]
        for it in range(iterations):
            scale = 0.5 ** (it + 1)
            for colour in (red, black):
                for chunk in self._chunks(colour):
                    self.propagate_and_refine(chunk, scale)

    def result(self) -> DepthNormal:
        good = self.valid & (self.cost <= self.cfg.max_cost) & (self.depth > 0)
        depth = torch.where(good, self.depth, torch.zeros_like(self.depth))
        normal = torch.where(good[:, None], self.normal, torch.zeros_like(self.normal))
        cost = torch.where(good, self.cost, torch.full_like(self.cost, 2.0))
        H, W = self.H, self.W
        return DepthNormal(depth.reshape(H, W).cpu().numpy(), normal.reshape(H, W, 3).cpu().numpy(),
                           cost.reshape(H, W).cpu().numpy())


def ray_box_depth_range(camera: Camera, bounds, margin: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel z-depth interval where each pixel's ray is inside the box (empty: min > max)."""
    lo, hi = np.asarray(bounds[0], float) - margin, np.asarray(bounds[1], float) + margin
    w, h = camera.width, camera.height
    ys, xs = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")
    rays_cam = np.stack([xs, ys, np.ones_like(xs)], -1).reshape(-1, 3) @ np.linalg.inv(camera.K).T  # z = 1
    d = rays_cam @ camera.c2w[:3, :3].T  # world direction per unit z-depth
    o = camera.c2w[:3, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (lo - o) / d, (hi - o) / d
    tmin = np.nanmax(np.minimum(t1, t2), axis=1)
    tmax = np.nanmin(np.maximum(t1, t2), axis=1)
    tmin = np.maximum(tmin, 1e-3)
    return tmin.reshape(h, w), tmax.reshape(h, w)


def half_resolution(views, depth_ranges, valid_masks):
    """Views, per-pixel depth ranges and masks at half the resolution (2x2 areas; odd edges dropped).

    Depth ranges take the 2x2 block's widest span, masks its union, so the coarse search never
    excludes what the fine one allows. Normalised intrinsics do not change with resolution."""
    out_views, out_ranges, out_masks = [], [], []
    for k, (img, cam) in enumerate(views):
        h, w = (cam.height // 2) * 2, (cam.width // 2) * 2
        blocks = np.asarray(img, np.float32)[:h, :w].reshape(h // 2, 2, w // 2, 2, -1)
        out_views.append((blocks.mean((1, 3)), Camera(cam.c2w, cam.K_norm, w // 2, h // 2)))
        dmin, dmax = (np.asarray(r)[:h, :w].reshape(h // 2, 2, w // 2, 2) for r in depth_ranges[k])
        usable = dmax > dmin
        lo = np.where(usable, dmin, np.inf).min((1, 3))
        hi = np.where(usable, dmax, -np.inf).max((1, 3))
        empty = ~usable.any((1, 3))
        out_ranges.append((np.where(empty, 1.0, lo).astype(np.float32), np.where(empty, 0.0, hi).astype(np.float32)))
        mask = None if valid_masks is None else valid_masks[k]
        out_masks.append(None if mask is None else np.asarray(mask, bool)[:h, :w].reshape(h // 2, 2, w // 2, 2).any((1, 3)))
    return out_views, out_ranges, out_masks


def upsample_maps(dn: DepthNormal, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-neighbour ×2 upsampling of a coarse depth/normal map to (height, width) (edges repeated)."""
    rows = np.minimum(np.arange(height) // 2, dn.depth.shape[0] - 1)
    cols = np.minimum(np.arange(width) // 2, dn.depth.shape[1] - 1)
    return dn.depth[rows][:, cols], dn.normal[rows][:, cols]


def planar_prior(dn: DepthNormal, camera: Camera, cfg: PatchMatchConfig) -> tuple[np.ndarray, np.ndarray]:
    """ACMP's planar prior: confident pixels (cost < ``prior_max_cost``, on a grid of step
    ``prior_stride``) triangulated in the image (Delaunay); each pixel inside a triangle whose
    image edges are shorter than ``prior_max_edge`` gets the plane through the triangle's three
    3D points: its depth along the pixel's ray and its normal (camera frame, facing the camera).
    Returns (depth (H, W), 0 = no prior; normal (H, W, 3))."""
    from scipy.spatial import Delaunay

    h, w = dn.depth.shape
    prior_d, prior_n = np.zeros((h, w), np.float32), np.zeros((h, w, 3), np.float32)
    step = max(1, int(cfg.prior_stride))
    grid = np.zeros((h, w), bool)
    grid[::step, ::step] = True
    ys, xs = np.nonzero(grid & (dn.depth > 0) & (dn.cost < cfg.prior_max_cost))
    if len(ys) < 3:
        return prior_d, prior_n
    Kinv = np.linalg.inv(camera.K)
    uv = np.stack([xs + 0.5, ys + 0.5], 1)
    try:
        tri = Delaunay(uv)
    except Exception:  # all points on a line (scipy's QhullError): no prior
        return prior_d, prior_n
    X = (np.concatenate([uv, np.ones((len(uv), 1))], 1) @ Kinv.T) * dn.depth[ys, xs][:, None]
    simp = tri.simplices
    edges = np.stack([np.linalg.norm(uv[simp[:, a]] - uv[simp[:, b]], axis=1) for a, b in ((0, 1), (1, 2), (2, 0))], 1)
    n = np.cross(X[simp[:, 1]] - X[simp[:, 0]], X[simp[:, 2]] - X[simp[:, 0]])
    n /= np.linalg.norm(n, axis=1, keepdims=True).clip(1e-12)
    n = np.where((np.sum(n * X[simp[:, 0]], axis=1) > 0)[:, None], -n, n)  # face the camera (n . X < 0)
    offset = np.sum(n * X[simp[:, 0]], axis=1)
    usable = edges.max(1) <= cfg.prior_max_edge
    py, px = np.mgrid[0:h, 0:w]
    pix = np.stack([px.ravel() + 0.5, py.ravel() + 0.5], 1)
    which = tri.find_simplex(pix)
    inside = which >= 0
    inside[inside] = usable[which[inside]]
    t = which[inside]
    rays = np.concatenate([pix[inside], np.ones((int(inside.sum()), 1))], 1) @ Kinv.T
    denom = np.sum(n[t] * rays, axis=1)
    depth = np.where(np.abs(denom) > 1e-9, offset[t] / np.where(np.abs(denom) > 1e-9, denom, 1.0), 0.0)
    depth = np.where(depth > 0, depth, 0.0)
    flat_d, flat_n = prior_d.reshape(-1), prior_n.reshape(-1, 3)
    flat_d[inside], flat_n[inside] = depth, n[t]
    return prior_d, prior_n


def estimate_depth_maps(views, pairs: list[list[int]], depth_ranges, cfg: PatchMatchConfig,
                        valid_masks=None, device=None, log=None) -> list[DepthNormal]:
    """Photometric PatchMatch for every view (from coarse to fine when ``coarse_levels`` > 0), the
    planar-prior round (``prior_iterations``), then the geometric-consistency round.

    ``views``: list of (image (H,W,3) in [0,1], Camera); ``pairs[i]``: source-view indices of view i;
    ``depth_ranges[i]``: per-pixel (min, max) z-depth arrays; ``valid_masks[i]``: pixels to estimate.
    """
    device = torch.device(device) if device is not None else default_device()
    geoms = [ViewGeometry.from_camera(img, cam, device) for img, cam in views]
    results: list[DepthNormal] = []
    tensor = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32, device=device)  # noqa: E731

    def make(i: int) -> PatchMatchView:
        dmin, dmax = tensor(depth_ranges[i][0]), tensor(depth_ranges[i][1])
        valid = dmax > dmin
        if valid_masks is not None and valid_masks[i] is not None:
            valid = valid & torch.as_tensor(np.array(valid_masks[i], dtype=bool), device=device)
        return PatchMatchView(geoms[i], [geoms[j] for j in pairs[i]], valid, dmin, dmax, cfg, seed=cfg.seed * 1000 + i)

    coarse = None
    h, w = views[0][1].height, views[0][1].width
    if cfg.coarse_levels > 0 and min(h, w) >= 32:
        small = half_resolution(views, depth_ranges, valid_masks)
        coarse_cfg = replace(cfg, coarse_levels=cfg.coarse_levels - 1, iterations=cfg.coarse_iterations,
                             prior_iterations=0, geom_iterations=0)
        coarse = estimate_depth_maps(small[0], pairs, small[1], coarse_cfg, small[2], device=device)
    for i in range(len(views)):
        pm = make(i)
        if coarse is None:
            pm.initialise()
        else:
            d0, n0 = upsample_maps(coarse[i], views[i][1].height, views[i][1].width)
            pm.initialise(tensor(d0), tensor(n0))
        pm.run(cfg.iterations)
        results.append(pm.result())
        if log:
            log(f"view {i}: photometric, {int((results[-1].depth > 0).sum())} valid pixels")
    if cfg.prior_iterations > 0:
        previous, results = results, []
        for i in range(len(views)):
            pm = make(i)
            prior_d, prior_n = planar_prior(previous[i], views[i][1], cfg)
            pm.prior_depth, pm.prior_normal = tensor(prior_d).reshape(-1), tensor(prior_n).reshape(-1, 3)
            pm.initialise(tensor(previous[i].depth), tensor(previous[i].normal))
            pm.run(cfg.prior_iterations)
            results.append(pm.result())
    if cfg.geom_iterations > 0 and len(views) > 1:
        previous = results
        results = []
        for i in range(len(views)):
            pm = make(i)
            pm.src_depths = torch.stack([tensor(previous[j].depth) for j in pairs[i]])[:, None]
            pm.initialise(tensor(previous[i].depth), tensor(previous[i].normal))
            pm.run(cfg.geom_iterations)
            results.append(pm.result())
            if log:
                log(f"view {i}: geometric, {int((results[-1].depth > 0).sum())} valid pixels")
    return results


def normal_to_world(normal_cam: np.ndarray, camera: Camera) -> np.ndarray:
    """Camera-frame normal map (H,W,3) → world frame."""
    return normal_cam @ np.asarray(camera.c2w)[:3, :3].T


def angle_between_views(a: Camera, b: Camera) -> float:
    """Angle in degrees between two cameras' optical axes."""
    za, zb = np.asarray(a.c2w)[:3, 2], np.asarray(b.c2w)[:3, 2]
    return math.degrees(math.acos(float(np.clip(za @ zb, -1, 1))))
