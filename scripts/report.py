"""Write results.md (+ pictures) from the result files of a `scripts.reproduce` study.

    python -m scripts.report --results docs/results/study --report docs        # from the committed JSONs
    python -m scripts.report --experiment out/reproduce --report docs         # collect first, then write

Every number on the page is computed here from the JSON files under ``--results`` (copied there
from the experiment folder by ``--experiment``): the validation screen, the budget curve, the
test split per seed and pooled over seeds, paired differences with intervals over identities ×
seeds, and the reference rows. Nothing on the generated page is typed by hand; the hand-written
discussion is read from ``<report>/results-discussion.md`` when it exists.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from benchmark.results import as_result_dict
from benchmark.stats import mean_ci95
from geogen.common.atomic import atomic_path, atomic_write_json, atomic_write_text
from geogen.model.config import VARIANT_REGISTRY, variant_names

VARIANTS = variant_names()
NAMES = {v: VARIANT_REGISTRY.get(v).label for v in VARIANTS}
PAIRS = [("geogen", "eg3d"), ("geogen-nodepth", "eg3d"), ("geogen", "geogen-nodepth")]
REFERENCES = ("template-mean", "oracle-nearest-train", "copy-other")
NO_IDENTITY = "has recovered no identity-specific geometry"
MAIN = [("chamfer_l1", "Chamfer ↓", 4), ("fscore@0.01", "F@1% ↑", 3), ("normal_consistency", "NC ↑", 3)]
TABLE2 = [("chamfer_l1", "Chamfer"), ("mse", "MSE"), ("hausdorff", "HD"), ("emd", "EMD"), ("msd", "MSD")]
CURVE_KEYS = ("G/gan", "D/loss", "schedule/beta", "schedule/beta_ema", "G/sdf_depth", "G/eikonal")
RESAMPLES, SEED = 10_000, 0


def load(path: Path) -> dict | None:
    """A JSON file (None if missing or unreadable); result files go through benchmark.results.BenchResult
    (an older schema version migrated to the current layout)."""
    try:
        return as_result_dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def per_id(result: dict, key: str, source: str = "metrics") -> dict[str, float]:
    """identity → value of one metric (ok samples only)."""
    out = {}
    for row in result["samples"]:
        if row["status"] == "ok":
            value = (row.get(source) or {}).get(key)
            if value is not None and math.isfinite(value):
                out[row["id"]] = float(value)
    return out


def fmt(value: float | None, digits: int = 4) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}g}"


def interval(mean: float | None, lo: float | None, hi: float | None, digits: int = 4, sign: bool = False) -> str:
    if mean is None:
        return "–"
    f = (lambda v: f"{v:+.{digits}g}") if sign else (lambda v: fmt(v, digits))
    return f(mean) if lo is None else f"{f(mean)} [{f(lo)}, {f(hi)}]"


# ---------------------------------------------------------------- statistics over identities × seeds
def two_way_bootstrap(matrix: np.ndarray, resamples: int = RESAMPLES, seed: int = SEED) -> tuple[float, float, float]:
    """Mean of a seeds × identities matrix and its 95 % percentile interval from resampling
    identities and seeds independently, with replacement (both are random draws: the identities
    from the population of heads, the seeds from the training randomness). One seed: identities only."""
    x = np.asarray(matrix, dtype=np.float64)
    n_seeds, n_ids = x.shape
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, n_ids, size=(resamples, n_ids))
    seeds = rng.integers(0, n_seeds, size=(resamples, n_seeds)) if n_seeds > 1 else np.zeros((resamples, 1), int)
    # mean over the resampled seeds of the mean over the resampled identities
    means = x[:, ids].mean(axis=2)                      # seeds × resamples
    boot = np.take_along_axis(means.T, seeds, axis=1).mean(axis=1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return float(x.mean()), float(lo), float(hi)


def seed_matrix(results: list[dict], key: str) -> tuple[np.ndarray, list[str]]:
    """seeds × identities matrix of one metric over the identities every seed scored."""
    maps = [per_id(r, key) for r in results]
    common = sorted(set.intersection(*(set(m) for m in maps))) if maps else []
    return np.array([[m[i] for i in common] for m in maps]), common


# ---------------------------------------------------------------- collect (experiment folder → results dir)
def reduced_curves(stats: Path, every: int = 4) -> dict:
    """A few columns of a run's stats.jsonl, every ``every``-th row (the committed training curves)."""
    rows = {}
    for line in stats.read_text().splitlines():
        r = json.loads(line)
        rows[r["nimg"]] = r                       # a resumed run may repeat steps: keep the last
    keys = sorted(rows)[::every]
    return {"nimg": keys, **{k: [rows[n].get(k) for n in keys] for k in CURVE_KEYS}}


def collect(exp: Path, dest: Path) -> None:
    """Copy the result JSONs, diagnostics and reduced curves of a finished study into ``dest``."""
    study = load(exp / "study.json")
    if study is None:
        raise SystemExit(f"error: {exp / 'study.json'} is missing; run python -m scripts.reproduce to the end first")
    if dest.exists():
        shutil.rmtree(dest)
    for sub in ("val", "val/budget", "val/references", "test", "test/references", "test-views3", "diagnostics"):
        src = exp / ("results/" + sub if sub != "diagnostics" else sub)
        if src.is_dir():
            (dest / sub).mkdir(parents=True, exist_ok=True)
            for f in sorted(src.glob("*.json")):
                shutil.copyfile(f, dest / sub / f.name)
    (dest / "curves").mkdir(parents=True, exist_ok=True)
    for stats in sorted((exp / "runs").glob("s*/*/stats.jsonl")):
        atomic_write_json(dest / "curves" / f"{stats.parent.parent.name}-{stats.parent.name}.json", reduced_curves(stats))
    atomic_write_json(dest / "study.json", study)


# ---------------------------------------------------------------- tables
def runs_of(study: dict) -> dict[str, str]:
    """variant → run folder name of the test runs (the chosen geogen setting's folder for geogen)."""
    return {v: r for r, v in study["runs"].items()}


def test_results(res: Path, study: dict) -> dict[str, list[tuple[int, dict]]]:
    out = {}
    for v, r in runs_of(study).items():
        rows = [(s, d) for s in study["config"]["seeds"] if (d := load(res / "test" / f"s{s}-{r}.json")) is not None]
        if rows:
            out[v] = rows
    return out


def per_seed_table(tests: dict[str, list[tuple[int, dict]]], refs: dict[str, dict]) -> list[str]:
    head = "| row | seed | n | " + " | ".join(h for _, h, _ in MAIN) + " |"
    lines = [head, "|---|---|---|" + "---|" * len(MAIN)]
    for v, rows in tests.items():
        for s, d in rows:
            cells = [interval(*(lambda m: (m["mean"], m["ci95_low"], m["ci95_high"]))(
                mean_ci95(list(per_id(d, k).values()))), dg) for k, _, dg in MAIN]
            lines.append(f"| {NAMES[v]} | {s} | {d['n_ok']}/{d['n_samples']} | " + " | ".join(cells) + " |")
        cells, spread = [], []
        for k, _, dg in MAIN:
            m, ids = seed_matrix([d for _, d in rows], k)
            cells.append(interval(*two_way_bootstrap(m), dg) if m.size else "–")
            spread.append(np.std(m.mean(axis=1), ddof=1) if len(rows) > 1 and m.size else None)
        lines.append(f"| **{NAMES[v]}, pooled** | {len(rows)} seeds | {len(ids)} ids | " + " | ".join(cells) + " |")
        lines.append(f"| {NAMES[v]}, seed spread (std of the seed means) | | | "
                     + " | ".join(fmt(x, 2) for x in spread) + " |")
    for name, d in refs.items():
        cells = [interval(*(lambda m: (m["mean"], m["ci95_low"], m["ci95_high"]))(
            mean_ci95(list(per_id(d, k).values()))), dg) for k, _, dg in MAIN]
        lines.append(f"| *{name}* (reference) | – | {d['n_ok']}/{d['n_samples']} | " + " | ".join(cells) + " |")
    return lines


def paired_rows(tests: dict, a: str, b: str, key: str) -> tuple[np.ndarray, int]:
    """seeds × identities matrix of A − B (seeds both ran, identities all scored)."""
    da, db = dict(tests[a]), dict(tests[b])
    seeds = sorted(set(da) & set(db))
    m_a, ids_a = seed_matrix([da[s] for s in seeds], key)
    m_b, ids_b = seed_matrix([db[s] for s in seeds], key)
    common = sorted(set(ids_a) & set(ids_b))
    ia, ib = [ids_a.index(i) for i in common], [ids_b.index(i) for i in common]
    return m_a[:, ia] - m_b[:, ib], len(seeds)


def paired_table(tests: dict, refs: dict[str, dict]) -> list[str]:
    """A − B over identities × seeds: mean, 95 % two-way bootstrap interval, A's wins."""
    lines = ["| A − B | seeds × ids | " + " | ".join(h for _, h, _ in MAIN) + " |", "|---|---|" + "---|" * len(MAIN)]
    pairs = [(a, b) for a, b in PAIRS if a in tests and b in tests]
    for a, b in pairs:
        cells = []
        for key, _, dg in MAIN:
            d, n_seeds = paired_rows(tests, a, b, key)
            lower = int((d < 0).sum()) if key == "chamfer_l1" else int((d > 0).sum())
            cells.append(f"{interval(*two_way_bootstrap(d), 3, sign=True)} (A better {lower}/{d.size})")
        lines.append(f"| {NAMES[a]} − {NAMES[b]} | {n_seeds} × {d.shape[1]} | " + " | ".join(cells) + " |")
    return lines


def template_gain(tests: dict, template: dict) -> tuple[list[str], list[str]]:
    """Per variant: pooled Chamfer vs template-mean on the same identities (+ the verdict sentences)."""
    t = per_id(template, "chamfer_l1")
    lines = ["| variant | Chamfer (pooled) | template-mean, same ids | variant − template [95 % CI] | gain |",
             "|---|---|---|---|---|"]
    verdicts = []
    for v, rows in tests.items():
        m, ids = seed_matrix([d for _, d in rows], "chamfer_l1")
        keep = [k for k, i in enumerate(ids) if i in t]
        if not keep:
            continue
        tv = np.array([t[ids[k]] for k in keep])
        diff = m[:, keep] - tv[None, :]
        mean, lo, hi = two_way_bootstrap(diff)
        chamfer, tmean = float(m[:, keep].mean()), float(tv.mean())
        lines.append(f"| {NAMES[v]} | {chamfer:.4g} | {tmean:.4g} | {interval(mean, lo, hi, 3, sign=True)} | "
                     f"{(tmean - chamfer) / tmean:+.0%} |")
        if chamfer >= tmean:
            verdicts.append(f"{NAMES[v]} (Chamfer {chamfer:.4g} vs template-mean {tmean:.4g}) {NO_IDENTITY}.")
        else:
            verdicts.append(f"{NAMES[v]} is below template-mean (Chamfer {chamfer:.4g} vs {tmean:.4g}; "
                            f"difference {interval(mean, lo, hi, 3, sign=True)}).")
    return lines, verdicts


def multiview_table(res: Path, study: dict, tests: dict) -> list[str]:
    """Seed 0's models on the 3-view track beside their single-view numbers (ranked separately:
    the protocol keys differ)."""
    rows = [(v, load(res / "test-views3" / f"s0-{v}.json"), dict(tests.get(v, [])).get(0)) for v in VARIANTS]
    rows = [r for r in rows if r[1] is not None]
    if not rows:
        return []
    lines = ["| variant (seed 0) | n | " + " | ".join(f"{h} 3 views" for _, h, _ in MAIN) + " | Chamfer 1 view |",
             "|---|---|" + "---|" * (len(MAIN) + 1)]
    for v, d, single in rows:
        cells = [interval(*(lambda m: (m["mean"], m["ci95_low"], m["ci95_high"]))(
            mean_ci95(list(per_id(d, k).values()))), dg) for k, _, dg in MAIN]
        one = fmt(float(np.mean(list(per_id(single, "chamfer_l1").values())))) if single else "–"
        lines.append(f"| {NAMES[v]} | {d['n_ok']}/{d['n_samples']} | " + " | ".join(cells) + f" | {one} |")
    return lines


def screen_table(res: Path, study: dict) -> list[str]:
    cols = [("chamfer_l1", "Chamfer ↓"), ("fscore@0.01", "F@1% ↑"), ("normal_consistency", "NC ↑")]
    diag_cols = [("beta_switch", "β at N (G)"), ("beta_end", "β end (G)"), ("beta_ema_end", "β end (G_ema)"),
                 ("beta_min_after", "min β after N"), ("grad_norm_median", "median |∇s| on mesh"),
                 ("sdf_depth_end", "depth term"), ("depth_offset_median", "rendered − mesh depth")]
    lines = ["| run | " + " | ".join(h for _, h in cols + diag_cols) + " |", "|---|" + "---|" * (len(cols) + len(diag_cols))]
    rows = [(r, load(res / "val" / f"s0-{r}.json"), load(res / "diagnostics" / f"s0-{r}.json") or {})
            for r in dict.fromkeys(study["screened"] + list(study["runs"]))]
    rows += [(f"*{n}* (reference)", load(res / "val" / "references" / f"{n}.json"), {}) for n in REFERENCES]
    for name, d, diag in rows:
        if d is None:
            continue
        cells = [fmt(d["summary"][k]["mean"], 4) for k, _ in cols]
        cells += [fmt(diag.get(k), 3) if isinstance(diag.get(k), float) else "–" for k, _ in diag_cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def budget_points(res: Path, study: dict) -> dict[str, dict[float, dict]]:
    """variant → kimg → validation result of seed 0 (milestone snapshots + the final model; up to N
    the SDF variants' points are their shared trunk)."""
    kimg, runs = study["config"]["kimg"], runs_of(study)
    out: dict[str, dict[float, dict]] = {}
    for v in VARIANTS:
        pts = {}
        for f in (res / "val" / "budget").glob(f"s0-{v}-*kimg.json"):
            pts[float(f.stem.rsplit("-", 1)[1].removesuffix("kimg"))] = load(f)
        final = load(res / "val" / f"s0-{runs.get(v, v)}.json")
        if final is not None:
            pts[kimg] = final
        if pts:
            out[v] = dict(sorted(pts.items()))
    return out


def budget_section(res: Path, study: dict, pics: Path) -> list[str]:
    pts = budget_points(res, study)
    template = load(res / "val" / "references" / "template-mean.json")
    if not pts:
        return []
    t = template["summary"]["chamfer_l1"]["mean"] if template else None
    kimgs = sorted({k for p in pts.values() for k in p})
    lines = ["| kimg | " + " | ".join(f"{r} Chamfer ↓" for r in pts) + " |", "|---|" + "---|" * len(pts)]
    for k in kimgs:
        lines.append(f"| {k:g} | " + " | ".join(fmt(p[k]["summary"]["chamfer_l1"]["mean"]) if k in p else "–"
                                               for p in pts.values()) + " |")
    # power-law trend through the points after N (log Chamfer linear in log kimg): where would it meet template-mean?
    notes = []
    for r, p in pts.items():
        ks = [k for k in p if k > study["config"]["switch_kimg"] - 1e-9 or not VARIANT_REGISTRY.get(r).has_switch]
        ys = [p[k]["summary"]["chamfer_l1"]["mean"] for k in ks]
        if len(ks) >= 2 and t and all(y and y > 0 for y in ys):
            slope, icpt = np.polyfit(np.log(ks), np.log(ys), 1)
            if slope < 0:
                need = math.exp((math.log(t) - icpt) / slope)
                notes.append(f"{r}: Chamfer ∝ kimg^{slope:.2f} over {', '.join(f'{k:g}' for k in ks)} kimg; "
                             f"it would meet template-mean ({t:.4g}) at ≈ {need:,.0f} kimg if the trend held")
            else:
                notes.append(f"{r}: no downward trend over {', '.join(f'{k:g}' for k in ks)} kimg (slope {slope:+.2f})")
    if budget_plot(pts, t, pics / "budget-curve.png"):
        lines += ["", "![budget curve](results/budget-curve.png)"]
    return lines + ([""] + [f"- {n}." for n in notes] if notes else [])


def budget_plot(pts: dict, template: float | None, path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for r, p in pts.items():
        ks = list(p)
        ax.plot(ks, [p[k]["summary"]["chamfer_l1"]["mean"] for k in ks], marker="o", label=r)
    if template:
        ax.axhline(template, color="k", ls="--", lw=1, label="template-mean")
    ax.set_xlabel("kimg (training images shown)")
    ax.set_ylabel("validation Chamfer (mean)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return True


def curves_plot(res: Path, study: dict, path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("G/gan", "G loss"), ("D/loss", "D loss"), ("schedule/beta", "β: G (solid), G_ema (dashed)"),
              ("G/sdf_depth", "SDF depth term (unweighted)")]
    curves = {r: load(res / "curves" / f"s0-{r}.json") for r in study["screened"]}
    curves = {r: c for r, c in curves.items() if c}
    if not curves:
        return False
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    for k, (r, c) in enumerate(curves.items()):
        x = np.array(c["nimg"]) / 1000
        for ax, (tag, title) in zip(axes.flat, panels):
            y = np.array([np.nan if v is None else v for v in c[tag]], dtype=float)
            if np.isfinite(y).any():
                ax.plot(x, y, lw=1, label=r, color=f"C{k}")
            if tag == "schedule/beta":
                ye = np.array([np.nan if v is None else v for v in c["schedule/beta_ema"]], dtype=float)
                if np.isfinite(ye).any():
                    ax.plot(x, ye, lw=1, ls="--", color=f"C{k}")
            ax.set_title(title, fontsize=10)
            ax.set_xlabel("kimg")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return True


# ---------------------------------------------------------------- document
def write_report(res: Path, report: Path, preset: str, exp: Path | None = None) -> Path:
    study = load(res / "study.json")
    if study is None:
        raise SystemExit(f"error: no study.json in {res}; run python -m scripts.reproduce first")
    cfg, choice = study["config"], study["choice"]
    tests = test_results(res, study)
    if not tests:
        raise SystemExit(f"error: no test results in {res / 'test'}")
    refs = {n: d for n in REFERENCES if (d := load(res / "test" / "references" / f"{n}.json")) is not None}
    pics = report / "results"
    pics.mkdir(parents=True, exist_ok=True)
    any_res = tests[next(iter(tests))][0][1]
    details, ds = any_res["method"]["details"], any_res["dataset"]
    pti = details.get("inversion", {})
    rel = res.relative_to(report) if res.is_relative_to(report) else res

    gain_lines, verdicts = template_gain(tests, refs["template-mean"]) if "template-mean" in refs else ([], [])
    doc = [f"# Results: GeoGen vs GeoGen w/o depth loss vs EG3D ({preset} reproduction, "
           f"{len(cfg['seeds'])} seeds)", "",
           f"Generated by `make reproduce` (`python -m scripts.reproduce{'' if preset == 'tiny' else ' --preset ' + preset}`, "
           f"then `python -m scripts.report --results {rel}`); every number below is computed from the result "
           f"JSONs committed under [{rel}]({rel}) — nothing on this page is typed by hand.", "",
           "## Outcome", ""]
    if study.get("missing"):
        doc += [f"**Unfinished study** (this page reports what is done; `make reproduce` resumes the rest). "
                f"Missing: {'; '.join(study['missing'])}.", ""]
    doc += [f"- {v}" for v in verdicts] + [""]
    doc += ["## Setup", "",
            f"- Dataset: `{ds['name']}`: {ds['n_test']} test identities (scored once, at the end), validation "
            "identities for every choice, the rest for training; built by `geogen-data build` with seed 0.",
            f"- Training: preset `{cfg['train_preset']}`, {cfg['kimg']:g} kimg per run, seeds "
            f"{', '.join(str(s) for s in cfg['seeds'])}; β frozen and λ = 0 until N = {cfg['switch_kimg']:g} kimg. "
            "geogen-nodepth (and each screened geogen setting) is branched from geogen's snapshot at N, where "
            "they have trained identically.",
            f"- Chosen on the validation identities (seed 0): **{choice['setting']}** "
            f"({choice['rule']}; validation Chamfer {', '.join(f'{k} {fmt(v)}' for k, v in choice['val_chamfer'].items())}).",
            f"- Benchmark: `geogen-bench run`, protocol `{any_res['protocol']['key']}`, PTI preset "
            f"`{cfg['pti_preset']}` ({pti.get('steps_w', '?')} W-steps + {pti.get('steps_g', '?')} tuning steps, loss "
            f"`{pti.get('loss', '?')}`), one input view per identity, meshes at {details.get('mesh_resolution', '?')}³ "
            "(SDF level 0; EG3D density level 10), scored against the exact GT meshes. Errors are in units of "
            "the GT bounding-box diagonal.", ""]
    doc += ["## Test split: every seed, pooled, and the reference rows", "",
            "Mean [95 % interval]. Per seed: bootstrap over identities. Pooled: mean over seeds × identities, "
            "interval from resampling identities and seeds independently (two-way bootstrap, "
            f"{RESAMPLES} resamples, seed {SEED}). Seed spread: std of the per-seed means.", "",
            *per_seed_table(tests, refs), ""]
    if gain_lines:
        doc += ["### Against template-mean (one mean training shape for every identity)", "",
                "A method whose Chamfer is not below template-mean has recovered no identity-specific geometry.", "",
                *gain_lines, ""]
    doc += ["### Paired differences (same seeds, same identities)", "",
            "A − B over seeds × identities with the two-way bootstrap interval; `A better k/n`: cells where A's "
            "value is better (lower Chamfer, higher F and NC).", "", *paired_table(tests, refs), ""]
    mv = multiview_table(res, study, tests)
    if mv:
        doc += ["### Multi-view track (3 input views inverted together, seed-0 models)", "",
                "A separate track (its protocol key has `views=3`), never ranked with the single-view one: with "
                "less ambiguity about the unseen side it tests the geometry representation more than the prior.",
                "", *mv, ""]
    doc += ["## Validation screen (seed 0, validation identities)", "",
            "Each row is a model benchmarked on the validation identities only; diagnostics from "
            "`geogen/model/diagnostics.py` on 4 seeded latents (median |∇s| on the extracted surface; signed "
            "offset of the rendered-depth surface behind the mesh) and from the run's stats (G's and G_ema's β).",
            "", *screen_table(res, study), ""]
    budget = budget_section(res, study, pics)
    if budget:
        doc += ["## Budget curve (seed 0, validation identities)", "",
                "The same validation benchmark on the milestone snapshots (G_ema weights).", "", *budget, ""]
    if exp is not None:
        from .figures import inversions_figure, samples_figure
        samples_figure(exp, pics / "samples.png", NAMES)
        inversions_figure(exp, study, pics / "inversions.png", NAMES)
        if (exp / "leaderboard.png").exists():
            shutil.copyfile(exp / "leaderboard.png", pics / "leaderboard.png")
    doc += ["## Pictures", ""]
    if (pics / "samples.png").exists():
        doc += ["Random samples of the seed-0 models (seeds 0–3, four azimuths) and their meshes:", "",
                "![samples](results/samples.png)", ""]
    if (pics / "inversions.png").exists():
        doc += ["Inversions of held-out test identities (seed-0 models; top: input, held-out view, GT mesh; then "
                "per variant: inversion, its render of the held-out view, extracted mesh):", "",
                "![inversions](results/inversions.png)", ""]
    if curves_plot(res, study, pics / "training-curves.png"):
        doc += ["Training curves of the seed-0 runs:", "", "![training curves](results/training-curves.png)", ""]
    if (pics / "leaderboard.png").exists():
        doc += ["Leaderboard plot (`geogen-bench leaderboard`, every seed as its own row):", "",
                "![leaderboard](results/leaderboard.png)", ""]
    doc += ["## Reproducibility", "",
            "Every random choice takes an explicit seed: the dataset (seed 0), training (`--seed`), PTI "
            f"(seed {pti.get('seed', 0)}), the input/held-out view choice and the metric point sampling (protocol "
            "seed). Training and inversion run on the CPU with one torch thread per job, which is deterministic: a "
            "resumed or branched run is bit-identical to an uninterrupted one (tests/test_train_loop.py). Another "
            "torch/BLAS build or a GPU changes the floating-point summation order, and GAN training amplifies "
            "that: expect other numbers within the seed spread above.", ""]
    discussion = report / "results-discussion.md"
    if discussion.exists():
        doc += [discussion.read_text().strip(), ""]
    out = report / "results.md"
    atomic_write_text(out, "\n".join(doc))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="docs/results/study", help="folder of the study's result JSONs")
    ap.add_argument("--experiment", default=None, help="a finished scripts.reproduce folder: collect its results "
                    "into --results first (and draw the pictures that need its meshes)")
    ap.add_argument("--report", default="docs", help="where results.md and results/*.png go")
    ap.add_argument("--preset", default="tiny", help="experiment preset name (for the title)")
    args = ap.parse_args()
    res = Path(args.results)
    exp = Path(args.experiment) if args.experiment else None
    if exp is not None:
        collect(exp, res)
    print(write_report(res, Path(args.report), args.preset, exp))


if __name__ == "__main__":
    main()
