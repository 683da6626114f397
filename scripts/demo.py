"""`make demo`: the whole GeoGen pipeline end to end on the tiny preset (a smoke run, ~20 min on 2 cores).

tiny dataset (54 identities: the build the shipped models were trained on, so its test split is
held out from them) → validate → preview → train geogen, geogen-nodepth and eg3d briefly →
geogen-bench run for each, and for the shipped 15-kimg models in models/tiny/ → reference rows
(geogen-bench baselines) → shape-distribution metrics (geogen-bench shapes) for each smoke model →
leaderboard CSV, Markdown and PNG. Every step resumes: re-running the command skips what is
already done. Numbers from the short smoke training are a smoke run, not results; the shipped
models' rows are real (on --limit test identities; docs/results.md has all of them, 3 seeds).
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

from .pipeline import VARIANTS, run

# models/tiny/*.pkl were trained on the 38 training identities of this build (`geogen-data build
# --preset tiny --identities 54 --seed 0`); the demo builds the same identities and splits
SHIPPED = Path(__file__).resolve().parent.parent / "models" / "tiny"
SHIPPED_BUILD_IDENTITIES = "54"


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

    run("dataset", "geogen-data", "build", "--preset", "tiny", "--identities", SHIPPED_BUILD_IDENTITIES,
        "--out", str(data))
    run("validate", "geogen-data", "validate", str(data))
    run("preview", "geogen-data", "preview", str(data), "--out", str(out / "contact_sheet.png"),
        "--gif", str(out / "turntable.gif"))
    for variant in VARIANTS:
        # The method's switch (β learnable, λ = 0.1 for geogen) is moved to 2/3 of this short run
        # so the smoke run exercises both phases.
        switch = f"{float(args.kimg) * 2 / 3:.3f}"
        run(f"train {variant}", "geogen-train", "--data", str(data), "--variant", variant, "--preset", "tiny",
            "--kimg", args.kimg, "--out", str(runs / variant), "--threads", "1",
            "--set", f"loss.switch_kimg={switch}",
            *(["--resume", "auto"] if (runs / variant / "latest").exists() else []))
    for variant in VARIANTS:
        run(f"benchmark {variant}", "geogen-bench", "run", "--model", str(runs / variant / "geogen.pkl"),
            "--data", str(data), "--preset", "tiny", "--limit", args.limit, "--method", f"{variant} (smoke run)",
            "--threads", "1", "--out", str(results / f"{variant}.json"))
    # the shipped models (scripts.reproduce, seed 0): real numbers beside the smoke runs
    shipped = sorted(SHIPPED.glob("*.pkl"))
    if not shipped:
        print(f"== shipped models: none in {SHIPPED} (a checkout without them); skipping their rows", flush=True)
    for model in shipped:
        run(f"benchmark shipped {model.stem}", "geogen-bench", "run", "--model", str(model), "--data", str(data),
            "--preset", "tiny", "--limit", args.limit, "--method", f"{model.stem} (shipped, 15 kimg, seed 0)",
            "--threads", "1", "--out", str(results / f"shipped-{model.stem}.json"))
    # reference rows (mean training shape, nearest training GT, another identity's GT): what a number means
    run("reference rows", "geogen-bench", "baselines", "--data", str(data), "--out", str(results))
    for variant in VARIANTS:
        run(f"shape distribution {variant}", "geogen-bench", "shapes", "--model", str(runs / variant / "geogen.pkl"),
            "--data", str(data), "--method", f"{variant} (smoke run)", "--threads", "1", "--splits", "test",
            "--out", str(results / f"{variant}.shapes.json"), required=False)   # a smoke model may have no surface yet
        # --splits test: 8 samples against the 8 test heads (~15 s); against test+train it is 38 samples (~5 min each)
    run("leaderboard", "geogen-bench", "leaderboard", "--results", str(results),
        "--csv", str(out / "leaderboard.csv"), "--md", str(out / "leaderboard.md"), "--png", str(out / "leaderboard.png"))
    print(f"\ndemo finished in {(time.time() - t0) / 60:.1f} min: see {out}/leaderboard.md "
          f"(a smoke run from {args.kimg} kimg of training per variant, not results)")


if __name__ == "__main__":
    main()
