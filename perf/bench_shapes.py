"""Shape-distribution metrics on sets whose answer is known, from a dataset's own GT meshes.

    python perf/bench_shapes.py --data D [--points 2000,10000]

The "samples" are GT meshes, so each row has an expected outcome: one half of the training GT
against the other half, and the test GT against the training GT (draws of the same head sampler:
1-NNA ≈ 50 %, no memorisation flag); copies of the training GT (new surface samples) against the
training GT (memorisation: 1-NNA 0 %, COV 100 %); spheres against the training GT (another
distribution: 1-NNA 100 %). Prints COV, MMD,
1-NNA and the seconds of the Chamfer matrices at each points-per-shape setting.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import trimesh

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dataset.format import Dataset  # noqa: E402
from benchmark.metrics import sample_key  # noqa: E402
from benchmark.shapes import ShapeProtocol, compare_sets  # noqa: E402
from geogen.common.meshio import load_mesh  # noqa: E402
from harness import Run, Table  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="dataset folder with train and test splits")
    ap.add_argument("--points", default="2000,10000", help="points per shape, comma-separated")
    args = ap.parse_args()
    ds = Dataset(args.data)
    ids = {s: ds.split(s) for s in ("test", "train")}
    gt = {s: [load_mesh(ds.gt_path(i, "exact")) for i in ids[s]] for s in ids}
    train = {"train": (ids["train"], gt["train"])}
    half = len(ids["train"]) // 2
    first, second = ids["train"][:half], ids["train"][half:2 * half]
    second_half = {"train[second half]": (second, gt["train"][half:2 * half])}
    n = len(ids["train"])
    centre = np.mean([m.bounds.mean(axis=0) for m in gt["train"]], axis=0)
    spheres = [trimesh.creation.icosphere(3, radius=0.15 + 0.1 * k / n) for k in range(n)]
    spheres = [trimesh.Trimesh(m.vertices + centre, m.faces, process=False) for m in spheres]
    key = lambda sid: sample_key(sid)  # noqa: E731
    cases = [
        (f"train[first {half}] vs train[second {half}] (same distribution)",
         {key(i): m for i, m in zip(first, gt["train"][:half])}, second_half),
        (f"test ({len(ids['test'])}) vs train (same distribution)",
         {key(i): m for i, m in zip(ids["test"], gt["test"])}, train),
        (f"copies of the {n} train GT vs train (memorisation)",
         {key(i): m for i, m in zip(ids["train"], gt["train"])}, train),
        (f"{n} spheres vs train (another distribution)", dict(enumerate(spheres)), train),
    ]
    run = Run("bench_shapes", f"dataset {ds.name}: {len(ids['test'])} test, {n} train identities")
    table = Table(["case", "points", "COV ↑", "MMD ↓", "1-NNA", "sets compared", "memorisation", "seconds"])
    for points in [int(p) for p in args.points.split(",")]:
        for name, samples, refs in cases:
            t0 = time.perf_counter()
            r = next(iter(compare_sets(samples, refs, ShapeProtocol(n_points=points))[0].values()))
            table.add(name, points, f"{100 * r['cov']:.0f} %", f"{r['mmd']:.4f}", f"{100 * r['1-nna']:.1f} %",
                      f"{r['n']} + {r['n']}", "yes" if r["memorisation"] else "no", f"{time.perf_counter() - t0:.1f}")
    run.done()


if __name__ == "__main__":
    main()
