"""Seeded 3D gradient (Perlin-style) noise and fractal sums, vectorised over (N, 3) points.

Our own few lines because the PyPI noise packages (``noise``, ``opensimplex``) either loop in
Python per point or are not seedable per identity; here one table lookup per lattice corner
runs on whole arrays. Output is roughly in [-1, 1], zero-mean, smooth (C2 fade curve).
"""

from __future__ import annotations

import numpy as np

_CORNERS = [(dx, dy, dz) for dx in (0, 1) for dy in (0, 1) for dz in (0, 1)]


class GradientNoise:
    """Perlin gradient noise with its own permutation and gradient table from ``seed``."""

    def __init__(self, seed: int):
        rng = np.random.default_rng(seed)
        perm = rng.permutation(256).astype(np.int64)
        self._perm = np.concatenate([perm, perm])
        grads = rng.normal(size=(256, 3))
        self._grad = grads / np.linalg.norm(grads, axis=1, keepdims=True)

    def __call__(self, p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, dtype=np.float64)
        cell = np.floor(p)
        f = p - cell
        i = cell.astype(np.int64) & 255
        fade = f * f * f * (f * (f * 6.0 - 15.0) + 10.0)
        perm, grad = self._perm, self._grad
        px = [perm[i[:, 0]], perm[i[:, 0] + 1]]
        out = np.zeros(len(p))
        corner_values = {}
        for dx, dy, dz in _CORNERS:
            h = perm[perm[px[dx] + i[:, 1] + dy] + i[:, 2] + dz]
            g = grad[h]
            corner_values[dx, dy, dz] = (g[:, 0] * (f[:, 0] - dx) + g[:, 1] * (f[:, 1] - dy)
                                         + g[:, 2] * (f[:, 2] - dz))
        ux, uy, uz = fade[:, 0], fade[:, 1], fade[:, 2]
        x00 = corner_values[0, 0, 0] + ux * (corner_values[1, 0, 0] - corner_values[0, 0, 0])
        x01 = corner_values[0, 0, 1] + ux * (corner_values[1, 0, 1] - corner_values[0, 0, 1])
        x10 = corner_values[0, 1, 0] + ux * (corner_values[1, 1, 0] - corner_values[0, 1, 0])
        x11 = corner_values[0, 1, 1] + ux * (corner_values[1, 1, 1] - corner_values[0, 1, 1])
        y0 = x00 + uy * (x10 - x00)
        y1 = x01 + uy * (x11 - x01)
        out = y0 + uz * (y1 - y0)
        return out * 1.6  # unit gradients give about +-0.6; rescale to roughly [-1, 1]

    def fbm(self, p: np.ndarray, octaves: int = 4, lacunarity: float = 2.0, gain: float = 0.5) -> np.ndarray:
        """Fractal sum of ``octaves`` noise layers, normalised so the result stays near [-1, 1]."""
        total = np.zeros(len(p))
        amp, norm, scale = 1.0, 0.0, 1.0
        for octave in range(octaves):
            # shift each octave so lattice points do not line up (avoids a visible grid)
            total += amp * self(p * scale + 17.31 * octave)
            norm += amp
            amp *= gain
            scale *= lacunarity
        return total / norm
