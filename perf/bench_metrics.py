"""Time every geometry metric of one pair (100k points per surface, EMD on 2,048), new code vs an
older commit, and the exact-EMD solvers side by side.

    OMP_NUM_THREADS=1 .venv/bin/python perf/bench_metrics.py --old 10e816d --data D [--pred DIR]
    PYTHONPATH=/path/with/lap .venv/bin/python perf/bench_metrics.py --solvers-only

Pairs: ``synthetic`` (a bumpy ellipsoid, 20k faces, against an ellipsoid, 82k faces), with
``--data D`` the GT meshes of consecutive test identities of D (another head as the
"prediction": a close, realistic pair), and with ``--pred DIR`` the meshes ``DIR/<id>.ply``
against D's GT (e.g. inversions of a briefly trained model: far from the GT, the slow case of
nearest neighbours and of the exact EMD). Each code version runs in its own subprocess, one
thread, old and new alternating round by round; the load average, peak RSS and the pair's CPU
time (all threads) are printed beside each row. Open3D ignores OMP_NUM_THREADS (its point-to-mesh
distances ran on both cores: twice the CPU time of the wall time measured before 2026-12-03), so the
worker pins it with ``open3d.utility.set_max_threads`` (``--open3d-threads``, default 1).
The metric values of old and new are compared (max relative difference).
The solver table times scipy's linear_sum_assignment, ``benchmark.assignment.min_cost_assignment``
(what ``exact_emd`` uses: scipy on the auction-price-reduced matrix) and, when importable, the Jonker–Volgenant
solvers of ``lap`` / ``lapx`` / ``lapjv`` and OR-Tools' cost-scaling assignment (not
dependencies of the project) on the same cost
matrices, checking each optimum against scipy's.
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


def head_like_pair():
    """A GT ellipsoid (~80k faces) and a bumpy prediction (~20k faces), a realistic size ratio."""
    import numpy as np
    import trimesh

    gt = trimesh.creation.icosphere(subdivisions=6)
    gt = trimesh.Trimesh(gt.vertices * [0.16, 0.2, 0.18], gt.faces, process=False)
    pred = trimesh.creation.icosphere(subdivisions=5)
    v = pred.vertices * [0.17, 0.19, 0.18]
    v = v * (1 + 0.03 * np.sin(12 * pred.vertices[:, :1]) * np.cos(9 * pred.vertices[:, 1:2]))
    return trimesh.Trimesh(v, pred.faces, process=False), gt


def pair_files(data: str | None, pred_dir: str | None, limit: int) -> list[dict]:
    """The pairs to time, as file paths (resolved here, by this checkout's dataset layout, so a
    worker running an older tree only needs trimesh to read them): ``synthetic`` has no files."""
    pairs = [{"name": "synthetic", "pred": None, "gt": None, "id": "1"}]
    if data:
        from dataset.format import Dataset

        ds = Dataset(data)
        ids = ds.test_ids[: limit + 1]
        gts = {i: str(ds.gt_path(i, "exact")) for i in ids}
        pairs += [{"name": f"GT {a} vs {b}", "pred": gts[a], "gt": gts[b], "id": b} for a, b in zip(ids, ids[1:])]
        if pred_dir:
            pairs += [{"name": f"pred {i}", "pred": str(Path(pred_dir) / f"{i}.ply"), "gt": gts[i], "id": i}
                      for i in ids if (Path(pred_dir) / f"{i}.ply").exists()]
    return pairs


def load_pairs(files: list[dict]):
    """[(name, pred mesh, GT mesh, sample id)] from :func:`pair_files`' list."""
    import trimesh

    read = lambda path: trimesh.load(path, force="mesh", process=False)  # noqa: E731
    return [(p["name"], *(head_like_pair() if p["gt"] is None else (read(p["pred"]), read(p["gt"]))), p["id"])
            for p in files]


def worker(args) -> None:
    import open3d as o3d

    from benchmark.metrics import METRICS, prepare_pair
    from benchmark.protocol import Protocol

    if args.open3d_threads > 0:   # Open3D ignores OMP_NUM_THREADS: its point-to-mesh queries use every core
        o3d.utility.set_max_threads(args.open3d_threads)
    protocol = Protocol(n_points=args.points, emd_points=args.emd_points)
    rows = []
    for name, pred, gt, sid in load_pairs(json.loads(args.pairs)):
        load_start = load()
        cpu = time.process_time()
        t = time.perf_counter()
        ctx, _ = prepare_pair(pred, gt, protocol, sid)
        times, values = {"prepare": time.perf_counter() - t}, {}
        for metric in METRICS.names():   # shared work (NN queries, mesh distances) counts where first used
            t = time.perf_counter()
            values[metric] = METRICS.get(metric).fn(ctx)
            times[metric] = time.perf_counter() - t
        rows.append({"pair": name, "load": load_start, "times": times, "values": values,
                     "total": sum(times.values()), "cpu": time.process_time() - cpu})
    print(json.dumps({"rows": rows, "peak_rss_mb": peak_rss_mb()}))




def run_worker(tree: Path, args) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--points", str(args.points),
           "--emd-points", str(args.emd_points), "--open3d-threads", str(args.open3d_threads),
           "--pairs", json.dumps(pair_files(args.data, args.pred, args.limit))]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tree)
    if out.returncode != 0:
        raise SystemExit(f"worker failed ({tree}):\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def solvers(m: int, rounds: int) -> None:
    """Exact assignment solvers on EMD costs: concentric spheres, uniform cubes, and a far-apart
    pair (the slow case for scipy, like a poor prediction)."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    from benchmark.assignment import min_cost_assignment

    min_cost_assignment(np.eye(4))                          # compile (or load) the auction before timing
    candidates = {"scipy linear_sum_assignment": lambda c: linear_sum_assignment(c)[1],
                  "auction prices + scipy (exact_emd's)": lambda c: min_cost_assignment(c)[1]}
    try:
        import lap
        candidates[f"lap{'x' if hasattr(lap, 'lapjvx') else ''} {lap.__version__} lapjv"] = lambda c: lap.lapjv(c)[1]
    except ImportError:
        pass
    try:
        import lapjv
        candidates["lapjv (src-d) lapjv"] = lambda c: lapjv.lapjv(c)[0]
    except ImportError:
        pass
    try:
        from ortools.graph.python import linear_sum_assignment as ort

        def ortools_lsa(c, scale=1e9):   # cost scaling on integer costs: distances in units of 1e-9
            solver, n = ort.SimpleLinearSumAssignment(), len(c)
            i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
            solver.add_arcs_with_cost(i.ravel(), j.ravel(), np.rint(c.ravel() * scale).astype(np.int64))
            solver.solve()
            return [solver.right_mate(k) for k in range(n)]
        candidates["ortools cost scaling (1e-9 units)"] = ortools_lsa
    except ImportError:
        pass
    rng = np.random.default_rng(0)
    u, v = rng.normal(size=(m, 3)), rng.normal(size=(m, 3))
    cases = {"spheres r 1 / 1.1": cdist(1.1 * u / np.linalg.norm(u, axis=1, keepdims=True),
                                        v / np.linalg.norm(v, axis=1, keepdims=True)),
             "uniform cubes": cdist(rng.random((m, 3)), rng.random((m, 3)))}
    half = rng.normal(size=(m, 3))
    half[:, 0] = -np.abs(half[:, 0])                      # far apart: a small half shell vs a sphere
    cases["half shell vs sphere"] = cdist(0.6 * half / np.linalg.norm(half, axis=1, keepdims=True),
                                          v / np.linalg.norm(v, axis=1, keepdims=True))
    print(f"\nexact EMD solvers at M = {m}, one thread, seconds (min over {rounds}; load at the start)")
    table = Table(["case", "solver", "seconds", "load", "EMD", "optimum"])
    for case, cost in cases.items():
        best = None
        for name, solve in candidates.items():
            secs, load_start = [], load()
            for _ in range(rounds):
                t = time.perf_counter()
                cols = np.asarray(solve(cost))
                secs.append(time.perf_counter() - t)
            value = float(cost[np.arange(m), cols].mean())
            best = value if best is None else best
            table.add(case, name, f"{min(secs):.2f}", load_start, f"{value:.6f}",
                      "yes" if abs(value - best) < 1e-9 else "NOT the optimum")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", help="git ref of the code to compare with (e.g. 10e816d)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--data", help="dataset folder: GT pairs of its test identities")
    ap.add_argument("--pred", help="folder of predicted meshes <id>.ply scored against --data's GT")
    ap.add_argument("--limit", type=int, default=2, help="test identities of --data")
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--emd-points", type=int, default=2048)
    ap.add_argument("--open3d-threads", type=int, default=1,
                    help="threads of Open3D's point-to-mesh distances (MSD); 0 = its default, every core")
    ap.add_argument("--solvers-only", action="store_true", help="only the EMD solver table")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--pairs", help=argparse.SUPPRESS)  # worker: pair_files() as JSON
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    run = Run("bench_metrics", f"{args.points} points, EMD on {args.emd_points}"
              + (f", old = {args.old}" if args.old else ""))
    if not args.solvers_only:
        trees = {"new": REPO} | ({"old": old_tree(args.old)} if args.old else {})
        runs = {k: [] for k in trees}
        for r in range(args.rounds):
            for code, tree in (trees.items() if r % 2 == 0 else reversed(trees.items())):
                runs[code].append(run_worker(tree, args))
        names = list(runs["new"][0]["rows"][0]["times"])
        threads = "one thread" if args.open3d_threads == 1 else \
            f"one thread, Open3D {args.open3d_threads or 'on every core'}"
        print(f"geometry metrics of one pair, {args.points} points, EMD on {args.emd_points}, {threads}, "
              f"seconds (median of {args.rounds}; shared work counts where first used; CPU s = process time "
              "of the whole pair, all threads)")
        table, notes = Table(["pair", "code", *names, "total", "CPU s", "loads", "RSS MB"]), []
        for i, row in enumerate(runs["new"][0]["rows"]):
            for code, rs in runs.items():
                med = {n: statistics.median(r["rows"][i]["times"][n] for r in rs) for n in names}
                total = statistics.median(r["rows"][i]["total"] for r in rs)
                loads = ",".join(r["rows"][i]["load"] for r in rs)
                cpu = statistics.median(r["rows"][i].get("cpu", float("nan")) for r in rs)
                table.add(row["pair"], code, *(f"{med[n]:.3f}" for n in names), f"{total:.2f}", f"{cpu:.2f}", loads,
                          f"{max(r['peak_rss_mb'] for r in rs):.0f}")
            if "old" in runs:
                new_v, old_v = runs["new"][0]["rows"][i]["values"], runs["old"][0]["rows"][i]["values"]
                diff = max(abs(new_v[k] - old_v[k]) / max(abs(old_v[k]), 1e-12) for k in new_v)
                ratio = (statistics.median(r["rows"][i]["total"] for r in runs["old"]) /
                         statistics.median(r["rows"][i]["total"] for r in runs["new"]))
                notes.append(f"{row['pair']}: old/new total {ratio:.2f}×, "
                             f"metric values max relative difference {diff:.1e}")
        print("\n".join(notes))
    solvers(args.emd_points, 1 if not args.solvers_only else args.rounds)
    run.done()


if __name__ == "__main__":
    main()
