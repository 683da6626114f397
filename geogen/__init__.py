"""GeoGen: geometry-aware 3D generative modelling.

This package holds the GeoGen model (``geogen.model``, ``geogen.training``, ``geogen.cli``) and
the low-level pieces every stage shares (``geogen.common``). Importing ``geogen`` itself is
cheap: it does not import torch.
"""

__version__ = "0.1.0"
