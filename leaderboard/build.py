"""Result files → leaderboard rows, ranked only within one (dataset, protocol) group.

Every file is either used or skipped with a one-line reason; nothing here raises on a bad file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.protocol import PROTOCOL_VERSION
from benchmark.results import SAMPLE_SCHEMA, check_result


@dataclass
class Entry:
    """One leaderboard row: a result file's (method, dataset, protocol) and its metric means."""

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
    ci_half: dict[str, float | None]
    ranks: dict[str, int | None] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Every test sample scored; incomplete rows are listed but not ranked (a method must not
        gain rank by failing on hard samples)."""
        return self.n_samples > 0 and self.n_ok == self.n_samples

    @property
    def group(self) -> tuple[str, str, str]:
        return (self.dataset, self.dataset_sha256, self.protocol_key)


@dataclass
class Board:
    entries: list[Entry]
    skipped: list[tuple[Path, str]]
    directions: dict[str, bool]  # metric → higher_is_better

    def groups(self) -> dict[tuple[str, str, str], list[Entry]]:
        out: dict[tuple[str, str, str], list[Entry]] = {}
        for e in self.entries:
            out.setdefault(e.group, []).append(e)
        return out


def _entry(path: Path, doc: dict) -> Entry:
    means, half = {}, {}
    for name, s in doc["summary"].items():
        m = s.get("mean")
        means[name] = float(m) if isinstance(m, (int, float)) and not isinstance(m, bool) and math.isfinite(m) else None
        lo, hi = s.get("ci95_low"), s.get("ci95_high")
        half[name] = (hi - lo) / 2 if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) else None
    ds = doc["dataset"]
    return Entry(path=path, method=doc["method"]["name"], dataset=str(ds.get("name", "?")),
                 dataset_sha256=str(ds.get("manifest_sha256", "?")), protocol_key=doc["protocol"]["key"],
                 protocol_version=doc["protocol"]["version"],
                 created=str(doc.get("provenance", {}).get("created_utc", "")),
                 n_ok=int(doc.get("n_ok", 0)), n_samples=int(doc.get("n_samples", 0)), means=means, ci_half=half)


def load_board(results_dir: Path, all_protocols: bool = False) -> Board:
    """Read every ``*.json`` under ``results_dir``; keep valid results of the current protocol
    version (or of every version with ``all_protocols``); rank within each group."""
    entries: list[Entry] = []
    skipped: list[tuple[Path, str]] = []
    directions: dict[str, bool] = {}
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
        reason = check_result(doc)
        if reason is None and doc["protocol"]["version"] != PROTOCOL_VERSION and not all_protocols:
            reason = (f"protocol {doc['protocol']['version']!r} is not the current {PROTOCOL_VERSION!r}; "
                      "rescore it (or pass --all-protocols to list it in its own group)")
        if reason is not None:
            skipped.append((path, reason))
            continue
        try:
            entry = _entry(path, doc)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            skipped.append((path, f"malformed field ({type(exc).__name__}: {exc})"))
            continue
        for name, desc in doc["metrics"].items():
            if isinstance(desc, dict) and isinstance(desc.get("higher_is_better"), bool):
                directions.setdefault(name, desc["higher_is_better"])
        entries.append(entry)
    entries = _dedupe(entries, skipped)
    board = Board(entries, skipped, directions)
    for group in board.groups().values():
        rank_group(group, directions)
    return board


def _dedupe(entries: list[Entry], skipped: list[tuple[Path, str]]) -> list[Entry]:
    """One row per (method, dataset, protocol): the newest file wins, older ones are skipped."""
    best: dict[tuple, Entry] = {}
    for e in sorted(entries, key=lambda e: (e.created, str(e.path))):
        key = (e.method, *e.group)
        if key in best:
            skipped.append((best[key].path, f"superseded by newer result {e.path}"))
        best[key] = e
    return sorted(best.values(), key=lambda e: (e.group, e.method))


def rank_group(group: list[Entry], directions: dict[str, bool]) -> None:
    """Competition ranking (1 = best, ties share the smaller rank) per metric, by its direction,
    among the complete rows of one group."""
    for name, higher in directions.items():
        vals = [(e.means.get(name), e) for e in group]
        present = [v for v, e in vals if v is not None and e.complete]
        for v, e in vals:
            if v is None or not e.complete:
                e.ranks[name] = None
            else:
                better = sum(1 for u in present if (u > v if higher else u < v))
                e.ranks[name] = better + 1
