"""Clothing as geometry: a shell over the torso with a type-specific neckline.

crew_tshirt: ribbed band along the neckline; collared_shirt: V opening with a standing,
folded collar; hoodie: thick fabric and a hood bunched behind the neck; turtleneck: the
fabric runs up the neck with a rolled top.
"""

from __future__ import annotations

import numpy as np

from ..identity import IdentityParams
from . import primitives as P
from .anatomy import Anatomy, Layout
from .noise import GradientNoise


class Clothing:
    """Signed distance of the garment surface."""

    def __init__(self, params: IdentityParams, layout: Layout, anatomy: Anatomy):
        self.kind = params.clothing
        self.noise = GradientNoise(params.texture_seed + 202)
        self.L = layout
        self.anatomy = anatomy

    def _neck_axis_distance(self, p: np.ndarray) -> np.ndarray:
        """Horizontal distance from the neck's axis (the neck leans slightly forward)."""
        top, base = self.L.neck_top, self.L.neck_base
        t = (p[:, 1] - base[1]) / (top[1] - base[1])
        axis_z = base[2] + t * (top[2] - base[2])
        return np.hypot(p[:, 0], p[:, 2] - axis_z)

    def _neck_front(self, p: np.ndarray) -> np.ndarray:
        """How far in front of the neck's axis a point is (z offset from the axis)."""
        top, base = self.L.neck_top, self.L.neck_base
        t = (p[:, 1] - base[1]) / (top[1] - base[1])
        return p[:, 2] - (base[2] + t * (top[2] - base[2]))

    def distance(self, p: np.ndarray, body: np.ndarray | None = None) -> np.ndarray:
        """Garment distance; ``body`` (the anatomy's body distance at ``p``) saves recomputing it."""
        if body is None:
            body = self.anatomy.body(p)
        top = self.L.chin[1] - 0.01
        box = P.round_box(p, [0.0, 0.5 * (top - 0.55), -0.02], [0.48, 0.5 * (top + 0.55), 0.22], 0.0)
        sel = np.nonzero(box < 0.03)[0]
        out = box.copy()  # the garment lies inside the box: a lower bound where not evaluated
        if len(sel):
            out[sel] = self._distance(p[sel], body[sel])
        return out

    def _distance(self, p: np.ndarray, body: np.ndarray) -> np.ndarray:
        L = self.L
        r_neck = L.neck_radius
        radial = self._neck_axis_distance(p)
        kind = self.kind
        thick = {"crew_tshirt": 0.006, "collared_shirt": 0.006, "hoodie": 0.014, "turtleneck": 0.008}[kind]
        d = body - thick
        # soft folds in the fabric (only near the surface, where they matter)
        d = d - P.near_only(d, 0.02, p, lambda q: 0.0035 * self.noise.fbm(q * [9.0, 14.0, 9.0], octaves=2))
        base_y = L.shoulder_y
        if kind == "turtleneck":
            top_y = L.chin[1] - 0.045
            d = P.smax(d, p[:, 1] - top_y, 0.006)
            roll = P.torus(p, [0.0, top_y - 0.02, L.neck_top[2] + 0.01], r_neck * 1.1 + 0.012, 0.014,
                           P.rotation(pitch=np.pi / 2))
            d = P.smin(d, roll, 0.012)
            return d
        # The neckline: a height around the neck (lower in front, a V for collared shirts) above
        # which fabric near the neck is removed. Cutting across the neck with a height rather
        # than along it with a cylinder leaves a clean edge, never a sliver of fabric.
        top = base_y + (0.035 if kind == "hoodie" else 0.02)
        near_neck = r_neck * 1.12 + 0.03 - radial  # positive within ~2 cm of the neck
        front = np.clip(self._neck_front(p) / np.maximum(radial, 1e-9), 0.0, 1.0) ** 2
        neckline = top - 0.022 * front
        if kind == "collared_shirt":
            neckline = neckline - 0.07 * np.clip(1.0 - np.abs(p[:, 0]) / 0.04, 0.0, 1.0) * (self._neck_front(p) > 0)
        removed = np.maximum(np.minimum(near_neck, p[:, 1] - neckline), p[:, 1] - (top + 0.03))
        d = P.smax(d, removed, 0.004)
        if kind in ("crew_tshirt", "hoodie"):  # a ribbed band along the neckline
            band_h = 0.007 if kind == "crew_tshirt" else 0.011
            rib = P.smax(body - thick - 0.0045, np.abs(p[:, 1] - (neckline - band_h)) - band_h, 0.003)
            d = P.smin(d, P.smax(rib, -near_neck, 0.003), 0.004)
        elif kind == "collared_shirt":
            collar = P.round_cone(p, [0.0, base_y - 0.01, L.neck_base[2]], [0.0, base_y + 0.04, L.neck_top[2] + 0.02],
                                  r_neck * 1.2 + 0.012, r_neck * 1.1 + 0.008)
            collar = np.abs(collar) - 0.003  # a thin band of fabric
            front_gap = np.where(p[:, 2] < 0.02, -1.0, 0.02 - 0.6 * np.abs(p[:, 0]))  # V opening at the front
            collar = P.smax(collar, front_gap, 0.004)
            d = P.smin(d, collar, 0.004)
        elif kind == "hoodie":
            hood = P.ellipsoid(p, [0.0, base_y + 0.035, L.neck_base[2] - r_neck - 0.03], [0.13, 0.06, 0.07])
            d = P.smin(d, hood, 0.03)
            for sx in (-1.0, 1.0):
                cord = P.capsule(p, [sx * 0.03, base_y - 0.005, 0.05], [sx * 0.035, base_y - 0.13, 0.1], 0.004)
                d = np.minimum(d, cord)
        return d
