"""Single-scene fit: free tri-planes + the GeoGen field/renderer fitted to multi-view images of ONE scene.

Not a GAN: an acceptance check that renderer, SDF, Laplace density and mesh extraction agree.
The planes are free parameters (no StyleGAN backbone); the decoder, positional encoding,
Laplace density, ray sampling and compositing are the model's own code. Loss: L1 on RGB +
binary cross-entropy between the weight sum and the foreground mask + an optional eikonal term.
The backdrop is a learned colour per image row (the dataset's backdrop is a vertical gradient).
The fitted mesh is scored with the benchmark's own Chamfer (:mod:`benchmark.metrics`).

It reads a dataset identity and scores with the benchmark, so it lives here, not in the model
package; ``perf/bench_fit.py`` runs the acceptance version, ``tests/test_model_fit.py`` a
short one.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from geogen.common.cameras import from_label, normalized_intrinsics, pixel_rays, spherical_cam2world, to_label
from geogen.common.errors import UserError
from geogen.model.config import ModelConfig, model_config
from geogen.model.field import TriplaneField
from geogen.model.mesh import marching_cubes, sample_grid
from geogen.model.renderer import RaySampling, render_rays
from dataset import format as layout

from .metrics import score_pair
from .protocol import Protocol


@dataclass
class MultiView:
    """Posed images of one scene: images (V,H,W,3) in [0,1], masks (V,H,W) in {0,1}, labels (V,25), GT mesh."""

    images: np.ndarray
    masks: np.ndarray
    labels: np.ndarray
    gt_vertices: np.ndarray
    gt_faces: np.ndarray


@dataclass
class FitConfig:
    steps: int = 2000
    time_budget_s: float = 540.0          # stop early when this wall time is spent (mesh extraction excluded)
    rays_per_step: int = 1024
    plane_resolution: int = 128
    plane_channels: int = 16
    decoder_hidden: int = 64
    pe_levels: int = 4
    samples_coarse: int = 16
    samples_fine: int = 16
    coarse_grad: bool = False             # no gradient through the coarse samples: ~20% cheaper steps, same quality
    beta_init: float = 0.03
    lr: float = 0.01
    lr_final_factor: float = 0.1          # cosine decay to lr * this
    mask_weight: float = 0.1
    eikonal_weight: float = 0.02
    eikonal_points: int = 2048
    mesh_resolution: int = 128
    eval_points: int = 50_000
    seed: int = 0


# --- data ----------------------------------------------------------------------------------------

def load_identity(dataset_dir: str | Path, identity: str | int) -> MultiView:
    """Read one identity of a dataset folder (images, masks, cameras from transforms.json, GT mesh)."""
    from PIL import Image

    from geogen.common.meshio import load_mesh

    root = Path(dataset_dir)
    ident = f"{int(identity):06d}" if str(identity).isdigit() else str(identity)
    tf_path = root / layout.transforms(ident)
    if not tf_path.exists():
        raise UserError(f"{tf_path} not found: is {root} a geogen dataset folder with identity {ident}?")
    images, masks, labels = [], [], []
    for view in layout.read_views(root, ident, masks=True):
        images.append(np.asarray(Image.open(view.image_path).convert("RGB"), np.float32) / 255)
        masks.append(np.asarray(Image.open(view.mask_path).convert("L")) > 127)
        labels.append(view.camera.label())
    mesh = load_mesh(root / layout.gt_mesh(ident))
    return MultiView(np.stack(images), np.stack(masks).astype(np.float32), np.asarray(labels, np.float32),
                     np.asarray(mesh.vertices), np.asarray(mesh.faces))


def render_mesh_views(vertices: np.ndarray, faces: np.ndarray, n_views: int = 12, resolution: int = 64,
                      focal: float = 3.2, seed: int = 0) -> MultiView:
    """Lambert-shaded renders of a mesh from cameras around it (for analytic test shapes).

    Albedo varies with position so views carry texture; the light is fixed in the world, so
    appearance is view-independent like the field's colours. Background: white.
    """
    import trimesh

    mesh = trimesh.Trimesh(vertices, faces, process=False)
    rng = np.random.default_rng(seed)
    light = np.array([0.4, 0.8, 0.45]) / np.linalg.norm([0.4, 0.8, 0.45])
    K = normalized_intrinsics(focal)
    images, masks, labels = [], [], []
    for k in range(n_views):
        az = 360.0 * k / n_views + rng.uniform(-5, 5)
        el = rng.uniform(-10, 25)
        c2w = spherical_cam2world(az, el)
        o, d = pixel_rays(c2w, K, resolution, resolution)
        img = np.ones((resolution * resolution, 3))
        loc, ray_idx, tri_idx = mesh.ray.intersects_location(o, d, multiple_hits=False)
        n = mesh.face_normals[tri_idx]
        albedo = 0.55 + 0.4 * np.sin(np.pi * 4 * loc[:, [0, 1, 2]] + np.array([0.0, 2.0, 4.0]))
        img[ray_idx] = albedo * (0.35 + 0.65 * np.clip(n @ light, 0, 1))[:, None]
        mask = np.zeros(resolution * resolution)
        mask[ray_idx] = 1
        images.append(img.reshape(resolution, resolution, 3))
        masks.append(mask.reshape(resolution, resolution))
        labels.append(to_label(c2w, K))
    return MultiView(np.stack(images).astype(np.float32), np.stack(masks).astype(np.float32),
                     np.asarray(labels, np.float32), np.asarray(vertices), np.asarray(faces))


# --- metric --------------------------------------------------------------------------------------

def chamfer_l1(v_pred, f_pred, v_gt, f_gt, n_points: int = 50_000, seed: int = 0) -> float:
    """The benchmark's ``chamfer_l1`` (:mod:`benchmark.metrics`, docs/benchmark.md): both meshes
    normalised by the GT bounding box (diagonal = 1), the prediction clipped to that box grown by
    the protocol's margin, ``n_points`` seeded area-uniform samples on each surface,
    ½(mean d(p, G) + mean d(g, P)). ``inf`` when the prediction has no surface in the box."""
    import trimesh

    if len(f_pred) == 0:
        return float("inf")
    protocol = Protocol(n_points=n_points, emd_points=min(Protocol.emd_points, n_points), seed=seed)
    try:
        return score_pair(trimesh.Trimesh(v_pred, f_pred, process=False), trimesh.Trimesh(v_gt, f_gt, process=False),
                          protocol, "0", metrics=["chamfer_l1"])["chamfer_l1"]
    except UserError:  # nothing of the prediction inside the GT box
        return float("inf")


# --- model ---------------------------------------------------------------------------------------

class SceneField(nn.Module):
    """Free tri-planes + the model's TriplaneField, and a learned per-row backdrop colour."""

    def __init__(self, cfg: ModelConfig, image_height: int, bg_init: torch.Tensor):
        super().__init__()
        self.cfg = cfg
        R, C = cfg.plane_resolution, cfg.plane_channels
        self.planes = nn.Parameter(torch.randn(1, 3, C, R, R) * 0.1)
        self.field = TriplaneField(cfg)
        self.field.set_beta_trainable(True)
        self.bg_rows = nn.Parameter(torch.logit(bg_init.clamp(0.01, 0.99)).reshape(image_height, 3))

    def query(self, points: torch.Tensor) -> dict:
        return self.field(self.planes, points)


def fit_config_to_model(fc: FitConfig) -> ModelConfig:
    return replace(model_config("tiny", "geogen"), plane_resolution=fc.plane_resolution,
                   plane_channels=fc.plane_channels, decoder_hidden=fc.decoder_hidden, pe_levels=fc.pe_levels,
                   samples_coarse=fc.samples_coarse, samples_fine=fc.samples_fine, beta_init=fc.beta_init,
                   decoder_features=3)


def _all_rays(data: MultiView) -> tuple[torch.Tensor, torch.Tensor]:
    V, H, W, _ = data.images.shape
    os, ds = [], []
    for lab in data.labels:
        c2w, K = from_label(lab)
        o, d = pixel_rays(c2w, K, W, H)
        os.append(o)
        ds.append(d)
    return (torch.from_numpy(np.concatenate(os)).float(), torch.from_numpy(np.concatenate(ds)).float())


def fit_scene(data: MultiView, fc: FitConfig = FitConfig(), log=print) -> dict:
    """Fit, extract the mesh, score it.

    Returns figures (steps, fit wall and CPU seconds, chamfer_l1, psnr, beta) and the mesh
    ("vertices", "faces"). CPU seconds count all threads of this process: on a shared machine
    they show the work done when the wall time is inflated by other processes.
    """
    torch.manual_seed(fc.seed)
    gen = torch.Generator().manual_seed(fc.seed)
    cfg = fit_config_to_model(fc)
    V, H, W, _ = data.images.shape
    origins, dirs = _all_rays(data)
    rgb = torch.from_numpy(data.images.reshape(-1, 3))
    mask = torch.from_numpy(data.masks.reshape(-1, 1))
    rows = torch.arange(H).repeat_interleave(W).repeat(V)
    bg_mask = (mask[:, 0] < 0.5)
    bg_init = torch.stack([rgb[bg_mask & (rows == r)].mean(0) if (bg_mask & (rows == r)).any()
                           else torch.full((3,), 0.5) for r in range(H)])
    model = SceneField(cfg, H, bg_init)
    opt = torch.optim.Adam(model.parameters(), lr=fc.lr)
    sampling = RaySampling(cfg.samples_coarse, cfg.samples_fine, cfg.ray_start, cfg.ray_end, randomize=True,
                           coarse_grad=fc.coarse_grad)
    n_rays = len(rgb)
    t0, c0 = time.time(), time.process_time()
    step = 0
    for step in range(1, fc.steps + 1):
        frac = min(step / fc.steps, (time.time() - t0) / fc.time_budget_s)
        lr = fc.lr * (fc.lr_final_factor + (1 - fc.lr_final_factor) * 0.5 * (1 + math.cos(math.pi * frac)))
        for group in opt.param_groups:
            group["lr"] = lr
        idx = torch.randint(n_rays, (fc.rays_per_step,), generator=gen)
        bg = torch.sigmoid(model.bg_rows[rows[idx]]).unsqueeze(0)
        res = render_rays(model.query, origins[idx].unsqueeze(0), dirs[idx].unsqueeze(0), sampling, background=bg)
        pred = res["features"][0]
        wsum = res["weights_sum"][0].clamp(1e-4, 1 - 1e-4)
        loss = (pred - rgb[idx]).abs().mean() + fc.mask_weight * F.binary_cross_entropy(wsum, mask[idx])
        if fc.eikonal_weight > 0:
            loss = loss + fc.eikonal_weight * _eikonal(model, fc.eikonal_points, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 100 == 0:
            log(f"step {step:5d}  loss {loss.item():.4f}  beta {model.field.beta.item():.4f}  "
                f"{time.time() - t0:6.1f} s")
        if time.time() - t0 > fc.time_budget_s:
            break
    fit_s, fit_cpu_s = time.time() - t0, time.process_time() - c0
    model.eval()
    psnr = _psnr(model, data, origins, dirs, rows, cfg)
    t1 = time.time()
    vol = sample_grid(lambda p: model.query(p), fc.mesh_resolution, cfg.box_warp, "sdf")
    verts, faces = marching_cubes(vol, 0.0, cfg.box_warp, inside_is_low=True)
    mesh_s = time.time() - t1
    cd = chamfer_l1(verts, faces, data.gt_vertices, data.gt_faces, fc.eval_points, fc.seed)
    return {"steps": step, "fit_seconds": fit_s, "fit_cpu_seconds": fit_cpu_s, "mesh_seconds": mesh_s, "chamfer_l1": cd, "psnr": psnr,
            "beta": float(model.field.beta.detach()), "vertices": verts, "faces": faces}


def _eikonal(model: SceneField, n: int, cfg: ModelConfig) -> torch.Tensor:
    h = cfg.box_warp / cfg.plane_resolution
    p = (torch.rand(1, n, 3) - 0.5) * cfg.box_warp
    offs = torch.eye(3) * h
    pts = torch.cat([p + o for o in offs] + [p - o for o in offs], dim=1)
    s = model.query(pts)["sdf"].reshape(6, n)
    grad = (s[:3] - s[3:]) / (2 * h)
    return (grad.norm(dim=0) - 1).square().mean()


@torch.no_grad()
def _psnr(model: SceneField, data: MultiView, origins, dirs, rows, cfg, chunk: int = 8192) -> float:
    """PSNR (dB) of all training views rendered with deterministic samples."""
    sampling = RaySampling(cfg.samples_coarse, cfg.samples_fine, cfg.ray_start, cfg.ray_end, randomize=False)
    preds = []
    for i in range(0, len(origins), chunk):
        bg = torch.sigmoid(model.bg_rows[rows[i: i + chunk]]).unsqueeze(0)
        preds.append(render_rays(model.query, origins[None, i: i + chunk], dirs[None, i: i + chunk], sampling,
                                 background=bg)["features"][0])
    mse = (torch.cat(preds) - torch.from_numpy(data.images.reshape(-1, 3))).square().mean().item()
    return 10 * math.log10(1.0 / max(mse, 1e-12))
