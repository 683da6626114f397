"""Head generator speed: seconds to sample + build and mesh an identity, material cost per point.

Usage: python perf/bench_head.py [--identities 8] [--resolution 128 160] [--seed 0]
Prints one row per mesh resolution (mean and worst over identities) and per hair style.
Times are CPU seconds of this process (``time.process_time``, single-threaded numpy), which a
busy shared machine disturbs far less than wall-clock time; the wall-clock total is printed too.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np

from dataset.head import build_head, sdf_normals
from dataset.identity import sample_identity
from dataset.mesh_extract import extract_mesh
from harness import Run, Table  # perf/, the script's folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--identities", type=int, default=8)
    ap.add_argument("--resolution", type=int, nargs="+", default=[128, 160])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    run = Run("bench_head", f"{args.identities} identities, seed {args.seed}, CPU seconds of this process")
    table = Table(["grid", "build s", "mesh s", "worst mesh s", "material us/pt", "vertices", "faces"])
    by_style: dict[str, list[float]] = defaultdict(list)
    for res in args.resolution:
        rows = []
        for i in range(args.identities):
            t0 = time.process_time()
            params = sample_identity(args.seed, i)
            head = build_head(params)
            t1 = time.process_time()
            v, f = extract_mesh(head, res)
            t2 = time.process_time()
            normals = sdf_normals(head, v)
            t3 = time.process_time()
            head.material(v, normals)
            t4 = time.process_time()
            rows.append((t1 - t0, t2 - t1, 1e6 * (t4 - t3) / len(v), len(v), len(f)))
            if res == args.resolution[-1]:
                by_style[params.hair_style].append(t2 - t1)
        r = np.array(rows)
        table.add(res, f"{r[:, 0].mean():.3f}", f"{r[:, 1].mean():.3f}", f"{r[:, 1].max():.3f}",
                  f"{r[:, 2].mean():.1f}", int(r[:, 3].mean()), int(r[:, 4].mean()))
    print(f"\nmesh CPU seconds by hair style at grid {args.resolution[-1]}:")
    run.table([{"hair style": style, "mesh CPU s": f"{np.mean(ts):.3f}", "n": len(ts)}
               for style, ts in sorted(by_style.items())])
    run.done()


if __name__ == "__main__":
    main()
