"""2D metrics: inversion PSNR/SSIM (scikit-image), and the availability of weight-dependent ones.

LPIPS, FID/KID and ID need pretrained weights that cannot be downloaded on these machines.
Each is reported either with a number or as ``{"status": "unavailable", "reason": ...}``;
never as a number computed with other weights under the standard name.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

# pytorch-fid's port of the TF Inception-v3 (2015-12-05) weights; the file name carries the
# first 8 hex digits of its SHA-256.
INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"
INCEPTION_SHA256_PREFIX = "6726825d"
LPIPS_VGG_FILE = "vgg16-397923af.pth"  # torchvision's ImageNet VGG16, the LPIPS(vgg) backbone


def psnr(pred: np.ndarray, target: np.ndarray) -> float:
    """PSNR in dB of uint8 RGB images (data range 255)."""
    return float(peak_signal_noise_ratio(target, pred, data_range=255))


def ssim(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean SSIM of uint8 RGB images (scikit-image defaults: 7×7 Gaussian-free window, per channel)."""
    return float(structural_similarity(target, pred, channel_axis=2, data_range=255))


def hub_checkpoints() -> Path:
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch")
    return Path(torch_home) / "hub" / "checkpoints"


def unavailable(reason: str) -> dict:
    return {"status": "unavailable", "reason": reason}


def _importable(name: str) -> str | None:
    try:
        __import__(name)
        return None
    except Exception as exc:  # torchvision raises RuntimeError when its build does not match torch
        return f"{name} is not importable ({type(exc).__name__}: {str(exc).splitlines()[0][:80]})"


def inception_status(weights: str | Path | None = None) -> dict:
    """Whether FID/KID can be computed with the standard weights; FID/KID are only reported if so."""
    path = Path(weights) if weights else hub_checkpoints() / INCEPTION_FILE
    if not path.is_file():
        return unavailable(f"Inception-v3 2015-12-05 weights not found at {path} (they cannot be "
                           "downloaded here; pass --inception-weights or put them in the torch hub cache)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if not digest.startswith(INCEPTION_SHA256_PREFIX):
        return unavailable(f"{path} has SHA-256 {digest[:12]}…, not the standard {INCEPTION_SHA256_PREFIX}…")
    missing = _importable("torchvision")
    if missing:
        return unavailable(f"standard weights found but {missing}")
    return unavailable("standard weights and torchvision found, but this version computes FID/KID only "
                       "through a future torch-fidelity integration")


def lpips_model():
    """(LPIPS(vgg) module or None, status dict). Needs the lpips package and torchvision's VGG16
    weights in the torch hub cache ($TORCH_HOME/hub/checkpoints), read offline."""
    missing = _importable("lpips")
    if missing:
        return None, unavailable(f"{missing}; LPIPS needs lpips + torchvision and local VGG16 weights")
    path = hub_checkpoints() / LPIPS_VGG_FILE
    if not path.is_file():
        return None, unavailable(f"VGG16 backbone weights not found at {path}")
    import lpips  # noqa: F811 - imported above only to test availability

    model = lpips.LPIPS(net="vgg", verbose=False).eval().requires_grad_(False)
    return model, {"status": "ok", "backbone": "vgg16", "weights": str(path)}


def id_status() -> dict:
    return unavailable("no face-embedding model (e.g. ArcFace) is available locally; ID is not reported")
