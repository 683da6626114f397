"""Hair as geometry: a shell over the scalp, hanging curtains, buns, ponytails, curls.

Every style starts from the scalp (the cranium surface) offset outward by a thickness and
clipped to the region above the hairline; longer styles add hair that falls straight down
from the head's widest cross-section; curls displace the volume with fractal noise.
"""

from __future__ import annotations

import numpy as np

from ..identity import IdentityParams
from . import primitives as P
from .anatomy import Anatomy, Layout
from .noise import GradientNoise

# style: (shell thickness, hairline height at the sides, hairline height at the nape); None: no hair
_STYLE_SHELL = {
    "bald": None,
    "buzz": (0.0035, 0.035, -0.075),
    "short": (0.012, 0.03, -0.085),
    "medium": (0.016, 0.025, -0.09),
    "long": (0.014, 0.025, -0.09),
    "bun": (0.007, 0.03, -0.09),
    "ponytail": (0.006, 0.03, -0.09),
    "curly": (0.04, 0.0, -0.1),
}


def strand_pattern(noise: GradientNoise, p: np.ndarray, center: np.ndarray, levels: int = 3) -> np.ndarray:
    """Strand-like streaks in [-1, 1]: strands fall from the crown, so the pattern varies fast
    with the azimuth around the vertical axis through ``center`` and slowly along it.

    Three scales (about 8, 3 and 1 mm on a head 0.40 units tall) keep texture in the image
    at 128² and at 512², for the renderer and for multi-view stereo. Geometry uses only the
    coarsest ``levels=1``: finer grooves would be smaller than a marching-cubes voxel.
    """
    q = p - center
    azim = np.arctan2(q[:, 0], q[:, 2])
    ring = np.stack([np.cos(azim), np.sin(azim), np.zeros(len(p))], axis=1)
    out = np.zeros(len(p))
    for across, along, amp in ((11.0, 5.0, 0.55), (27.0, 9.0, 0.3), (70.0, 16.0, 0.15))[:levels]:
        coords = ring * across
        coords[:, 2] = q[:, 1] * along
        out += amp * noise(coords)
    return out


class Hair:
    """Signed distance of the hair surface (``inf`` for bald heads)."""

    def __init__(self, params: IdentityParams, layout: Layout, anatomy: Anatomy):
        self.style = params.hair_style
        self.vol = params.hair_volume
        self.length = params.hair_length
        self.hairline = params.hairline
        self.part = params.hair_part
        self.L = layout
        self.anatomy = anatomy
        self.noise = GradientNoise(params.texture_seed + 101)
        self.strand_noise = GradientNoise(params.texture_seed + 7)
        self.beard = params.facial_hair == "beard"

    def _boundary_y(self, p: np.ndarray, side_y: float, back_y: float) -> np.ndarray:
        """Height of the hairline around the head: forehead in front, temples, nape at the back."""
        c = self.L.cranium_center
        q = p - c
        cos_front = q[:, 2] / np.maximum(np.hypot(q[:, 0], q[:, 2]), 1e-9)
        front_y = self.L.brow_y + 0.05 + 0.05 * self.hairline
        front = np.clip(cos_front, 0.0, 1.0) ** 1.5
        back = np.clip(-cos_front, 0.0, 1.0)
        base = side_y + (front_y - side_y) * front + (back_y - side_y) * back
        # hairlines are not clean curves (noise only near the line, where it matters)
        return base + P.near_only(p[:, 1] - base, 0.07, p, lambda q: 0.008 * self.noise(q * 30.0))

    def _hanging(self, p: np.ndarray, thickness: float, bottom_y: float, front_z: float) -> np.ndarray:
        """Hair falling straight down from the head's widest cross-section to ``bottom_y``."""
        c = self.L.cranium_center
        flat = p.copy()
        flat[:, 1] = c[1]
        spread = 1.0 + 0.25 * np.clip((c[1] - p[:, 1]) / 0.4, 0.0, 1.0) * (0.4 + self.vol)
        flat[:, 0] = c[0] + (p[:, 0] - c[0]) / spread
        curtain = self.anatomy.cranium(flat) * np.minimum(spread, 1.0) - thickness
        curtain -= P.near_only(curtain, 0.025, p, lambda q: 0.003 * strand_pattern(self.strand_noise, q, c, 1))
        ragged = bottom_y + P.near_only(p[:, 1] - bottom_y, 0.05, p,
                                        lambda q: 0.02 * self.noise(q * [40.0, 0.0, 40.0]))
        curtain = P.smax(curtain, ragged - p[:, 1], 0.01)  # above the ragged ends
        curtain = P.smax(curtain, p[:, 1] - c[1], 0.02)  # the shell covers the top
        return P.smax(curtain, p[:, 2] - front_z, 0.015)  # keep the face free

    def parting(self, p: np.ndarray) -> np.ndarray:
        """0..1 weight of the parting line: on top of the head, in front of the crown, at
        ``hair_part`` (-1..1) of the way to either side."""
        c = self.L.cranium_center
        x0 = 0.045 * self.part
        line = np.exp(-(((p[:, 0] - x0) / 0.0045) ** 2))
        front = np.clip((p[:, 2] - c[2] + 0.02) / 0.05, 0.0, 1.0) * np.clip((p[:, 1] - c[1] - 0.05) / 0.04, 0.0, 1.0)
        return line * front

    def _bound(self, p: np.ndarray) -> np.ndarray:
        """A cheap lower bound of the hair distance: a sphere round the scalp, plus a box for
        hair that hangs or sticks out behind (long, medium, curly, bun, ponytail)."""
        c = self.L.cranium_center
        reach = 0.12 if self.style in ("curly", "bun") else 0.075  # thickest shell + curls, or the bun
        d = P.sphere(p, c, float(self.L.cranium_radii.max()) + reach)
        if self.style in ("long", "medium", "curly", "ponytail", "bun"):
            d = np.minimum(d, P.round_box(p, [0.0, -0.1, -0.1], [0.24, 0.34, 0.21], 0.0))
        return d

    def distance(self, p: np.ndarray) -> np.ndarray:
        out = np.full(len(p), np.inf)
        if _STYLE_SHELL[self.style] is not None:
            out = P.bounded(p, self._bound(p), self._distance, 0.04)
        if self.beard:
            out = np.minimum(out, P.bounded(p, self._beard_bound(p), self._beard, 0.03))
        return out

    def beard_weight(self, p: np.ndarray) -> np.ndarray:
        """0..1: where facial hair grows (sideburns, cheeks below the cheekbones, upper lip,
        chin), soft at its edges; the lips stay bare. Also used for stubble (a material)."""
        L = self.L
        region = np.maximum(p[:, 1] - (L.nose_tip[1] - 0.008 + 0.45 * np.abs(p[:, 0])),  # below the cheeks
                            np.maximum(-(p[:, 2] + 0.005), L.chin[1] - 0.012 - p[:, 1]))
        region = np.maximum(region, 0.009 - self.anatomy.lips(p))
        w = np.clip(-region / 0.012, 0.0, 1.0)
        return w * w * (3.0 - 2.0 * w)

    def _beard_bound(self, p: np.ndarray) -> np.ndarray:
        """A sphere round the jaw that holds every visible part of a beard."""
        return P.sphere(p, [0.0, self.L.mouth_center[1] - 0.03, 0.05], 0.21)

    def _beard(self, p: np.ndarray) -> np.ndarray:
        """A short full beard: the lower face offset outward where :meth:`beard_weight` says."""
        t = 0.004 + 0.006 * self.vol
        w = self.beard_weight(p)
        d = self.anatomy.face(p) - t * w + 0.002 * (1.0 - w)
        return d - w * P.near_only(d, 0.02, p, lambda q: 0.0015 * self.noise(q * 90.0))

    def _distance(self, p: np.ndarray) -> np.ndarray:
        thickness, side_y, back_y = _STYLE_SHELL[self.style]
        if self.style in ("short", "medium", "long", "curly"):
            thickness *= 0.75 + 0.6 * self.vol
        if self.style == "curly":  # volume grows toward the crown (an afro-like silhouette)
            c = self.L.cranium_center
            thickness = thickness * (0.7 + 0.8 * np.clip((p[:, 1] - c[1] + 0.08) / 0.2, 0.0, 1.0))
        scalp = self.anatomy.cranium(p)
        # thickness tapers to nothing at the hairline, so hair grows out of the scalp smoothly
        above = p[:, 1] - self._boundary_y(p, side_y, back_y)
        taper = np.clip(above / (0.025 if self.style == "curly" else 0.05), 0.0, 1.0)
        taper = taper * taper * (3.0 - 2.0 * taper)
        d = scalp - thickness * taper + 0.0015 * (1.0 - taper)
        if self.style in ("short", "medium", "long"):  # a parting from the forehead toward the crown
            d = d + 0.6 * thickness * taper * self.parting(p)
        if self.style == "curly":  # curls: a bumpy volume, flat where the hair ends
            d = d - taper * P.near_only(d, 0.035, p, lambda q: 0.012 * self.noise.fbm(q * 28.0, octaves=2))
        if self.style != "buzz":  # clumps and strand grooves on the surface
            d = d - taper * P.near_only(d, 0.02, p, lambda q: 0.003 * self.noise.fbm(q * 18.0, octaves=2)
                                        + 0.003 * strand_pattern(self.strand_noise, q, self.L.cranium_center, 1))
        c = self.L.cranium_center
        if self.style == "long":
            d = P.smin(d, self._hanging(p, thickness, -0.17 - 0.2 * self.length, -0.015), 0.03)
        elif self.style == "medium":
            d = P.smin(d, self._hanging(p, thickness, -0.08 - 0.08 * self.length, 0.0), 0.03)
        elif self.style == "curly" and self.length > 0.5:
            hang = self._hanging(p, thickness, -0.1 - 0.1 * self.length, 0.0)
            hang -= P.near_only(hang, 0.035, p, lambda q: 0.01 * self.noise.fbm(q * 28.0, octaves=2))
            d = P.smin(d, hang, 0.03)
        elif self.style == "bun":
            r = 0.042 + 0.015 * self.vol
            top = 0.5 * self.length
            center = c + np.array([0.0, 0.05 + 0.09 * top, -self.L.cranium_radii[2] - 0.01 + 0.06 * top])
            d = P.smin(d, P.sphere(p, center, r), 0.02)
        elif self.style == "ponytail":
            tie = c + np.array([0.0, 0.02, -self.L.cranium_radii[2] - 0.012])
            mid = tie + np.array([0.0, -0.06, -0.045])  # the tail bulges out, then hangs down
            end = mid + np.array([0.0, -0.13 - 0.12 * self.length, 0.012])
            r = 0.026 + 0.01 * self.vol
            tail = P.smin(P.round_cone(p, tie + [0.0, 0.0, -0.01], mid, 0.8 * r, r),
                          P.round_cone(p, mid, end, r, 0.012), 0.02)
            d = P.smin(d, P.sphere(p, tie, 0.019), 0.01)
            d = P.smin(d, tail, 0.012)
        return d
