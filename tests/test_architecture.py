"""The stages depend one way (docs/architecture.md): checked on the source, and by importing.

The import graph is read from the source by geogen/common/importgraph.py (nothing is imported);
the layer order lives there too (``LAYERS``, ``FORBIDDEN``).
"""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from geogen.common.importgraph import LAYERS, build_graph, unit_of

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def graph():
    return build_graph(ROOT)


def test_no_stage_imports_a_later_stage(graph):
    assert graph.violations() == []


def test_the_stages_have_no_import_cycle(graph):
    assert graph.cycles() == []


def test_every_module_belongs_to_a_layer(graph):
    assert len(graph.modules) > 100
    layered = {unit for _, units in LAYERS for unit in units}
    assert {unit_of(m) for m in graph.modules} <= layered


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_the_check_sees_a_later_stage_import_and_a_cycle(tmp_path):
    """What the graph test would say about the two cycles this project had (issue 13)."""
    _write(tmp_path, {
        "dataset/__init__.py": "", "dataset/cli.py": "def f():\n    from reconstruction.cli import dataset\n",
        "dataset/recon_views.py": "", "reconstruction/__init__.py": "", "reconstruction/cli.py": "",
        "reconstruction/pseudo_gt.py": "from dataset.recon_views import committed\n",
        "benchmark/__init__.py": "", "benchmark/results.py": "from leaderboard.cells import safe_cell\n",
        "leaderboard/__init__.py": "", "leaderboard/cells.py": "", "leaderboard/build.py": "from benchmark import results\n",
        "geogen/__init__.py": "", "geogen/training/__init__.py": "", "geogen/training/data.py": "",
        "benchmark/generation.py": "from geogen.training.data import ImageLabelDataset\n",
    })
    g = build_graph(tmp_path)
    problems = "\n".join(g.violations())
    assert "dataset -> reconstruction: imports a later layer" in problems
    assert "benchmark -> leaderboard: imports a later layer" in problems
    assert "benchmark -> training: forbidden edge" in problems
    assert sorted(map(tuple, g.cycles())) == [("benchmark", "leaderboard", "benchmark"),
                                              ("dataset", "reconstruction", "dataset")]


LAYOUT_PARTS = {"meshes", "gt", "pseudo_gt", "identities", "recon_views", "transforms.json", "manifest.json"}
LAYOUT_PATHS = ("meshes/gt", "meshes/pseudo_gt", "pseudo_gt/")


def _layout_literals(path: Path) -> list[str]:
    """String constants of ``path`` that spell a dataset-layout path: one holding meshes/gt,
    meshes/pseudo_gt or pseudo_gt/, or a folder/file name of the layout joined with ``/``.
    Docstrings and other bare string statements (documentation) are not code."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            if any(p in node.value for p in LAYOUT_PATHS):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:60]!r}")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            for side in (node.left, node.right):
                if isinstance(side, ast.Constant) and side.value in LAYOUT_PARTS:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: path part {side.value!r}")
    return found


def test_only_the_dataset_format_module_spells_the_layout():
    """Paths of the dataset folder come from dataset/format.py (issue 13 item 2)."""
    found = []
    for pkg in ("dataset", "reconstruction", "benchmark", "leaderboard", "geogen", "perf"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if path != ROOT / "dataset" / "format.py":
                found += _layout_literals(path)
    assert found == []


def test_using_a_trained_model_does_not_import_the_training_package(tmp_path):
    """The benchmark and geogen-gen load, build and render a model with geogen.model alone."""
    code = f"""
import json, sys
import torch
import geogen.cli.bench, geogen.cli.generate, benchmark.run, benchmark.generation, benchmark.shapes
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
