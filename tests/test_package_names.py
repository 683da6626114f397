"""The stage packages keep their top-level names (dataset, benchmark, ...), which PyPI packages also
use; these checks make a clash fail loudly instead of importing the wrong code (docs/architecture.md,
"Package names")."""

import fnmatch
import importlib
import importlib.metadata
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("geogen", "dataset", "reconstruction", "benchmark", "leaderboard")
#: Top-level names of this project that unrelated PyPI packages use too.
TAKEN_ON_PYPI = ("dataset", "benchmark", "leaderboard", "reconstruction")


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.mark.parametrize("name", STAGES)
def test_each_stage_package_is_imported_from_this_repository(name):
    module = importlib.import_module(name)
    assert Path(module.__file__).resolve() == ROOT / name / "__init__.py"


@pytest.mark.parametrize("name", STAGES)
def test_only_this_project_installs_the_stage_names(name):
    """No other distribution in the environment brings a top-level module of the same name."""
    owners = set(importlib.metadata.packages_distributions().get(name, ["geogen"]))
    assert owners == {"geogen"}, f"{name} is also installed by {sorted(owners - {'geogen'})}: use a fresh venv"


def test_no_dependency_is_a_pypi_package_of_the_same_name():
    project = _pyproject()["project"]
    requirements = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    names = {re.match(r"[A-Za-z0-9._-]+", r).group().lower().replace("_", "-") for r in requirements}
    assert "torch" in names and "pykdtree" in names  # the parse found the names
    assert names.isdisjoint(TAKEN_ON_PYPI)


def test_the_install_selects_exactly_the_stage_packages():
    """perf/, scripts/ and tests/ run from the checkout; only the five stages are installed."""
    patterns = _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    folders = [p.name for p in ROOT.iterdir() if p.is_dir() and p.name.isidentifier()]
    installed = {f for f in folders if any(fnmatch.fnmatchcase(f, pat) for pat in patterns)}
    assert installed == set(STAGES)
