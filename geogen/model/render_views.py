"""Rendering a trained generator: the latent of a seed, cameras around the head, views of one
latent, and turning the results into pictures.

Used by ``geogen-gen`` (contact sheets, depth maps, turntable GIFs), the benchmark (samples for
the image and shape metrics) and the training-time sample grids (TensorBoard,
``samples-<kimg>.png``); it needs the model only, not the training package.
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from geogen.common.cameras import DEFAULT_FOCAL, DEFAULT_RADIUS, normalized_intrinsics, spherical_cam2world, to_label

DEFAULT_CAMERA = {"radius": DEFAULT_RADIUS, "elevation": 0.0, "focal": DEFAULT_FOCAL}


def model_camera(meta: dict) -> dict:
    """The camera a model file's ``meta["camera"]`` describes (radius, elevation, focal: the training
    data's medians, written by the trainer), completed from ``DEFAULT_CAMERA``; a one-line warning
    names what was filled in, since renders and poses then follow the default, not the data."""
    given = meta.get("camera") or {}
    missing = [k for k in DEFAULT_CAMERA if k not in given]
    if missing:
        print(f"warning: the model file's camera lacks {', '.join(missing)}; using the default "
              + ", ".join(f"{k} {DEFAULT_CAMERA[k]:g}" for k in missing), file=sys.stderr)
    return {**DEFAULT_CAMERA, **given}


def latent_for_seed(seed: int, z_dim: int) -> torch.Tensor:
    """(1, z_dim) latent of seed ``seed``: ``torch.randn`` from a generator seeded with it (as geogen-gen)."""
    return torch.randn(1, z_dim, generator=torch.Generator().manual_seed(int(seed)))


def orbit_labels(n: int, camera: dict | None = None, start_deg: float = 0.0) -> torch.Tensor:
    """(n, 25) labels of cameras evenly spaced in azimuth (0° = in front of the face), at the
    training data's median radius, elevation and focal length (``camera`` from the model file)."""
    cam = {**DEFAULT_CAMERA, **(camera or {})}
    K = normalized_intrinsics(cam["focal"])
    labels = [to_label(spherical_cam2world(start_deg + 360.0 * i / n, cam["elevation"], cam["radius"]), K)
              for i in range(n)]
    return torch.tensor(labels, dtype=torch.float32)


def front_label(camera: dict | None = None) -> torch.Tensor:
    """(1, 25) label of the frontal camera: the conditioning pose used when sampling (as EG3D does)."""
    return orbit_labels(1, camera)


@torch.no_grad()
def render_views(G, ws: torch.Tensor, labels: torch.Tensor, chunk: int = 4) -> dict:
    """Render one latent ``ws`` (1, num_ws, w_dim) from every label: "image" (V,3,H,W), "depth" and
    "weights_sum" (V,1,h,w). Deterministic (constant noise, no ray jitter)."""
    out = {"image": [], "depth": [], "weights_sum": []}
    for lab in labels.split(chunk):
        res = G.synthesis(ws.expand(lab.shape[0], -1, -1), lab, noise_mode="const", randomize=False)
        out["image"].append(res["image"])
        out["depth"].append(res["image_depth"])
        out["weights_sum"].append(res["weights_sum"])
    return {k: torch.cat(v) for k, v in out.items()}


def image_to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N,3,H,W) in [-1,1] → (N,H,W,3) uint8."""
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def depth_to_uint8(depth: torch.Tensor, weights: torch.Tensor, near: float, far: float,
                   min_weight: float = 0.5) -> np.ndarray:
    """(N,1,h,w) ray depth → (N,h,w,3) uint8 grey, near = bright, far and empty rays = black."""
    d = depth.detach().float().cpu()[:, 0]
    v = ((far - d) / max(far - near, 1e-6)).clamp(0, 1)
    v = torch.where(weights.detach().float().cpu()[:, 0] >= min_weight, 0.15 + 0.85 * v, torch.zeros_like(v))
    g = (v * 255).round().to(torch.uint8).numpy()
    return np.repeat(g[..., None], 3, axis=-1)


def upscale_to(images: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour upscale (N,h,w,C) uint8 to (N,size,size,C) so depth sits beside images."""
    h = images.shape[1]
    if h == size:
        return images
    idx = (np.arange(size) * h // size)
    return images[:, idx][:, :, idx]


def grid(images: np.ndarray, ncol: int) -> np.ndarray:
    """Tile (N,H,W,C) uint8 into rows of ``ncol`` (empty cells black)."""
    n, H, W, C = images.shape
    nrow = -(-n // ncol)
    out = np.zeros((nrow * H, ncol * W, C), dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, ncol)
        out[r * H:(r + 1) * H, c * W:(c + 1) * W] = images[i]
    return out
