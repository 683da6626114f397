"""Steps shared by the demo and the reproduction scripts: run this venv's console scripts, one
at a time or several side by side, and stop with the failing step's exit code."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from geogen.model.config import variant_names

VARIANTS = variant_names()   # the registered model variants (geogen.model.config.VARIANT_REGISTRY)


def command(*argv: str) -> list[str]:
    """argv with its console script resolved inside this venv (falls back to PATH)."""
    if os.sep in argv[0]:
        return list(argv)
    exe = Path(sys.executable).with_name(argv[0])
    return [str(exe) if exe.exists() else argv[0], *argv[1:]]


def fail(step: str, rc: int, log: Path | None = None) -> None:
    where = f"; see {log}" if log else ""
    print(f"step '{step}' failed (exit {rc}){where}", file=sys.stderr)
    sys.exit(rc or 1)


def run(step: str, *argv: str, required: bool = True) -> bool:
    """Run one step in the foreground (its own progress bar shows). A failing required step stops
    the script with its exit code; a failing optional one (``required=False``) is reported on the
    console, returns False, and the script goes on without its output."""
    cmd = command(*argv)
    print(f"\n== {step}: {' '.join(cmd)}", flush=True)
    t0 = time.time()
    rc = subprocess.call(cmd)
    if rc != 0 and required:
        fail(step, rc)
    if rc != 0:
        print(f"== {step}: FAILED (exit {rc}; its error is above) — going on without it", flush=True)
        return False
    print(f"== {step}: done in {time.time() - t0:.0f} s", flush=True)
    return True


def run_parallel(steps: list[tuple[str, list[str], Path]], jobs: int, poll_s: float = 15.0,
                 status=None) -> dict[str, float]:
    """Run ``(name, argv, log file)`` steps, at most ``jobs`` at a time, output to their log files.

    ``status()`` (optional) returns a one-line progress summary printed every ``poll_s`` seconds.
    Returns each step's wall time in seconds. The first failure stops the others and exits.
    """
    pending, running, walls = list(steps), {}, {}
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    t_last = 0.0
    while pending or running:
        while pending and len(running) < max(jobs, 1):
            name, argv, log = pending.pop(0)
            log.parent.mkdir(parents=True, exist_ok=True)
            cmd = command(*argv)
            print(f"== {name}: {' '.join(cmd)}  (log: {log})", flush=True)
            fh = open(log, "ab")
            running[name] = (subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env), fh, log,
                             time.time())
        time.sleep(1.0)
        for name, (proc, fh, log, t0) in list(running.items()):
            rc = proc.poll()
            if rc is None:
                continue
            fh.close()
            del running[name]
            if rc != 0:
                for other, fh2, _, _ in running.values():
                    other.terminate()
                    fh2.close()
                fail(name, rc, log)
            walls[name] = time.time() - t0
            print(f"== {name}: done in {walls[name] / 60:.1f} min", flush=True)
        if status is not None and running and time.time() - t_last >= poll_s:
            t_last = time.time()
            print(f"   [{time.strftime('%H:%M:%S')}] {status()}", flush=True)
    return walls


@dataclass
class Step:
    """A step of ``run_when_ready``: started once ``ready()`` is true; ``argv`` may be a callable
    evaluated at start time (for steps that depend on an earlier step's output), returning None
    when there is nothing left to do."""

    name: str
    argv: list[str] | Callable[[], list[str] | None]
    log: Path
    ready: Callable[[], bool] = lambda: True


def run_when_ready(steps: list[Step], jobs: int, poll_s: float = 5.0, status=None) -> dict[str, float]:
    """Run ``steps`` at most ``jobs`` at a time; a free slot takes the first pending step (in list
    order: the list is the priority) whose ``ready()`` holds, so independent work fills the cores
    while dependent steps wait. The first failure stops the others and exits with its code; a
    step that can never become ready once nothing runs is an error."""
    pending, running, walls = list(steps), {}, {}
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    t_last = 0.0
    while pending or running:
        for step in [s for s in pending if len(running) < max(jobs, 1) and s.ready()]:
            if len(running) >= max(jobs, 1):
                break
            pending.remove(step)
            argv = step.argv() if callable(step.argv) else step.argv
            if argv is None:
                continue
            step.log.parent.mkdir(parents=True, exist_ok=True)
            cmd = command(*argv)
            print(f"== {step.name}: {' '.join(cmd)}  (log: {step.log})", flush=True)
            fh = open(step.log, "ab")
            running[step.name] = (subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env), fh,
                                  step.log, time.time())
        if not running and pending:
            fail(f"waiting for {pending[0].name}", 1)
        time.sleep(poll_s)
        for name, (proc, fh, log, t0) in list(running.items()):
            rc = proc.poll()
            if rc is None:
                continue
            fh.close()
            del running[name]
            if rc != 0:
                for other, fh2, _, _ in running.values():
                    other.terminate()
                    fh2.close()
                fail(name, rc, log)
            walls[name] = time.time() - t0
            print(f"== {name}: done in {walls[name] / 60:.1f} min", flush=True)
        if status is not None and running and time.time() - t_last >= 120:
            t_last = time.time()
            print(f"   [{time.strftime('%H:%M:%S')}] {status()}", flush=True)
    return walls


def latest_kimg(run_dir: Path) -> float:
    """kimg of a training run's latest snapshot (0 when none yet)."""
    latest = run_dir / "latest"
    try:
        name = latest.read_text().strip()
        return float(name.removeprefix("snapshot-").removesuffix(".pt"))
    except (OSError, ValueError):
        return 0.0
