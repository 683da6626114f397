"""Single-scene fit benchmark: free tri-planes + the GeoGen field fitted to one dataset head.

Builds (or reuses) a one-identity tiny dataset, fits for at most --budget seconds on CPU, extracts
the SDF zero level set at --mesh-res³ and prints a table: fit time, steps, chamfer_l1 (normalised
by the GT bounding-box diagonal), PSNR of the training views, final β.

    .venv/bin/python perf/bench_fit.py                     # dataset head, 540 s budget
    .venv/bin/python perf/bench_fit.py --shape sphere      # analytic shape, no dataset needed
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from benchmark.fit import FitConfig, fit_scene, load_identity, render_mesh_views
from dataset import format as layout
from harness import Run  # perf/, the script's folder


def dataset_head(folder: Path):
    if not (folder / layout.MANIFEST).exists():
        exe = Path(sys.executable).parent / "geogen-data"
        subprocess.run([str(exe), "build", "--preset", "tiny", "--identities", "1", "--no-pseudo-gt", "--out", str(folder),
                        "--no-progress"], check=True)
    return load_identity(folder, 0)


def analytic(shape: str):
    import trimesh
    if shape == "sphere":
        m = trimesh.creation.icosphere(subdivisions=4, radius=0.3)
    else:  # capsule-and-box "bust": a rough head on shoulders, flat-cut at y = -0.5
        head = trimesh.creation.icosphere(subdivisions=4, radius=0.18)
        head.apply_translation([0, 0.08, 0])
        body = trimesh.creation.box(extents=[0.7, 0.35, 0.3])
        body.apply_translation([0, -0.325, 0])
        m = trimesh.util.concatenate([head, body])
    return render_mesh_views(m.vertices, m.faces, n_views=12, resolution=64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", default="head", choices=["head", "sphere", "bust"])
    ap.add_argument("--data", default="/tmp/geogen-bench-fit/ds", help="one-identity dataset (built if missing)")
    ap.add_argument("--budget", type=float, default=540.0, help="fit wall-time budget in seconds")
    ap.add_argument("--steps", type=int, default=100000)
    ap.add_argument("--mesh-res", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1 is faster when other processes share the CPU; 2 on an idle 2-core machine)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    run = Run("bench_fit", f"scene {args.shape}, budget {args.budget:.0f} s, mesh {args.mesh_res}³")
    data = dataset_head(Path(args.data)) if args.shape == "head" else analytic(args.shape)
    fc = FitConfig(steps=args.steps, time_budget_s=args.budget, mesh_resolution=args.mesh_res)
    t0 = time.time()
    r = fit_scene(data, fc, log=lambda s: print(s, flush=True))
    total = time.time() - t0
    V, H = data.images.shape[:2]
    print()
    run.table([{"scene": args.shape, "views": V, "res": H, "steps": r["steps"],
                "fit s (wall)": f"{r['fit_seconds']:.0f}",
                "fit s (CPU)": f"{r['fit_cpu_seconds']:.0f}", "total s": f"{total:.0f}",
                "chamfer_l1 (% diag)": f"{100 * r['chamfer_l1']:.2f}", "PSNR dB": f"{r['psnr']:.2f}",
                "beta": f"{r['beta']:.4f}"}])
    run.done("on a shared CPU wall times are pessimistic, CPU seconds show the work done")


if __name__ == "__main__":
    main()
