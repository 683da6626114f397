"""Result files → leaderboard rows, ranked only within one (dataset, protocol, track) group.

A row is ranked only if it scored the full test split without a failure and was written with
the current schema (dataset-aware resume); every other row is listed with its ``unranked``
reason. Metric directions come from the metric registry. Every file is either used or skipped
with a one-line reason; nothing here raises on a bad file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.metrics import METRICS
from benchmark.protocol import PROTOCOL_VERSION
from benchmark.results import RESULT_SCHEMA_VERSION, SAMPLE_SCHEMA, BenchResult, ResultError, metric_range
from benchmark.stats import MIN_N

from .reference import reference_fields
from .shapes import SHAPES_SCHEMA, shape_rows


@dataclass
class Entry:
    """One leaderboard row: a result file's (method, dataset, protocol, track) and its metric means."""

    path: Path
    method: str
    dataset: str
    dataset_sha256: str
    protocol_key: str
    protocol_version: str
    created: str
    n_ok: int
    n_samples: int
    means: dict[str, float | None]
    ci: dict[str, tuple[float, float] | None]  # 95 % interval (low, high), None when not given
    track_key: str = "?"
    n_test: int | None = None  # test identities of the dataset
    schema_version: int = RESULT_SCHEMA_VERSION
    ranks: dict[str, int | None] = field(default_factory=dict)
    kind: str = "method"  # "reference": a baseline row (benchmark/baselines.py), listed, never ranked
    baseline: str | None = None  # which baseline a reference row is (e.g. "template-mean")
    sample_values: dict[str, dict[str, float]] = field(default_factory=dict)  # id → metrics of ok samples

    @property
    def unranked(self) -> str | None:
        """Why this row is not ranked, or None. A method must not gain rank by failing on hard
        samples or by scoring a subset (``--limit``); schema-1 files were resumed without
        checking the dataset, so their numbers may come from another dataset."""
        if self.kind == "reference":
            return "reference row (not a method)"
        if self.schema_version < 2:
            return "schema 1 file (resume did not check the dataset; no track recorded): rescore to rank"
        if self.n_test is None:
            return "n_test of the dataset not recorded"
        if self.n_samples != self.n_test:
            return f"partial split: {self.n_samples} of {self.n_test} test identities"
        if self.n_ok != self.n_samples:
            return f"incomplete: {self.n_samples - self.n_ok} of {self.n_samples} samples failed"
        return None

    @property
    def complete(self) -> bool:
        """Ranked: the full test split, every sample scored, current schema."""
        return self.unranked is None

    @property
    def group(self) -> tuple[str, str, str, str]:
        return (self.dataset, self.dataset_sha256, self.protocol_key, self.track_key)


@dataclass
class Board:
    entries: list[Entry]
    skipped: list[tuple[Path, str]]
    directions: dict[str, bool]  # metric → higher_is_better (registry; else every file agreeing)
    ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)  # metric → value range
    notes: list[str] = field(default_factory=list)  # e.g. metrics left unranked (conflicting directions)
    shapes: list[dict] = field(default_factory=list)  # shape-distribution results (leaderboard/shapes.py)

    def groups(self) -> dict[tuple[str, str, str, str], list[Entry]]:
        out: dict[tuple[str, str, str, str], list[Entry]] = {}
        for e in self.entries:
            out.setdefault(e.group, []).append(e)
        return out


def _number(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _entry(path: Path, result: BenchResult) -> Entry:
    means, ci = {}, {}
    for name, s in result.summary.items():
        means[name] = _number(s.get("mean"))
        lo, hi = _number(s.get("ci95_low")), _number(s.get("ci95_high"))
        n = s.get("n")
        # the interval rule (benchmark/stats.py) applies to any file: none below 5 samples, and an
        # interval never leaves the metric's range (older files held t-intervals below 0)
        ci[name] = None
        if lo is not None and hi is not None and isinstance(n, int) and n >= MIN_N:
            r = metric_range(name) or (-math.inf, math.inf)
            ci[name] = (min(max(lo, r[0]), r[1]), min(max(hi, r[0]), r[1]))
    ds = result.dataset
    n_test = ds.get("n_test")
    track = result.track
    split = ds.get("split", "test")
    name = str(ds.get("name", "?")) + ("" if split == "test" else f" [{split} split]")  # never ranked with test
    return Entry(path=path, method=result.method["name"], dataset=name,
                 dataset_sha256=str(ds.get("manifest_sha256", "?")), protocol_key=result.protocol["key"],
                 protocol_version=result.protocol["version"],
                 created=str(result.provenance.get("created_utc", "")),
                 n_ok=int(result.n_ok), n_samples=int(result.n_samples), means=means, ci=ci,
                 track_key=str(track["key"]) if isinstance(track, dict) and "key" in track else "?",
                 n_test=n_test if isinstance(n_test, int) and not isinstance(n_test, bool) else None,
                 schema_version=int(result.schema_version), **reference_fields(result.to_dict()))


def load_board(results_dir: Path, all_protocols: bool = False) -> Board:
    """Read every ``*.json`` under ``results_dir``; keep valid results of the current protocol
    version (or of every version with ``all_protocols``); rank within each group."""
    entries: list[Entry] = []
    skipped: list[tuple[Path, str]] = []
    declared: dict[str, set[bool]] = {}
    shape_docs: list[tuple[Path, dict]] = []
    for path in sorted(Path(results_dir).rglob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            skipped.append((path, f"unreadable ({type(exc).__name__})"))
            continue
        except json.JSONDecodeError as exc:
            skipped.append((path, f"not valid JSON (line {exc.lineno}: {exc.msg}); truncated or corrupt"))
            continue
        if isinstance(doc, dict) and doc.get("schema") == SAMPLE_SCHEMA:
            continue  # per-sample resume record of a run, not a result
        if isinstance(doc, dict) and doc.get("schema") == SHAPES_SCHEMA:
            shape_docs.append((path, doc))  # shape-distribution metrics: their own section
            continue
        try:
            result = BenchResult.from_dict(doc)
        except ResultError as exc:
            skipped.append((path, str(exc)))
            continue
        if result.protocol["version"] != PROTOCOL_VERSION and not all_protocols:
            skipped.append((path, f"protocol {result.protocol['version']!r} is not the current {PROTOCOL_VERSION!r}; "
                                  "rescore it (or pass --all-protocols to list it in its own group)"))
            continue
        try:
            entry = _entry(path, result)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            skipped.append((path, f"malformed field ({type(exc).__name__}: {exc})"))
            continue
        for name, desc in result.metrics.items():
            if isinstance(desc, dict) and isinstance(desc.get("higher_is_better"), bool):
                declared.setdefault(name, set()).add(desc["higher_is_better"])
        entries.append(entry)
    entries = _dedupe(entries, skipped)
    names = {name for e in entries for name in e.means}
    directions, notes = metric_directions(names, declared)
    ranges = {}
    for name in directions:
        r = metric_range(name)
        ranges[name] = (None, None) if r is None else tuple(None if math.isinf(v) else v for v in r)
    board = Board(entries, skipped, directions, ranges, notes, shapes=shape_rows(shape_docs, skipped))
    for group in board.groups().values():
        rank_group(group, directions)
    return board


def metric_directions(names, declared: dict[str, set[bool]]) -> tuple[dict[str, bool], list[str]]:
    """Direction of each metric: the registry's; for a metric the registry does not know, the one
    every file declares; a metric whose files disagree is left out (listed in the notes)."""
    directions, notes = {}, []
    for name in sorted(names):
        if name in METRICS:
            directions[name] = METRICS.get(name).higher_is_better
        elif len(declared.get(name, ())) == 1:
            directions[name] = next(iter(declared[name]))
        else:
            notes.append(f"metric {name!r} not ranked: result files disagree on (or omit) its direction")
    return directions, notes


def _dedupe(entries: list[Entry], skipped: list[tuple[Path, str]]) -> list[Entry]:
    """One row per (method, dataset, protocol, track): the newest file wins, older ones are skipped."""
    best: dict[tuple, Entry] = {}
    for e in sorted(entries, key=lambda e: (e.created, str(e.path))):
        key = (e.method, *e.group)
        if key in best:
            skipped.append((best[key].path, f"superseded by newer result {e.path}"))
        best[key] = e
    return sorted(best.values(), key=lambda e: (e.group, e.method))


def rank_group(group: list[Entry], directions: dict[str, bool]) -> None:
    """Competition ranking (1 = best, ties share the smaller rank) per metric, by its direction,
    among the ranked rows (``unranked is None``) of one group."""
    for name, higher in directions.items():
        vals = [(e.means.get(name), e) for e in group]
        present = [v for v, e in vals if v is not None and e.complete]
        for v, e in vals:
            if v is None or not e.complete:
                e.ranks[name] = None
            else:
                better = sum(1 for u in present if (u > v if higher else u < v))
                e.ranks[name] = better + 1
