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

:class:`BenchResult` is the document as a type: :func:`build_result` makes one, the benchmark
writes it, and the leaderboard (leaderboard/build.py) and the report (scripts/report.py) read
files back through :meth:`BenchResult.from_dict`. An older file is brought to the current
layout by the :data:`MIGRATIONS` hooks (its ``schema_version`` stays the one it was written
with, so the leaderboard can still tell it apart); a file of an unknown version is refused with
a one-line reason. Bump :data:`RESULT_SCHEMA_VERSION` when the layout changes and register a
migration from the previous version.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

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


def _v1_to_v2(doc: dict) -> dict:
    """Version 1 had no ``warnings`` and no ``track`` (its track is unknown: ``None``)."""
    return {**doc, "warnings": list(doc.get("warnings") or []), "track": doc.get("track")}


#: Migration hooks: ``MIGRATIONS[v]`` turns a version-``v`` document into version ``v + 1``'s layout.
MIGRATIONS: dict[int, Callable[[dict], dict]] = {1: _v1_to_v2}


class ResultError(ValueError):
    """A document that is not a readable result; the message is the one-line reason."""


@dataclass
class BenchResult:
    """One ``geogen-bench`` result document (schema ``geogen-bench-result``, fields in the module
    docstring and docs/benchmark.md). Values are kept as read (plain JSON data), so
    :meth:`to_dict` of a current-version file gives back exactly its content."""

    method: dict
    dataset: dict
    protocol: dict
    metrics: dict
    summary: dict
    track: dict | None = None           # None only in a migrated version-1 file
    ci_method: str | None = None
    image_metrics: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    n_samples: int = 0
    n_ok: int = 0
    n_failed: int = 0
    samples: list = field(default_factory=list)
    provenance: dict = field(default_factory=dict)
    schema_version: int = RESULT_SCHEMA_VERSION  # the version the document was written with
    extra: dict = field(default_factory=dict)    # top-level fields this version does not know, kept

    FIELDS = ("method", "dataset", "protocol", "track", "metrics", "summary", "ci_method", "image_metrics",
              "warnings", "n_samples", "n_ok", "n_failed", "samples", "provenance")

    @classmethod
    def from_dict(cls, doc: Any) -> "BenchResult":
        """Check ``doc`` (:func:`check_result`), migrate an older layout, type it; ResultError if unusable."""
        reason = check_result(doc)
        if reason is not None:
            raise ResultError(reason)
        version = doc["schema_version"]
        for v in range(version, RESULT_SCHEMA_VERSION):
            doc = MIGRATIONS[v](doc)
        known = {k: doc[k] for k in cls.FIELDS if k in doc}
        extra = {k: v for k, v in doc.items() if k not in cls.FIELDS and k not in ("schema", "schema_version")}
        return cls(**known, schema_version=version, extra=extra)

    def to_dict(self) -> dict:
        """The JSON document (``track`` left out only for a version-1 file, which had none)."""
        doc = {"schema": RESULT_SCHEMA, "schema_version": self.schema_version}
        for name in self.FIELDS:
            if name != "track" or self.track is not None or self.schema_version >= 2:
                doc[name] = getattr(self, name)
        return {**doc, **self.extra}

    @classmethod
    def from_json(cls, text: str) -> "BenchResult":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ResultError(f"not valid JSON (line {exc.lineno}: {exc.msg}); truncated or corrupt") from None
        return cls.from_dict(doc)

    def to_json(self) -> str:
        """What :func:`write_result` writes: indented, key-sorted JSON."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def read(cls, path: str | Path) -> "BenchResult":
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


def as_result_dict(doc: Any) -> Any:
    """``doc`` read through :class:`BenchResult` (an older version migrated) when it is a readable
    result document; anything else (another kind of JSON, an unreadable result) as it is."""
    try:
        return BenchResult.from_dict(doc).to_dict()
    except ResultError:
        return doc


def build_result(method: dict, dataset: dict, protocol: Protocol, rows: list[dict], image_metrics: dict,
                 provenance: dict, track: dict | None = None, warnings: list[str] | None = None) -> dict:
    """The result document (:meth:`BenchResult.to_dict`); ``track`` defaults to :func:`score_track`
    (meshes made by the method)."""
    ok = [r for r in rows if r["status"] == "ok"]
    names = METRICS.names()
    summary = {n: mean_ci95([r["metrics"].get(n) for r in ok], metric_range(n)) for n in names}
    track = track or score_track()
    return BenchResult(
        method=method, dataset=dataset,
        protocol={**protocol.to_dict(), "key": protocol.key()},
        track={**track, "key": track_key(track)},
        metrics={n: {**METRICS.get(n).describe(), "range": _json_range(n)} for n in names},
        summary=summary, ci_method=CI_METHOD,
        image_metrics=image_metrics, warnings=list(warnings or []),
        n_samples=len(rows), n_ok=len(ok), n_failed=len(rows) - len(ok),
        samples=rows, provenance=provenance,
    ).to_dict()


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


def write_result(out_json: Path, result: "dict | BenchResult") -> None:
    """Write the CSV first, the JSON last: a complete results.json implies a complete run."""
    doc = result.to_dict() if isinstance(result, BenchResult) else result
    atomic_write_text(side_paths(out_json)["csv"], rows_csv(doc["samples"]))
    atomic_write_json(out_json, doc)


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
