"""The import graph of the project's packages, read from the source (nothing is imported), and
the layer order it must follow (docs/architecture.md).

Every module belongs to one *unit* (a stage, or a part of one) and every unit to one *layer*.
A module may import modules of its own unit and of units in lower layers; importing a unit of
its own layer or of a higher one is a violation, and so is any edge in :data:`FORBIDDEN`. Lazy
imports inside functions count like top-level ones: they run just the same.

    python -m geogen.common.importgraph                       # print units, edges, violations
    python -m geogen.common.importgraph --png docs/architecture.png   # redraw the picture

``tests/test_architecture.py`` fails on any violation or cycle.
"""

from __future__ import annotations

import argparse
import ast
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

#: Top-level folders whose Python files make the graph.
PACKAGES = ("geogen", "dataset", "reconstruction", "benchmark", "leaderboard", "scripts", "benchmarks")

#: Units: name → the module-name prefixes it holds (a module belongs to the unit of its longest
#: matching prefix; ``EXACT`` names a module by its full name).
UNITS: dict[str, tuple[str, ...]] = {
    "common": ("geogen.common",),
    "dataset format": ("dataset.format", "dataset.config", "dataset.eg3d"),
    "dataset": ("dataset",),
    "model": ("geogen.model",),
    "metrics": ("benchmark.metrics", "benchmark.geometry", "benchmark.protocol", "benchmark.stats"),
    "training": ("geogen.training",),
    "reconstruction": ("reconstruction",),
    "benchmark": ("benchmark",),
    "leaderboard": ("leaderboard",),
    "commands": ("geogen.cli",),
    "scripts": ("scripts",),
    "benchmarks": ("benchmarks",),
}
EXACT = {"geogen": "common"}  # the package root: its version string

#: Layers, lowest first: (layer name, its units).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("common", ("common",)),
    ("dataset format", ("dataset format",)),
    ("dataset builder / model", ("dataset", "model")),
    ("metrics", ("metrics",)),
    ("training / reconstruction", ("training", "reconstruction")),
    ("benchmark", ("benchmark",)),
    ("leaderboard", ("leaderboard",)),
    ("commands", ("commands",)),
    ("scripts", ("scripts", "benchmarks")),
)

#: Unit → units it must not import although they sit lower: using a trained model must not need
#: the training package, and the benchmark scores meshes, it does not build pseudo-GT.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "benchmark": ("training", "reconstruction"),
    "leaderboard": ("training", "reconstruction"),
}


@dataclass
class Graph:
    """Modules of the project with the project modules each imports (file:line of each import)."""

    root: Path
    modules: dict[str, Path] = field(default_factory=dict)
    imports: dict[str, dict[str, list[int]]] = field(default_factory=lambda: defaultdict(dict))

    def unit_of(self, module: str) -> str:
        return unit_of(module)

    def unit_edges(self) -> dict[tuple[str, str], list[str]]:
        """(unit, imported unit) → the module-level imports behind that edge ("a.b -> c.d (line n)")."""
        out: dict[tuple[str, str], list[str]] = defaultdict(list)
        for mod, targets in sorted(self.imports.items()):
            a = self.unit_of(mod)
            for target, lines in sorted(targets.items()):
                b = self.unit_of(target)
                if a != b:
                    out[(a, b)].append(f"{mod} -> {target} (line {lines[0]})")
        return dict(out)

    def violations(self) -> list[str]:
        """Imports against the layer order or :data:`FORBIDDEN`, one line each."""
        rank = layer_rank()
        problems = []
        for (a, b), why in sorted(self.unit_edges().items()):
            if rank[b] >= rank[a]:
                where = "the same layer" if rank[b] == rank[a] else "a later layer"
                problems.append(f"{a} -> {b}: imports {where} ({LAYERS[rank[b]][0]}): {'; '.join(why)}")
            elif b in FORBIDDEN.get(a, ()):
                problems.append(f"{a} -> {b}: forbidden edge: {'; '.join(why)}")
        return problems

    def cycles(self) -> list[list[str]]:
        """Cycles of the unit graph (each as a list of units), found by depth-first search."""
        succ: dict[str, set[str]] = defaultdict(set)
        for a, b in self.unit_edges():
            succ[a].add(b)
        found, state, stack = [], {}, []

        def visit(u: str) -> None:
            state[u] = 1
            stack.append(u)
            for v in sorted(succ[u]):
                if state.get(v) == 1:
                    found.append(stack[stack.index(v):] + [v])
                elif v not in state:
                    visit(v)
            stack.pop()
            state[u] = 2

        for u in sorted(succ):
            if u not in state:
                visit(u)
        return found


def unit_of(module: str) -> str:
    """The unit of a module name (KeyError for a module no unit holds)."""
    if module in EXACT:
        return EXACT[module]
    best, length = None, -1
    for unit, prefixes in UNITS.items():
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > length:
                best, length = unit, len(prefix)
    if best is None:
        raise KeyError(f"module {module} is in no unit of UNITS (geogen/common/importgraph.py)")
    return best


def layer_rank() -> dict[str, int]:
    return {unit: i for i, (_, units) in enumerate(LAYERS) for unit in units}


def _module_name(rel: Path) -> str:
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """Absolute name of the module a (possibly relative) ``from ... import`` names."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def build_graph(root: str | Path) -> Graph:
    """Parse every ``*.py`` of :data:`PACKAGES` under ``root`` and collect its project imports."""
    root = Path(root)
    graph = Graph(root)
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            graph.modules[_module_name(path.relative_to(root))] = path
    for mod, path in graph.modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(mod, is_package, node)
                names = [f"{base}.{a.name}" for a in node.names] + [base]
            for name in names:
                target = _known(graph, name)
                if target is not None and target != mod:
                    graph.imports[mod].setdefault(target, []).append(node.lineno)
    return graph


def _known(graph: Graph, name: str) -> str | None:
    """The project module ``name`` refers to (``pkg.mod.attr`` → ``pkg.mod``), None if outside the project."""
    while name:
        if name in graph.modules:
            return name
        name = name.rpartition(".")[0]
    return None


def draw(graph: Graph, path: str | Path) -> Path:
    """Draw the unit graph, one row per layer (lowest at the bottom), as a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    edges = graph.unit_edges()
    used = {u for e in edges for u in e} | {graph.unit_of(m) for m in graph.modules}
    pos: dict[str, tuple[float, float]] = {}
    rows = [(name, [u for u in units if u in used]) for name, units in LAYERS]
    width = max(len(units) for _, units in rows)
    for y, (_, units) in enumerate(rows):
        for i, unit in enumerate(units):
            pos[unit] = ((i + 0.5) * width / len(units), 1.6 * y)
    fig, ax = plt.subplots(figsize=(2.6 * width + 2.6, 1.0 * len(rows) + 1.0), dpi=110)
    for y, (name, _) in enumerate(rows):
        ax.text(-0.25, 1.6 * y, name, ha="right", va="center", fontsize=10, color="#555555", style="italic")
    for (a, b), why in sorted(edges.items()):
        (x0, y0), (x1, y1) = pos[a], pos[b]
        bend = 0.0 if abs(y0 - y1) <= 1.6 else (0.18 if x1 >= x0 else -0.18)
        ax.add_patch(FancyArrowPatch((x0, y0 - 0.28), (x1, y1 + 0.28), arrowstyle="-|>", mutation_scale=11,
                                     lw=0.6 + 0.25 * min(len(why), 8), color="#4a6fa5", alpha=0.55,
                                     connectionstyle=f"arc3,rad={bend}"))
    for unit, (x, y) in pos.items():
        ax.add_patch(FancyBboxPatch((x - 0.95, y - 0.27), 1.9, 0.54, boxstyle="round,pad=0.02",
                                    fc="#f4f1e8", ec="#333333", lw=1.0))
        ax.text(x, y, unit, ha="center", va="center", fontsize=9.5, family="monospace")
    ax.set_xlim(-3.3, width + 0.2)
    ax.set_ylim(-0.6, 1.6 * (len(rows) - 1) + 0.6)
    ax.axis("off")
    ax.set_title("Imports between units (arrow: imports; drawn from the source by geogen/common/importgraph.py)",
                 fontsize=10)
    path = Path(path)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=str(Path(__file__).resolve().parents[2]), help="repository root")
    ap.add_argument("--png", help="write the picture here (docs/architecture.png)")
    args = ap.parse_args(argv)
    graph = build_graph(args.root)
    for (a, b), why in sorted(graph.unit_edges().items()):
        print(f"{a} -> {b}  ({len(why)} import(s))")
    problems = graph.violations() + [" -> ".join(c) + ": cycle" for c in graph.cycles()]
    print(f"{len(graph.modules)} modules; {len(problems)} problem(s)")
    for p in problems:
        print(f"  {p}")
    if args.png:
        print(f"wrote {draw(graph, args.png)}")


if __name__ == "__main__":
    main()
