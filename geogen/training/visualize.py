"""Moved to :mod:`geogen.model.render_views` (rendering a model needs no training code); the names
the training loop uses are re-exported here."""

from geogen.model.render_views import (DEFAULT_CAMERA, depth_to_uint8, front_label, grid, image_to_uint8,  # noqa: F401
                                       orbit_labels, render_views, upscale_to)
