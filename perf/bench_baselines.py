"""Reference rows on a real build: template-mean per grid resolution, and the oracle's shortlist.

    python perf/bench_baselines.py --data D [--resolutions 64,96,128,160] [--work /tmp/bb]

Prints, with the default protocol: template-mean's Chamfer / F@1% / NC and the seconds to build
and score it at each marching-cubes resolution; oracle-nearest-train searched exactly (protocol
Chamfer against every training GT) and with the default shortlist (8 candidates screened by a
2,000-point Chamfer): seconds, scores, and how many chosen identities agree.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Run, Table  # noqa: E402
from benchmark.baselines import BaselineSettings, run_baselines  # noqa: E402
from benchmark.protocol import Protocol  # noqa: E402


def summary(result: dict) -> tuple[str, str, str]:
    s = result["summary"]
    return (f"{s['chamfer_l1']['mean']:.4f} ± {s['chamfer_l1']['std']:.4f}", f"{s['fscore@0.01']['mean']:.3f}",
            f"{s['normal_consistency']['mean']:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="dataset folder with train and test splits")
    ap.add_argument("--resolutions", default="64,96,128,160", help="template grid resolutions, comma-separated")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_baselines."))
    proto = Protocol()
    run = Run("bench_baselines", f"dataset {args.data}, default protocol")
    table = Table(["baseline", "setting", "seconds", "Chamfer mean ± std ↓", "F@1% ↑", "NC ↑"])
    for res in [int(r) for r in args.resolutions.split(",")]:
        t0 = time.perf_counter()
        out = run_baselines(args.data, work / f"template-{res}", proto,
                            BaselineSettings(baselines=("template-mean",), template_resolution=res),
                            pictures=False, progress=False)["template-mean"]
        table.add("template-mean", f"{res} cells", f"{time.perf_counter() - t0:.0f}", *summary(out))
    chosen = {}
    for label, shortlist in (("exact (every reference)", None), ("shortlist 8", 8)):
        t0 = time.perf_counter()
        out = run_baselines(args.data, work / f"oracle-{shortlist}", proto,
                            BaselineSettings(baselines=("oracle-nearest",), oracle_shortlist=shortlist),
                            pictures=False, progress=False)["oracle-nearest-train"]
        chosen[label] = {k: v["id"] for k, v in out["method"]["details"]["nearest"].items()}
        table.add("oracle-nearest-train", label, f"{time.perf_counter() - t0:.0f}", *summary(out))
    a, b = chosen.values()
    print(f"\noracle choices identical for {sum(a[k] == b[k] for k in a)} of {len(a)} test identities; "
          f"scratch folder {work}; mean of {len(a)} identities, std over identities")
    run.done()


if __name__ == "__main__":
    main()
