"""Reproduce the paper's comparison (GeoGen vs GeoGen w/o depth loss vs EG3D): a validation screen
that chooses GeoGen's post-switch setting, then every variant with ≥ 3 training seeds on the test split.

    python -m scripts.reproduce                       # tiny: the numbers of docs/results.md (~3 h on 2 cores)
    python -m scripts.reproduce --data D              # use an existing build (with a validation split)
    python -m scripts.reproduce --preset small        # longer CPU experiment (days)
    python -m scripts.reproduce --preset paper --gpus 8   # the paper's scale, torchrun on GPUs

Steps (each resumes; re-running the command skips what is done):

1. dataset with train / val / test identities (`geogen-data build`), validated;
2. trunks: geogen of every seed to the switch point N (β frozen, λ = 0), seed 0's on to the
   budget; eg3d of every seed to the budget;
3. screen (seed 0, validation identities only): geogen-nodepth and every ``SCREEN`` setting are
   branched from geogen's snapshot at N (they train identically before it: a third of the
   compute saved), benchmarked on the validation split with the milestone snapshots (budget
   curve); the geogen setting with the lowest validation Chamfer is chosen (``choice.json``);
4. the other seeds: the chosen geogen setting and geogen-nodepth from their trunk's snapshot at N;
5. the test split, once: every seed × variant, and the reference rows (`geogen-bench baselines`);
6. diagnostics (G / G_ema β, median |∇s| on the mesh, the rendered-vs-mesh depth offset), samples,
   leaderboard, and docs/results.md (`scripts.report`) from the result JSONs copied under
   docs/results/study/.

Layout of ``--out``: ``data/``, ``runs/s<seed>/<run>/``, ``results/{val,test}/s<seed>-<run>.json``,
``results/val/budget/``, ``results/{val,test}/references/``, ``diagnostics/``, ``samples/``, ``logs/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from geogen.common.atomic import atomic_write_json
from geogen.common.config import Config
from geogen.model.config import VARIANT_REGISTRY

from .pipeline import VARIANTS, Step, latest_kimg, run, run_when_ready

# post-switch settings of geogen, screened on seed 0 against the base setting ("geogen"): each
# acts only from N on, so it is branched from geogen's snapshot at N. name → (run folder, --set
# options). The chosen setting also applies to geogen-nodepth (the ablation must differ from geogen
# in the depth loss only) unless it concerns the depth loss itself (NODEPTH_IRRELEVANT).
SCREEN: dict[str, tuple[str, list[str]]] = {
    "base": ("geogen", []),
    "depth_grad=surface": ("surface", ["model.depth_loss_grad=surface"]),
    "beta_lr=1e-2": ("betalr", ["loss.beta_lr=0.01"]),       # β is frozen before N: its lr acts from N on
}
NODEPTH_IRRELEVANT = {"depth_grad=surface"}


def trunk_of(variant: str) -> str:
    """Run folder of seed 0's snapshots of ``variant`` up to N: the variant it branches from at N (its
    registry entry's ``branch_of``), else its own run."""
    return VARIANT_REGISTRY.get(variant).branch_of or variant


def variant_of(folder: str) -> str:
    """Variant trained in a run folder: a folder named after a variant (geogen, eg3d) trains it,
    nodepth[-<setting>] trains geogen-nodepth, a screened setting's folder trains geogen."""
    if folder.startswith("nodepth"):
        return "geogen-nodepth"
    return folder if folder in VARIANT_REGISTRY else "geogen"


@dataclass(frozen=True)
class ExperimentConfig(Config):
    """One experiment's fixed budget: data, training length, seeds, inversion settings, parallelism."""

    dataset_preset: str
    """``geogen-data build --preset``."""
    identities: int | None
    """Overrides the dataset preset's identity count (None = the preset's)."""
    train_preset: str
    """``geogen-train --preset``."""
    kimg: float
    """Training length per run (every variant, every seed)."""
    switch_kimg: float
    """N: β learnable and λ > 0 from here (``loss.switch_kimg``); nodepth and screen settings branch here."""
    milestone_kimg: float
    """Budget curve: seed 0's snapshots at multiples of this, on the validation split."""
    pti_preset: str
    """``geogen-bench run --preset``."""
    jobs: int
    """Runs trained / benchmarked side by side (CPU)."""
    seeds: tuple[int, ...] = (0, 1, 2)
    """Training seeds; the first (0) is the seed of the validation screen."""
    screen: tuple[str, ...] = tuple(SCREEN)
    """Screened post-switch settings of geogen (names of ``SCREEN``)."""
    gpus: int = 0
    """> 0: torchrun --nproc_per_node gpus, one run at a time."""

    def __post_init__(self):
        super().__post_init__()
        # the branches start from the snapshot at N: the training presets snapshot every 1 / 50 / 200
        # kimg (tiny / small / paper), so N must be a multiple of that
        if not 0 < self.switch_kimg < self.kimg:
            raise SystemExit(f"error: the switch point N = {self.switch_kimg:g} must lie inside the budget {self.kimg:g}")


EXPERIMENTS = {
    # 54 identities × 10 views at 128² (38 train / 8 val / 8 test), 15 kimg per run (the tiny
    # preset's schedule: switch at 8 kimg), 3 seeds; PTI `tiny` (40 + 20 steps) on every identity.
    "tiny": ExperimentConfig("tiny", 54, "tiny", kimg=15.0, switch_kimg=8.0, milestone_kimg=4.0,
                             pti_preset="tiny", jobs=2),
    "small": ExperimentConfig("small", None, "small", kimg=100.0, switch_kimg=50.0, milestone_kimg=50.0,
                              pti_preset="small", jobs=2),
    "paper": ExperimentConfig("paper", None, "paper", kimg=25000.0, switch_kimg=1000.0, milestone_kimg=5000.0,
                              pti_preset="paper", jobs=1, gpus=8, screen=("base",)),
}


class Study:
    """Paths and step builders of one experiment folder."""

    def __init__(self, cfg: ExperimentConfig, out: Path, data: Path, threads: int):
        self.cfg, self.out, self.data, self.threads = cfg, out, data, threads
        self.device = "cuda" if cfg.gpus > 0 else "cpu"

    def run_dir(self, seed: int, name: str) -> Path:
        return self.out / "runs" / f"s{seed}" / name

    def result(self, split: str, seed: int, name: str) -> Path:
        return self.out / "results" / split / f"s{seed}-{name}.json"

    def snapshot_at_switch(self, seed: int) -> Path:
        return self.run_dir(seed, "geogen") / f"snapshot-{self.cfg.switch_kimg:09.3f}.pt"

    def trained(self, seed: int, name: str, kimg: float) -> bool:
        d = self.run_dir(seed, name)
        return latest_kimg(d) >= kimg - 1e-9 and (d / "geogen.pkl").is_file()

    # ------------------------------------------------------------------ steps
    def train(self, seed: int, name: str, kimg: float, sets: list[str] = (), branch: bool = False):
        """One training step, or None when the run is already at ``kimg``."""
        if self.trained(seed, name, kimg):
            return None
        cfg, out = self.cfg, self.run_dir(seed, name)
        args = ["--data", str(self.data), "--variant", variant_of(name), "--preset", cfg.train_preset,
                "--kimg", f"{kimg:g}", "--out", str(out), "--threads", str(self.threads), "--no-progress",
                "--set", "keep_snapshots=2", "--set", f"milestone_kimg={cfg.milestone_kimg:g}",
                "--set", f"loss.switch_kimg={cfg.switch_kimg:g}"]
        if (out / "latest").exists():
            args += ["--resume", "auto"]
        elif branch:
            args += ["--branch-from", str(self.snapshot_at_switch(seed))]
        else:
            args += ["--seed", str(seed)]
        for s in sets:
            args += ["--set", s]
        argv = (["torchrun", "--standalone", "--nproc_per_node", str(cfg.gpus), "-m", "geogen.cli.train", *args]
                if cfg.gpus > 0 else ["geogen-train", *args])
        return (f"train s{seed}/{name} to {kimg:g} kimg", argv, self.out / "logs" / f"train-s{seed}-{name}.log")

    def bench(self, model: Path, split: str, out: Path, method: str, pictures: bool = False, views: int = 1):
        if out.is_file():
            return None
        argv = ["geogen-bench", "run", "--model", str(model), "--data", str(self.data), "--split", split,
                "--preset", self.cfg.pti_preset, "--method", method, "--out", str(out), "--views", str(views),
                "--threads", str(self.threads), "--device", self.device, "--no-progress",
                *(["--save-inversions"] if pictures else ["--no-pictures"])]
        return (f"benchmark {method}", argv, self.out / "logs" / f"bench-{out.parent.name}-{out.stem}.log")

    def references(self, split: str):
        refs = self.out / "results" / split / "references"
        if (refs / "template-mean.json").is_file():
            return None
        only = ["--only", "template-mean,copy-other"] if self.cfg.gpus > 0 else []
        return (f"reference rows ({split})", ["geogen-bench", "baselines", "--data", str(self.data), "--split", split,
                                              "--out", str(refs), "--no-progress", *only],
                self.out / "logs" / f"references-{split}.log")

    def milestone_kimgs(self, name: str) -> list[float]:
        """kimg of the budget curve's snapshots below the final length (a branch's own snapshots
        start after N: the one at N is its trunk's)."""
        out, k = [], self.cfg.milestone_kimg
        while 0 < k < self.cfg.kimg - 1e-9:
            if name in {trunk_of(v) for v in VARIANTS} or k > self.cfg.switch_kimg:   # geogen, eg3d
                out.append(k)
            k += self.cfg.milestone_kimg
        return out

    def missing(self, names: dict[str, str], screened: list[str]) -> list[str]:
        """What a finished study has and this one lacks: training runs and result files."""
        K, out = self.cfg.kimg, []
        for s in self.cfg.seeds:
            for r in dict.fromkeys((screened if s == 0 else []) + list(names)):
                if not self.trained(s, r, K):
                    out.append(f"training s{s}/{r} (at {latest_kimg(self.run_dir(s, r)):g} of {K:g} kimg)")
            out += [f"test score s{s}/{r}" for r in names if not self.result("test", s, r).is_file()]
        out += [f"validation score s0/{r}" for r in screened if not self.result("val", 0, r).is_file()]
        out += [f"{split} reference rows" for split in ("val", "test")
                if not (self.out / "results" / split / "references" / "template-mean.json").is_file()]
        views3 = self.out / "results" / "test-views3"
        out += [f"3-view score s0/{v}" for v in names.values() if not (views3 / f"s0-{v}.json").is_file()]
        budget = self.out / "results" / "val" / "budget"
        out += [f"budget point s0/{v} at {k:g} kimg" for v in VARIANTS
                for k in self.milestone_kimgs(trunk_of(v))
                if not (budget / f"s0-{v}-{k:g}kimg.json").is_file()]
        return out

    def final_runs(self) -> dict[str, tuple[str, list[str], bool]]:
        """variant → (run folder, --set options, branched at N) of the compared runs (after the choice)."""
        c = self.choose()
        c.setdefault("nodepth_run", "nodepth")
        c.setdefault("nodepth_sets", [])
        return {"geogen": (c["run"], c["sets"], c["run"] != trunk_of("geogen")),
                "geogen-nodepth": (c["nodepth_run"], c["nodepth_sets"], True), "eg3d": ("eg3d", [], False)}

    def val_done(self) -> bool:
        return all(self.result("val", 0, SCREEN[n][0]).is_file() for n in self.cfg.screen)

    # ------------------------------------------------------------------ choice
    def choose(self) -> dict:
        """The screened geogen setting with the lowest mean validation Chamfer (seed 0)."""
        path = self.out / "choice.json"
        if path.is_file():
            return json.loads(path.read_text())
        scores = {}
        for name in self.cfg.screen:
            folder = SCREEN[name][0]
            res = json.loads(self.result("val", 0, folder).read_text())
            scores[name] = res["summary"]["chamfer_l1"]["mean"]
        best = min(scores, key=lambda n: (scores[n] is None, scores[n] if scores[n] is not None else 0.0))
        run, sets = SCREEN[best]
        nodepth = ("nodepth", []) if best in NODEPTH_IRRELEVANT or not sets else (f"nodepth-{run}", sets)
        choice = {"setting": best, "run": run, "sets": sets, "nodepth_run": nodepth[0], "nodepth_sets": nodepth[1],
                  "val_chamfer": scores,
                  "rule": "lowest mean Chamfer on the validation identities, seed 0"}
        atomic_write_json(path, choice)
        return choice


def beta_history(run_dir: Path, switch: float) -> dict:
    """G's and G_ema's β at the switch and at the end, and their range after the switch (stats.jsonl)."""
    path = run_dir / "stats.jsonl"
    if not path.is_file():
        return {}
    rows = {}
    for line in path.read_text().splitlines():
        r = json.loads(line)
        rows[r["nimg"]] = r                              # a resumed run may repeat steps: keep the last
    rows = [rows[k] for k in sorted(rows) if "schedule/beta" in rows[k]]
    if not rows:
        return {}
    after = [r for r in rows if r["nimg"] / 1000 >= switch] or rows[-1:]
    at_switch = after[0]
    return {"beta_switch": at_switch["schedule/beta"], "beta_end": rows[-1]["schedule/beta"],
            "beta_ema_end": rows[-1].get("schedule/beta_ema"),
            "beta_min_after": min(r["schedule/beta"] for r in after),
            "beta_max_after": max(r["schedule/beta"] for r in after),
            "sdf_depth_end": rows[-1].get("G/sdf_depth"), "eikonal_end": rows[-1].get("G/eikonal")}


def surface_diagnostics_of(model: Path) -> dict:
    import numpy as np
    import torch

    from geogen.model.diagnostics import surface_diagnostics
    from geogen.model.io import load_model_file
    from geogen.model.render_views import front_label, orbit_labels

    G, cfg, meta = load_model_file(model)
    if not G.field.is_sdf:
        return {}
    labels = orbit_labels(4, meta.get("camera"))
    gen = torch.Generator().manual_seed(0)
    per = []
    for _ in range(4):
        ws = G.mapping(torch.randn(1, cfg.z_dim, generator=gen), front_label(meta.get("camera")))
        per.append(surface_diagnostics(G, ws, labels))
    keys = [k for k in per[0] if isinstance(per[0][k], float)]
    return {k: float(np.median([p[k] for p in per if p.get(k) is not None])) for k in keys}


def diagnostics(st: "Study", seed: int, name: str) -> None:
    """G / G_ema β over the run and the surface diagnostics of its final model (cached JSON)."""
    path = st.out / "diagnostics" / f"s{seed}-{name}.json"
    if not path.is_file():
        d = st.run_dir(seed, name)
        atomic_write_json(path, {**beta_history(d, st.cfg.switch_kimg), **surface_diagnostics_of(d / "geogen.pkl")})


def plan(st: Study) -> list[Step]:
    """Every training and benchmark step, in priority order, each with what it waits for."""
    cfg, K, N = st.cfg, st.cfg.kimg, st.cfg.switch_kimg
    others = cfg.seeds[1:]

    def train(seed, name, kimg, sets=(), branch=False, ready=lambda: True):
        log = st.out / "logs" / f"train-s{seed}-{name}.log"
        return Step(f"train s{seed}/{name} to {kimg:g} kimg",
                    lambda: (t := st.train(seed, name, kimg, list(sets), branch)) and t[1], log, ready)

    def bench(seed, name, split, out, method, pictures=False, ready=None):
        log = st.out / "logs" / f"bench-{split}-{out.stem}.log"
        model = st.run_dir(seed, name) / "geogen.pkl"
        return Step(f"benchmark {method}", lambda: (b := st.bench(model, split, out, method, pictures)) and b[1], log,
                    ready or (lambda: st.trained(seed, name, K)))

    def refs(split):
        return Step(f"reference rows ({split})", lambda: (r := st.references(split)) and r[1],
                    st.out / "logs" / f"references-{split}.log")

    def at_switch(seed):
        return lambda: st.snapshot_at_switch(seed).is_file() and st.trained(seed, "geogen", N)

    screened = [SCREEN[n] for n in cfg.screen if n != "base"]
    branched0 = ["nodepth"] + [folder for folder, _ in screened]
    steps = [train(s, "geogen", N) for s in cfg.seeds]
    # seed 0: the branches at N, then the trunk goes on (after the branches copied its snapshot at N)
    steps += [train(0, "nodepth", K, branch=True, ready=at_switch(0))]
    steps += [train(0, folder, K, sets, branch=True, ready=at_switch(0)) for folder, sets in screened]
    steps += [train(0, "geogen", K, ready=lambda: all((st.run_dir(0, r) / "latest").exists() for r in branched0))]
    steps += [train(0, "eg3d", K)]
    # the validation screen of seed 0 and its reference rows
    for folder in [SCREEN[n][0] for n in cfg.screen] + ["nodepth", "eg3d"]:
        steps.append(bench(0, folder, "val", st.result("val", 0, folder), f"{folder} (seed 0, val)"))
    steps.append(refs("val"))
    # the compared runs of every seed with the chosen setting (seed 0's geogen is usually screened
    # already), seed by seed with their test scores, the long eg3d runs of the other seeds last: an
    # interrupted study leaves whole seeds (all three variants for seed 0, the SDF pair for the rest)
    decided = st.val_done

    def final_train(seed, variant):
        def argv():
            folder, sets, branch = st.final_runs()[variant]
            t = st.train(seed, folder, K, sets, branch)
            return t and t[1]
        return Step(f"train s{seed}/<chosen {variant}> to {K:g} kimg", argv,
                    st.out / "logs" / f"train-s{seed}-chosen-{variant}.log", lambda: decided() and at_switch(seed)())

    def final_bench(seed, variant, split="test", views=1):
        def argv():
            folder = st.final_runs()[variant][0]
            out = (st.result(split, seed, folder) if views == 1 else
                   st.out / "results" / f"{split}-views{views}" / f"s{seed}-{variant}.json")
            b = st.bench(st.run_dir(seed, folder) / "geogen.pkl", split, out,
                         f"{variant} (seed {seed}{'' if views == 1 else f', {views} views'})",
                         pictures=seed == 0 and views == 1, views=views)
            return b and b[1]
        tag = f"{variant} (seed {seed}{'' if views == 1 else f', {views} views'})"
        return Step(f"benchmark {tag}", argv, st.out / "logs" / f"bench-{split}-views{views}-s{seed}-{variant}.log",
                    lambda: decided() and st.trained(seed, st.final_runs()[variant][0], K))

    sdf = tuple(v for v in VARIANTS if VARIANT_REGISTRY.get(v).has_switch)   # geogen, geogen-nodepth
    steps += [final_train(0, v) for v in sdf]
    steps += [final_bench(0, v) for v in VARIANTS] + [refs("test")]
    steps += [final_train(s, v) for s in others for v in sdf]
    steps += [final_bench(s, v) for s in others for v in sdf]
    steps += [train(s, "eg3d", K) for s in others]
    steps += [final_bench(s, "eg3d") for s in others]
    # the multi-view track (seed 0): 3 input views inverted together, ranked apart from the single-view track
    steps += [final_bench(0, v, views=3) for v in VARIANTS]
    steps += [final_bench(0, "geogen-nodepth", split="val")]       # the budget curve's final point
    # the budget curve (validation, seed 0): lowest priority; up to N the SDF runs are geogen's trunk
    for v in VARIANTS:
        for k in st.milestone_kimgs(trunk_of(v)):
            def argv(v=v, k=k):
                folder = st.final_runs()[v][0] if k > N else trunk_of(v)
                snap = st.run_dir(0, folder) / f"snapshot-{k:09.3f}.pt"
                out = st.out / "results" / "val" / "budget" / f"s0-{v}-{k:g}kimg.json"
                b = snap.is_file() and st.bench(snap, "val", out, f"{v} (seed 0, {k:g} kimg, val)")
                return b and b[1]
            steps.append(Step(f"benchmark {v} (seed 0, {k:g} kimg, val)", argv,
                              st.out / "logs" / f"bench-val-budget-s0-{v}-{k:g}.log",
                              lambda v=v: decided() and st.trained(0, st.final_runs()[v][0], K)))
    return steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny", choices=sorted(EXPERIMENTS), help="experiment budget (default tiny)")
    ap.add_argument("--out", default=None, help="experiment folder (default out/reproduce, out/reproduce-<preset> for the others)")
    ap.add_argument("--data", default=None, help="an existing dataset with a validation split (default: build <out>/data)")
    ap.add_argument("--report", default=None, help="where results.md and its pictures go "
                    "(default: docs/ for the tiny preset, <out>/report otherwise)")
    ap.add_argument("--jobs", type=int, default=None, help="jobs side by side (default: the preset's)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per job (default 1)")
    ap.add_argument("--gpus", type=int, default=None, help="GPUs for torchrun (default: the preset's; 0 = CPU)")
    ap.add_argument("--kimg", type=float, default=None, help="training length per run (default: the preset's)")
    ap.add_argument("--seeds", default=None, help="comma-separated training seeds (default 0,1,2)")
    ap.add_argument("--fresh", action="store_true", help="delete --out first instead of resuming")
    ap.add_argument("--report-only", action="store_true", help="run nothing new: write the report of what the "
                    "study has finished so far (the page lists what is missing)")
    args = ap.parse_args()

    cfg = EXPERIMENTS[args.preset]
    changes = {k: v for k, v in (("jobs", args.jobs), ("gpus", args.gpus), ("kimg", args.kimg)) if v is not None}
    if args.seeds:
        changes["seeds"] = tuple(int(s) for s in args.seeds.split(","))
    cfg = dataclasses.replace(cfg, **changes)
    if cfg.seeds[0] != 0:
        raise SystemExit("error: --seeds must start with 0 (the seed of the validation screen)")
    out = Path(args.out or ("out/reproduce" if args.preset == "tiny" else f"out/reproduce-{args.preset}"))
    report = Path(args.report or ("docs" if args.preset == "tiny" else out / "report"))
    if args.fresh and out.exists():
        shutil.rmtree(out)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    t0 = time.time()
    data = Path(args.data) if args.data else out / "data"
    if not args.data:
        build = ["geogen-data", "build", "--preset", cfg.dataset_preset, "--out", str(data), "--seed", "0"]
        run("dataset", *(build + (["--identities", str(cfg.identities)] if cfg.identities else [])))
    run("validate", "geogen-data", "validate", str(data))
    st = Study(cfg, out, data, args.threads)
    jobs = 1 if cfg.gpus > 0 else cfg.jobs

    def status() -> str:
        runs = sorted((out / "runs").glob("s*/*/latest"))
        return "  ".join(f"{p.parent.parent.name}/{p.parent.name} {latest_kimg(p.parent):g}" for p in runs)

    if not args.report_only:
        run_when_ready(plan(st), jobs, status=status)
    if not st.val_done():
        raise SystemExit("error: the validation screen has not finished; nothing to report yet")
    choice = st.choose()
    chosen = choice["run"]
    names = {folder: v for v, (folder, _, _) in st.final_runs().items()}
    screened = [SCREEN[n][0] for n in cfg.screen] + ["nodepth", "eg3d"]
    missing = st.missing(names, screened)
    if missing:
        print(f"== report of an unfinished study; missing: {', '.join(missing)}", flush=True)
    # 6. diagnostics, samples of seed 0, leaderboard, report
    for s in cfg.seeds:
        for r in dict.fromkeys((screened if s == 0 else []) + list(names)):
            if st.trained(s, r, cfg.kimg):
                diagnostics(st, s, r)
    for r, v in names.items():
        gen = out / "samples" / v
        if st.trained(0, r, cfg.kimg) and not (gen / "seed0003.png").exists():
            run(f"samples {v}", "geogen-gen", "--model", str(st.run_dir(0, r) / "geogen.pkl"), "--seeds", "0-3",
                "--views", "4", "--out", str(gen), "--gif-frames", "24")
    atomic_write_json(out / "study.json", {"config": dataclasses.asdict(cfg), "data": str(data), "runs": names,
                                           "choice": choice, "screened": screened, "missing": missing})
    board = out / "leaderboard"
    board.mkdir(parents=True, exist_ok=True)
    for s in cfg.seeds:
        for r in names:
            if st.result("test", s, r).is_file():
                shutil.copyfile(st.result("test", s, r), board / f"s{s}-{r}.json")
    for ref in (out / "results" / "test" / "references").glob("*.json"):
        shutil.copyfile(ref, board / ref.name)
    run("leaderboard", "geogen-bench", "leaderboard", "--results", str(board),
        "--csv", str(out / "leaderboard.csv"), "--md", str(out / "leaderboard.md"), "--png", str(out / "leaderboard.png"))
    run("report", "python", "-m", "scripts.report", "--experiment", str(out), "--report", str(report),
        "--results", str(report / "results" / "study"), "--preset", args.preset)
    print(f"\nreproduction ({args.preset}) finished in {(time.time() - t0) / 60:.1f} min; "
          f"see {report / 'results.md'} and {out / 'leaderboard.md'}")


if __name__ == "__main__":
    main()
