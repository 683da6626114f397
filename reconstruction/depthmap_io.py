"""COLMAP's dense-map file format (depth maps, normal maps), so our maps work with COLMAP tools.

Layout (COLMAP ``mvs/mat.h``): an ASCII header ``"{width}&{height}&{channels}&"`` followed by
float32 little-endian data in column-major order, i.e. for a (H, W, C) array the bytes are
``array.transpose(2, 1, 0)`` flattened (channel slowest, then column, then row fastest).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from geogen.common.atomic import atomic_write_bytes
from geogen.common.errors import UserError


def write_colmap_array(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write a (H, W) depth map or (H, W, C) normal map in COLMAP's binary format, atomically."""
    arr = np.asarray(array, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise ValueError(f"expected a (H, W) or (H, W, C) array, got shape {arr.shape}")
    h, w, c = arr.shape
    header = f"{w}&{h}&{c}&".encode("ascii")
    data = np.ascontiguousarray(arr.transpose(2, 1, 0)).astype("<f4").tobytes()
    atomic_write_bytes(path, header + data)


def read_colmap_array(path: str | os.PathLike) -> np.ndarray:
    """Read a COLMAP depth/normal map: (H, W) for one channel, (H, W, C) otherwise."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"depth/normal map {p} not found")
    raw = p.read_bytes()
    parts = raw.split(b"&", 3)
    try:
        w, h, c = (int(v) for v in parts[:3])
    except (ValueError, IndexError):
        raise UserError(f"{p} is not a COLMAP depth/normal map (header 'w&h&c&' missing)") from None
    data = parts[3] if len(parts) > 3 else b""
    if len(data) != 4 * w * h * c:
        raise UserError(f"{p} is truncated: header says {w}x{h}x{c} floats, found {len(data) // 4}")
    arr = np.frombuffer(data, dtype="<f4").reshape(c, w, h).transpose(2, 1, 0)
    return np.ascontiguousarray(arr[:, :, 0] if c == 1 else arr, dtype=np.float32)
