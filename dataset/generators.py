"""Head generators by name (``DatasetConfig.generator``): sample parameters, build a scene, mesh it.

The build pipeline only talks to this small interface, so the procedural head model
(``dataset.identity``, ``dataset.head``, ``dataset.mesh_extract``) can be swapped for another
generator, and tests can register a cheap analytic stand-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from geogen.common.registry import Registry

from .scene import SceneModel


@dataclass(frozen=True)
class HeadGenerator:
    """Three steps kept separate: sampling (plain JSON data), building, meshing."""

    sample: Callable[[int, int], dict[str, Any]]  # (seed, identity index) -> JSON-serialisable params
    build: Callable[[dict[str, Any]], SceneModel]  # params -> scene (SDF + materials)
    mesh: Callable[[SceneModel, int], tuple[np.ndarray, np.ndarray]]  # (scene, grid resolution) -> (V, F)
    version: str  # recorded in the manifest; bump when the same params give different heads


GENERATORS: Registry[Callable[[], HeadGenerator]] = Registry("head generator")


@GENERATORS.register("procedural")
def procedural() -> HeadGenerator:
    """The project's procedural SDF head model (imported lazily: building it is the slow part)."""
    from dataset import identity
    from dataset.head import build_head
    from dataset.mesh_extract import extract_mesh

    def build(params: dict[str, Any]) -> SceneModel:
        return build_head(identity.IdentityParams.from_dict(params))

    version = f"procedural-head/params-v{getattr(identity, 'PARAMS_VERSION', 0)}"
    return HeadGenerator(sample=lambda seed, index: identity.sample_identity(seed, index).to_dict(),
                         build=build, mesh=extract_mesh, version=version)


def get_generator(name: str) -> HeadGenerator:
    return GENERATORS.get(name)()
