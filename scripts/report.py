"""Write results.md (+ pictures) from a finished `scripts.reproduce` experiment folder.

    python -m scripts.report --experiment out/reproduce --report docs

Tables come from the benchmark result JSONs (Table 2 layout, extra metrics, paired differences
between variants over the same test identities, the training-budget curve); pictures from the
sample folders, the benchmark's per-identity pictures and the TensorBoard logs. The hand-written
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

from benchmark.stats import mean_ci95
from geogen.common.atomic import atomic_path, atomic_write_text

from .pipeline import VARIANTS

TABLE2 = [("chamfer_l1", "Chamfer"), ("mse", "MSE"), ("hausdorff", "HD"), ("emd", "EMD"), ("msd", "MSD")]
EXTRA = [("fscore@0.01", "F@1% ↑"), ("fscore@0.02", "F@2% ↑"), ("hausdorff_95", "HD95 ↓"),
         ("normal_consistency", "NC ↑")]
IMAGE = [("psnr_input", "PSNR input ↑"), ("ssim_input", "SSIM input ↑"), ("psnr_novel", "PSNR novel ↑"),
         ("ssim_novel", "SSIM novel ↑")]
PAIRS = [("geogen", "eg3d"), ("geogen-nodepth", "eg3d"), ("geogen", "geogen-nodepth")]
NAMES = {"geogen": "GeoGen", "geogen-nodepth": "GeoGen w/o depth loss", "eg3d": "EG3D"}


def load(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
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
    return "–" if value is None else f"{value:.{digits}g}"


def cell(values: list[float], digits: int = 4) -> str:
    s = mean_ci95(values)
    if s["mean"] is None:
        return "–"
    if s["ci95_low"] is None:
        return fmt(s["mean"], digits)
    return f"{fmt(s['mean'], digits)} ± {fmt((s['ci95_high'] - s['ci95_low']) / 2, 2)}"


def n_cell(result: dict) -> str:
    return f"{result['n_ok']}/{result['n_samples']}"


def metric_table(results: dict[str, dict], columns, source: str = "metrics", digits: int = 4) -> list[str]:
    head = "| method | n | " + " | ".join(label for _, label in columns) + " |"
    lines = [head, "|---|---|" + "---|" * len(columns)]
    for variant, res in results.items():
        cells = [cell(list(per_id(res, key, source).values()), digits) for key, _ in columns]
        lines.append(f"| {NAMES[variant]} | {n_cell(res)} | " + " | ".join(cells) + " |")
    return lines


def paired_table(results: dict[str, dict]) -> list[str]:
    """A − B per metric over identities both scored: mean difference ± 95 % CI, and A's wins."""
    lines = ["| A − B | n | " + " | ".join(label for _, label in TABLE2) + " |", "|---|---|" + "---|" * len(TABLE2)]
    for a, b in PAIRS:
        if a not in results or b not in results:
            continue
        cells, counts = [], []
        for key, _ in TABLE2:
            va, vb = per_id(results[a], key), per_id(results[b], key)
            common = sorted(set(va) & set(vb))
            n = len(common)
            counts.append(n)
            diffs = [va[i] - vb[i] for i in common]
            s = mean_ci95(diffs)
            wins = sum(d < 0 for d in diffs)
            if s["mean"] is None:
                cells.append("–")
            elif s["ci95_low"] is None:
                cells.append(f"{s['mean']:+.3g} (A lower {wins}/{n})")
            else:
                cells.append(f"{s['mean']:+.3g} [{s['ci95_low']:+.3g}, {s['ci95_high']:+.3g}] (A lower {wins}/{n})")
        lines.append(f"| {NAMES[a]} − {NAMES[b]} | {max(counts)} | " + " | ".join(cells) + " |")
    return lines


def ordering(results: dict[str, dict], key: str = "chamfer_l1") -> str:
    means = {v: mean_ci95(list(per_id(r, key).values()))["mean"] for v, r in results.items()}
    ranked = sorted((m, v) for v, m in means.items() if m is not None)
    return " < ".join(f"{NAMES[v]} ({m:.4g})" for m, v in ranked)


def budget_table(exp: Path, results: dict[str, dict], final_kimg: float) -> list[str]:
    """Chamfer / F@1% per variant at each benchmarked training length (milestones + final)."""
    rows: dict[float, dict[str, dict]] = {}
    for path in sorted((exp / "budget").glob("*.json")):
        res = load(path)
        if res is None:
            continue
        variant, kimg = path.stem.rsplit("-", 1)
        rows.setdefault(float(kimg.removesuffix("kimg")), {})[variant] = res
    if not rows:
        return []
    rows[final_kimg] = results
    lines = ["| kimg | " + " | ".join(f"{NAMES[v]} Chamfer ↓ | {NAMES[v]} F@1% ↑" for v in VARIANTS) + " |",
             "|---|" + "---|---|" * len(VARIANTS)]
    for kimg in sorted(rows):
        cells = []
        for v in VARIANTS:
            res = rows[kimg].get(v)
            if res is None:
                cells += ["–", "–"]
            else:
                cells += [f"{cell(list(per_id(res, 'chamfer_l1').values()))} ({n_cell(res)})",
                          cell(list(per_id(res, 'fscore@0.01').values()), 3)]
        lines.append(f"| {kimg:g} | " + " | ".join(cells) + " |")
    return lines


REFERENCES = ("template-mean", "oracle-nearest-train", "copy-other")
NO_IDENTITY = "has recovered no identity-specific geometry"


def reference_section(exp: Path, results: dict[str, dict]) -> list[str]:
    """The variants beside the reference rows of `geogen-bench baselines`, with each row's Chamfer
    gain over template-mean on the identities both scored (empty without a template-mean file)."""
    refs = {n: r for n in REFERENCES if (r := load(exp / "results" / f"{n}.json")) is not None}
    if "template-mean" not in refs:
        return []
    template = per_id(refs["template-mean"], "chamfer_l1")
    lines = ["### Reference rows", "",
             "Meshes that ignore the test image, scored with the same protocol (`geogen-bench baselines`): "
             "`template-mean` is one mean training shape for every identity, `oracle-nearest-train` the "
             "training GT nearest to each test GT, `copy-other` one fixed training identity's GT. "
             "Gain = share of template-mean's Chamfer removed, on the identities both rows scored.", "",
             "| row | n | Chamfer ↓ | F@1% ↑ | NC ↑ | gain over template-mean |", "|---|---|---|---|---|---|"]
    verdicts = []
    rows = [(NAMES[v], r, False) for v, r in results.items()] + [(f"*{n}* (reference)", r, True)
                                                                   for n, r in refs.items()]
    for name, res, is_ref in rows:
        chamfer = per_id(res, "chamfer_l1")
        common = sorted(set(chamfer) & set(template))
        gain = "–"
        if common and not (is_ref and res is refs["template-mean"]):
            t, m = np.mean([template[i] for i in common]), np.mean([chamfer[i] for i in common])
            gain = f"{(t - m) / t:+.0%} ({len(common)} ids)"
            if not is_ref and m >= t:
                verdicts.append(f"{name} (Chamfer {m:.4g} vs {t:.4g}) {NO_IDENTITY}.")
        lines.append(f"| {name} | {n_cell(res)} | {cell(list(chamfer.values()))} | "
                     f"{cell(list(per_id(res, 'fscore@0.01').values()), 3)} | "
                     f"{cell(list(per_id(res, 'normal_consistency').values()), 3)} | {gain} |")
    lines.append("")
    if verdicts:
        lines += ["Not below template-mean: " + " ".join(verdicts), ""]
    return lines


def shapes_section(exp: Path) -> list[str]:
    """COV / MMD / 1-NNA of each variant's samples (`geogen-bench shapes`), when they were computed."""
    docs = {v: d for v in VARIANTS if (d := load(exp / "results" / f"{v}.shapes.json")) is not None}
    if not docs:
        return []
    lines = ["### Shape distribution of samples", "",
             "`geogen-bench shapes`: K sample meshes (truncation 1) against the GT meshes of each split; COV ↑, "
             "MMD ↓, 1-NNA (50 % = indistinguishable from the GT; 100 % = separated; far below 50 % = copies; "
             "definitions in docs/benchmark.md).", "",
             "| variant | vs split | n + n | COV ↑ | MMD ↓ | 1-NNA | memorisation |", "|---|---|---|---|---|---|---|"]
    for v, d in docs.items():
        for split, r in d["results"].items():
            nna = "–" if r["1-nna"] is None else f"{100 * r['1-nna']:.1f} %"
            lines.append(f"| {NAMES[v]} | {split} | {r['n']} + {r['n']} | {100 * r['cov']:.0f} % | {r['mmd']:.4g} | "
                         f"{nna} | {'yes' if r['memorisation'] else 'no'} |")
    return lines + [""]


# ---------------------------------------------------------------- pictures
def label(im: Image.Image, text: str) -> Image.Image:
    ImageDraw.Draw(im).text((4, 3), text, fill=(200, 0, 0))
    return im


def with_margin(im: Image.Image, text: str, width: int = 130) -> Image.Image:
    """``im`` with a white left margin carrying ``text`` (one word per line)."""
    out = Image.new("RGB", (im.width + width, im.height), "white")
    out.paste(im, (width, 0))
    ImageDraw.Draw(out).multiline_text((6, 8), "\n".join(text.split()), fill=(0, 0, 0))
    return out


def save_png(im: Image.Image, path: Path) -> None:
    with atomic_path(path) as tmp:
        im.save(tmp, format="PNG", optimize=True)


def mesh_strip(ply: Path, size: int, n_views: int = 4) -> Image.Image:
    """Shaded renders of a generated mesh from n_views azimuths (blank when it has no faces)."""
    import trimesh

    from benchmark.pictures import orbit_cameras, raycast_shaded

    mesh = trimesh.load(ply, force="mesh", process=False)
    v, f = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    strip = Image.new("RGB", (size * n_views, size), (255, 255, 255))
    if len(f) == 0:
        return label(strip, "no surface")
    lo, hi = v.min(axis=0), v.max(axis=0)
    azimuths = [360.0 * i / n_views for i in range(n_views)]
    for k, cam in enumerate(orbit_cameras((lo + hi) / 2, float(np.linalg.norm(hi - lo)), size, azimuths)):
        strip.paste(Image.fromarray(raycast_shaded(v, f, cam)), (k * size, 0))
    return strip


def samples_figure(exp: Path, path: Path, seeds=(0, 1, 2, 3)) -> bool:
    """Per variant: generated images (4 views per seed) beside their SDF/density meshes."""
    blocks = []
    for variant in VARIANTS:
        folder = exp / "samples" / variant
        rows = []
        for s in seeds:
            png, ply = folder / f"seed{s:04d}.png", folder / f"seed{s:04d}.ply"
            if not png.exists():
                continue
            img = Image.open(png).convert("RGB")
            h = img.height
            meshes = mesh_strip(ply, h, img.width // h) if ply.exists() else Image.new("RGB", img.size, "white")
            row = Image.new("RGB", (img.width + meshes.width, h), "white")
            row.paste(img, (0, 0))
            row.paste(meshes, (img.width, 0))
            rows.append(row)
        if rows:
            block = Image.new("RGB", (rows[0].width, 14 + sum(r.height for r in rows)), "white")
            ImageDraw.Draw(block).text((4, 1), f"{NAMES[variant]}: seeds {seeds[0]}-{seeds[-1]}, images | meshes",
                                       fill=(0, 0, 0))
            y = 14
            for r in rows:
                block.paste(r, (0, y))
                y += r.height
            blocks.append(block)
    if not blocks:
        return False
    fig = Image.new("RGB", (max(b.width for b in blocks), sum(b.height for b in blocks)), "white")
    y = 0
    for b in blocks:
        fig.paste(b, (0, y))
        y += b.height
    save_png(fig, path)
    return True


def inversions_figure(exp: Path, path: Path, n_ids: int = 3) -> bool:
    """Per test identity: input, held-out view and GT mesh (top), then each variant's inversion,
    its render of the held-out view and its mesh (the benchmark's per-identity pictures)."""
    results = exp / "results"
    first = results / f"{VARIANTS[0]}.pictures"
    ids = sorted(p.stem for p in first.glob("*.png"))[:n_ids] if first.exists() else []
    blocks = []
    for sid in ids:
        pics = {v: results / f"{v}.pictures" / f"{sid}.png" for v in VARIANTS}
        if not all(p.exists() for p in pics.values()):
            continue
        top = Image.open(pics[VARIANTS[0]]).convert("RGB")
        w, h2 = top.width, top.height // 2
        parts = [with_margin(top.crop((0, 0, w, h2)), f"identity {sid}")]
        for v in VARIANTS:
            parts.append(with_margin(Image.open(pics[v]).convert("RGB").crop((0, h2, w, 2 * h2)), NAMES[v]))
        w = parts[0].width
        block = Image.new("RGB", (w, h2 * len(parts)), "white")
        for k, p in enumerate(parts):
            block.paste(p, (0, k * h2))
        blocks.append(block.resize((w * 3 // 4, block.height * 3 // 4), Image.LANCZOS))
    if not blocks:
        return False
    fig = Image.new("RGB", (blocks[0].width, sum(b.height for b in blocks)), "white")
    y = 0
    for b in blocks:
        fig.paste(b, (0, y))
        y += b.height
    save_png(fig, path)
    return True


def scalars(run_dir: Path) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """TensorBoard scalars of a run: tag → (kimg, values, wall-clock seconds)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir / "tb"), size_guidance={"scalars": 0})
    acc.Reload()
    out = {}
    for tag in acc.Tags().get("scalars", []):
        ev = acc.Scalars(tag)
        out[tag] = (np.array([e.step for e in ev]) / 1000.0, np.array([e.value for e in ev]),
                    np.array([e.wall_time for e in ev]))
    return out


def smooth(y: np.ndarray, k: int = 15) -> np.ndarray:
    if len(y) < k:
        return y
    pad = np.pad(y, (k // 2, k - 1 - k // 2), mode="edge")
    return np.convolve(pad, np.ones(k) / k, mode="valid")


def curves_figure(exp: Path, path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("G/gan", "G loss (non-saturating)"), ("D/loss", "D loss (logistic)"),
              ("schedule/beta", "β of the Laplace density"), ("G/sdf_depth", "SDF depth loss (Eq. 7, unweighted)")]
    runs = {v: exp / "runs" / v for v in VARIANTS if (exp / "runs" / v / "tb").exists()}
    if not runs:
        return False
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    for variant, run_dir in runs.items():
        data = scalars(run_dir)
        for ax, (tag, title) in zip(axes.flat, panels):
            if tag in data:
                x, y, _ = data[tag]
                ax.plot(x, y if tag.startswith("schedule/") else smooth(y), label=NAMES[variant], lw=1.2)
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
def training_facts(exp: Path) -> list[str]:
    lines = ["| variant | kimg | wall (min) | mean img/s | final β |", "|---|---|---|---|---|"]
    for v in VARIANTS:
        run_dir = exp / "runs" / v
        if not (run_dir / "tb").exists():
            continue
        data = scalars(run_dir)
        if "progress/kimg" not in data:
            continue
        _, kimg, times = data["progress/kimg"]
        rate = data.get("progress/images_per_s", (None, np.array([np.nan]), None))[1]
        beta = data.get("schedule/beta", (None, None, None))[1]
        wall = (times.max() - times.min()) / 60  # first to last logged step (includes any pause)
        lines.append(f"| {NAMES[v]} | {kimg.max():.1f} | {wall:.0f} | {np.nanmean(rate):.1f} | "
                     f"{'–' if beta is None else f'{beta[-1]:.4f}'} |")
    return lines


def write_report(exp: Path, report: Path, preset: str) -> Path:
    results = {v: r for v in VARIANTS if (r := load(exp / "results" / f"{v}.json")) is not None}
    if not results:
        raise SystemExit(f"no results in {exp / 'results'}; run python -m scripts.reproduce first")
    pics = report / "results"
    pics.mkdir(parents=True, exist_ok=True)
    any_res = next(iter(results.values()))
    details = any_res["method"]["details"]
    pti = details.get("inversion", {})
    train_cfg = (load(exp / "runs" / VARIANTS[0] / "config.json") or {}).get("train_config", {})
    kimg = float(train_cfg.get("kimg", 0) or 0)
    ds = any_res["dataset"]

    doc = [f"# Results: GeoGen vs GeoGen w/o depth loss vs EG3D ({preset} reproduction)", "",
           f"Generated by `python -m scripts.reproduce{'' if preset == 'tiny' else ' --preset ' + preset}` "
           "(then `python -m scripts.report`); every number and picture below comes from that run. "
           "Re-running it with the same seeds gives the same numbers (see *Reproducibility*).", "",
           "## Setup", "",
           f"- Dataset: `{ds['name']}` ({ds['n_test']} test identities), manifest checksum "
           f"`{ds['manifest_sha256'][:12]}`; built by `geogen-data build` with seed 0.",
           f"- Training: preset `{train_cfg.get('preset', '?')}`, {kimg:g} kimg per variant, seed "
           f"{train_cfg.get('seed', '?')}, batch {train_cfg.get('loss', {}).get('batch_size', '?')}, "
           f"β fixed and λ = 0 until {train_cfg.get('loss', {}).get('beta_fixed_kimg', '?')} kimg "
           f"(then β learnable, λ = {train_cfg.get('loss', {}).get('depth_loss_weight', '?')} for GeoGen).",
           f"- Benchmark: `geogen-bench run`, protocol `{any_res['protocol']['key']}`, "
           f"PTI {pti.get('steps_w', '?')} W-steps + {pti.get('steps_g', '?')} tuning steps, loss "
           f"`{pti.get('loss', '?')}`, one input view per identity, meshes at "
           f"{details.get('mesh_resolution', '?')}³ (SDF level 0; EG3D density level 10), scored against the "
           "exact GT meshes. Errors are in units of the GT bounding-box diagonal.", ""]
    doc += ["### Training runs", "", *training_facts(exp), ""]
    doc += ["## Table 2 layout (lower is better)", "",
            "Mean ± half-width of the 95 % Student-t interval over test identities; `n` = identities "
            "scored / inverted (an identity whose inverted field has no surface is not scored, and the "
            "row is then not comparable).", "", *metric_table(results, TABLE2), ""]
    doc += ["### Extra geometry metrics", "", *metric_table(results, EXTRA, digits=3), ""]
    doc += ["### Inversion fidelity (images, not geometry)", "", *metric_table(results, IMAGE, "info", digits=3), ""]
    doc += ["### Paired differences (same identities)", "",
            "A − B per identity, mean and 95 % CI; negative = A better for these metrics. "
            "`A lower k/n`: identities where A's error is lower.", "", *paired_table(results), "",
            f"Chamfer ordering in this run: {ordering(results)}. The paper's: GeoGen < GeoGen w/o depth "
            "loss < EG3D.", ""]
    doc += reference_section(exp, results)
    doc += shapes_section(exp)
    budget = budget_table(exp, results, kimg)
    if budget:
        doc += ["### Training budget", "",
                "The same benchmark on the milestone snapshots of the same runs (G_ema weights).", "", *budget, ""]
    levels = load(exp / "levels.json")
    if levels:
        doc += ["### Mesh-extraction level (investigation, not the protocol)", "",
                "The kept inversions re-meshed at other levels (`benchmarks/bench_levels.py`): offsets of the "
                "SDF zero level set, EG3D density thresholds. The benchmark always uses 0 and 10.", "",
                "| variant | level | meshed | Chamfer ↓ | F@1% ↑ |", "|---|---|---|---|---|"]
        for variant in VARIANTS:
            sweep = levels.get(variant)
            for level, row in (sweep or {}).get("levels", {}).items():
                doc.append(f"| {NAMES[variant]} | {float(level):g} | {len(row['chamfer_l1'])}/{sweep['n']} | "
                           f"{cell(row['chamfer_l1'])} | {cell(row['fscore@0.01'], 3)} |")
        doc.append("")
    doc += ["## Pictures", ""]
    if samples_figure(exp, pics / "samples.png"):
        doc += ["Random samples (seeds 0–3, four azimuths) and their meshes:", "", "![samples](results/samples.png)", ""]
    if inversions_figure(exp, pics / "inversions.png"):
        doc += ["Inversions of held-out test identities (top: input, held-out view, GT mesh; then per "
                "variant: inversion, its render of the held-out view, extracted mesh):", "",
                "![inversions](results/inversions.png)", ""]
    if curves_figure(exp, pics / "training-curves.png"):
        doc += ["Training curves (moving average over 15 logged steps):", "",
                "![training curves](results/training-curves.png)", ""]
    if (exp / "leaderboard.png").exists():
        shutil.copyfile(exp / "leaderboard.png", pics / "leaderboard.png")
        doc += ["Leaderboard plot (`geogen-bench leaderboard`):", "", "![leaderboard](results/leaderboard.png)", ""]
    doc += ["## Reproducibility", "",
            "Every random choice takes an explicit seed: the dataset (seed 0), training (`--seed`), PTI "
            f"(seed {pti.get('seed', 0)}: mean-w samples and w noise), the input/held-out view choice and the "
            "metric point sampling (protocol seed). Training and inversion run on the CPU with one torch "
            "thread per job, which is deterministic: a resumed training run is bit-identical to an "
            "uninterrupted one (tests/test_train_loop.py), so the side-by-side jobs, the milestone snapshots "
            "and a re-run give the same weights and the same numbers on the same software. A different "
            "torch/BLAS build or a GPU changes floating-point summation order, and GAN training amplifies "
            "such differences: expect other numbers (not another ordering, unless the differences above "
            "are within their confidence intervals).", ""]
    discussion = report / "results-discussion.md"
    if discussion.exists():
        doc += [discussion.read_text().strip(), ""]
    out = report / "results.md"
    atomic_write_text(out, "\n".join(doc))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default="out/reproduce", help="folder written by scripts.reproduce")
    ap.add_argument("--report", default="docs", help="where results.md and results/*.png go")
    ap.add_argument("--preset", default="tiny", help="experiment preset name (for the title)")
    args = ap.parse_args()
    print(write_report(Path(args.experiment), Path(args.report), args.preset))


if __name__ == "__main__":
    main()
