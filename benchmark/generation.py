"""`geogen-bench images`: generation metrics of a model file — FID, KID and ID.

Protocol (``geogen-img-1``, every field written into the result):

- FID/KID samples: ``samples`` latents, sample i from ``torch.randn`` seeded with ``seed + i``
  (as ``geogen-gen --seeds``), mapped with truncation ψ = ``truncation`` and rendered from a
  camera label drawn (seeded, with replacement) from the training split's labels, the same
  label conditioning the mapping (EG3D's FID protocol). Real set: the training split's images
  (``D/dataset.json``), resized to the model's output resolution (Lanczos), at most
  ``real_limit`` of them (seeded choice) when given. Both sets are quantised to uint8 and
  passed through the FID Inception-v3 (benchmark.inception; FID/KID in benchmark.fid).
- ID samples: the first ``id_samples`` of those latents, mapped with the frontal camera as
  conditioning, each rendered from ``id_views`` random poses: azimuth uniform in ±``id_yaw_deg``
  around the face, elevation = the training median ± ``id_pitch_deg`` (uniform), the training
  median radius and focal; the face is cropped around its projected position (benchmark.face_id)
  and ID = mean over samples of the mean pairwise cosine similarity of the views' embeddings.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from geogen.common.atomic import atomic_write_json, sha256_file
from geogen.common.errors import UserError
from geogen.common.seeding import rng_for
from dataset.format import Dataset

from .fid import KID_SUBSET_SIZE, KID_SUBSETS, fid_from_features, kid_from_features
from .image_metrics import unavailable
from .provenance import provenance
from .stats import mean_ci95

IMAGE_PROTOCOL_VERSION = "geogen-img-1"
SCHEMA = "geogen-bench-images"


@dataclass(frozen=True)
class ImageProtocol:
    samples: int = 1000
    seed: int = 0
    truncation: float = 1.0
    real_limit: int | None = None
    id_samples: int = 100
    id_views: int = 4
    id_yaw_deg: float = 30.0
    id_pitch_deg: float = 10.0
    kid_subsets: int = KID_SUBSETS
    kid_subset_size: int = KID_SUBSET_SIZE
    version: str = IMAGE_PROTOCOL_VERSION

    def __post_init__(self):
        if self.samples < 2:
            raise UserError("--samples must be >= 2 (FID needs a covariance)")
        if self.real_limit is not None and self.real_limit < 2:
            raise UserError("--real-limit must be >= 2")
        if self.id_samples < 0 or self.id_views < 2:
            raise UserError("--id-samples must be >= 0 and --id-views >= 2 (ID compares pairs of views)")
        if not 0 < self.truncation <= 1:
            raise UserError("--truncation must be in (0, 1]")


def _latent(seed: int, z_dim: int):
    import torch

    return torch.randn(1, z_dim, generator=torch.Generator().manual_seed(int(seed)))


def _to_uint8(images) -> np.ndarray:
    """(B,3,H,W) in [-1,1] → (B,H,W,3) uint8."""
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().byte()
    return x.permute(0, 2, 3, 1).numpy()


def generated_images(G, labels, proto: ImageProtocol, device: str, batch: int = 4):
    """Yield the FID/KID samples as uint8 (H,W,3) arrays (see the module docstring)."""
    import torch

    z_dim = G.cfg.z_dim
    picks = [int(rng_for(proto.seed, i, 11).integers(len(labels))) for i in range(proto.samples)]
    for start in range(0, proto.samples, batch):
        idx = range(start, min(start + batch, proto.samples))
        z = torch.cat([_latent(proto.seed + i, z_dim) for i in idx]).to(device)
        c = labels[[picks[i] for i in idx]].to(device)
        with torch.no_grad():
            ws = G.mapping(z, c, truncation_psi=proto.truncation)
            yield from _to_uint8(G.synthesis(ws, c, noise_mode="const", randomize=False)["image"])


def id_cameras(sample: int, proto: ImageProtocol, camera: dict, resolution: int):
    """The ``id_views`` random face-visible cameras of ID sample ``sample`` (seeded)."""
    from geogen.common.cameras import Camera, normalized_intrinsics, spherical_cam2world

    rng = rng_for(proto.seed, sample, 12)
    K = normalized_intrinsics(camera["focal"])
    out = []
    for _ in range(proto.id_views):
        az = rng.uniform(-proto.id_yaw_deg, proto.id_yaw_deg)
        el = camera["elevation"] + rng.uniform(-proto.id_pitch_deg, proto.id_pitch_deg)
        out.append(Camera(spherical_cam2world(az, el, camera["radius"]), K, resolution, resolution))
    return out


def id_metric(G, meta: dict, proto: ImageProtocol, device: str, embedder, threads=None) -> dict:
    """Mean pairwise cosine similarity of face embeddings across views, with a 95 % CI over samples.
    ``threads``: a ThreadGovernor updated before each sample (``--threads auto``)."""
    import torch

    from geogen.common.threads import governed

    from geogen.model.render_views import front_label, model_camera

    from .face_id import face_box, mean_pairwise_cosine

    camera = model_camera(meta)
    res = G.cfg.image_resolution
    per_sample = []
    for i in governed(range(proto.id_samples), threads):
        with torch.no_grad():
            ws = G.mapping(_latent(proto.seed + i, G.cfg.z_dim).to(device), front_label(camera).to(device),
                           truncation_psi=proto.truncation)
            cams = id_cameras(i, proto, camera, res)
            labels = torch.tensor([c.label() for c in cams], dtype=torch.float32, device=device)
            images = _to_uint8(G.synthesis(ws.expand(len(cams), -1, -1), labels, noise_mode="const",
                                           randomize=False)["image"])
        per_sample.append(mean_pairwise_cosine([embedder.embed(im, face_box(c)) for im, c in zip(images, cams)]))
    return {**mean_ci95(per_sample), "embedding": embedder.name, "face_region": "camera-projected box",
            "camera": camera}


def real_images(data: Path, resolution: int, proto: ImageProtocol):
    """(images iterator, count, labels) of the training split at the model resolution."""
    from dataset.eg3d import ImageLabelDataset

    ds = ImageLabelDataset(data, resolution)
    order = np.arange(ds.num_images)
    if proto.real_limit is not None and proto.real_limit < ds.num_images:
        order = np.sort(rng_for(proto.seed, 13).choice(ds.num_images, proto.real_limit, replace=False))

    def images():
        for i in order:
            image, _ = ds[int(i)]  # (3, R, R) in [-1, 1], exactly k/127.5 - 1 for uint8 k
            yield ((image.permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()

    return images(), len(order), ds.labels


def _fid_kid(net_info, real_feats, fake_feats, proto) -> dict:
    suffix = "" if net_info["standard"] else "_nonstandard"
    kid = kid_from_features(real_feats, fake_feats, proto.kid_subsets, proto.kid_subset_size, proto.seed)
    return {f"fid{suffix}": fid_from_features(real_feats, fake_feats), f"kid{suffix}": kid}


def image_metrics_for_model(model: Path, data: Path, out: Path, proto: ImageProtocol = ImageProtocol(),
                            inception_weights: Path | None = None, allow_nonstandard: bool = False,
                            device: str = "auto", method: str | None = None, progress: bool = True,
                            threads=None) -> dict:
    """Compute FID/KID (or why not) and ID for ``model`` against dataset ``data``; write ``out``.
    ``threads``: a ThreadGovernor updated between images and between ID samples (``--threads auto``)."""
    from geogen.common.threads import governed
    from geogen.model.io import load_model_file

    from .adapters import resolve_device
    from .face_id import METRIC_NAME, load_face_embedder
    from .inception import inception_features, load_inception

    out = Path(out)
    if out.suffix != ".json":
        raise UserError(f"--out {out} must be a .json file")
    t0 = time.perf_counter()
    device = resolve_device(device)
    ds = Dataset(data)
    G, cfg, meta = load_model_file(model)
    G = G.to(device)
    metrics: dict = {}
    inception: dict
    try:
        net, inception = load_inception(inception_weights, allow_nonstandard, device=device)
    except UserError as exc:
        net, inception = None, unavailable(str(exc))
        metrics.update(fid=inception, kid=inception)
    n_real = 0
    if net is not None:
        reals, n_real, labels = real_images(data, cfg.image_resolution, proto)
        say = (lambda m: print(m, flush=True)) if progress else (lambda m: None)
        say(f"Inception features of {n_real} training images …")
        real_feats = inception_features(net, governed(reals, threads), device=device)
        say(f"generating {proto.samples} samples and their Inception features …")
        fake_feats = inception_features(net, governed(generated_images(G, labels, proto, device), threads),
                                        device=device)
        metrics.update(_fid_kid(inception, real_feats, fake_feats, proto))
    embedder, id_info = load_face_embedder()
    if embedder is None:
        metrics[METRIC_NAME] = id_info
    elif proto.id_samples == 0:
        metrics[METRIC_NAME] = unavailable("--id-samples 0")
    else:
        metrics[METRIC_NAME] = id_metric(G, meta, proto, device, embedder, threads)
    result = {
        "schema": SCHEMA, "schema_version": 1,
        "method": {"name": method or f"{Path(model).stem}:{cfg.variant}", "model_file": str(Path(model).resolve()),
                   "variant": cfg.variant, "image_resolution": cfg.image_resolution},
        "dataset": {"name": ds.name, "path": str(ds.root.resolve()), "manifest_sha256": ds.checksum(),
                    "split": "train", "n_real": n_real},
        "protocol": {**asdict(proto), "inception_input": "uint8 → bilinear 299×299 (align_corners=False) → [-1, 1]",
                     "id_face_region": "camera-projected face box, dlib 5-point alignment"},
        "inception": inception,
        "metrics": metrics,
        "provenance": provenance(ds.checksum(), sha256_file(model), time.perf_counter() - t0),
    }
    atomic_write_json(out, result)
    return result
