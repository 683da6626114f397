"""The GeoGen model: tri-plane generator with an SDF (or density) field, renderer, discriminator, meshes.

See docs/model.md. Public entry points::

    from geogen.model import model_config, loss_config, Generator, Discriminator, extract_mesh
"""

from .config import LossConfig, ModelConfig, loss_config, model_config, PRESETS, VARIANTS
from .discriminator import Discriminator
from .generator import Generator

__all__ = ["LossConfig", "ModelConfig", "loss_config", "model_config", "PRESETS", "VARIANTS",
           "Discriminator", "Generator", "extract_mesh"]


def extract_mesh(*args, **kwargs):
    """See :func:`geogen.model.mesh.extract_mesh` (imported lazily: it needs scikit-image)."""
    from .mesh import extract_mesh as _extract_mesh
    return _extract_mesh(*args, **kwargs)
