"""The leaderboard's shape-distribution section: COV / MMD / 1-NNA of ``geogen-bench shapes`` files.

One row per (result file, reference split); rows are grouped by dataset and shape protocol and
listed, not ranked (1-NNA's best value is 50 %, not an end of the scale). A bad file is skipped
with a one-line reason, as for geometry results.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from benchmark.shapes import SHAPES_SCHEMA, SHAPES_SCHEMA_VERSION
from geogen.common.cells import safe_cell

COLUMNS = ("method", "dataset", "dataset_sha256", "protocol", "sampling", "split", "n_samples", "n_reference", "n",
           "cov", "mmd", "1-nna", "memorisation", "source")


def _num(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _rows(path: Path, doc: dict) -> list[dict]:
    if doc.get("schema_version") != SHAPES_SCHEMA_VERSION:
        raise ValueError(f"shapes schema version {doc.get('schema_version')!r}, this tool reads {SHAPES_SCHEMA_VERSION}")
    ds, proto, sampling = doc["dataset"], doc["protocol"], doc.get("sampling") or {}
    how = f"ψ={sampling.get('truncation', '?')}, {sampling.get('mesh_resolution', '?')}³"
    rows = []
    for split, r in doc["results"].items():
        rows.append({"method": str(doc["method"]["name"]), "dataset": str(ds["name"]),
                     "dataset_sha256": str(ds["manifest_sha256"]), "protocol": str(proto["key"]), "split": str(split),
                     "sampling": how,
                     "n_samples": r["n_samples"], "n_reference": r["n_reference"], "n": r["n"],
                     "cov": _num(r["cov"]), "mmd": _num(r["mmd"]), "1-nna": _num(r["1-nna"]),
                     "memorisation": bool(r["memorisation"]), "source": str(path),
                     "created": str(doc.get("provenance", {}).get("created_utc", ""))})
    return rows


def shape_rows(docs: list[tuple[Path, dict]], skipped: list[tuple[Path, str]]) -> list[dict]:
    """Rows of every usable shapes file; for one (method, dataset, protocol) the newest file wins."""
    newest: dict[tuple, list[dict]] = {}
    for path, doc in docs:
        try:
            rows = _rows(path, doc)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            skipped.append((path, f"malformed shapes result ({type(exc).__name__}: {exc})"))
            continue
        if not rows:
            skipped.append((path, "shapes result without any split"))
            continue
        key = (rows[0]["method"], rows[0]["dataset"], rows[0]["dataset_sha256"], rows[0]["protocol"])
        if key in newest and newest[key][0]["created"] >= rows[0]["created"]:
            skipped.append((path, f"superseded by newer shapes result {newest[key][0]['source']}"))
            continue
        if key in newest:
            skipped.append((Path(newest[key][0]["source"]), f"superseded by newer shapes result {path}"))
        newest[key] = rows
    return [r for key in sorted(newest) for r in newest[key]]


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f} %"


def shapes_markdown(rows: list[dict]) -> list[str]:
    """The section's lines (none without rows)."""
    if not rows:
        return []
    lines = ["## Shape distribution of generated samples", "",
             "COV ↑ (share of reference shapes that are some sample's nearest), MMD ↓ (mean distance from "
             "each reference shape to its nearest sample), 1-NNA (50 % = samples and references "
             "indistinguishable; 100 % = separated; well below 50 % = samples copy reference shapes). "
             "Listed, not ranked; definitions in docs/benchmark.md.", ""]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["dataset_sha256"], r["protocol"]), []).append(r)
    for (dataset, sha, key), group in groups.items():
        lines += [f"### {safe_cell(dataset)} ({sha[:12]}), protocol `{key}`", "",
                  "| method | sampling | vs split | samples | references | n + n compared | COV ↑ | MMD ↓ | "
                  "1-NNA (→ 50 %) | memorisation |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in group:
            mmd = "–" if r["mmd"] is None else f"{r['mmd']:.4g}"
            flag = "**yes: near-copies of the reference shapes**" if r["memorisation"] else "no"
            lines.append(f"| {safe_cell(r['method']).replace('|', chr(92) + '|')} | {r['sampling']} | {r['split']} | {r['n_samples']} | "
                         f"{r['n_reference']} | {r['n']} + {r['n']} | {_pct(r['cov'])} | {mmd} | {_pct(r['1-nna'])} | {flag} |")
        lines.append("")
    return lines


def shapes_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([safe_cell(r["dataset_sha256"][:12] if c == "dataset_sha256" else r[c]) for c in COLUMNS])
    return buf.getvalue()


def shapes_csv_path(csv_path: Path) -> Path:
    """``leaderboard.csv`` → ``leaderboard-shapes.csv``."""
    p = Path(csv_path)
    return p.with_name(f"{p.stem}-shapes{p.suffix or '.csv'}")


__all__ = ["SHAPES_SCHEMA", "shape_rows", "shapes_markdown", "shapes_csv", "shapes_csv_path"]
