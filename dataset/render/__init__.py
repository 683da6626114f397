"""Rendering backends, chosen by name from :data:`RENDERERS` (``DatasetConfig.renderer``).

A new backend (e.g. a path tracer) subclasses :class:`Renderer` and registers itself with
``@RENDERERS.register("name")``; heavy dependencies should be imported inside it, lazily.
"""

from __future__ import annotations

from geogen.common.registry import Registry

from .base import Renderer, RenderOutput, RenderSettings
from .lighting import Lighting, sample_lighting

RENDERERS: Registry[type[Renderer]] = Registry("renderer")

from . import embree  # noqa: E402,F401  (registers "embree")


def make_renderer(name: str, settings: RenderSettings) -> Renderer:
    """Instantiate the backend registered as ``name`` (UserError with did-you-mean otherwise)."""
    return RENDERERS.get(name)(settings)


__all__ = ["RENDERERS", "Renderer", "RenderOutput", "RenderSettings", "Lighting", "sample_lighting",
           "make_renderer"]
