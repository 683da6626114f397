"""Time the geometry metrics (10k and 100k points per surface) and, optionally, PTI per identity.

    .venv/bin/python benchmarks/bench_metrics.py [--model geogen.pkl --data D --preset tiny]

Targets (issue 5): all geometry metrics for one pair ≤ 3 s at 100k points; exact EMD at
2,048 points ≤ 1 s. The machine is shared, so figures are pessimistic: rerun on a quiet one.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import trimesh

from benchmark.metrics import METRICS, exact_emd, prepare_pair
from benchmark.protocol import Protocol


def head_like_pair() -> tuple[trimesh.Trimesh, trimesh.Trimesh]:
    """A GT ellipsoid (~80k faces) and a bumpy prediction (~20k faces), a realistic size ratio."""
    gt = trimesh.creation.icosphere(subdivisions=6)
    gt = trimesh.Trimesh(gt.vertices * [0.16, 0.2, 0.18], gt.faces, process=False)
    pred = trimesh.creation.icosphere(subdivisions=5)
    v = pred.vertices * [0.17, 0.19, 0.18]
    v = v * (1 + 0.03 * np.sin(12 * pred.vertices[:, :1]) * np.cos(9 * pred.vertices[:, 1:2]))
    return trimesh.Trimesh(v, pred.faces, process=False), gt


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def bench_metrics() -> None:
    pred, gt = head_like_pair()
    prepare_pair(pred, gt, Protocol(n_points=1000, emd_points=64), "0")[0].p_to_gt_mesh  # warm-up: imports
    print(f"geometry metrics, one pair (pred {len(pred.faces)} faces, GT {len(gt.faces)} faces), seconds")
    print(f"{'points':>8} {'prepare':>8} " + " ".join(f"{n:>12}" for n in METRICS.names()) + f" {'total':>8}")
    for n in (10_000, 100_000, 100_000):  # 100k twice: the spread shows the machine's noise
        protocol = Protocol(n_points=n, emd_points=min(2048, n))
        (ctx, _), t_prep = timed(lambda: prepare_pair(pred, gt, protocol, "1"))
        times = {}
        for name in METRICS.names():  # shared work (NN queries, mesh distances) counts where first used
            _, times[name] = timed(lambda: METRICS.get(name).fn(ctx))
        total = t_prep + sum(times.values())
        print(f"{n:>8} {t_prep:>8.2f} " + " ".join(f"{times[k]:>12.2f}" for k in METRICS.names()) + f" {total:>8.2f}")
    rng = np.random.default_rng(0)
    print("\nexact EMD (scipy linear_sum_assignment) on M points per set, seconds")
    for m in (1024, 2048, 4096):
        a, b = rng.random((m, 3)), rng.random((m, 3))
        _, t = timed(lambda: exact_emd(a, b))
        print(f"{m:>8} {t:>8.2f}")


def bench_pti(model: str, data: str, preset: str, limit: int) -> None:
    from benchmark.adapters import load_adapter
    from benchmark.data import Dataset
    from benchmark.pti import PTI_PRESETS
    from benchmark.run import RunSettings, choose_views, read_image

    pti = PTI_PRESETS[preset]
    adapter = load_adapter(model, pti)
    ds = Dataset(data)
    print(f"\nPTI ({preset}: {pti.steps_w} W steps + {pti.steps_g} tuning steps), seconds per identity")
    for sid in ds.test_ids[:limit]:
        views = ds.views(sid)
        (inputs, _) = choose_views(len(views), RunSettings(), sid)
        img = read_image(views[inputs[0]].image_path)
        state, t_inv = timed(lambda: adapter.invert([img], [views[inputs[0]].camera]))
        _, t_mesh = timed(lambda: adapter.mesh(state))
        print(f"{sid:>8} invert {t_inv:8.1f}  mesh {t_mesh:6.2f}  "
              f"({t_inv / max(pti.steps_w + pti.steps_g, 1):.2f} s/step)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="model file for the PTI timing (skipped without it)")
    ap.add_argument("--data", help="dataset folder for the PTI timing")
    ap.add_argument("--preset", default="tiny", help="PTI preset (tiny, small, paper)")
    ap.add_argument("--limit", type=int, default=2, help="identities to invert")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    bench_metrics()
    if args.model and args.data:
        bench_pti(args.model, args.data, args.preset, args.limit)


if __name__ == "__main__":
    main()
