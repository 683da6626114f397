"""2D metrics: inversion PSNR/SSIM (scikit-image), and the availability of weight-dependent ones.

LPIPS, FID/KID and ID need pretrained weights that cannot be downloaded on these machines
(FID/KID: benchmark.inception + benchmark.fid; ID: benchmark.face_id; both computed for
generated samples by benchmark.generation, ``geogen-bench images``).
Each is reported either with a number or as ``{"status": "unavailable", "reason": ...}``;
never as a number computed with other weights under the standard name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from .inception import INCEPTION_FILE, INCEPTION_SHA256_PREFIX, hub_checkpoints  # noqa: F401 (re-exported)

LPIPS_VGG_FILE = "vgg16-397923af.pth"  # torchvision's ImageNet VGG16, the LPIPS(vgg) backbone


def psnr(pred: np.ndarray, target: np.ndarray) -> float:
    """PSNR in dB of uint8 RGB images (data range 255)."""
    return float(peak_signal_noise_ratio(target, pred, data_range=255))


def ssim(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean SSIM of uint8 RGB images (scikit-image defaults: 7×7 Gaussian-free window, per channel)."""
    return float(structural_similarity(target, pred, channel_axis=2, data_range=255))


def unavailable(reason: str) -> dict:
    return {"status": "unavailable", "reason": reason}


def _importable(name: str) -> str | None:
    try:
        __import__(name)
        return None
    except Exception as exc:  # torchvision raises RuntimeError when its build does not match torch
        return f"{name} is not importable ({type(exc).__name__}: {str(exc).splitlines()[0][:80]})"


def inception_status(weights: str | Path | None = None) -> dict:
    """FID/KID entry of ``geogen-bench run``: they measure generated samples, so ``run`` never
    computes them; the reason says whether the standard weights would load (benchmark.inception)."""
    from geogen.common.errors import UserError

    from .inception import load_inception

    try:
        _, info = load_inception(weights)
    except UserError as exc:
        return unavailable(str(exc))
    return unavailable(f"standard weights found ({info['weights']}); FID/KID of generated samples are "
                       "computed by `geogen-bench images`, not by `run`")


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
    """ID entry of ``geogen-bench run`` (ID measures generated samples: ``geogen-bench images``)."""
    from .face_id import METRIC_NAME, load_face_embedder

    embedder, status = load_face_embedder()
    if embedder is None:
        return status
    return unavailable(f"ID ({METRIC_NAME}) measures generated samples; it is computed by "
                       "`geogen-bench images`, not by `run`")
