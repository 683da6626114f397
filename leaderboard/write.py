"""Leaderboard writers: CSV (spreadsheet-safe), Markdown, and a bar chart PNG (matplotlib Agg)."""

from __future__ import annotations

import csv
import io
import textwrap
from pathlib import Path

from geogen.common.atomic import atomic_path, atomic_write_text
from geogen.common.cells import safe_cell

from .build import Board
from .reference import TEMPLATE, display_groups, gain_lines, gain_over_template, template_for
from .shapes import shapes_csv, shapes_csv_path, shapes_markdown

ARROW = {True: "↑", False: "↓"}


def _metric_order(board: Board) -> list[str]:
    return sorted(board.directions)


def _ci(e, m) -> tuple[float | None, float | None]:
    return e.ci.get(m) or (None, None)


def leaderboard_csv(board: Board) -> str:
    """Columns: method, dataset, dataset_sha256, protocol, track, n_ok, n_samples, n_test, ranked,
    unranked_reason, then per metric ``<metric> ↓|↑`` (mean), ``<metric> ci95_low``,
    ``<metric> ci95_high`` (empty when n < 5) and ``<metric> rank``."""
    metrics = _metric_order(board)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    header = ["method", "dataset", "dataset_sha256", "protocol", "track", "n_ok", "n_samples", "n_test", "ranked",
              "unranked_reason"]
    for m in metrics:
        header += [f"{m} {ARROW[board.directions[m]]}", f"{m} ci95_low", f"{m} ci95_high", f"{m} rank"]
    w.writerow([safe_cell(h) for h in header] + [safe_cell(h) for h in REFERENCE_COLUMNS] + ["source"])
    for e in board.entries:
        row = [e.method, e.dataset, e.dataset_sha256[:12], e.protocol_key, e.track_key, e.n_ok, e.n_samples,
               e.n_test, e.complete, e.unranked]
        for m in metrics:
            row += [e.means.get(m), *_ci(e, m), e.ranks.get(m)]
        w.writerow([safe_cell(v) for v in row] + [safe_cell(v) for v in reference_cells(board, e)]
                   + [safe_cell(str(e.path))])
    return buf.getvalue()


REFERENCE_COLUMNS = ("kind", f"chamfer_l1 gain vs {TEMPLATE}", "identity-specific geometry")
REFERENCE_COLOUR = "tab:gray"


def reference_cells(board: Board, e) -> list:
    """``kind``; the fraction of template-mean's Chamfer the row removes (paired, see
    leaderboard/reference.py); "yes"/"no" for a method below/not below the template."""
    gain = gain_over_template(e, template_for(board, e))
    verdict = None if gain is None or e.kind == "reference" else ("yes" if gain.recovered else "no")
    return [e.kind, None if gain is None else gain.relative, verdict]


def _md_line(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md(text) -> str:
    return safe_cell(text).replace("|", "\\|").replace("\n", " ")


def _cell(e, m) -> str:
    """``mean [low, high] (rank)``; ``(n too small)`` instead of an interval below 5 samples."""
    v, ci, r = e.means.get(m), e.ci.get(m), e.ranks.get(m)
    if v is None:
        return "–"
    text = f"{v:.4g}" + (f" [{ci[0]:.3g}, {ci[1]:.3g}]" if ci else " (n too small)") + (f" ({r})" if r else "")
    return f"**{text}**" if r == 1 else text


def leaderboard_markdown(board: Board) -> str:
    """One table per (dataset, protocol, track) group; cells ``mean [95 % interval] (rank)``, best
    rank in bold; rows that are not ranked say why."""
    metrics = _metric_order(board)
    lines = ["# Leaderboard", ""]
    for (dataset, sha, key, track), group in display_groups(board).items():
        lines += [f"## {_md(dataset)} ({sha[:12]}), protocol `{key}`, track `{track}`", ""]
        lines.append("| method | n | ranked | " + " | ".join(f"{_md(m)} {ARROW[board.directions[m]]}" for m in metrics)
                     + " |")
        lines.append("|---|---|---|" + "---|" * len(metrics))
        for e in sorted(group, key=lambda e: (e.ranks.get(metrics[0]) or 10**9) if metrics else 0):
            n = f"{e.n_ok}/{e.n_samples}" + (f" of {e.n_test}" if e.n_test is not None and e.n_test != e.n_samples else "")
            status = "yes" if e.complete else f"no: {_md(e.unranked)}"
            label = _md(e.method) + (" *(reference)*" if e.kind == "reference" else "")
            lines.append(f"| {label} | {n} | {status} | " + " | ".join(_cell(e, m) for m in metrics) + " |")
        lines.append("")
        gains = gain_lines(board, group)
        if gains:
            lines += [f"Against `{TEMPLATE}` (the mean training shape, the same mesh for every identity):", "",
                      *[_md_line(g) for g in gains], ""]
    lines += shapes_markdown(board.shapes)
    if board.notes:
        lines += ["## Notes", ""] + [f"- {_md(n)}" for n in board.notes] + [""]
    if board.skipped:
        lines += ["## Skipped files", ""] + [f"- `{p}`: {_md(r)}" for p, r in board.skipped] + [""]
    return "\n".join(lines)


def png_paths(board: Board, path: Path) -> list[Path]:
    """One chart per (dataset, protocol, track) group, so bars of different protocols never share an
    axis: ``path`` itself for one group, else ``<stem>-g1.png``, ``<stem>-g2.png``, …"""
    n = len(display_groups(board))
    path = Path(path)
    return [path] if n == 1 else [path.with_name(f"{path.stem}-g{i + 1}{path.suffix}") for i in range(n)]


def bars(entries, m: str) -> tuple[list[float], list[list[float]]]:
    """Bar lengths (mean; 0 when missing) and asymmetric whiskers [below, above] of metric ``m``:
    the 95 % interval (already clipped to the metric's range), no whisker without one."""
    vals = [e.means.get(m) or 0.0 for e in entries]
    below = [max(0.0, v - e.ci[m][0]) if e.ci.get(m) else 0.0 for v, e in zip(vals, entries)]
    above = [max(0.0, e.ci[m][1] - v) if e.ci.get(m) else 0.0 for v, e in zip(vals, entries)]
    return vals, [below, above]


def leaderboard_png(board: Board, path: Path) -> list[Path]:
    """Bar charts (matplotlib Agg): per group one panel per metric, one bar per method, the 95 %
    interval as whiskers (none below 5 samples), the direction in each title. Axes start at the
    metric's lower bound (0 for distances), so no bar or whisker reaches below it. Returns the
    files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    metrics = _metric_order(board)
    written = []
    for target, ((dataset, sha, key, track), entries) in zip(png_paths(board, path), display_groups(board).items()):
        labels = [e.method if e.complete else f"{e.method} ({'reference' if e.kind == 'reference' else 'unranked'})"
                  for e in entries]
        ncols = min(3, max(1, len(metrics)))
        nrows = max(1, -(-len(metrics) // ncols))
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, (0.35 * len(entries) + 1.4) * nrows),
                                 squeeze=False)
        for ax, m in zip(axes.flat, metrics):
            vals, errs = bars(entries, m)
            colour = "tab:blue" if board.directions[m] else "tab:orange"
            ax.barh(range(len(entries)), vals, xerr=errs,
                    color=[REFERENCE_COLOUR if e.kind == "reference" else colour for e in entries])
            template = next((e for e in entries if e.baseline == TEMPLATE and e.means.get(m) is not None), None)
            if template is not None:  # the yardstick: a method's bar should end left of it (right for ↑)
                ax.axvline(template.means[m], color=REFERENCE_COLOUR, linestyle="--", linewidth=0.8)
            low, high = board.ranges.get(m, (None, None))
            if low is not None:
                ax.set_xlim(left=low)
            if high is not None and ax.get_xlim()[1] > high:
                ax.set_xlim(right=high)
            ax.set_yticks(range(len(entries)), labels, fontsize=7)
            ax.invert_yaxis()
            ax.set_title(f"{m} {'↑ higher is better' if board.directions[m] else '↓ lower is better'}", fontsize=8)
            ax.tick_params(axis="x", labelsize=7)
            ax.xaxis.set_major_locator(MaxNLocator(4))
        for ax in list(axes.flat)[len(metrics):]:
            ax.axis("off")
        fig.suptitle("\n".join([f"{dataset} ({sha[:12]})", key, *textwrap.wrap(track, 110)]), fontsize=7)
        fig.tight_layout()
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format="png", dpi=110)
        plt.close(fig)
        written.append(target)
    return written


def write_outputs(board: Board, csv_path: Path | None, md_path: Path | None, png_path: Path | None) -> list[Path]:
    """Write the requested files; returns their paths."""
    written = []
    if csv_path:
        atomic_write_text(csv_path, leaderboard_csv(board))
        written.append(Path(csv_path))
        if board.shapes:  # shape-distribution metrics: their own table beside the leaderboard
            atomic_write_text(shapes_csv_path(csv_path), shapes_csv(board.shapes))
            written.append(shapes_csv_path(csv_path))
    if md_path:
        atomic_write_text(md_path, leaderboard_markdown(board))
        written.append(Path(md_path))
    if png_path:
        written += leaderboard_png(board, png_path)
    return written
