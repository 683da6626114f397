"""Validation screen of the SDF training settings (issue 10, part C): every setting is judged on
the dataset's validation identities, never on the test split.

    python -m scripts.screen --data D --out /path/outside/the/repo [--kimg 6 --switch 3 --jobs 2]

For each setting (``SETTINGS``: β learning rate, eikonal weight, depth-loss gradient path, samples
per ray, switch point) it trains ``geogen`` to ``--kimg`` with β frozen and λ = 0 until
``--switch``, branches ``geogen-nodepth`` from geogen's snapshot at the switch (they are identical
before it: a third of the compute saved), trains the ``eg3d`` references, then for every model:
``geogen-bench run --split val`` (PTI ``--pti`` preset, exact GT), the surface diagnostics of
geogen/model/diagnostics.py on 4 seeded latents, and G / G_ema β at the switch and at the end
(stats.jsonl). The ``template-mean`` and ``oracle-nearest-train`` reference rows are scored on
the same validation identities. Writes ``screen.json`` and ``screen.md`` (one table, every run)
into ``--out``. Every step resumes: re-running the command continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from geogen.common.atomic import atomic_write_json, atomic_write_text
from geogen.model.config import VARIANT_REGISTRY

from .pipeline import run_parallel
from .reproduce import beta_history as _beta_history
from .reproduce import surface_diagnostics_of as _diagnostics

# setting name → `geogen-train --set` overrides of the SDF runs (the eg3d rows take only "eg3d:" ones)
SETTINGS: dict[str, list[str]] = {
    "base": [],
    "beta_lr=1e-4": ["loss.beta_lr=0.0001"],
    "beta_lr=1e-2": ["loss.beta_lr=0.01"],
    "eikonal=0": ["loss.eikonal_weight=0"],
    "eikonal=0.5": ["loss.eikonal_weight=0.5"],
    "depth_grad=surface": ["model.depth_loss_grad=surface"],
    "samples=24+24": ["model.samples_coarse=24", "model.samples_fine=24"],
}
EG3D_SETTINGS: dict[str, list[str]] = {"eg3d": [], "eg3d density_reg=0": ["loss.density_reg_weight=0"]}
METRIC_KEYS = ("chamfer_l1", "fscore@0.01", "normal_consistency")


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _train(name: str, variant: str, out: Path, data: Path, args, sets: list[str],
           branch_from: Path | None = None) -> tuple[str, list[str], Path]:
    # snapshots every N kimg, all kept: the one at N is where geogen-nodepth branches off
    switch = [f"loss.switch_kimg={args.switch}", f"snapshot_kimg={args.switch}",
              "keep_snapshots=0"] if VARIANT_REGISTRY.get(variant).has_switch else []
    argv = ["geogen-train", "--data", str(data), "--out", str(out), "--variant", variant, "--preset", "tiny",
            "--kimg", str(args.kimg), "--seed", str(args.seed), "--threads", str(args.threads), "--no-progress"]
    if branch_from is not None and not (out / "latest").exists():
        argv += ["--branch-from", str(branch_from)]
    elif (out / "latest").exists():
        argv += ["--resume", "auto"]
    for s in switch + sets:
        argv += ["--set", s]
    return (f"train {name} {variant}", argv, out / "train.log")


def _bench(model: Path, data: Path, out_json: Path, args) -> tuple[str, list[str], Path]:
    argv = ["geogen-bench", "run", "--model", str(model), "--data", str(data), "--split", "val",
            "--preset", args.pti, "--out", str(out_json), "--threads", "1", "--no-progress", "--no-pictures"]
    return (f"bench {out_json.parent.name}", argv, out_json.with_suffix(".log"))


def _metrics(result_json: Path) -> dict:
    if not result_json.is_file():
        return {}
    res = json.loads(result_json.read_text())
    summary = res.get("summary", {})
    out = {key: (summary.get(key) or {}).get("mean") for key in METRIC_KEYS}
    out["n"] = res.get("n_ok")
    return out


def _table(rows: list[dict]) -> str:
    cols = [("setting", "setting"), ("variant", "variant"), ("chamfer_l1", "Chamfer ↓"), ("fscore@0.01", "F@1% ↑"),
            ("normal_consistency", "NC ↑"), ("n", "n"), ("beta_switch", "β at N"), ("beta_end", "β end (G)"),
            ("beta_ema_end", "β end (G_ema)"), ("beta_min_after", "min β after N"),
            ("grad_norm_median", "median |∇s| on mesh"), ("sdf_depth_end", "depth term"),
            ("depth_offset_median", "rendered − mesh depth")]
    lines = ["| " + " | ".join(h for _, h in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for key, _ in cols:
            v = r.get(key)
            cells.append(f"{v:.4g}" if isinstance(v, float) else ("—" if v is None else str(v)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="dataset with a validation split")
    ap.add_argument("--out", type=Path, required=True, help="screen folder (keep it outside the repository)")
    ap.add_argument("--kimg", type=float, default=6.0, help="training budget per run")
    ap.add_argument("--switch", type=float, default=3.0, help="N: β learnable and λ > 0 from this kimg")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2, help="runs side by side")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per run")
    ap.add_argument("--pti", default="tiny", help="PTI preset of the validation benchmark")
    ap.add_argument("--only", default=None, help="comma-separated subset of the settings")
    args = ap.parse_args()
    chosen = [s.strip() for s in args.only.split(",")] if args.only else list(SETTINGS) + list(EG3D_SETTINGS)
    unknown = [s for s in chosen if s not in SETTINGS and s not in EG3D_SETTINGS]
    if unknown:
        raise SystemExit(f"error: unknown setting(s) {unknown}; choose from {list(SETTINGS) + list(EG3D_SETTINGS)}")
    if not 0 < args.switch < args.kimg:
        raise SystemExit("error: --switch must lie between 0 and --kimg")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    sdf, eg3d = [s for s in chosen if s in SETTINGS], [s for s in chosen if s in EG3D_SETTINGS]
    dirs = {s: out / _slug(s) for s in chosen}

    # 1. trunks (geogen, eg3d), then the nodepth branches from geogen's snapshot at N
    def done(run_dir: Path) -> bool:
        return (run_dir / "geogen.pkl").is_file()

    steps = [_train(s, "geogen", dirs[s] / "geogen", args.data, args, SETTINGS[s]) for s in sdf
             if not done(dirs[s] / "geogen")]
    steps += [_train(s, "eg3d", dirs[s] / "eg3d", args.data, args, EG3D_SETTINGS[s]) for s in eg3d
              if not done(dirs[s] / "eg3d")]
    run_parallel(steps, args.jobs)
    snap = f"snapshot-{args.switch:09.3f}.pt"
    steps = [_train(s, "geogen-nodepth", dirs[s] / "nodepth", args.data, args, SETTINGS[s],
                    branch_from=dirs[s] / "geogen" / snap) for s in sdf if not done(dirs[s] / "nodepth")]
    run_parallel(steps, args.jobs)

    # 2. validation benchmark of every model + the reference rows on the same identities
    models = [(s, v, dirs[s] / sub) for s in sdf for v, sub in (("geogen", "geogen"), ("geogen-nodepth", "nodepth"))]
    models += [(s, "eg3d", dirs[s] / "eg3d") for s in eg3d]
    steps = [_bench(d / "geogen.pkl", args.data, d / "val.json", args) for _, _, d in models
             if not (d / "val.json").is_file()]
    refs = out / "references"
    if not (refs / "template-mean.json").is_file():
        steps.append(("references", ["geogen-bench", "baselines", "--data", str(args.data), "--split", "val",
                                     "--out", str(refs), "--no-pictures", "--no-progress"], out / "references.log"))
    run_parallel(steps, args.jobs)

    # 3. diagnostics and the table
    rows = []
    for name in ("template-mean", "oracle-nearest-train"):
        rows.append({"setting": "reference", "variant": name, **_metrics(refs / f"{name}.json")})
    for s, v, d in models:
        cache = d / "diagnostics.json"
        if not cache.is_file():
            atomic_write_json(cache, _diagnostics(d / "geogen.pkl"))
        diag = json.loads(cache.read_text())
        rows.append({"setting": s, "variant": v, **_metrics(d / "val.json"), **_beta_history(d, args.switch),
                     **diag})
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    atomic_write_json(out / "screen.json", {"settings": settings, "rows": rows})
    header = (f"Validation screen: tiny preset, {args.kimg:g} kimg per run, switch N = {args.switch:g} kimg, "
              f"seed {args.seed}, PTI preset {args.pti}, validation identities of {args.data} (exact GT).\n\n")
    atomic_write_text(out / "screen.md", header + _table(rows) + "\n")
    print(header + _table(rows))


if __name__ == "__main__":
    main()
