"""perf/bench_eg3d.py: its arguments only (running EG3D needs a checkout the repo does not ship)."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "perf" / "bench_eg3d.py"


def _run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def test_help_says_how_to_get_eg3d():
    proc = _run("--help")
    assert proc.returncode == 0
    assert "--eg3d" in proc.stdout and "--iters" in proc.stdout and "--rounds" in proc.stdout


def test_a_missing_eg3d_folder_is_a_one_line_error(tmp_path):
    proc = _run("--eg3d", str(tmp_path / "nowhere"))
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--eg3d" in lines[0] and "nowhere" in lines[0]
