"""The models shipped in models/tiny load with today's code, are what models/README.md says, and render."""

from pathlib import Path

import pytest
import torch

from geogen.model.config import VARIANT_REGISTRY
from geogen.model.io import load_model_file
from geogen.model.render_views import front_label, render_views

SHIPPED = Path(__file__).resolve().parent.parent / "models" / "tiny"
VARIANTS = ("geogen", "geogen-nodepth", "eg3d")


@pytest.mark.parametrize("variant", VARIANTS)
def test_shipped_model_loads_renders_and_matches_its_description(variant):
    G, cfg, meta = load_model_file(SHIPPED / f"{variant}.pkl")
    train = meta["train_config"]
    assert cfg.variant == variant and meta["kimg"] == pytest.approx(15.0) and train["seed"] == 0
    assert train["preset"] == "tiny"
    if VARIANT_REGISTRY.get(variant).learnable_beta:   # the β lr chosen on the validation identities
        assert train["loss"]["beta_lr"] == pytest.approx(0.01)
        assert meta["beta"] == pytest.approx(float(G.beta), rel=1e-6)
    with torch.no_grad():
        ws = G.mapping(torch.randn(1, cfg.z_dim, generator=torch.Generator().manual_seed(0)),
                       front_label(meta["camera"]))
        out = render_views(G, ws, front_label(meta["camera"]))
    assert out["image"].shape == (1, 3, cfg.image_resolution, cfg.image_resolution)
    assert torch.isfinite(out["image"]).all() and out["weights_sum"].mean() > 0.05   # something is in view
