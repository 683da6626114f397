"""PTI inversion time per identity and its result quality, new code vs an older commit, with a
profile of where a step's time goes.

    OMP_NUM_THREADS=1 .venv/bin/python perf/bench_pti.py --model geogen.pkl --data D --old 10e816d
    .venv/bin/python perf/bench_pti.py --model geogen.pkl --data D --profile-steps 20

For each of the first ``--limit`` test identities of D: the ``--preset`` inversion (``small``:
200 W steps + 100 tuning steps) from one seeded input view, the 128³ mesh, and the PSNR of the
inversion's render against the input view and against the held-out view (as ``geogen-bench
run`` chooses them). Every code version runs in its own subprocess on one thread (torch and
OpenMP), old and new alternating round by round so machine noise hits both; the 1-minute load
average and the peak RSS are printed beside each row. ``--old REF`` / ``--new REF`` check the
refs out into git worktrees (default new: this working tree).

``--profile-steps N``: N steps of each stage under cProfile in this process, split into the
generator's parts (tri-plane backbone, field + volume rendering, super-resolution), backward and
the optimiser step.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Run, Table, load, peak_rss_mb  # noqa: E402
from worktrees import old_tree  # noqa: E402


def identities(data: str, limit: int):
    """[(id, input image, input camera, held-out image, held-out camera)] as geogen-bench run picks them."""
    from dataset.format import Dataset
    from benchmark.run import RunSettings, choose_views, read_image

    ds = Dataset(data)
    out = []
    for sid in ds.test_ids[:limit]:
        views = ds.views(sid)
        (i,), held = choose_views(len(views), RunSettings(), sid)
        out.append((sid, read_image(views[i].image_path), views[i].camera, read_image(views[held].image_path),
                    views[held].camera))
    return out


def worker(args) -> None:
    import torch

    torch.set_num_threads(1)
    from benchmark.adapters import load_adapter
    from benchmark.image_metrics import psnr
    from benchmark.pti import PTI_PRESETS

    adapter = load_adapter(args.model, PTI_PRESETS[args.preset], device="cpu")
    rows = []
    for sid, img, cam, held_img, held_cam in identities(args.data, args.limit):
        load_start = load()
        t = time.perf_counter()
        state = adapter.invert([img], [cam])
        t_inv = time.perf_counter() - t
        t = time.perf_counter()
        adapter.mesh(state)
        t_mesh = time.perf_counter() - t
        rows.append({"id": sid, "load": load_start, "invert": t_inv, "mesh": t_mesh,
                     "psnr_input": psnr(adapter.render(state, cam), img),
                     "psnr_novel": psnr(adapter.render(state, held_cam), held_img)})
    print(json.dumps({"rows": rows, "peak_rss_mb": peak_rss_mb()}))




def run_worker(tree: Path, args) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--model", str(Path(args.model).resolve()),
           "--data", str(Path(args.data).resolve()), "--preset", args.preset, "--limit", str(args.limit)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tree)
    if out.returncode != 0:
        raise SystemExit(f"worker failed ({tree}):\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def profile(args) -> None:
    """Where a step goes: cumulative seconds of the generator's parts, backward and Adam."""
    import cProfile
    import pstats
    from dataclasses import replace

    import torch

    torch.set_num_threads(1)
    from benchmark.adapters import load_adapter
    from benchmark.pti import PTI_PRESETS

    n = args.profile_steps
    pti = replace(PTI_PRESETS[args.preset], steps_w=n, steps_g=n)
    adapter = load_adapter(args.model, pti, device="cpu")
    sid, img, cam, _, _ = identities(args.data, 1)[0]
    prof = cProfile.Profile()
    load_start = load()
    t = time.perf_counter()
    prof.runcall(adapter.invert, [img], [cam])
    total = time.perf_counter() - t
    stats = pstats.Stats(prof).stats
    parts = {"tri-plane backbone (Generator.planes)": ("model/generator.py", "planes"),
             "field + volume rendering (Generator.render)": ("model/generator.py", "render"),
             "super-resolution": ("model/superres.py", "forward"),
             "backward (autograd engine)": ("~", "run_backward"),
             "Adam step": ("pti.py|optim/adam.py", "step")}
    print(f"\nprofile of {n} + {n} steps (identity {sid}, one thread, load {load_start}): {total:.2f} s, "
          f"{total / (2 * n):.3f} s/step (cProfile adds overhead)")
    table = Table(["part", "cumulative s", "% of the inversion"])
    for label, (file, fn) in parts.items():
        cum = sum(v[3] for (f, _, name), v in stats.items()
                  if any(x in f for x in file.split("|")) and (name == fn or fn in name and f == "~"))
        table.add(label, f"{cum:.2f}", f"{100 * cum / total:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="model file (geogen.pkl)")
    ap.add_argument("--data", required=True, help="dataset folder with a test split")
    ap.add_argument("--preset", default="small", help="PTI preset (tiny, small, paper)")
    ap.add_argument("--limit", type=int, default=2, help="test identities")
    ap.add_argument("--old", help="git ref of the code to compare with (e.g. 10e816d)")
    ap.add_argument("--new", help="git ref of the new code (default: this working tree)")
    ap.add_argument("--rounds", type=int, default=1, help="alternating old/new rounds")
    ap.add_argument("--profile-steps", type=int, default=0, help="only profile N + N steps")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    run = Run("bench_pti", f"PTI preset {args.preset}, {args.limit} test identities"
              + (f", old = {args.old}" if args.old else ""))
    if args.profile_steps:
        profile(args)
        return run.done()
    trees = {"new": old_tree(args.new) if args.new else REPO} | ({"old": old_tree(args.old)} if args.old else {})
    runs = {k: [] for k in trees}
    for r in range(args.rounds):
        for code, tree in (trees.items() if r % 2 == 0 else reversed(trees.items())):
            runs[code].append(run_worker(tree, args))
    print(f"PTI preset {args.preset}, one thread, seconds per identity (median of {args.rounds}); PSNR in dB")
    table = Table(["identity", "code", "invert", "mesh", "PSNR in", "PSNR novel", "loads", "RSS MB"])
    for i, row in enumerate(runs["new"][0]["rows"]):
        for code, rs in runs.items():
            get = lambda k: statistics.median(r["rows"][i][k] for r in rs)  # noqa: E731
            table.add(row["id"], code, f"{get('invert'):.1f}", f"{get('mesh'):.2f}", f"{get('psnr_input'):.2f}",
                      f"{get('psnr_novel'):.2f}", ",".join(r["rows"][i]["load"] for r in rs),
                      f"{max(r['peak_rss_mb'] for r in rs):.0f}")
        if "old" in runs:
            inv = [statistics.median(r["rows"][i]["invert"] for r in runs[c]) for c in ("old", "new")]
            table.add(row["id"], "old/new", f"{inv[0] / inv[1]:.2f}× (invert time)", "", "", "", "", "")
    run.done()


if __name__ == "__main__":
    main()
