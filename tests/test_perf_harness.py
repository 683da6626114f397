"""perf/harness.py: the Markdown tables and the machine record every speed script prints."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def harness():
    spec = importlib.util.spec_from_file_location("harness", ROOT / "perf" / "harness.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_markdown_table_from_rows(harness):
    rows = [{"preset": "tiny", "img/s": "8.31", "peak RSS MB": 412.345678},
            {"preset": "small", "img/s": "1.02"}]
    assert harness.markdown(rows) == ("| preset | img/s | peak RSS MB |\n"
                                      "|---|---|---|\n"
                                      "| tiny | 8.31 | 412.3 |\n"
                                      "| small | 1.02 |  |")
    assert harness.markdown(rows, ["img/s"]).splitlines() == ["| img/s |", "|---|", "| 8.31 |", "| 1.02 |"]


def test_table_prints_rows_as_they_come_and_checks_their_width(harness, capsys):
    table = harness.Table(["mode", "s"])
    table.add("eager", "1.5")
    assert capsys.readouterr().out == "| mode | s |\n|---|---|\n| eager | 1.5 |\n"
    with pytest.raises(ValueError, match="1 cells for 2 columns"):
        table.add("compile")


def test_machine_record_and_peak_rss(harness):
    m = harness.machine()
    assert m["cpus"] == os.cpu_count()
    assert len(m["load"].split()) == 3 and all(float(x) >= 0 for x in m["load"].split())
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    assert m["commit"].split("+")[0] == head
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", m["time"])
    assert m["threads"].startswith(("torch ", "OMP_NUM_THREADS"))
    block = b"x" * (64 * 2**20)  # touched, so resident
    assert harness.peak_rss_mb() >= 64
    del block


def test_a_speed_script_prints_machine_line_table_and_load(tmp_path):
    """bench_head on one identity at a 32³ grid: header, machine line, Markdown table, closing load line."""
    out = subprocess.run([sys.executable, str(ROOT / "perf" / "bench_head.py"), "--identities", "1",
                          "--resolution", "32"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("# bench_head: 1 identities")
    assert re.search(r"commit \w+.*, \d+ CPUs, threads: .*, load [\d.]+ [\d.]+ [\d.]+$", lines[1])
    assert lines[2] == "| grid | build s | mesh s | worst mesh s | material us/pt | vertices | faces |"
    assert lines[3] == "|---|---|---|---|---|---|---|" and lines[4].startswith("| 32 | ")
    assert re.fullmatch(r"# bench_head done: load [\d.]+ → [\d.]+, peak RSS of this process \d+ MB, \d+ s",
                        lines[-1])
