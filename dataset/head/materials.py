"""Procedural 3D materials: albedo, roughness and specular per surface point, by part.

Every pattern is a function of the 3D point (solid texturing), so the same spot looks the
same from every camera — what multi-view stereo needs — and no UV layout is required.
Skin: tone with blotches, pores, freckles, flushed cheeks and nose, lips, eyebrows, stubble.
Eyes: sclera, iris with radial fibres and a limbal ring, pupil. Hair: strands along a flow
field. Clothing: woven fabric with an optional print (stripes, check, heather).
"""

from __future__ import annotations

import numpy as np

from ..identity import IdentityParams
from ..scene import Material
from .anatomy import Anatomy, Layout
from .hair import Hair, strand_pattern
from .noise import GradientNoise


def _smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _mix(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Blend colours (N,3) or (3,) by weights (N,)."""
    return a + (b - a) * t[:, None]


class Materials:
    """Material lookup for one identity, keyed by the part label of each point."""

    def __init__(self, params: IdentityParams, layout: Layout, anatomy: Anatomy, hair: Hair):
        self.params = params
        self.hair = hair  # for the facial-hair region and the parting
        self.L = layout
        self.anatomy = anatomy
        seed = params.texture_seed
        self.noise = GradientNoise(seed)
        self.noise2 = GradientNoise(seed + 1)
        self.noise3 = GradientNoise(seed + 2)
        self.strand_noise = GradientNoise(seed + 7)  # the same streaks as the hair geometry

    def evaluate(self, p: np.ndarray, n: np.ndarray, labels: np.ndarray) -> Material:
        from .model import PARTS  # local import: model imports this module

        albedo = np.zeros((len(p), 3))
        rough = np.full(len(p), 0.6)
        spec = np.full(len(p), 0.2)
        shaders = {"skin": self._skin, "eyes": self._eyes, "hair": self._hair,
                   "clothing": self._clothing, "glasses": self._glasses}
        for k, name in enumerate(PARTS):
            sel = np.nonzero(labels == k)[0]
            if len(sel):
                a, r, s = shaders[name](p[sel], n[sel])
                albedo[sel], rough[sel], spec[sel] = a, r, s
        return Material(albedo=np.clip(albedo, 0.0, 1.0), roughness=np.clip(rough, 0.0, 1.0),
                        specular=np.clip(spec, 0.0, 1.0))

    # --- skin ---------------------------------------------------------------------------
    def _skin(self, p: np.ndarray, n: np.ndarray):
        prm, L = self.params, self.L
        base = np.asarray(prm.skin_rgb)
        blotch = self.noise.fbm(p * 18.0, octaves=3)
        pores = self.noise2(p * 420.0)
        mottle = self.noise3(p * 65.0)  # mid-scale variation: gives stereo something to match
        col = base[None, :] * (1.0 + 0.10 * blotch[:, None] + 0.08 * mottle[:, None] + 0.05 * pores[:, None])
        # redness on cheeks, nose and ears
        red = np.zeros(len(p))
        for c in L.cheek_centers:
            red += np.exp(-np.sum((p - (c + [0.0, -0.01, 0.02])) ** 2, axis=1) / (2 * 0.022 ** 2))
        red += 0.7 * np.exp(-np.sum((p - L.nose_tip) ** 2, axis=1) / (2 * 0.015 ** 2))
        flush = base * np.array([1.0, 0.72, 0.72])
        col = _mix(col, flush[None, :] * np.ones((len(p), 1)), np.clip(red, 0, 1) * (0.25 + 0.35 * prm.redness))
        # freckles: sparse spots over the mid-face
        if prm.freckles > 0.02:
            mid_face = [0.0, L.eye_centers[0, 1] - 0.03, 0.14 + L.face_z]
            face_w = np.exp(-np.sum(((p - mid_face) / [0.09, 0.05, 0.1]) ** 2, axis=1))
            spots = _smoothstep(0.5, 0.65, self.noise3(p * 220.0)) * face_w * prm.freckles
            col = _mix(col, base * np.array([0.78, 0.6, 0.48]) * np.ones((len(p), 1)), 0.5 * np.clip(spots, 0, 1))
        # lips
        lips = self.anatomy.lips(p)
        lip_w = _smoothstep(0.003, -0.0015, lips)
        col = _mix(col, np.asarray(prm.lip_rgb) * (1.0 + 0.08 * pores[:, None]), lip_w)
        m = L.mouth_center  # the line where the lips meet
        seam = (_smoothstep(0.0025, 0.0008, np.abs(p[:, 1] - (m[1] - 0.0012)))
                * _smoothstep(L.mouth_half_width, 0.8 * L.mouth_half_width, np.abs(p[:, 0]))
                * (p[:, 2] > m[2] - 0.025))
        col = col * (1.0 - 0.6 * seam)[:, None]
        # stubble: fine dark stipple where a beard would grow
        if prm.facial_hair != "none":
            beard = self.hair.beard_weight(p)
            dots = _smoothstep(-0.1, 0.5, self.noise3(p * 700.0)) * 0.5 + 0.3
            hair_tint = np.asarray(prm.hair_rgb) * 0.6 + base * 0.15
            strength = 0.25 if prm.facial_hair == "stubble" else 0.6
            col = _mix(col, hair_tint[None, :] * np.ones((len(p), 1)), beard * dots * strength)
        # eyebrows: arcs of short strands above each eye; lashes: a dark rim on the lid margins
        col = _mix(col, np.asarray(prm.hair_rgb) * 0.8 * np.ones((len(p), 1)), self._eyebrows(p))
        col = col * (1.0 - 0.65 * self._lash_line(p))[:, None]
        rough = 0.55 - 0.2 * lip_w + 0.05 * pores
        spec = 0.25 + 0.15 * lip_w
        return col, rough, spec

    def _lash_line(self, p: np.ndarray) -> np.ndarray:
        """0..1 on the eyelid margins next to the eyeball (upper lid darker: lashes)."""
        L = self.L
        w = np.zeros(len(p))
        for e in L.eye_centers:
            q = p - e
            gap = np.sqrt(np.einsum("ij,ij->i", q, q)) - L.eye_radius
            margin = _smoothstep(0.0075, 0.0035, gap) * (q[:, 2] > 0.0)
            upper = np.where(q[:, 1] > 0.0, 1.0, 0.45)
            w = np.maximum(w, margin * upper)
        return w

    def _eyebrows(self, p: np.ndarray) -> np.ndarray:
        L = self.L
        w = np.zeros(len(p))
        for e in L.eye_centers:
            sx = np.sign(e[0])
            u = (p[:, 0] - e[0] * 0.95) * sx  # across the brow, outward positive
            arc_y = L.brow_y + 0.001 - 7.0 * (u - 0.008) ** 2  # a shallow arch peaking outward
            dy = p[:, 1] - arc_y
            half_h = 0.006 * (1.0 - 0.45 * _smoothstep(0.0, 0.03, u))
            inside = _smoothstep(0.002, -0.001, np.abs(dy) - half_h) * _smoothstep(0.033, 0.028, np.abs(u))
            inside *= (p[:, 2] > e[2]).astype(np.float64)
            strands = 0.5 + 0.5 * self.noise2(np.stack([u * 900.0, dy * 150.0, p[:, 2] * 150.0], axis=1))
            w = np.maximum(w, inside * (0.7 + 0.3 * strands))
        return w

    # --- eyes ---------------------------------------------------------------------------
    def _eyes(self, p: np.ndarray, n: np.ndarray):
        L = self.L
        right = p[:, 0] < 0.0
        centers = np.where(right[:, None], L.eye_centers[0], L.eye_centers[1])
        q = p - centers
        gaze = np.array([0.0, 0.0, 1.0])
        cos_a = (q @ gaze) / np.maximum(np.linalg.norm(q, axis=1), 1e-9)
        radial = L.eye_radius * np.sqrt(np.clip(1.0 - cos_a ** 2, 0.0, 1.0)) * (cos_a > 0)
        radial = np.where(cos_a > 0, radial, 1.0)
        iris_r, pupil_r = L.iris_radius, L.iris_radius * 0.42
        sclera = np.array([0.55, 0.52, 0.49]) * (1.0 + 0.05 * self.noise(p * 300.0))[:, None]
        angle = np.arctan2(q[:, 1], q[:, 0])
        fibres = 0.75 + 0.25 * np.sin(angle * 40.0 + 3.0 * self.noise2(p * 500.0))
        iris = np.asarray(self.params.iris_rgb)[None, :] * fibres[:, None]
        limbal = _smoothstep(0.7 * iris_r, iris_r, radial)
        iris = iris * (1.0 - 0.6 * limbal)[:, None]
        col = np.where((radial < iris_r)[:, None], iris, sclera)
        col = np.where((radial < pupil_r)[:, None], np.array([0.01, 0.01, 0.01]), col)
        return col, np.full(len(p), 0.1), np.full(len(p), 0.5)

    # --- hair ---------------------------------------------------------------------------
    def _hair(self, p: np.ndarray, n: np.ndarray):
        strands = strand_pattern(self.strand_noise, p, self.L.cranium_center)
        clump = self.noise3.fbm(p * 20.0, octaves=2)
        base = np.asarray(self.params.hair_rgb)
        shade = np.exp(0.9 * strands + 0.35 * clump)  # multiplicative: works for black and blonde
        col = base[None, :] * shade[:, None]
        locks = _smoothstep(0.25, 0.6, strand_pattern(self.noise3, p * 0.5, self.L.cranium_center * 0.5, 1))
        col = _mix(col, np.minimum(base * 1.8 + 0.03, 1.0) * np.ones((len(p), 1)), 0.35 * locks)  # sun-lit locks
        if self.params.hair_style in ("short", "medium", "long"):  # the parting shows the scalp
            part = self.hair.parting(p)
            col = _mix(col, np.asarray(self.params.skin_rgb) * 0.6 * np.ones((len(p), 1)), 0.45 * part)
        if self.params.hair_style == "buzz":  # stubble-short hair: scalp shows through
            dots = _smoothstep(-0.3, 0.4, self.noise2(p * 500.0))
            cover = 0.45 + 0.35 * dots
            col = _mix(np.asarray(self.params.skin_rgb) * np.ones((len(p), 1)), col, cover)
        return col, 0.45 + 0.15 * strands, 0.25 + 0.1 * strands

    # --- clothing -----------------------------------------------------------------------
    def _clothing(self, p: np.ndarray, n: np.ndarray):
        prm = self.params
        a, b = np.asarray(prm.clothing_rgb), np.asarray(prm.clothing_rgb2)
        weave = np.sin(p[:, 0] * 900.0) * np.sin(p[:, 1] * 900.0)
        folds = self.noise.fbm(p * 12.0, octaves=2)
        t = np.zeros(len(p))
        if prm.clothing_pattern == "stripes":
            t = _smoothstep(-0.2, 0.2, np.sin(p[:, 1] * 160.0))
        elif prm.clothing_pattern == "check":
            t = 0.5 * (_smoothstep(-0.2, 0.2, np.sin(p[:, 0] * 120.0)) + _smoothstep(-0.2, 0.2, np.sin(p[:, 1] * 120.0)))
        elif prm.clothing_pattern == "heather":
            t = 0.5 + 0.5 * self.noise2(p * [300.0, 60.0, 300.0])
            t = t * 0.6
        col = _mix(a[None, :] * np.ones((len(p), 1)), b, t)
        col = col * (1.0 + 0.08 * weave[:, None] + 0.12 * folds[:, None])
        if prm.clothing == "collared_shirt":  # button placket down the front, small pale buttons
            front = p[:, 2] > 0.0
            placket = _smoothstep(0.011, 0.008, np.abs(p[:, 0])) * front
            col = col * (1.0 - 0.25 * placket)[:, None]
            y0 = self.L.shoulder_y - 0.1
            phase = (p[:, 1] - y0) / 0.045
            dy = (phase - np.round(phase)) * 0.045
            button = _smoothstep(0.0045, 0.003, np.hypot(p[:, 0], dy)) * front * (p[:, 1] < y0 + 0.01)
            col = _mix(col, np.array([0.75, 0.72, 0.66]) * np.ones((len(p), 1)), button)
        return col, np.full(len(p), 0.85), np.full(len(p), 0.05)

    def _glasses(self, p: np.ndarray, n: np.ndarray):
        col = np.asarray(self.params.glasses_rgb)[None, :] * np.ones((len(p), 1))
        return col, np.full(len(p), 0.15), np.full(len(p), 0.9)
