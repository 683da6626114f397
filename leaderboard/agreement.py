"""How far the pseudo-GT track can be trusted: does it rank methods like the exact-GT track?

For result files of the same dataset, protocol (apart from ``gt``) and method/track that exist
on both tracks (``gt=exact`` and ``gt=pseudo``; reference rows included), per metric:

* Kendall's τ-b between the methods' means on the two tracks (1: same order, −1: reversed),
  with a 95 % bootstrap percentile interval over identities (the same resample of identities
  for every method, so the interval says how stable the agreement is on another test set);
* the pairs of methods whose order flips between the tracks;
* per method, the pseudo − exact difference per identity: mean and 95 % bootstrap interval
  (:func:`benchmark.stats.mean_ci95`, no interval below 5 identities).

Means are taken over the identities every compared row scored on both tracks, so a method
that failed on a hard identity does not shift the comparison.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmark.metrics import METRICS
from benchmark.stats import RESAMPLES, SEED, mean_ci95
from geogen.common.errors import UserError

DEFAULT_METRICS = ("chamfer_l1", "fscore@0.01", "fscore@0.02", "hausdorff_95", "normal_consistency")
TRACKS = ("exact", "pseudo")


@dataclass
class Row:
    """One method (or reference row) of a table, with per-identity metrics on both tracks."""

    method: str
    kind: str  # "method" or "reference"
    track_key: str
    values: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # track → id → metric → value

    @property
    def label(self) -> str:
        return self.method + (" (reference)" if self.kind == "reference" else "")


def protocol_without_gt(key: str) -> str:
    """The protocol key with its ``gt=...`` part removed (the two tracks share everything else)."""
    return "|".join(p for p in key.split("|") if not p.startswith("gt="))


def gt_of(key: str) -> str | None:
    for part in key.split("|"):
        if part.startswith("gt="):
            return part[3:]
    return None


def paired_tables(entries) -> dict[tuple[str, str, str], list[Row]]:
    """Leaderboard entries → tables (dataset, checksum, protocol sans gt) of rows present on both tracks.

    A row is (method name, kind, track key); when one has several files on a track, the one with
    the most scored identities is used."""
    found: dict[tuple, dict[tuple, dict[str, object]]] = {}
    for e in entries:
        gt = gt_of(e.protocol_key)
        if gt not in TRACKS:
            continue
        table = (e.dataset, e.dataset_sha256, protocol_without_gt(e.protocol_key))
        row = (e.method, e.kind, e.track_key)
        slot = found.setdefault(table, {}).setdefault(row, {})
        if gt not in slot or len(e.sample_values) > len(slot[gt].sample_values):
            slot[gt] = e
    tables = {}
    for table, rows in found.items():
        both = [Row(m, k, t, {gt: slot[gt].sample_values for gt in TRACKS})
                for (m, k, t), slot in sorted(rows.items()) if all(gt in slot for gt in TRACKS)]
        if both:
            tables[table] = both
    return tables


def common_ids(rows: list[Row], metric: str) -> list[str]:
    """Identities with ``metric`` on both tracks for every row."""
    sets = [{i for i, m in row.values[gt].items() if metric in m} for row in rows for gt in TRACKS]
    return sorted(set.intersection(*sets)) if sets else []


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's τ-b of two equally long vectors (ties counted as in scipy); NaN when either is constant."""
    i, j = np.triu_indices(len(x), k=1)
    dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
    n_x, n_y = np.count_nonzero(dx), np.count_nonzero(dy)
    if n_x == 0 or n_y == 0:
        return math.nan
    return float(np.sum(dx * dy) / math.sqrt(n_x * n_y))


def metric_agreement(rows: list[Row], metric: str, resamples: int = RESAMPLES, seed: int = SEED) -> dict:
    """τ (with bootstrap interval), flipped pairs and per-row differences for one metric."""
    ids = common_ids(rows, metric)
    out = {"metric": metric, "n_rows": len(rows), "n_identities": len(ids), "tau": None, "tau_ci95": None,
           "flipped_pairs": [], "rows": []}
    if not ids:
        return out
    E = np.array([[row.values["exact"][i][metric] for i in ids] for row in rows])
    P = np.array([[row.values["pseudo"][i][metric] for i in ids] for row in rows])
    me, mp = E.mean(1), P.mean(1)
    higher = METRICS.get(metric).higher_is_better if metric in METRICS.names() else False
    sign = -1.0 if higher else 1.0
    rank_e, rank_p = _ranks(sign * me), _ranks(sign * mp)
    for k, row in enumerate(rows):
        diff = mean_ci95(list(P[k] - E[k]))
        out["rows"].append({"method": row.method, "kind": row.kind, "track_key": row.track_key,
                            "exact_mean": float(me[k]), "pseudo_mean": float(mp[k]),
                            "exact_rank": rank_e[k], "pseudo_rank": rank_p[k],
                            "difference": {k2: diff[k2] for k2 in ("mean", "ci95_low", "ci95_high", "n", "interval")}})
    if len(rows) >= 2:
        out["tau"] = _none_if_nan(kendall_tau_b(me, mp))
        rng = np.random.default_rng(seed)
        taus = np.array([kendall_tau_b(E[:, s].mean(1), P[:, s].mean(1))
                         for s in rng.integers(0, len(ids), size=(resamples, len(ids)))])
        taus = taus[np.isfinite(taus)]
        if len(ids) >= 5 and len(taus):
            out["tau_ci95"] = [float(v) for v in np.percentile(taus, [2.5, 97.5])]
        for a in range(len(rows)):
            for b in range(a + 1, len(rows)):
                if np.sign(me[a] - me[b]) * np.sign(mp[a] - mp[b]) < 0:
                    out["flipped_pairs"].append([rows[a].label, rows[b].label])
    return out


def _ranks(values: np.ndarray) -> list[int]:
    """1 = lowest value; ties share the lowest rank."""
    return [int(np.sum(values < v)) + 1 for v in values]


def _none_if_nan(v: float) -> float | None:
    return None if math.isnan(v) else v


def agreement_report(results_dir: Path, metrics=DEFAULT_METRICS, resamples: int = RESAMPLES) -> dict:
    """Every table of ``results_dir`` with rows on both tracks → per-metric agreement."""
    from .build import load_board

    if not Path(results_dir).is_dir():
        raise UserError(f"results folder {results_dir} not found")
    unknown = [m for m in metrics if m not in METRICS.names()]
    if unknown:
        raise UserError(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(METRICS.names())}")
    board = load_board(Path(results_dir))
    tables = paired_tables(board.entries)
    if not tables:
        raise UserError(f"no method in {results_dir} is scored on both tracks (gt=exact and gt=pseudo, same "
                        "dataset and protocol otherwise); score it twice: geogen-bench score ... --gt exact / --gt pseudo")
    out = {"tables": [], "skipped": [[str(p), r] for p, r in board.skipped], "bootstrap_resamples": resamples,
           "bootstrap_seed": SEED}
    for (dataset, sha, protocol), rows in sorted(tables.items()):
        out["tables"].append({"dataset": dataset, "manifest_sha256": sha, "protocol": protocol,
                              "rows": [r.label for r in rows],
                              "metrics": [metric_agreement(rows, m, resamples) for m in metrics]})
    return out


def format_report(report: dict) -> str:
    """Plain-text tables: one block per dataset/protocol, one line per metric, then per-row differences."""
    lines = []
    for t in report["tables"]:
        lines.append(f"{t['dataset']} ({t['manifest_sha256'][:12]}), {t['protocol']}: {len(t['rows'])} rows on both tracks")
        lines.append(f"  {'metric':<20} {'n id':>5} {'Kendall tau':>12} {'95% interval':>18}  flipped pairs")
        for m in t["metrics"]:
            tau = "–" if m["tau"] is None else f"{m['tau']:+.3f}"
            ci = "n too small" if m["tau_ci95"] is None else f"[{m['tau_ci95'][0]:+.2f}, {m['tau_ci95'][1]:+.2f}]"
            n_pairs = m["n_rows"] * (m["n_rows"] - 1) // 2
            flips = "; ".join(" vs ".join(p) for p in m["flipped_pairs"]) or "none"
            lines.append(f"  {m['metric']:<20} {m['n_identities']:>5} {tau:>12} {ci:>18}  "
                         f"{len(m['flipped_pairs'])}/{n_pairs}: {flips}")
        for m in t["metrics"]:
            lines.append(f"  {m['metric']}: pseudo − exact per identity (mean, 95% bootstrap interval); ranks exact → pseudo")
            for r in m["rows"]:
                d = r["difference"]
                ci = f"[{d['ci95_low']:+.4g}, {d['ci95_high']:+.4g}]" if d["ci95_low"] is not None else "(n too small)"
                label = r["method"] + (" (reference)" if r["kind"] == "reference" else "")
                lines.append(f"    {label:<28} exact {r['exact_mean']:.4g} (#{r['exact_rank']})  pseudo "
                             f"{r['pseudo_mean']:.4g} (#{r['pseudo_rank']})  diff {d['mean']:+.4g} {ci}")
    return "\n".join(lines)
