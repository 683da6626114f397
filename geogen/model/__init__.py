"""The GeoGen model: tri-plane generator with an SDF (or density) field, renderer, discriminator, meshes.

See docs/model.md. Public entry points::

    from geogen.model import model_config, Generator, Discriminator, extract_mesh

The training schedule (``LossConfig``, ``loss_config``) is in :mod:`geogen.training.config`.
"""

from .config import PRESETS, VARIANT_REGISTRY, ModelConfig, Variant, model_config, variant_names
from .discriminator import Discriminator
from .generator import Generator

__all__ = ["ModelConfig", "model_config", "PRESETS", "VARIANT_REGISTRY", "Variant", "variant_names",
           "Discriminator", "Generator", "extract_mesh"]


def extract_mesh(*args, **kwargs):
    """See :func:`geogen.model.mesh.extract_mesh` (imported lazily: it needs scikit-image)."""
    from .mesh import extract_mesh as _extract_mesh
    return _extract_mesh(*args, **kwargs)
