"""Per-view image files: RGB/normal/mask PNGs and float32 depth .npy, written atomically.

Encoding is byte-deterministic: PIL PNG with fixed compression and no metadata (PIL writes
no timestamps), ``np.save`` for depth. Each writer returns the SHA-256 of the bytes it wrote,
so the record needs no second read.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image

from geogen.common.atomic import atomic_write_bytes

PNG_OPTIONS = {"format": "PNG", "compress_level": 6, "optimize": False}


def encode_png(array: np.ndarray) -> bytes:
    """uint8 (H, W) → 8-bit L PNG, (H, W, 3) → RGB PNG."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8)).save(buf, **PNG_OPTIONS)
    return buf.getvalue()


def encode_normals(normals: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """World-space unit normals → uint8 (n + 1) / 2 * 255, background 0 (layout.md)."""
    enc = np.clip(np.round((normals + 1.0) * 0.5 * 255.0), 0, 255).astype(np.uint8)
    enc[~mask] = 0
    return enc


def decode_normals(encoded: np.ndarray) -> np.ndarray:
    """Inverse of :func:`encode_normals` (background comes back as (-1, -1, -1))."""
    return encoded.astype(np.float64) / 255.0 * 2.0 - 1.0


def _write(path: Path, data: bytes) -> str:
    atomic_write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


def write_png(path: Path, array: np.ndarray) -> str:
    return _write(path, encode_png(array))


def write_npy(path: Path, array: np.ndarray) -> str:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return _write(path, buf.getvalue())
