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
    s = params.shape
    fl, fw = s["face_length"], s["face_width"]
    eye_r = 0.0205 * s["eye_size"]
    eye_y = 0.004 + 0.007 * s["eye_height"]
    eye_x = 0.051 * s["eye_spacing"]
    eye_z = 0.113 - 0.008 * s["eye_depth"]
    nose_len = 0.066 * s["nose_length"] * fl
    mouth_y = eye_y - 0.108 * fl + 0.007 * s["mouth_height"]
    chin_y = eye_y - 0.19 * fl - 0.012 * (s["chin_length"] - 1.0)
    neck_r = 0.072 * s["neck_width"]
    shoulder_y = -0.345 - 0.02 * (s["neck_length"] - 1.0) / 0.1 - 0.012 * s["shoulder_slope"]
    return Layout(
        cranium_center=np.array([0.0, 0.035, -0.022]),
        cranium_radii=np.array([s["cranium_width"], s["cranium_height"], s["cranium_depth"]]),
        eye_centers=_mirror([eye_x, eye_y, eye_z]),
        eye_radius=eye_r,
        iris_radius=0.0062 * s["eye_size"],
        brow_y=eye_y + 0.03,
        nose_root=np.array([0.0, eye_y + 0.004, 0.132]),
        nose_tip=np.array([0.0, eye_y - nose_len, 0.182 + 0.014 * (s["nose_projection"] - 1.0) / 0.15]),
        mouth_center=np.array([0.0, mouth_y, 0.152]),
        mouth_half_width=0.025 * s["lip_width"],
        chin=np.array([0.0, chin_y, 0.108 + 0.014 * s["chin_protrusion"]]),
        jaw_angles=_mirror([0.086 * s["jaw_width"] * fw, eye_y - 0.125 * fl + 0.01 * s["jaw_squareness"], -0.012]),
        cheek_centers=_mirror([0.066 * fw, eye_y - 0.038, 0.088]),
        ear_centers=_mirror([s["cranium_width"] - 0.006, eye_y - 0.018 + 0.008 * s["ear_height"], -0.028]),
        neck_top=np.array([0.0, -0.06, -0.035]),
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
        mid = P.ellipsoid(p, [0.0, ey - 0.05 * fl, 0.035], [0.104 * fw, 0.115 * fl, 0.112])
        # lower face: jaw line from each jaw angle to the chin, filled by a muzzle ellipsoid
        jaw_r = 0.022 + 0.012 * s["jaw_squareness"]
        jaw = np.minimum(P.round_cone(p, L.jaw_angles[0], L.chin + [-0.02, 0.01, -0.02], jaw_r, 0.02),
                         P.round_cone(p, L.jaw_angles[1], L.chin + [0.02, 0.01, -0.02], jaw_r, 0.02))
        chin = P.ellipsoid(p, L.chin + [0.0, 0.006, -0.018],
                           [0.032 * s["chin_width"], 0.026 * s["chin_length"], 0.03])
        muzzle = P.ellipsoid(p, [0.0, L.mouth_center[1] + 0.004, 0.075],
                             [0.058, 0.055 * fl, 0.075])
        lower = P.smin(P.smin(jaw, chin, 0.03), muzzle, 0.03)
        d = P.smin(mid, lower, 0.035)
        # cheekbones and cheeks
        cb = 0.018 + 0.01 * s["cheekbones"]
        for c in L.cheek_centers:
            d = P.smin(d, P.ellipsoid(p, c + [0.0, 0.012, -0.006], [0.036, cb, 0.03]), 0.02)
            full = 0.03 + 0.01 * s["cheek_fullness"]
            d = P.smin(d, P.ellipsoid(p, c + [-0.004 * np.sign(c[0]), -0.03, -0.004], [0.036, full, 0.03]), 0.025)
        # brow ridge above each eye
        br = 0.012 + 0.008 * s["brow_ridge"]
        for e in L.eye_centers:
            d = P.smin(d, P.ellipsoid(p, [e[0] * 0.9, L.brow_y - 0.006, e[2] + 0.012 + 0.004 * s["brow_ridge"]],
                                      [0.04, br, 0.022], P.rotation(roll=0.12 * np.sign(e[0]))), 0.02)
        return d

    def eye_region(self, d: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Carve eye sockets and add upper/lower eyelids around the eyeballs."""
        L = self.L
        r = L.eye_radius
        for e in L.eye_centers:
            socket = P.ellipsoid(p, e + [0.0, 0.002, 0.012], [r * 1.45, r * 1.05, r * 1.3])
            d = P.smax(d, -socket, 0.008)
            lid = P.ellipsoid(p, e, [r + 0.0032, r + 0.0032, r + 0.0032])
            upper = P.smax(lid, -(p[:, 1] - (e[1] + 0.0045)) + 0.0 * p[:, 0], 0.002)
            lower = P.smax(lid, (p[:, 1] - (e[1] - 0.0075)), 0.002)
            d = P.smin(d, np.minimum(upper, lower), 0.006)
        return d

    def nose(self, p: np.ndarray) -> np.ndarray:
        L, s = self.L, self.s
        tilt = 0.006 * s["nose_tilt"]
        tip = L.nose_tip + [0.0, tilt, 0.0]
        bridge_r = 0.007 + 0.004 * s["nose_bridge"]
        root = L.nose_root + [0.0, 0.0, 0.002 * s["nose_bridge"]]
        d = P.round_cone(p, root, tip + [0.0, 0.008, -0.01], bridge_r, 0.011)
        d = P.smin(d, P.sphere(p, tip + [0.0, 0.0, -0.004], 0.0125 * s["nose_tip"]), 0.01)
        nw = s["nose_width"]
        for sx in (-1.0, 1.0):
            ala = P.ellipsoid(p, [sx * 0.0145 * nw, tip[1] - 0.002, tip[2] - 0.022],
                              [0.010 * nw, 0.0085, 0.011])
            d = P.smin(d, ala, 0.008)
        # nostrils: small hollows under the tip
        for sx in (-1.0, 1.0):
            hole = P.ellipsoid(p, [sx * 0.0075 * nw, tip[1] - 0.0125, tip[2] - 0.012], [0.0045 * nw, 0.003, 0.006])
            d = P.smax(d, -hole, 0.002)
        return d

    def lips(self, p: np.ndarray) -> np.ndarray:
        L, s = self.L, self.s
        m, w, f = L.mouth_center, L.mouth_half_width, s["lip_fullness"]
        upper = P.ellipsoid(p, m + [0.0, 0.0055, -0.006], [w, 0.0058 * f, 0.011 * f])
        lower = P.ellipsoid(p, m + [0.0, -0.0065, -0.008], [w * 0.9, 0.0068 * f, 0.011 * f])
        return P.smin(upper, lower, 0.004)

    def ears(self, p: np.ndarray) -> np.ndarray:
        L, s = self.L, self.s
        size = s["ear_size"]
        angle = np.radians(5.0 + 25.0 * s["ear_angle"])
        out = np.full(len(p), np.inf)
        for c in L.ear_centers:
            sx = np.sign(c[0])
            rot = P.rotation(yaw=-sx * angle, roll=sx * 0.1)
            shell = P.ellipsoid(p, c + [sx * 0.006, 0.0, 0.0], [0.009, 0.031 * size, 0.019 * size], rot)
            lobe = P.ellipsoid(p, c + [sx * 0.006, -0.024 * size, 0.004], [0.007, 0.011 * size, 0.009 * size], rot)
            ear = P.smin(shell, lobe, 0.006)
            bowl = P.ellipsoid(p, c + [sx * 0.016, 0.002, 0.002], [0.008, 0.021 * size, 0.012 * size], rot)
            ear = P.smax(ear, -bowl, 0.003)
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
        d = P.smin(d, P.bounded(p, P.sphere(p, L.mouth_center, 0.04), self.lips, 0.02), 0.006)
        eyes_mid = L.eye_centers.mean(axis=0)
        near_eyes = P.round_box(p, eyes_mid, [abs(L.eye_centers[0, 0]) + 0.04, 0.035, 0.045], 0.0)
        sel = np.nonzero(near_eyes < 0.02)[0]
        if len(sel):
            d[sel] = self.eye_region(d[sel], p[sel])
        ears = np.minimum(P.sphere(p, L.ear_centers[0], 0.05), P.sphere(p, L.ear_centers[1], 0.05))
        return P.smin(d, P.bounded(p, ears, self.ears, 0.02), 0.008)

    def skin(self, p: np.ndarray, body: np.ndarray | None = None) -> np.ndarray:
        """Signed distance of the whole skin surface (head + neck + torso); pass ``body`` if known."""
        head_bound = P.sphere(p, [0.0, 0.0, 0.0], 0.27)
        head = P.bounded(p, head_bound, self.head, 0.05)
        return P.smin(head, self.body(p) if body is None else body, 0.04)
