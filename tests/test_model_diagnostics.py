"""Surface diagnostics on the untrained generator, whose SDF is the prior sphere |p| − 0.3 (± 0.01)."""

import math

import pytest
import torch

from geogen.model.config import model_config
from geogen.model.diagnostics import surface_diagnostics
from geogen.model.generator import Generator
from geogen.training.visualize import orbit_labels


def test_prior_sphere_is_a_distance_and_its_rendered_depth_sits_on_the_mesh():
    torch.manual_seed(0)
    G = Generator(model_config("tiny", "geogen")).eval()
    labels = orbit_labels(2)
    ws = G.mapping(torch.randn(1, G.cfg.z_dim), labels[:1])
    sharp = surface_diagnostics(G, ws, labels, mesh_resolution=64, render_resolution=16)
    assert sharp["grad_norm_median"] == pytest.approx(1.0, abs=0.05)
    assert abs(sharp["depth_offset_median"]) < 0.02 and sharp["sdf_at_depth_abs_median"] < 0.02
    with torch.no_grad():
        G.field.log_beta.fill_(math.log(0.15))      # a blurry density (peak 1/2β lower): light goes deeper
    blurry = surface_diagnostics(G, ws, labels, mesh_resolution=64, render_resolution=16)
    assert blurry["depth_offset_median"] > 0.03 and blurry["beta"] == pytest.approx(0.151, rel=1e-3)
    with pytest.raises(ValueError, match="SDF"):
        surface_diagnostics(Generator(model_config("tiny", "eg3d")), ws, labels)
