"""`make demo`: the whole GeoGen pipeline end to end on the tiny preset (a smoke run, ~20 min on 2 cores).

tiny dataset → validate → preview → train geogen, geogen-nodepth and eg3d briefly →
geogen-bench run for each → reference rows (geogen-bench baselines) → shape-distribution metrics
(geogen-bench shapes) for each → leaderboard CSV, Markdown and PNG. Every step resumes: re-running
the command skips what is already done. Numbers from such short training are a smoke run,
not results (see docs/results.md for the longer reproduction).
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

from .pipeline import VARIANTS, run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/demo", help="demo folder (default out/demo)")
    ap.add_argument("--kimg", default="1.5", help="training length per variant, thousands of images")
    ap.add_argument("--limit", default="2", help="test identities benchmarked per variant")
    ap.add_argument("--fresh", action="store_true", help="delete --out first instead of resuming")
    args = ap.parse_args()
    out = Path(args.out)
    if args.fresh and out.exists():
        shutil.rmtree(out)
    data, runs, results = out / "data", out / "runs", out / "results"
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    t0 = time.time()

    run("dataset", "geogen-data", "build", "--preset", "tiny", "--out", str(data))
    run("validate", "geogen-data", "validate", str(data))
    run("preview", "geogen-data", "preview", str(data), "--out", str(out / "contact_sheet.png"),
        "--gif", str(out / "turntable.gif"))
    for variant in VARIANTS:
        # The method's switch (β learnable, λ = 0.1 for geogen) is moved to 2/3 of this short run
        # so the smoke run exercises both phases.
        switch = f"{float(args.kimg) * 2 / 3:.3f}"
        run(f"train {variant}", "geogen-train", "--data", str(data), "--variant", variant, "--preset", "tiny",
            "--kimg", args.kimg, "--out", str(runs / variant), "--threads", "1",
            "--set", f"loss.beta_fixed_kimg={switch}", "--set", f"loss.depth_loss_start_kimg={switch}",
            *(["--resume", "auto"] if (runs / variant / "latest").exists() else []))
    for variant in VARIANTS:
        run(f"benchmark {variant}", "geogen-bench", "run", "--model", str(runs / variant / "geogen.pkl"),
            "--data", str(data), "--preset", "tiny", "--limit", args.limit, "--method", f"{variant} (smoke run)",
            "--threads", "1", "--out", str(results / f"{variant}.json"))
    # reference rows (mean training shape, nearest training GT, another identity's GT): what a number means
    run("reference rows", "geogen-bench", "baselines", "--data", str(data), "--out", str(results))
    for variant in VARIANTS:
        run(f"shape distribution {variant}", "geogen-bench", "shapes", "--model", str(runs / variant / "geogen.pkl"),
            "--data", str(data), "--method", f"{variant} (smoke run)", "--threads", "1",
            "--out", str(results / f"{variant}.shapes.json"), required=False)   # a smoke model may have no surface yet
    run("leaderboard", "geogen-bench", "leaderboard", "--results", str(results),
        "--csv", str(out / "leaderboard.csv"), "--md", str(out / "leaderboard.md"), "--png", str(out / "leaderboard.png"))
    print(f"\ndemo finished in {(time.time() - t0) / 60:.1f} min: see {out}/leaderboard.md "
          f"(a smoke run from {args.kimg} kimg of training per variant, not results)")


if __name__ == "__main__":
    main()
