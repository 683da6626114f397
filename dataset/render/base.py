"""What every rendering backend takes and returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from dataset.scene import SceneModel
from geogen.common.cameras import Camera

from .lighting import Lighting


@dataclass
class RenderOutput:
    """One rendered view. Depth, normals and mask are exact (one ray per pixel centre)."""

    rgb: np.ndarray  # (H, W, 3) uint8 sRGB
    depth: np.ndarray  # (H, W) float32 z-depth along the optical axis, 0 on background
    normals: np.ndarray  # (H, W, 3) float32 world-space unit normals, 0 on background
    mask: np.ndarray  # (H, W) bool, True on the surface


@dataclass(frozen=True)
class RenderSettings:
    """Quality knobs shared by backends (from DatasetConfig)."""

    supersample: int = 2
    shadow_rays: int = 2
    ao_rays: int = 2
    ao_distance: float = 0.12


class Renderer(ABC):
    """A backend renders the GT mesh of one identity, coloured by the scene's material function."""

    def __init__(self, settings: RenderSettings):
        self.settings = settings

    @abstractmethod
    def render(self, scene: SceneModel, vertices: np.ndarray, faces: np.ndarray, cameras: list[Camera],
               lighting: Lighting, rng: np.random.Generator) -> list[RenderOutput]:
        """Render every camera; ``rng`` drives the backend's sampling (shadow/AO rays)."""
