"""The result file: a versioned, documented JSON schema, plus its per-sample CSV.

Schema ``geogen-bench-result`` version 2 (see docs/benchmark.md for every field)::

    schema, schema_version, method{name, source, details}, dataset{name, path, manifest_sha256,
    split, n_test}, protocol{..., key}, track{..., key}, metrics{name: {higher_is_better, formula,
    range}}, summary{name: {mean, std, ci95_low, ci95_high, n, interval}}, ci_method,
    image_metrics{name: {...}}, warnings[...], n_samples, n_ok, n_failed,
    samples[{id, status, reason, metrics, diagnostics, info}], provenance{...}

Version 2 added ``track`` (how the predictions were made), ``warnings``, metric ranges and
bootstrap intervals, and its per-sample records are fingerprinted with the dataset manifest and
GT mesh checksums. Version 1 files are still read by the leaderboard but listed unranked
(:data:`READABLE_SCHEMA_VERSIONS`).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from geogen.common.atomic import atomic_write_json, atomic_write_text
from geogen.common.cells import safe_cell
from geogen.common.errors import UserError

from .metrics import METRICS
from .protocol import Protocol, score_track, track_key
from .stats import CI_METHOD, mean_ci95

RESULT_SCHEMA = "geogen-bench-result"
RESULT_SCHEMA_VERSION = 2
READABLE_SCHEMA_VERSIONS = (1, 2)
SAMPLE_SCHEMA = "geogen-bench-sample"

INF = float("inf")
# Value range of each registered metric (distances are >= 0 in GT-diagonal units; F-scores and
# normal consistency are fractions); intervals are clipped to it and the leaderboard draws no
# whisker outside it. A metric missing here has no known range (no clipping).
METRIC_RANGES: dict[str, tuple[float, float]] = {
    "chamfer_l1": (0.0, INF), "mse": (0.0, INF), "hausdorff": (0.0, INF), "hausdorff_95": (0.0, INF),
    "emd": (0.0, INF), "msd": (0.0, INF), "fscore@0.01": (0.0, 1.0), "fscore@0.02": (0.0, 1.0),
    "normal_consistency": (0.0, 1.0),
    "psnr_input": (0.0, INF), "psnr_novel": (0.0, INF),
    "ssim_input": (-1.0, 1.0), "ssim_novel": (-1.0, 1.0),
}


def metric_range(name: str) -> tuple[float, float] | None:
    return METRIC_RANGES.get(name)


def _json_range(name: str) -> list | None:
    """Range as JSON (``null`` for an unbounded side)."""
    r = metric_range(name)
    return None if r is None else [None if abs(v) == INF else v for v in r]


def side_paths(out_json: Path) -> dict[str, Path]:
    """Files written next to ``results.json``: CSV, pictures folder, per-sample records folder."""
    stem = out_json.with_suffix("")
    return {"csv": stem.with_suffix(".csv"), "pictures": Path(f"{stem}.pictures"),
            "records": Path(f"{stem}.records")}


def build_result(method: dict, dataset: dict, protocol: Protocol, rows: list[dict], image_metrics: dict,
                 provenance: dict, track: dict | None = None, warnings: list[str] | None = None) -> dict:
    """The result document; ``track`` defaults to :func:`score_track` (meshes made by the method)."""
    ok = [r for r in rows if r["status"] == "ok"]
    names = METRICS.names()
    summary = {n: mean_ci95([r["metrics"].get(n) for r in ok], metric_range(n)) for n in names}
    track = track or score_track()
    return {
        "schema": RESULT_SCHEMA, "schema_version": RESULT_SCHEMA_VERSION,
        "method": method, "dataset": dataset,
        "protocol": {**protocol.to_dict(), "key": protocol.key()},
        "track": {**track, "key": track_key(track)},
        "metrics": {n: {**METRICS.get(n).describe(), "range": _json_range(n)} for n in names},
        "summary": summary, "ci_method": CI_METHOD,
        "image_metrics": image_metrics, "warnings": list(warnings or []),
        "n_samples": len(rows), "n_ok": len(ok), "n_failed": len(rows) - len(ok),
        "samples": rows, "provenance": provenance,
    }


def rows_csv(rows: list[dict]) -> str:
    """Per-sample table: id, status, reason, every metric, diagnostics and info columns."""
    metric_cols = METRICS.names()
    extra = sorted({k for r in rows for k in (*r.get("diagnostics", {}), *r.get("info", {}))})
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["id", "status", "reason", *metric_cols, *extra])
    for r in rows:
        vals = {**r.get("diagnostics", {}), **r.get("info", {})}
        writer.writerow([safe_cell(r["id"]), safe_cell(r["status"]), safe_cell(r.get("reason")),
                         *[safe_cell(r.get("metrics", {}).get(m)) for m in metric_cols],
                         *[safe_cell(vals.get(k)) for k in extra]])
    return buf.getvalue()


def write_result(out_json: Path, result: dict) -> None:
    """Write the CSV first, the JSON last: a complete results.json implies a complete run."""
    atomic_write_text(side_paths(out_json)["csv"], rows_csv(result["samples"]))
    atomic_write_json(out_json, result)


def check_result(doc) -> str | None:
    """None if ``doc`` is a usable result of the current schema, else a one-line reason."""
    if not isinstance(doc, dict) or doc.get("schema") != RESULT_SCHEMA:
        return "not a geogen-bench result (no schema 'geogen-bench-result')"
    if doc.get("schema_version") not in READABLE_SCHEMA_VERSIONS:
        return (f"result schema version {doc.get('schema_version')!r}, this tool reads "
                f"{', '.join(map(str, READABLE_SCHEMA_VERSIONS))}")
    for key in ("method", "dataset", "protocol", "summary", "metrics"):
        if not isinstance(doc.get(key), dict):
            return f"field {key!r} missing or not an object"
    if not isinstance(doc["method"].get("name"), str) or not doc["method"]["name"]:
        return "method.name missing"
    if not isinstance(doc["protocol"].get("key"), str) or not isinstance(doc["protocol"].get("version"), str):
        return "protocol.key/version missing"
    if doc["schema_version"] >= 2 and not (isinstance(doc.get("track"), dict) and isinstance(doc["track"].get("key"), str)):
        return "track.key missing"
    for name, s in doc["summary"].items():
        if not isinstance(s, dict) or not (s.get("mean") is None or isinstance(s.get("mean"), (int, float))):
            return f"summary.{name}.mean is not a number"
    return None


def require_output_json(out: Path) -> Path:
    out = Path(out)
    if out.suffix != ".json":
        raise UserError(f"--out {out} must be a .json file path (the CSV and pictures are written beside it)")
    return out
