"""Executor overhead of a dataset build: the same small build with the local executor (1 and N
processes) and with Ray (a local cluster of N CPUs, its start-up timed separately).

    nice .venv/bin/python perf/bench_executor.py --identities 6 --workers 2

Prints one table: wall seconds of the build, identities/s, and Ray's cluster start-up. Every
build writes the same bytes (checked); on a shared machine compare rows of one run only.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Run  # noqa: E402


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--identities", type=int, default=6)
    p.add_argument("--views", type=int, default=4)
    p.add_argument("--resolution", type=int, default=48)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    run = Run("bench_executor", f"{args.identities} identities × {args.views} views at {args.resolution}²")

    import ray

    from dataset.build import BuildOptions, build_dataset
    from dataset.config import make_config

    cfg = make_config("tiny", identities=args.identities, views=args.views, resolution=args.resolution,
                      mesh_resolution=64)
    rows, trees = [], []
    with tempfile.TemporaryDirectory() as tmp:
        runs = [("local", 1), ("local", args.workers), ("ray", args.workers)]
        for kind, workers in runs:
            startup = None
            if kind == "ray":
                t = time.perf_counter()
                ray.init(num_cpus=workers, include_dashboard=False, configure_logging=False, log_to_driver=False)
                startup = time.perf_counter() - t
            root = Path(tmp) / f"{kind}-{workers}"
            t = time.perf_counter()
            build_dataset(cfg, root, BuildOptions(workers=workers, executor=kind, progress=False))
            seconds = time.perf_counter() - t
            if kind == "ray":
                ray.shutdown()
            rows.append((kind, workers, seconds, args.identities / seconds, startup))
            trees.append(_files(root))
    same = all(t == trees[0] for t in trees)
    print(f"identical bytes: {same}")
    run.table([{"executor": kind, "workers": workers, "build s": f"{seconds:.1f}", "identities/s": f"{rate:.2f}",
                "cluster start s": "" if startup is None else f"{startup:.1f}"}
               for kind, workers, seconds, rate, startup in rows])
    run.done()


if __name__ == "__main__":
    main()
