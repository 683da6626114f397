"""Per-identity lighting and background, sampled from a seeded generator.

Lights are fixed in the world (not to the camera), so views of one identity are consistent:
the side away from the key light is darker in every view that sees it, as in a real capture.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from geogen.common.cameras import spherical_position

LIGHT_KEY = 2  # rng_for(seed, identity, LIGHT_KEY)


@dataclass(frozen=True)
class Lighting:
    """Key (area) light, fill light, sky/ground environment and a gradient background."""

    key_direction: tuple[float, float, float]  # unit vector from the surface toward the light
    key_color: tuple[float, float, float]  # linear RGB times intensity
    key_angular_radius: float  # radians; > 0 gives soft shadows
    fill_direction: tuple[float, float, float]
    fill_color: tuple[float, float, float]
    sky_color: tuple[float, float, float]  # environment radiance from above (linear RGB)
    ground_color: tuple[float, float, float]  # environment radiance from below
    background_top: tuple[float, float, float]  # display-space (sRGB, 0..1) gradient colours
    background_bottom: tuple[float, float, float]
    exposure: float

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


def _tint(rng: np.random.Generator, warmth: float) -> np.ndarray:
    """A white light tinted warm (warmth > 0) or cool (< 0), roughly 3500-8000 K."""
    warm, cool = np.array([1.0, 0.82, 0.62]), np.array([0.78, 0.88, 1.0])
    c = np.ones(3) + max(warmth, 0.0) * (warm - 1.0) + max(-warmth, 0.0) * (cool - 1.0)
    return c / c.max()


def _unit(v) -> tuple[float, float, float]:
    v = np.asarray(v, dtype=np.float64)
    return tuple(float(x) for x in v / np.linalg.norm(v))


def sample_lighting(rng: np.random.Generator) -> Lighting:
    """Random studio-like lighting: key light in front/side above, dimmer fill opposite, soft env."""
    key_az = rng.uniform(-110.0, 110.0)
    key_el = rng.uniform(15.0, 60.0)
    fill_az = key_az + 180.0 + rng.uniform(-50.0, 50.0)
    fill_el = rng.uniform(-5.0, 30.0)
    key_rgb = _tint(rng, rng.uniform(-0.3, 0.8)) * rng.uniform(2.2, 3.2)
    fill_rgb = _tint(rng, rng.uniform(-0.8, 0.2)) * rng.uniform(0.35, 0.8)
    sky = _tint(rng, rng.uniform(-0.8, 0.3)) * rng.uniform(0.35, 0.6)
    ground = _tint(rng, rng.uniform(0.0, 0.8)) * rng.uniform(0.12, 0.25)
    hue = rng.uniform(0.0, 1.0)
    sat = rng.uniform(0.05, 0.35)
    val = rng.uniform(0.35, 0.85)
    top = _hsv_to_rgb(hue, sat, val)
    bottom = _hsv_to_rgb((hue + rng.uniform(-0.08, 0.08)) % 1.0, sat * rng.uniform(0.6, 1.2),
                         val * rng.uniform(0.55, 0.9))
    return Lighting(
        key_direction=_unit(spherical_position(key_az, key_el, 1.0)),
        key_color=tuple(float(x) for x in key_rgb),
        key_angular_radius=float(rng.uniform(0.05, 0.2)),
        fill_direction=_unit(spherical_position(fill_az, fill_el, 1.0)),
        fill_color=tuple(float(x) for x in fill_rgb),
        sky_color=tuple(float(x) for x in sky),
        ground_color=tuple(float(x) for x in ground),
        background_top=tuple(float(x) for x in top),
        background_bottom=tuple(float(x) for x in bottom),
        exposure=float(rng.uniform(1.05, 1.35)),
    )


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    import colorsys

    return np.clip(np.array(colorsys.hsv_to_rgb(h, min(s, 1.0), min(v, 1.0))), 0.0, 1.0)
