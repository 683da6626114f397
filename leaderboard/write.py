"""Leaderboard writers: CSV (spreadsheet-safe), Markdown, and a bar chart PNG (matplotlib Agg)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from geogen.common.atomic import atomic_path, atomic_write_text

from .build import Board
from .cells import safe_cell

ARROW = {True: "↑", False: "↓"}


def _metric_order(board: Board) -> list[str]:
    return sorted(board.directions)


def leaderboard_csv(board: Board) -> str:
    """Columns: method, dataset, dataset_sha256, protocol, n_ok, n_samples, complete, then per metric
    ``<metric> ↓|↑`` (mean), ``<metric> ci95`` (half-width) and ``<metric> rank``."""
    metrics = _metric_order(board)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    header = ["method", "dataset", "dataset_sha256", "protocol", "n_ok", "n_samples", "complete"]
    for m in metrics:
        header += [f"{m} {ARROW[board.directions[m]]}", f"{m} ci95", f"{m} rank"]
    w.writerow([safe_cell(h) for h in header] + ["source"])
    for e in board.entries:
        row = [e.method, e.dataset, e.dataset_sha256[:12], e.protocol_key, e.n_ok, e.n_samples, e.complete]
        for m in metrics:
            row += [e.means.get(m), e.ci_half.get(m), e.ranks.get(m)]
        w.writerow([safe_cell(v) for v in row] + [safe_cell(str(e.path))])
    return buf.getvalue()


def _md(text) -> str:
    return safe_cell(text).replace("|", "\\|").replace("\n", " ")


def leaderboard_markdown(board: Board) -> str:
    """One table per (dataset, protocol) group; cells ``mean ± ci95 (rank)``, best rank in bold."""
    metrics = _metric_order(board)
    lines = ["# Leaderboard", ""]
    for (dataset, sha, key), group in board.groups().items():
        lines += [f"## {_md(dataset)} ({sha[:12]}), protocol `{key}`", ""]
        lines.append("| method | n | " + " | ".join(f"{_md(m)} {ARROW[board.directions[m]]}" for m in metrics) + " |")
        lines.append("|---|---|" + "---|" * len(metrics))
        for e in sorted(group, key=lambda e: (e.ranks.get(metrics[0]) or 10**9) if metrics else 0):
            cells = []
            for m in metrics:
                v, h, r = e.means.get(m), e.ci_half.get(m), e.ranks.get(m)
                if v is None:
                    cells.append("–")
                    continue
                text = f"{v:.4g}" + (f" ± {h:.2g}" if h is not None else "") + (f" ({r})" if r else " (unranked)")
                cells.append(f"**{text}**" if r == 1 else text)
            lines.append(f"| {_md(e.method)} | {e.n_ok}/{e.n_samples} | " + " | ".join(cells) + " |")
        lines.append("")
    if board.skipped:
        lines += ["## Skipped files", ""] + [f"- `{p}`: {_md(r)}" for p, r in board.skipped] + [""]
    return "\n".join(lines)


def png_paths(board: Board, path: Path) -> list[Path]:
    """One chart per (dataset, protocol) group, so bars of different protocols never share an
    axis: ``path`` itself for one group, else ``<stem>-g1.png``, ``<stem>-g2.png``, …"""
    n = len(board.groups())
    path = Path(path)
    return [path] if n == 1 else [path.with_name(f"{path.stem}-g{i + 1}{path.suffix}") for i in range(n)]


def leaderboard_png(board: Board, path: Path) -> list[Path]:
    """Bar charts (matplotlib Agg): per group one panel per metric, one bar per method, 95 % CI
    whiskers, the direction in each title. Returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    metrics = _metric_order(board)
    written = []
    for target, ((dataset, sha, key), entries) in zip(png_paths(board, path), board.groups().items()):
        labels = [e.method if e.complete else f"{e.method} (incomplete)" for e in entries]
        ncols = min(3, max(1, len(metrics)))
        nrows = max(1, -(-len(metrics) // ncols))
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, (0.35 * len(entries) + 1.4) * nrows),
                                 squeeze=False)
        for ax, m in zip(axes.flat, metrics):
            vals = [e.means.get(m) or 0.0 for e in entries]
            errs = [e.ci_half.get(m) or 0.0 for e in entries]
            ax.barh(range(len(entries)), vals, xerr=errs, color="tab:blue" if board.directions[m] else "tab:orange")
            ax.set_yticks(range(len(entries)), labels, fontsize=7)
            ax.invert_yaxis()
            ax.set_title(f"{m} {'↑ higher is better' if board.directions[m] else '↓ lower is better'}", fontsize=8)
            ax.tick_params(axis="x", labelsize=7)
            ax.xaxis.set_major_locator(MaxNLocator(4))
        for ax in list(axes.flat)[len(metrics):]:
            ax.axis("off")
        fig.suptitle(f"{dataset} ({sha[:12]})\n{key}", fontsize=7)
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
    if md_path:
        atomic_write_text(md_path, leaderboard_markdown(board))
        written.append(Path(md_path))
    if png_path:
        written += leaderboard_png(board, png_path)
    return written
