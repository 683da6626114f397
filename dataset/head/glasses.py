"""Optional glasses: two rims (round or rectangular), a bridge and temples that reach the ears."""

from __future__ import annotations

import numpy as np

from ..identity import IdentityParams
from . import primitives as P
from .anatomy import Layout


class Glasses:
    """Signed distance of the frame (``inf`` when the identity wears none)."""

    def __init__(self, params: IdentityParams, layout: Layout):
        self.kind = params.glasses
        self.L = layout

    def distance(self, p: np.ndarray) -> np.ndarray:
        if self.kind == "none":
            return np.full(len(p), np.inf)
        L = self.L
        box = P.round_box(p, [0.0, L.eye_centers[0, 1], 0.06], [0.17, 0.05, 0.13], 0.0)
        return P.bounded(p, box, self._frame, 0.02)

    def _frame(self, p: np.ndarray) -> np.ndarray:
        L = self.L
        wire = 0.0042  # thick enough to survive meshing at ~160³ (voxel 0.006)
        out = np.full(len(p), np.inf)
        z = L.eye_centers[0, 2] + L.eye_radius + 0.02
        rim_centers = []
        for e in L.eye_centers:
            c = np.array([e[0] * 1.05, e[1] - 0.002, z])
            rim_centers.append(c)
            if self.kind == "round":
                rim = P.torus(p, c, 0.023, wire)
            else:
                outer = P.round_box(p, c, [0.027, 0.019, wire], 0.004)
                inner = P.round_box(p, c, [0.027 - 1.6 * wire, 0.019 - 1.6 * wire, 0.02], 0.003)
                rim = P.smax(outer, -inner, 0.001)
            out = np.minimum(out, rim)
        bridge_y = rim_centers[0][1] + 0.008
        out = np.minimum(out, P.capsule(p, [rim_centers[0][0] + 0.022, bridge_y, z + 0.002],
                                        [rim_centers[1][0] - 0.022, bridge_y, z + 0.002], wire))
        for c, ear in zip(rim_centers, L.ear_centers):
            sx = np.sign(c[0])
            hinge = np.array([c[0] + sx * 0.026, c[1] + 0.006, z - 0.002])
            ear_top = np.array([ear[0] + sx * 0.004, ear[1] + 0.022, ear[2] + 0.006])
            out = np.minimum(out, P.capsule(p, hinge, ear_top, wire))
        return out
