"""Reference rows on the leaderboard: listed beside the methods, never ranked, and the yardstick
of each method's gain over ``template-mean``.

A reference row (``method.kind == "reference"``, written by ``geogen-bench baselines``) is shown
in every table of its dataset and protocol, whatever the table's track (baselines are scored
meshes; methods may come from ``run``). A method's gain is paired: both means are taken over
the identities both rows scored, so a ``--limit 2`` run is compared on its own two identities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .build import Board, Entry

TEMPLATE = "template-mean"
GAIN_METRIC = "chamfer_l1"
NO_IDENTITY = "has recovered no identity-specific geometry"


def reference_fields(doc: dict) -> dict:
    """Entry fields read from a result document: kind, baseline name, per-sample metrics."""
    method = doc["method"]
    kind = "reference" if method.get("kind") == "reference" else "method"
    details = method.get("details") if isinstance(method.get("details"), dict) else {}
    baseline = details.get("baseline") if kind == "reference" and isinstance(details.get("baseline"), str) else None
    values = {}
    for row in doc.get("samples") or []:
        if isinstance(row, dict) and row.get("status") == "ok" and isinstance(row.get("metrics"), dict):
            values[str(row.get("id"))] = {k: float(v) for k, v in row["metrics"].items()
                                          if isinstance(v, (int, float)) and not isinstance(v, bool)
                                          and math.isfinite(v)}
    return {"kind": kind, "baseline": baseline, "sample_values": values}


def _same_table(a: "Entry", b: "Entry") -> bool:
    return (a.dataset, a.dataset_sha256, a.protocol_key) == (b.dataset, b.dataset_sha256, b.protocol_key)


def display_groups(board: "Board") -> dict[tuple, list["Entry"]]:
    """The board's groups, each with the reference rows of its dataset and protocol added; a group
    of reference rows alone is kept only if none of its rows is shown elsewhere."""
    groups = board.groups()
    refs = [e for e in board.entries if e.kind == "reference"]
    out, shown = {}, set()
    for key, entries in groups.items():
        if all(e.kind == "reference" for e in entries):
            continue
        extra = [r for r in refs if _same_table(r, entries[0]) and r not in entries]
        out[key] = entries + extra
        shown.update(id(e) for e in out[key] if e.kind == "reference")
    for key, entries in groups.items():
        if key not in out and not all(id(e) in shown for e in entries):
            out[key] = entries
    return out


def template_for(board: "Board", entry: "Entry") -> "Entry | None":
    """The newest ``template-mean`` reference row of the entry's dataset and protocol."""
    rows = [e for e in board.entries if e.baseline == TEMPLATE and _same_table(e, entry)]
    return max(rows, key=lambda e: (e.created, str(e.path))) if rows else None


@dataclass(frozen=True)
class Gain:
    """A row's mean ``metric`` vs template-mean's over the identities both scored (lower is better)."""

    n: int
    value: float
    template: float

    @property
    def relative(self) -> float:
        """Fraction of template-mean's error removed: 1 = perfect, 0 = as good as the template, < 0 worse."""
        return (self.template - self.value) / self.template if self.template > 0 else 0.0

    @property
    def recovered(self) -> bool:
        """Below template-mean: the row has recovered some identity-specific geometry."""
        return self.value < self.template


def gain_over_template(entry: "Entry", template: "Entry | None", metric: str = GAIN_METRIC) -> Gain | None:
    if template is None or entry is template:
        return None
    common = [i for i in entry.sample_values if metric in entry.sample_values[i]
              and metric in template.sample_values.get(i, {})]
    if not common:
        return None
    mean = lambda e: sum(e.sample_values[i][metric] for i in common) / len(common)  # noqa: E731
    return Gain(len(common), mean(entry), mean(template))


def gain_sentence(entry: "Entry", gain: Gain, metric: str = GAIN_METRIC) -> str:
    """One line: the paired means, the relative gain, and the verdict for a method not below the template."""
    on = f"on the {gain.n} identities both scored"
    text = (f"{entry.method}{' (reference)' if entry.kind == 'reference' else ''}: {metric} {gain.value:.4g} "
            f"vs {TEMPLATE} {gain.template:.4g} {on}, ")
    if gain.recovered:
        return text + f"{gain.relative:.0%} of the template's error removed."
    verdict = f"not below {TEMPLATE}" + ("" if entry.kind == "reference" else f": it {NO_IDENTITY}")
    return text + f"{-gain.relative:.0%} worse, {verdict}."


def gain_lines(board: "Board", entries: list["Entry"]) -> list[str]:
    """Markdown bullet lines of each row's gain over template-mean (empty without a template)."""
    lines = []
    for e in entries:
        gain = gain_over_template(e, template_for(board, e))
        if gain is not None:
            lines.append(f"- {gain_sentence(e, gain)}")
    return lines
