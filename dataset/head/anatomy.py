"""The skin surface: cranium, face, nose, lips, eye sockets, eyelids, ears, neck and torso.

``Anatomy(params)`` turns shape parameters into named anchor points (:class:`Layout`, shared
with hair, clothing, glasses and materials) and evaluates the skin's signed distance as a
smooth union of ellipsoids and capsules. Eyeballs are a separate surface (own material).
Scene frame: y up, face toward +z, head centre at the origin, ~0.40 units chin to crown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..identity import IdentityParams
from . import primitives as P


@dataclass
class Layout:
    """Anchor points and sizes derived from the shape parameters (world units)."""

    cranium_center: np.ndarray
    face_z: float  # forward shift of the whole face (follows the cranium's length)
    cranium_radii: np.ndarray
    eye_centers: np.ndarray  # (2, 3): right (-x) then left (+x)
    eye_radius: float
    iris_radius: float
    brow_y: float
    nose_root: np.ndarray
    nose_tip: np.ndarray
    mouth_center: np.ndarray
    mouth_half_width: float
    chin: np.ndarray
    jaw_angles: np.ndarray  # (2, 3)
    cheek_centers: np.ndarray  # (2, 3)
    ear_centers: np.ndarray  # (2, 3)
    neck_top: np.ndarray
    neck_base: np.ndarray
    neck_radius: float
    shoulder_tips: np.ndarray  # (2, 3)
    shoulder_y: float


def _mirror(p) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    return np.array([[-p[0], p[1], p[2]], [p[0], p[1], p[2]]])


def make_layout(params: IdentityParams) -> Layout:
    """Place the features with adult proportions: eyes at half the chin-to-crown height,
    brow-to-nose-base and nose-base-to-chin about one third of the face each."""
    s = params.shape
    fl, fw = s["face_length"], s["face_width"]
    eye_r = 0.0205 * s["eye_size"]
    eye_y = 0.0 + 0.008 * s["eye_height"]
    eye_x = 0.054 * s["eye_spacing"]
    # the face sits on the front of the cranium: a longer cranium moves every feature forward
    cc_y, cc_z = 0.045, -0.022
    brow_front = cc_z + s["cranium_depth"] * np.sqrt(1.0 - (cc_y / s["cranium_height"]) ** 2)
    fz = brow_front - 0.134  # 0 for an average cranium
    eye_z = 0.112 - 0.005 * s["eye_depth"] + fz
    nose_len = 0.062 * s["nose_length"] * fl
    mouth_y = eye_y - 0.112 * fl + 0.007 * s["mouth_height"]
    chin_y = eye_y - 0.172 * fl - 0.012 * (s["chin_length"] - 1.0) / 0.2
    neck_r = 0.087 * s["neck_width"]
    shoulder_y = -0.31 - 0.02 * (s["neck_length"] - 1.0) / 0.1 - 0.012 * s["shoulder_slope"]
    return Layout(
        cranium_center=np.array([0.0, cc_y, cc_z]),
        face_z=fz,
        cranium_radii=np.array([s["cranium_width"], s["cranium_height"], s["cranium_depth"]]),
        eye_centers=_mirror([eye_x, eye_y, eye_z]),
        eye_radius=eye_r,
        iris_radius=0.0062 * s["eye_size"],
        brow_y=eye_y + 0.032,
        nose_root=np.array([0.0, eye_y + 0.012, 0.136 + fz]),
        nose_tip=np.array([0.0, eye_y - nose_len, 0.183 + fz + 0.012 * (s["nose_projection"] - 1.0) / 0.15]),
        mouth_center=np.array([0.0, mouth_y, 0.154 + fz]),
        mouth_half_width=0.036 * s["lip_width"],
        chin=np.array([0.0, chin_y, 0.124 + fz + 0.02 * s["chin_protrusion"]]),
        jaw_angles=_mirror([0.086 * s["jaw_width"] * fw, eye_y - 0.098 * fl - 0.012 * s["jaw_squareness"], -0.01]),
        cheek_centers=_mirror([0.07 * fw, eye_y - 0.032, 0.085 + fz]),
        ear_centers=_mirror([s["cranium_width"] - 0.004, eye_y - 0.024 + 0.008 * s["ear_height"], -0.032]),
        neck_top=np.array([0.0, -0.07, -0.03]),
        neck_base=np.array([0.0, shoulder_y - 0.02, -0.02]),
        neck_radius=neck_r,
        shoulder_tips=_mirror([0.335 * s["shoulder_width"], shoulder_y - 0.035 - 0.03 * s["shoulder_slope"], -0.03]),
        shoulder_y=shoulder_y,
    )


class Anatomy:
    """Skin and eyeball distances for one identity."""

    def __init__(self, params: IdentityParams, layout: Layout):
        self.s = params.shape
        self.L = layout

    # --- head ---------------------------------------------------------------------------
    def cranium(self, p: np.ndarray) -> np.ndarray:
        L, s = self.L, self.s
        d = P.ellipsoid(p, L.cranium_center, L.cranium_radii)
        # frontal bone: a forward ellipsoid that makes the forehead upright or sloping
        slope = s["forehead_slope"]
        fore = P.ellipsoid(p, L.cranium_center + np.array([0.0, 0.0, 0.03]),
                           L.cranium_radii * np.array([0.88, 0.86 - 0.1 * slope, 0.86]),
                           P.rotation(pitch=-0.15 - 0.25 * slope))
        return P.smin(d, fore, 0.03)

    def face(self, p: np.ndarray) -> np.ndarray:
        L, s = self.L, self.s
        fl, fw = s["face_length"], s["face_width"]
        ey = L.eye_centers[0, 1]
        d = P.ellipsoid(p, [0.0, ey - 0.035, 0.025 + L.face_z], [0.112 * fw, 0.12 * fl, 0.118])
        # mandible: a jaw line from each angle to the chin, the chin, and the dental arch
        jaw_r = 0.015 + 0.009 * s["jaw_squareness"]
        cw = s["chin_width"]
        jaw = np.full(len(p), np.inf)
        for g in L.jaw_angles:
            end = L.chin + [np.sign(g[0]) * 0.026 * cw, 0.006, -0.022]
            jaw = np.minimum(jaw, P.round_cone(p, g, end, jaw_r, 0.017))
        chin = P.ellipsoid(p, L.chin + [0.0, 0.004, -0.022], [0.03 * cw, 0.024 * s["chin_length"], 0.024])
        arch = P.ellipsoid(p, [0.0, L.mouth_center[1] + 0.008, 0.08 + L.face_z], [0.05, 0.05 * fl, 0.07])
        lower = P.smin(P.smin(jaw, chin, 0.03), arch, 0.03)
        d = P.smin(d, lower, 0.04)
        # cheekbones and cheeks
        cb = 0.016 + 0.009 * s["cheekbones"]
        full = 0.027 + 0.016 * s["cheek_fullness"]
        for c in L.cheek_centers:
            d = P.smin(d, P.ellipsoid(p, c + [0.004 * np.sign(c[0]), 0.006, -0.012], [0.036, cb, 0.03]), 0.02)
            d = P.smin(d, P.ellipsoid(p, [c[0] * 0.82, L.mouth_center[1] + 0.022, 0.07 + L.face_z],
                                      [full, full, 0.035]), 0.03)
        # brow ridge above each eye
        br = 0.011 + 0.006 * s["brow_ridge"]
        for e in L.eye_centers:
            center = [e[0] * 0.85, L.brow_y - 0.003, e[2] + 0.022 + 0.005 * s["brow_ridge"]]
            d = P.smin(d, P.ellipsoid(p, center, [0.038, br, 0.018], P.rotation(roll=0.12 * np.sign(e[0]))), 0.02)
        return d

    def eye_region(self, d: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Carve eye sockets and add upper/lower eyelids around the eyeballs."""
        L = self.L
        r = L.eye_radius
        for e in L.eye_centers:
            socket = P.ellipsoid(p, e + [0.0, 0.002, 0.013], [r * 1.4, r * 1.05, r * 1.05])
            d = P.smax(d, -socket, 0.008)
            lid = P.sphere(p, e, r + 0.004)
            upper = P.smax(lid, e[1] + 0.006 - p[:, 1], 0.003)
            lower = P.smax(lid, p[:, 1] - (e[1] - 0.0075), 0.003)
            d = P.smin(d, np.minimum(upper, lower), 0.006)
        return d

    def nose(self, p: np.ndarray) -> np.ndarray:
        L, s = self.L, self.s
        tip = L.nose_tip + [0.0, 0.006 * s["nose_tilt"], 0.0]
        bridge_r = 0.008 + 0.004 * s["nose_bridge"]
        root = L.nose_root + [0.0, 0.0, 0.003 * s["nose_bridge"]]
        d = P.round_cone(p, root, tip + [0.0, 0.008, -0.014], bridge_r, 0.011)
        d = P.smin(d, P.sphere(p, tip + [0.0, 0.0, -0.0125], 0.0125 * s["nose_tip"]), 0.014)
        nw = s["nose_width"]
        for sx in (-1.0, 1.0):
            ala = P.ellipsoid(p, [sx * 0.019 * nw, tip[1] - 0.004, tip[2] - 0.03], [0.013 * nw, 0.012, 0.015])
            d = P.smin(d, ala, 0.014)
        for sx in (-1.0, 1.0):  # nostrils: hollows under the tip
            hole = P.ellipsoid(p, [sx * 0.009 * nw, tip[1] - 0.017, tip[2] - 0.02], [0.006 * nw, 0.0045, 0.009])
            d = P.smax(d, -hole, 0.003)
        return d

    def lips(self, p: np.ndarray) -> np.ndarray:
        L, s = self.L, self.s
        m, w, f = L.mouth_center, L.mouth_half_width, s["lip_fullness"]
        bent = p.copy()
        bent[:, 2] += 10.0 * p[:, 0] ** 2  # lips follow the curve of the dental arch
        upper = P.ellipsoid(bent, m + [0.0, 0.006, -0.009], [w, 0.0075 * f, 0.013 * f])
        lower = P.ellipsoid(bent, m + [0.0, -0.008, -0.011], [w * 0.85, 0.009 * f, 0.013 * f])
        return P.smin(upper, lower, 0.004)

    def ears(self, p: np.ndarray) -> np.ndarray:
        L, s = self.L, self.s
        size = s["ear_size"]
        angle = np.radians(5.0 + 25.0 * s["ear_angle"])
        out = np.full(len(p), np.inf)
        for c in L.ear_centers:
            sx = np.sign(c[0])
            rot = P.rotation(yaw=-sx * angle, roll=sx * 0.12)
            shell = P.ellipsoid(p, c + [sx * 0.008, 0.008 * size, 0.0], [0.011, 0.04 * size, 0.026 * size], rot)
            lobe = P.ellipsoid(p, c + [sx * 0.008, -0.028 * size, 0.006], [0.009, 0.016 * size, 0.013 * size], rot)
            ear = P.smin(shell, lobe, 0.008)
            bowl = P.ellipsoid(p, c + [sx * 0.022, 0.004, 0.002], [0.01, 0.026 * size, 0.015 * size], rot)
            ear = P.smax(ear, -bowl, 0.004)
            out = np.minimum(out, ear)
        return out

    def eyeballs(self, p: np.ndarray) -> np.ndarray:
        L = self.L
        return np.minimum(P.sphere(p, L.eye_centers[0], L.eye_radius), P.sphere(p, L.eye_centers[1], L.eye_radius))

    # --- body ---------------------------------------------------------------------------
    def neck(self, p: np.ndarray) -> np.ndarray:
        L = self.L
        return P.round_cone(p, L.neck_top, L.neck_base, L.neck_radius, L.neck_radius * 1.12)

    def torso(self, p: np.ndarray) -> np.ndarray:
        L, s = self.L, self.s
        sw = s["shoulder_width"]
        chest = P.ellipsoid(p, [0.0, L.shoulder_y - 0.25, -0.02], [0.27 * sw, 0.25, 0.135 * s["chest_depth"]])
        d = chest
        for tip in L.shoulder_tips:
            root = [np.sign(tip[0]) * 0.06, L.shoulder_y + 0.004, -0.035]
            d = P.smin(d, P.round_cone(p, root, tip, 0.05, 0.062), 0.05)
            arm = P.round_cone(p, tip, tip + [np.sign(tip[0]) * 0.02, -0.3, 0.0], 0.062, 0.055)
            d = P.smin(d, arm, 0.03)
        return d

    def body(self, p: np.ndarray) -> np.ndarray:
        """Neck, shoulders and upper torso (evaluated only inside their bounding box)."""
        L = self.L
        box = P.round_box(p, [0.0, -0.3, -0.02], [0.46, 0.3 + (L.neck_top[1] + L.neck_radius + 0.3) / 2, 0.2], 0.0)
        return P.bounded(p, box, lambda q: P.smin(self.neck(q), self.torso(q), 0.045), 0.03)

    def head(self, p: np.ndarray) -> np.ndarray:
        """Cranium, face, nose, lips, eyelids and ears; small parts are evaluated near themselves."""
        L = self.L
        d = P.smin(self.cranium(p), self.face(p), 0.04)
        nose_mid = 0.5 * (L.nose_root + L.nose_tip)
        d = P.smin(d, P.bounded(p, P.sphere(p, nose_mid, 0.065), self.nose, 0.03), 0.012)
        d = P.smin(d, P.bounded(p, P.sphere(p, L.mouth_center, 0.05), self.lips, 0.02), 0.006)
        eyes_mid = L.eye_centers.mean(axis=0)
        near_eyes = P.round_box(p, eyes_mid, [abs(L.eye_centers[0, 0]) + 0.04, 0.035, 0.045], 0.0)
        sel = np.nonzero(near_eyes < 0.02)[0]
        if len(sel):
            d[sel] = self.eye_region(d[sel], p[sel])
        ears = np.minimum(P.sphere(p, L.ear_centers[0], 0.065), P.sphere(p, L.ear_centers[1], 0.065))
        return P.smin(d, P.bounded(p, ears, self.ears, 0.02), 0.008)

    def skin(self, p: np.ndarray, body: np.ndarray | None = None) -> np.ndarray:
        """Signed distance of the whole skin surface (head + neck + torso); pass ``body`` if known."""
        head_bound = P.sphere(p, [0.0, 0.0, 0.0], 0.27)
        head = P.bounded(p, head_bound, self.head, 0.05)
        return P.smin(head, self.body(p) if body is None else body, 0.04)
