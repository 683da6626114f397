"""The leaderboard stage's commands of ``geogen-bench`` (registered there by geogen/cli/bench.py):
``leaderboard`` (tables and chart from result files) and ``agreement`` (does the pseudo-GT track
rank like the exact one?). They read result files only; nothing here scores a mesh.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from geogen.common.errors import UserError


def leaderboard(results: Path = typer.Option(..., help="folder searched recursively for result JSON files"),
                csv: Optional[Path] = typer.Option(None, help="write the leaderboard CSV here"),
                md: Optional[Path] = typer.Option(None, help="write a Markdown leaderboard here"),
                png: Optional[Path] = typer.Option(None, help="write a bar-chart PNG here"),
                all_protocols: bool = typer.Option(False, help="also list older protocol versions (own groups)")) -> None:
    """Build the leaderboard from result files (ranked within each dataset + protocol)."""
    from .build import load_board
    from .write import write_outputs

    if not results.is_dir():
        raise UserError(f"results folder {results} not found")
    if not (csv or md or png):
        raise UserError("nothing to write: pass --csv, --md and/or --png")
    board = load_board(results, all_protocols=all_protocols)
    for path, reason in board.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    if not board.entries and not board.shapes:
        raise UserError(f"no usable result file in {results} (see the skipped reasons above)")
    written = write_outputs(board, csv, md, png)
    print(f"{len(board.entries)} rows in {len(board.groups())} group(s); {len(board.skipped)} file(s) skipped; "
          f"wrote {', '.join(str(p) for p in written)}")


def agreement(results: Path = typer.Option(..., help="folder searched recursively for result JSON files"),
              metrics: str = typer.Option("chamfer_l1,fscore@0.01,fscore@0.02,hausdorff_95,normal_consistency",
                                          help="comma-separated metrics to compare"),
              out: Optional[Path] = typer.Option(None, help="also write the report as JSON here")) -> None:
    """Does the pseudo-GT track rank methods like the exact one? Kendall's τ per metric (bootstrap
    interval over identities) and each method's pseudo − exact difference (docs/benchmark.md)."""
    from geogen.common.atomic import atomic_write_json

    from .agreement import agreement_report, format_report

    report = agreement_report(results, tuple(m.strip() for m in metrics.split(",") if m.strip()))
    for path, reason in report["skipped"]:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    print(format_report(report))
    if out is not None:
        atomic_write_json(out, report)
        print(f"→ {out}")
