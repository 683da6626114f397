"""What every speed script prints: the machine's state and Markdown tables.

A script starts a :class:`Run` (it prints ``# name: what`` and a machine line: time, commit,
CPUs, torch threads, load average), prints its tables with :meth:`Run.table` (all rows at once)
or :class:`Table` (row by row, for long runs), and ends with :meth:`Run.done` (load before →
after, peak RSS, seconds). Scripts import it as ``harness`` with their own folder on ``sys.path``,
so worker processes running an older checkout still find it.
"""

from __future__ import annotations

import datetime
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def load() -> str:
    """The 1-minute load average, as /proc/loadavg writes it (e.g. ``"3.41"``)."""
    return f"{os.getloadavg()[0]:.2f}"


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def threads() -> str:
    """torch's thread count when torch is loaded, else what OMP_NUM_THREADS says."""
    torch = sys.modules.get("torch")
    if torch is not None:
        return f"torch {torch.get_num_threads()}"
    omp = os.environ.get("OMP_NUM_THREADS")
    return f"OMP_NUM_THREADS={omp}" if omp else "OMP_NUM_THREADS unset"


def commit() -> str:
    """Short commit of this checkout, ``+dirty`` when tracked files differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    try:
        sha = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (sha or "unknown") + ("+dirty" if dirty else "")


def machine() -> dict:
    """The state a timing depends on: when, which code, how many CPUs and threads, the load."""
    return {"time": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "commit": commit(),
            "cpus": os.cpu_count(), "threads": threads(), "load": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def markdown(rows: list[dict], columns: list[str] | None = None) -> str:
    """A Markdown table of ``rows`` (dicts; columns: the first row's keys unless given).
    Cells are printed as given (format numbers before); floats get 4 significant digits."""
    columns = list(columns or (rows[0] if rows else []))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


class Table:
    """A Markdown table printed as it grows: the header now, each row when :meth:`add` gets it."""

    def __init__(self, columns: list[str]):
        self.columns = list(columns)
        print(markdown([], self.columns), flush=True)

    def add(self, *cells) -> None:
        """One row, cells in column order."""
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        print("| " + " | ".join(map(_cell, cells)) + " |", flush=True)


class Run:
    """One run of a speed script: prints what runs and the machine now, and at :meth:`done` the load again."""

    def __init__(self, name: str, what: str = ""):
        self.name, self.start = name, time.perf_counter()
        self.machine = machine()
        print(f"# {name}{': ' + what if what else ''}")
        m = self.machine
        print(f"# {m['time']}, commit {m['commit']}, {m['cpus']} CPUs, threads: {m['threads']}, "
              f"load {m['load']}", flush=True)

    def table(self, rows: list[dict], columns: list[str] | None = None) -> None:
        print(markdown(rows, columns), flush=True)

    def done(self, note: str = "") -> None:
        """The closing line: load at the start → now, peak RSS of this process, seconds."""
        print(f"# {self.name} done: load {self.machine['load'].split()[0]} → {load()}, peak RSS of this "
              f"process {peak_rss_mb():.0f} MB, {time.perf_counter() - self.start:.0f} s"
              + (f"; {note}" if note else ""), flush=True)
