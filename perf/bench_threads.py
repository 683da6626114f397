"""Training speed with each ``--threads`` setting, on a quiet machine and with another process busy
on one core (the case where torch's one-thread-per-core default collapses).

    .venv/bin/python perf/bench_threads.py --kimg 0.4 --rounds 1

Each cell is one real ``geogen-train`` run (the CLI, tiny preset, ``geogen`` variant, a stand-in
dataset of spheres, ``--set log_steps=1``) in a fresh process; img/s is the median of its logged
per-iteration rates over the second half of the run (after ``auto`` has had time to look),
with the thread counts ``auto`` ran at (``progress/threads`` in stats.jsonl). "busy" starts one
single-thread busy loop (another user's job) before the run and stops it after. Settings are
interleaved so drift in the machine's speed hits all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Run, Table, load  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TRAIN = str(Path(sys.executable).parent / "geogen-train")


def train_once(data: Path, out: Path, threads: str, kimg: float, busy: bool) -> dict:
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        load_before = load()
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        cmd = [TRAIN, "--data", str(data), "--out", str(out), "--preset", "tiny", "--variant", "geogen",
               "--kimg", str(kimg), "--threads", threads, "--set", "log_steps=1", "--set", "snapshot_kimg=100",
               "--no-progress"]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO)
        if proc.returncode != 0:
            raise SystemExit(f"geogen-train failed:\n{proc.stderr[-2000:]}")
        load_after = load()
    finally:
        if burner is not None:
            burner.kill()
            burner.wait()
    recs = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()]
    late = recs[len(recs) // 2:]
    counts = [int(r["progress/threads"]) for r in recs if "progress/threads" in r]
    runs = [[c, 0] for c in counts[:1]]
    for c in counts:
        if c == runs[-1][0]:
            runs[-1][1] += 1
        else:
            runs.append([c, 1])
    return {"img_s": statistics.median(r["images_per_s"] for r in late), "iters": len(recs),
            "threads_seen": " → ".join(f"{c}×{n}" for c, n in runs) if runs else threads,
            "load": f"{load_before}→{load_after}"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kimg", type=float, default=0.4, help="length of each training run")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--settings", nargs="+", default=["1", "0", "auto"],
                    help="--threads values (0 = torch's default: one thread per core)")
    args = ap.parse_args()
    run = Run("bench_threads", f"tiny geogen, {args.kimg} kimg per run, settings {' '.join(args.settings)}")
    from geogen.training.synthetic import write_fake_dataset

    results: dict[tuple[str, bool], list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = write_fake_dataset(Path(tmp) / "data", identities=8, views=4, resolution=64)
        table = Table(["machine", "--threads", "round", "img/s (median, 2nd half)", "iterations",
                       "thread counts (count × iterations)", "load"])
        n = 0
        for r in range(args.rounds):
            for busy in (False, True):
                for threads in args.settings:
                    n += 1
                    res = train_once(data, Path(tmp) / f"run{n}", threads, args.kimg, busy)
                    results.setdefault((threads, busy), []).append(res)
                    table.add("other core busy" if busy else "quiet", threads, r, f"{res['img_s']:.2f}",
                              res["iters"], res["threads_seen"], res["load"])
    print()
    summary = Table(["--threads", "quiet img/s", "other core busy img/s", "busy ÷ quiet"])
    for threads in args.settings:
        q = statistics.median(x["img_s"] for x in results[(threads, False)])
        b = statistics.median(x["img_s"] for x in results[(threads, True)])
        summary.add(threads, f"{q:.2f}", f"{b:.2f}", f"{b / q:.2f}")
    run.done()


if __name__ == "__main__":
    main()
