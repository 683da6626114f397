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
PACKAGES = ("geogen", "dataset", "reconstruction", "benchmark", "leaderboard", "scripts", "perf")

#: Units: name → the module-name prefixes it holds (a module belongs to the unit of its longest
#: matching prefix; ``EXACT`` names a module by its full name).
UNITS: dict[str, tuple[str, ...]] = {
    "common": ("geogen.common",),
    "dataset format": ("dataset.format", "dataset.config", "dataset.eg3d"),
    "dataset": ("dataset",),
    "model": ("geogen.model",),
    "metrics": ("benchmark.metrics", "benchmark.assignment", "benchmark.geometry", "benchmark.protocol",
                "benchmark.stats"),
    "training": ("geogen.training",),
    "reconstruction": ("reconstruction",),
    "benchmark": ("benchmark",),
    "leaderboard": ("leaderboard",),
    "commands": ("geogen.cli",),
    "scripts": ("scripts",),
    "perf": ("perf",),
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
    ("scripts", ("scripts", "perf")),
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
    """Draw the layers and the real import graph as a PNG at ``path``.

    Left: the layer stack (lowest at the bottom), each unit with the folders it holds. Right: the
    import matrix read from the source: row = importing unit, column = imported unit, number =
    import statements. Units are in layer order on both axes, so an allowed import lies below the
    diagonal blocks (grey: same layer); a cell on or above them (red) is a violation, and so is an
    import into a hatched cell (:data:`FORBIDDEN`).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch, Rectangle

    edges = graph.unit_edges()
    rank = layer_rank()
    units = [u for _, us in LAYERS for u in us]
    n = len(units)
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 7.2), dpi=110, gridspec_kw={"width_ratios": [1.05, 1]})

    # left: the stack of layers
    dy, half_h = 1.0, 0.36
    for y, (name, us) in enumerate(LAYERS):
        left.text(-0.15, y * dy, name, ha="right", va="center", fontsize=10, color="#555555", style="italic")
        width = 4.2 / len(us)
        for i, unit in enumerate(us):
            x = i * width
            left.add_patch(FancyBboxPatch((x + 0.05, y * dy - half_h), width - 0.1, 2 * half_h,
                                          boxstyle="round,pad=0.02", fc="#f4f1e8", ec="#333333", lw=1.0))
            folders = _folders(unit)
            left.text(x + width / 2, y * dy + 0.1, unit, ha="center", va="center", fontsize=10, weight="bold")
            left.text(x + width / 2, y * dy - 0.16, folders, ha="center", va="center", fontsize=6.5,
                      family="monospace", color="#333333", wrap=True)
    left.annotate("", xy=(4.45, -0.3), xytext=(4.45, (len(LAYERS) - 1) * dy + 0.3),
                  arrowprops={"arrowstyle": "-|>", "color": "#4a6fa5", "lw": 2})
    left.text(4.6, (len(LAYERS) - 1) * dy / 2, "a unit imports only units below its layer", rotation=270,
              va="center", ha="left", fontsize=9, color="#4a6fa5")
    left.set_xlim(-2.6, 5.0)
    left.set_ylim(-0.6, (len(LAYERS) - 1) * dy + 0.6)
    left.axis("off")
    left.set_title("Layers, lowest first (geogen/common/importgraph.py: LAYERS)", fontsize=10)

    # right: the import matrix
    for i, a in enumerate(units):
        for j, b in enumerate(units):
            y = n - 1 - i
            count = len(edges.get((a, b), []))
            bad = count and rank[b] >= rank[a]
            if i == j or rank[a] == rank[b]:
                right.add_patch(Rectangle((j, y), 1, 1, fc="#e6e6e6", ec="white"))
            elif b in FORBIDDEN.get(a, ()):
                right.add_patch(Rectangle((j, y), 1, 1, fc="none", ec="#d9534f", hatch="///", lw=0, alpha=0.5))
            if count:
                right.add_patch(Rectangle((j, y), 1, 1, fc="#d9534f" if bad else "#4a6fa5",
                                          alpha=0.25 + 0.6 * min(count, 20) / 20, ec="white"))
                right.text(j + 0.5, y + 0.5, str(count), ha="center", va="center", fontsize=8)
    right.set_xlim(0, n)
    right.set_ylim(0, n)
    right.set_xticks([j + 0.5 for j in range(n)], units, rotation=60, ha="right", fontsize=9)
    right.set_yticks([n - 0.5 - i for i in range(n)], units, fontsize=9)
    right.set_aspect("equal")
    right.tick_params(length=0)
    for spine in right.spines.values():
        spine.set_visible(False)
    right.set_xlabel("imported unit", fontsize=9)
    right.set_ylabel("importing unit", fontsize=9)
    bad = len(graph.violations())
    right.set_title(f"Imports read from the source: {len(graph.modules)} modules, "
                    f"{sum(map(len, edges.values()))} cross-unit imports, {bad} against the order", fontsize=10)
    path = Path(path)
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def _folders(unit: str) -> str:
    """The source a unit holds, e.g. ``benchmark/{metrics,geometry}.py`` or ``dataset/ (rest)``."""
    prefixes = UNITS[unit]
    if all("." in p for p in prefixes) and len({p.split(".")[0] for p in prefixes}) == 1 and len(prefixes) > 1:
        pkg = prefixes[0].split(".")[0]
        return f"{pkg}/{{{','.join(p.split('.', 1)[1] for p in prefixes)}}}.py"
    out = []
    for p in prefixes:
        inner = any(q.startswith(p + ".") for other in UNITS.values() for q in other)
        out.append(p.replace(".", "/") + "/" + (" (rest)" if inner else ""))
    return ", ".join(out)


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
