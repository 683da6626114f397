"""Reproduce the paper's comparison (GeoGen vs GeoGen w/o depth loss vs EG3D) at a fixed budget.

    python -m scripts.reproduce                       # tiny: the numbers of docs/results.md (~2 h on 2 cores)
    python -m scripts.reproduce --preset small        # longer CPU experiment (days; see docs/results.md)
    python -m scripts.reproduce --preset paper --gpus 8   # the paper's scale, torchrun on GPUs

dataset (+ pseudo-GT) → validate → train the three variants with the same seed (side by side
on CPU, one after another on GPUs) → sample pictures → geogen-bench run on every test identity
for the final models and the milestone snapshots (budget curve) → reference rows (geogen-bench
baselines) and shape-distribution metrics (geogen-bench shapes) → mesh-level sensitivity (benchmarks/bench_levels.py) → leaderboard → docs/results.md.
Every step resumes: re-running the command skips what is already done. Same seeds → same numbers
(CPU, one thread per job; see docs/results.md for what is nondeterministic).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .pipeline import VARIANTS, command, latest_kimg, run, run_parallel


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment's fixed budget: data, training length, inversion settings, parallelism."""

    dataset_preset: str
    identities: int | None      # overrides the dataset preset's count (None = preset)
    train_preset: str
    kimg: float                 # training length per variant
    milestone_kimg: float       # also benchmark the snapshots at multiples of this (0 = final only)
    switch_kimg: float | None   # β/λ switch point N (None = the training preset's)
    pti_preset: str             # geogen-bench run --preset
    jobs: int                   # variants trained / benchmarked side by side (CPU)
    gpus: int = 0               # > 0: torchrun --nproc_per_node gpus, one variant at a time
    seed: int = 0               # training seed (the dataset seed is 0 in every preset)


EXPERIMENTS = {
    # 54 identities × 10 views at 128² (46 train / 8 test), 30 kimg per variant (β/λ switch at the
    # tiny preset's 8 kimg): 3 × ≈45 min of one core; PTI 200 + 100 steps on all 8 test identities.
    "tiny": ExperimentConfig("tiny", 54, "tiny", kimg=30.0, milestone_kimg=15.0, switch_kimg=None,
                             pti_preset="small", jobs=3),
    # 300 identities at 256² (30 test), the small model for 100 kimg with the switch at 50 kimg.
    "small": ExperimentConfig("small", None, "small", kimg=100.0, milestone_kimg=25.0, switch_kimg=50.0,
                              pti_preset="small", jobs=2),
    # 19,800 identities at 512² (198 test), the paper model for EG3D's 25,000 kimg on GPUs.
    "paper": ExperimentConfig("paper", None, "paper", kimg=25000.0, milestone_kimg=5000.0, switch_kimg=None,
                              pti_preset="paper", jobs=1, gpus=8),
}


def train_steps(cfg: ExperimentConfig, data: Path, runs: Path, threads: int) -> list[tuple[str, list[str], Path]]:
    steps = []
    for variant in VARIANTS:
        out = runs / variant
        if latest_kimg(out) >= cfg.kimg and (out / "geogen.pkl").exists():
            print(f"== train {variant}: already at {latest_kimg(out):g} kimg", flush=True)
            continue
        args = ["--data", str(data), "--variant", variant, "--preset", cfg.train_preset, "--kimg", f"{cfg.kimg:g}",
                "--out", str(out), "--threads", str(threads), "--no-progress",
                "--set", f"milestone_kimg={cfg.milestone_kimg:g}"]
        if cfg.switch_kimg is not None:
            args += ["--set", f"loss.beta_fixed_kimg={cfg.switch_kimg:g}",
                     "--set", f"loss.depth_loss_start_kimg={cfg.switch_kimg:g}"]
        args += ["--resume", "auto"] if (out / "latest").exists() else ["--seed", str(cfg.seed)]
        if cfg.gpus > 0:
            argv = ["torchrun", "--standalone", "--nproc_per_node", str(cfg.gpus), "-m", "geogen.cli.train", *args]
        else:
            argv = ["geogen-train", *args]
        steps.append((f"train {variant}", argv, runs / f"{variant}.log"))
    return steps


def milestone_models(cfg: ExperimentConfig, runs: Path, variant: str) -> dict[float, Path]:
    """kimg → model file: the milestone snapshots below the final length, and the final geogen.pkl."""
    models = {}
    if cfg.milestone_kimg > 0:
        k = cfg.milestone_kimg
        while k < cfg.kimg - 1e-9:
            snap = runs / variant / f"snapshot-{k:09.3f}.pt"
            if snap.exists():
                models[k] = snap
            else:
                print(f"   note: milestone {snap} is missing (pruned before milestone_kimg was set?)", flush=True)
            k += cfg.milestone_kimg
    models[cfg.kimg] = runs / variant / "geogen.pkl"
    return models


def bench_steps(cfg: ExperimentConfig, out_dir: Path, threads: int, device: str) -> list[tuple[str, list[str], Path]]:
    """Final models → <out>/results/<variant>.json (the leaderboard); milestones → <out>/budget/."""
    data, runs, results = out_dir / "data", out_dir / "runs", out_dir / "results"
    steps = []
    for variant in VARIANTS:
        for kimg, model in milestone_models(cfg, runs, variant).items():
            final = kimg == cfg.kimg
            out = results / f"{variant}.json" if final else out_dir / "budget" / f"{variant}-{kimg:g}kimg.json"
            if out.exists():
                continue
            name = f"{variant} ({kimg:g} kimg)"
            steps.append((f"benchmark {name}",
                          ["geogen-bench", "run", "--model", str(model), "--data", str(data),
                           "--preset", cfg.pti_preset, "--method", name, "--out", str(out),
                           "--threads", str(threads), "--device", device, "--no-progress",
                           *(["--save-inversions"] if final else [])],
                          out_dir / "logs" / f"bench-{variant}-{kimg:g}kimg.log"))
    return steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny", choices=sorted(EXPERIMENTS), help="experiment budget (default tiny)")
    ap.add_argument("--out", default=None, help="experiment folder (default out/reproduce, out/reproduce-<preset> for the others)")
    ap.add_argument("--report", default=None, help="where results.md and its pictures go "
                    "(default: docs/ for the tiny preset, <out>/report otherwise)")
    ap.add_argument("--jobs", type=int, default=None, help="jobs side by side (default: the preset's)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per job (default 1)")
    ap.add_argument("--gpus", type=int, default=None, help="GPUs for torchrun (default: the preset's; 0 = CPU)")
    ap.add_argument("--kimg", type=float, default=None, help="training length per variant (default: the preset's)")
    ap.add_argument("--fresh", action="store_true", help="delete --out first instead of resuming")
    args = ap.parse_args()

    cfg = EXPERIMENTS[args.preset]
    changes = {k: v for k, v in (("jobs", args.jobs), ("gpus", args.gpus), ("kimg", args.kimg)) if v is not None}
    cfg = dataclasses.replace(cfg, **changes)
    out = Path(args.out or ("out/reproduce" if args.preset == "tiny" else f"out/reproduce-{args.preset}"))
    report = Path(args.report or ("docs" if args.preset == "tiny" else out / "report"))
    if args.fresh and out.exists():
        shutil.rmtree(out)
    data, runs, results = out / "data", out / "runs", out / "results"
    device = "cuda" if cfg.gpus > 0 else "cpu"
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    t0 = time.time()

    build = ["geogen-data", "build", "--preset", cfg.dataset_preset, "--out", str(data), "--seed", "0"]
    if cfg.identities is not None:
        build += ["--identities", str(cfg.identities)]
    run("dataset", *build)
    run("validate", "geogen-data", "validate", str(data))

    def training_status() -> str:
        return "  ".join(f"{v} {latest_kimg(runs / v):g}/{cfg.kimg:g} kimg" for v in VARIANTS)

    jobs = 1 if cfg.gpus > 0 else cfg.jobs
    train_walls = run_parallel(train_steps(cfg, data, runs, args.threads), jobs, poll_s=120, status=training_status)
    for variant in VARIANTS:
        gen = out / "samples" / variant
        if not (gen / "seed0003.png").exists():
            run(f"samples {variant}", "geogen-gen", "--model", str(runs / variant / "geogen.pkl"), "--seeds", "0-3",
                "--views", "4", "--out", str(gen), "--gif-frames", "24")
    run_parallel(bench_steps(cfg, out, args.threads, device), cfg.jobs)
    # reference rows: the same protocol on meshes that ignore the image (docs/benchmark.md)
    # (the oracle scores every test identity against the training split: skipped at the paper's scale)
    run("reference rows", "geogen-bench", "baselines", "--data", str(data), "--out", str(results),
        *(["--only", "template-mean,copy-other"] if args.preset == "paper" else []))
    for variant in VARIANTS:
        run(f"shape distribution {variant}", "geogen-bench", "shapes", "--model", str(runs / variant / "geogen.pkl"),
            "--data", str(data), "--method", f"{variant} ({cfg.kimg:g} kimg)", "--threads", str(args.threads),
            "--device", device, "--out", str(results / f"{variant}.shapes.json"), required=False)
    if not (out / "levels.json").exists():
        run("mesh-level sensitivity", "python", "benchmarks/bench_levels.py", str(results), "--json",
            str(out / "levels.json"))
    run("leaderboard", "geogen-bench", "leaderboard", "--results", str(results),
        "--csv", str(out / "leaderboard.csv"), "--md", str(out / "leaderboard.md"), "--png", str(out / "leaderboard.png"))
    run("report", "python", "-m", "scripts.report", "--experiment", str(out), "--report", str(report),
        "--preset", args.preset)
    print(f"\nreproduction ({args.preset}) finished in {(time.time() - t0) / 60:.1f} min "
          f"(training walls: {', '.join(f'{k} {v / 60:.0f} min' for k, v in train_walls.items()) or 'resumed'}); "
          f"see {report / 'results.md'} and {out / 'leaderboard.md'}")


if __name__ == "__main__":
    main()
