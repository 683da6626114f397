"""Time the dataset build per identity (head build, mesh, render, write) and images per second.

    .venv/bin/python perf/bench_data.py [--presets tiny small] [--identities 3] [--workers 1]

Builds a few identities of each preset into a temporary folder (one worker by default, so
the figures are per core) and prints a table. Target (issue 2): <= 5 s per identity at 128^2
with 10 views on 2 cores. The machine may be shared: figures are pessimistic then.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy: its BLAS reads the thread count at import

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from dataset.build import BuildOptions, build_dataset  # noqa: E402
from harness import Run  # noqa: E402  (perf/, the script's folder)
from dataset.config import make_config  # noqa: E402


def bench(preset: str, identities: int, workers: int) -> dict:
    cfg = make_config(preset, identities=identities)
    with tempfile.TemporaryDirectory(prefix=f"bench-data-{preset}-") as tmp:
        cpu0, t0 = time.process_time(), time.perf_counter()
        summary = build_dataset(cfg, tmp, BuildOptions(workers=workers, progress=False))
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
    stages = {k: float(np.mean([t[k] for t in summary.timings.values()]))
              for k in ("build", "mesh", "render", "write", "total")}
    return {"preset": preset, "res": cfg.resolution, "views": cfg.views, "mc": cfg.mesh_resolution,
            "n": identities, "workers": workers, **stages, "wall": wall,
            "img_s": identities * cfg.views / wall, "cpu": cpu / identities if workers == 1 else float("nan")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["tiny", "small"])
    ap.add_argument("--identities", type=int, default=3)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    run = Run("bench_data", f"{args.identities} identities per preset, {args.workers} worker(s)")
    rows = [bench(p, args.identities, args.workers) for p in args.presets]
    run.table([{"preset": r["preset"], "res": r["res"], "views": r["views"], "mc": r["mc"], "ids": r["n"],
                "workers": r["workers"],
                **{f"{k} s/id": f"{r[k]:.2f}" for k in ("build", "mesh", "render", "write", "total")},
                "wall s": f"{r['wall']:.1f}", "img/s": f"{r['img_s']:.1f}", "cpu s/id": f"{r['cpu']:.2f}"}
               for r in rows])
    print("build = sample + build the head SDF; mesh = marching cubes; render = all views (RGB 2x2 AA, "
          "shadows, AO, exact depth/normals/mask); write = PNG/npy/PLY/JSON/COLMAP + checksums;\n"
          "cpu s/id = CPU seconds of this process per identity (workers = 1 only): wall >> cpu means a busy machine.")
    run.done()


if __name__ == "__main__":
    main()
