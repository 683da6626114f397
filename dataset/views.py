"""Camera sampling: per identity, views all around the head (360 deg azimuth) in EG3D's convention.

Azimuths are stratified: view k sits in stratum k of width 360/n, shifted by an identity offset
(a golden-ratio sequence over identity indices, so the training split fills every azimuth bin
evenly) plus a seeded jitter. The jitter is bounded so that consecutive views are never more
than 90 deg apart. Elevations are drawn uniformly from the configured range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geogen.common.cameras import Camera, normalized_intrinsics, spherical_cam2world
from geogen.common.seeding import rng_for

from .config import DatasetConfig

VIEWS_KEY = 1  # rng_for(seed, identity, VIEWS_KEY): keeps camera randomness apart from other streams
MAX_GAP_DEG = 90.0
_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0


@dataclass(frozen=True)
class View:
    """One camera of one identity."""

    index: int
    azimuth_deg: float
    elevation_deg: float
    camera: Camera


def stratified_azimuths(n: int, offset_frac: float, jitter: np.ndarray) -> np.ndarray:
    """Azimuths in [0, 360) for ``n`` views: stratum k's centre + offset + jitter (in [-1, 1] units).

    The jitter amplitude is the largest that keeps every gap (including the wrap-around) at
    most 90 deg: a gap is stratum + j_{k+1} - j_k <= stratum + 2 a.
    """
    stratum = 360.0 / n
    amplitude = max(0.0, min(stratum / 2.0, (MAX_GAP_DEG - stratum) / 2.0))
    base = (np.arange(n) + offset_frac) * stratum
    return (base + np.clip(jitter, -1.0, 1.0) * amplitude) % 360.0


def sample_views(config: DatasetConfig, identity: int, stream: int = VIEWS_KEY) -> list[View]:
    """The ``config.views`` cameras of ``identity`` (deterministic in (seed, identity, stream)).

    ``stream`` picks the random stream: the training views use VIEWS_KEY; other view sets
    (e.g. reconstruction-only views, :mod:`dataset.recon_views`) pass their own key.
    """
    rng = rng_for(config.seed, identity, stream)
    offset = (identity * _GOLDEN) % 1.0
    jitter = rng.uniform(-1.0, 1.0, size=config.views) * config.azimuth_jitter
    azimuths = stratified_azimuths(config.views, offset, jitter)
    elevations = rng.uniform(config.elevation_min, config.elevation_max, size=config.views)
    K = normalized_intrinsics(config.focal)
    views = []
    for k, (az, el) in enumerate(zip(azimuths, elevations)):
        c2w = spherical_cam2world(float(az), float(el), config.radius)
        views.append(View(k, float(az), float(el), Camera(c2w, K, config.resolution, config.resolution)))
    return views


def turntable_views(config: DatasetConfig, count: int, elevation_deg: float = 5.0,
                    resolution: int | None = None) -> list[View]:
    """Evenly spaced views at a fixed elevation (for previews), front view first."""
    res = resolution or config.resolution
    K = normalized_intrinsics(config.focal)
    out = []
    for k in range(count):
        az = 360.0 * k / count
        out.append(View(k, az, elevation_deg, Camera(spherical_cam2world(az, elevation_deg, config.radius), K, res, res)))
    return out


def max_azimuth_gap(azimuths_deg) -> float:
    """Largest angular gap (deg) between sorted azimuths on the circle, wrap-around included."""
    a = np.sort(np.asarray(azimuths_deg, dtype=np.float64) % 360.0)
    gaps = np.diff(np.concatenate([a, a[:1] + 360.0]))
    return float(gaps.max())
