"""The stages depend one way (docs/architecture.md): checked on the source, and by importing."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_using_a_trained_model_does_not_import_the_training_package(tmp_path):
    """The benchmark and geogen-gen load, build and render a model with geogen.model alone."""
    code = f"""
import json, sys
import torch
import benchmark.cli, benchmark.run, benchmark.generation, benchmark.shapes, geogen.cli.generate
from benchmark.adapters import load_adapter
from benchmark.pti import PTI_PRESETS
from geogen.model.config import model_config
from geogen.model.generator import Generator
from geogen.model.io import load_model_file, save_file
from geogen.model.render_views import front_label, latent_for_seed, orbit_labels, render_views

cfg = model_config("tiny", "geogen")
path = save_file({str(tmp_path / "tiny.pkl")!r}, {{"model_config": cfg.to_dict(), "G_ema": Generator(cfg).state_dict(),
                                                 "meta": {{}}}}, kind="model")
G, cfg, meta = load_model_file(path)
ws = G.mapping(latent_for_seed(0, cfg.z_dim), front_label(meta.get("camera")))
views = render_views(G, ws, orbit_labels(2))
load_adapter(path, PTI_PRESETS["tiny"], mesh_resolution=32)
print(json.dumps({{"shape": list(views["image"].shape),
                   "training": sorted(m for m in sys.modules if m.startswith("geogen.training"))}}))
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["shape"][0] == 2
    assert out["training"] == []
