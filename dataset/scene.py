"""The contract between head *building* (dataset.head) and *rendering* (dataset.render).

Sampling an identity (``dataset.identity.sample_identity``) gives plain, JSON-serialisable
parameters. Building turns parameters into a :class:`SceneModel`: an exact signed distance
function plus a material lookup. Renderers only see a triangle mesh extracted from the SDF
and the material function, so a new backend (e.g. a path tracer) plugs in without touching
the head model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass
class Material:
    """Per-point surface appearance, arrays of length N."""

    albedo: np.ndarray  # (N, 3) linear RGB in [0, 1]
    roughness: np.ndarray  # (N,) in [0, 1]; low = glossy (eyes, lips, glasses)
    specular: np.ndarray  # (N,) specular strength in [0, 1]


class SceneModel(Protocol):
    """A built identity: geometry as an SDF and appearance as a material function."""

    bounds: tuple[np.ndarray, np.ndarray]  # (min xyz, max xyz) box that contains the surface

    def sdf(self, points: np.ndarray) -> np.ndarray:
        """Signed distance (negative inside) at world points (N, 3) → (N,)."""

    def material(self, points: np.ndarray, normals: np.ndarray) -> Material:
        """Appearance at surface points (N, 3) with unit normals (N, 3)."""
