"""``build_head(params) -> HeadModel``: the SceneModel the renderer and mesher consume.

A head is a few *surfaces* with their own materials — skin, eyes, hair, clothing, glasses —
each a signed distance. The scene SDF is their union, cut flat at the bottom of the torso
(y = -0.5) and kept inside the [-0.5, 0.5]³ box, so the mesh is closed. The surface nearest
to a point gives its part label, which selects the material.
"""

from __future__ import annotations

import numpy as np

from ..identity import IdentityParams
from ..scene import Material
from .anatomy import Anatomy, Layout, make_layout
from .clothing import Clothing
from .glasses import Glasses
from .hair import Hair
from .materials import Materials

PARTS = ("skin", "eyes", "hair", "clothing", "glasses")
BOX_HALF = 0.5
FLOOR_Y = -0.5


class HeadModel:
    """One built identity (implements :class:`dataset.scene.SceneModel`)."""

    def __init__(self, params: IdentityParams):
        self.params = params
        self.layout: Layout = make_layout(params)
        self.anatomy = Anatomy(params, self.layout)
        self.hair = Hair(params, self.layout, self.anatomy)
        self.clothing = Clothing(params, self.layout, self.anatomy)
        self.glasses = Glasses(params, self.layout)
        self.materials = Materials(params, self.layout, self.anatomy, self.hair)
        self.bounds = (np.full(3, -BOX_HALF), np.full(3, BOX_HALF))

    def part_distances(self, points: np.ndarray) -> np.ndarray:
        """(N, len(PARTS)) signed distance of each surface, before the box cut."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        body = self.anatomy.body(p)
        out = np.full((len(p), len(PARTS)), np.inf)
        out[:, 0] = self.anatomy.skin(p, body)
        out[:, 1] = self.anatomy.eyeballs(p)
        out[:, 2] = self.hair.distance(p)
        out[:, 3] = self.clothing.distance(p, body)
        out[:, 4] = self.glasses.distance(p)
        return out

    @staticmethod
    def _cut(d: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Keep the solid inside the scene box; the torso ends on the flat floor y = -0.5."""
        box = np.abs(p).max(axis=1) - BOX_HALF
        return np.maximum(d, box)

    def sdf(self, points: np.ndarray) -> np.ndarray:
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        return self._cut(self.part_distances(p).min(axis=1), p)

    def labels(self, points: np.ndarray) -> np.ndarray:
        """Index into PARTS of the surface nearest to each point."""
        return self.part_distances(points).argmin(axis=1)

    def material(self, points: np.ndarray, normals: np.ndarray) -> Material:
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        n = np.asarray(normals, dtype=np.float64).reshape(-1, 3)
        return self.materials.evaluate(p, n, self.labels(p))

    def vertex_colors(self, vertices: np.ndarray, normals: np.ndarray | None = None) -> np.ndarray:
        """uint8 sRGB colour per vertex (albedo), e.g. for coloured GT meshes."""
        if normals is None:
            normals = sdf_normals(self, vertices)
        albedo = self.material(vertices, normals).albedo
        srgb = np.where(albedo <= 0.0031308, 12.92 * albedo, 1.055 * np.power(albedo, 1 / 2.4) - 0.055)
        return np.clip(np.round(srgb * 255.0), 0, 255).astype(np.uint8)


def sdf_normals(scene, points: np.ndarray, eps: float = 1e-3) -> np.ndarray:
    """Unit normals from central differences of the SDF (6 evaluations per point)."""
    p = np.asarray(points, dtype=np.float64)
    offsets = np.eye(3) * eps
    stacked = np.concatenate([p + o for o in offsets] + [p - o for o in offsets])
    d = scene.sdf(stacked).reshape(6, len(p))
    g = (d[:3] - d[3:]).T / (2 * eps)
    return g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)


def build_head(params: IdentityParams) -> HeadModel:
    """Build the scene model for one sampled identity."""
    return HeadModel(params)
