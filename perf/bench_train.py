"""Training speed and memory on CPU: images/s of full training iterations (min / median), the lazy
R1 step, peak RSS and optionally mesh-extraction time, per preset and variant; optionally the same
measurement on an older commit, alternating, with the new/old ratio.

    OMP_NUM_THREADS=1 .venv/bin/python perf/bench_train.py --preset eg3d-matched --variants eg3d geogen
    .venv/bin/python perf/bench_train.py --preset eg3d-matched tiny --old 10e816d --rounds 3

Presets: the package's ``tiny`` / ``small`` and ``eg3d-matched`` (issue 14's side-by-side
settings with EG3D's code, see ``train_presets.py``). Each measurement runs in its own
subprocess so its peak RSS is its own. A stand-in dataset of spheres is written to a temporary
folder (speed does not depend on image content). One "full iteration" is ``Trainer.train_step``
without R1 plus the R1 step divided by its interval (EG3D's lazy regularisation), i.e. the
long-run average; img/s is given as the minimum and the median over the timed iterations.

``--up-modes bilinear transposed`` measures each preset with each upsampling convolution
(``ModelConfig.up_mode``), alternating, and prints the ratios to the first; without it every
preset runs with its own (``eg3d-matched``: transposed, EG3D's; the package presets: bilinear).
The super-resolution layout is the preset's (``eg3d-matched``: ``sr_layout="two_block"``, EG3D's two
blocks; a ``geogen`` package older than that field runs its ``uniform`` one: ``--old`` against such
a commit measures the layout change).

``--old REF`` (a git ref, or a folder holding a ``geogen`` package; ``--new`` likewise replaces this
checkout) checks REF out into a git worktree (``worktrees.old_tree``: the whole ``geogen``
package as it was at REF — layers, renderer, field, training loop) and runs the *same*
measurement code against it (PYTHONPATH), alternating old and new processes round by round so
machine noise hits both; the load average is printed beside every measurement. Wall clock on a
shared machine is pessimistic; compare ratios measured in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Run, Table, load, peak_rss_mb  # noqa: E402
from train_presets import BENCH_PRESETS, configs, sr_layout_of, up_mode_of  # noqa: E402
from worktrees import old_tree  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def measure(preset: str, variant: str, iters: int, mesh_grids: list[int], keep_memory: bool,
            up_mode: str | None = None) -> dict:
    """Run in a fresh process: time full iterations of one preset/variant and report peak RSS."""
    import torch

    if keep_memory:
        from geogen.model.runtime import keep_freed_memory

        keep_freed_memory()

    import geogen
    from geogen.model.mesh import extract_mesh
    from geogen.training.data import ImageLabelDataset
    from geogen.training.synthetic import write_fake_dataset
    from geogen.training.trainer import Trainer

    mcfg, cfg = configs(preset, variant, up_mode)
    tmp = tempfile.TemporaryDirectory()
    data = write_fake_dataset(tmp.name, identities=4, views=4, resolution=mcfg.image_resolution)
    trainer = Trainer(cfg, mcfg, ImageLabelDataset(data, mcfg.image_resolution, xflip=True))
    B = cfg.loss.batch_size
    start = time.perf_counter()
    trainer.train_step()  # warm-up (includes the R1 step of iteration 0 and any compilation)
    t_first = time.perf_counter() - start
    images, labels = trainer._next_batch()
    start, start_cpu = time.perf_counter(), time.process_time()
    trainer.r1_step(images, labels, trainer.schedule())
    t_r1, c_r1 = time.perf_counter() - start, time.process_time() - start_cpu
    interval = cfg.loss.r1_interval
    steps, cpu = [], []
    for _ in range(iters):
        if trainer.progress.step % interval == 0:  # keep R1 out of these; it is added amortised below
            trainer.progress.step += 1
        start, start_cpu = time.perf_counter(), time.process_time()
        trainer.train_step()
        steps.append(time.perf_counter() - start + t_r1 / interval)
        cpu.append(time.process_time() - start_cpu + c_r1 / interval)
    row = {"preset": preset, "variant": variant, "up_mode": up_mode_of(mcfg),
           "sr_layout": sr_layout_of(mcfg), "batch": B, "geogen": str(Path(geogen.__file__).parents[1]), "first_s": t_first, "r1_s": t_r1,
           "img_s": [B / t for t in steps], "cpu_img_s": [B / t for t in cpu]}
    with torch.no_grad():
        ws = trainer.G_ema.mapping(torch.randn(1, mcfg.z_dim), trainer.gen_labels[:1])
        for res in mesh_grids:
            start = time.perf_counter()
            extract_mesh(trainer.G_ema, ws, resolution=res)
            row[f"mesh{res}_s"] = time.perf_counter() - start
    row["peak_rss_gb"] = peak_rss_mb() / 1024
    tmp.cleanup()
    return row


def _tree(ref: str) -> Path:
    """A folder holding a ``geogen`` package as is, else a worktree of the git ref."""
    return Path(ref).resolve() if (Path(ref) / "geogen").is_dir() else old_tree(ref)


def run_worker(tree: Path, keep_memory: bool, preset: str, variant: str, args, up_mode: str | None) -> dict | None:
    cmd = [sys.executable, __file__, "--worker", preset, "--variants", variant, "--threads", str(args.threads),
           "--iters", str(args.iters), "--mesh-grids", *map(str, args.mesh_grids)]
    cmd += ["--keep-freed-memory"] if keep_memory else []
    cmd += ["--up-modes", up_mode] if up_mode else []
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": str(tree)}
    load_before = load()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tree)
    if proc.returncode != 0:
        print(f"{preset}/{variant} in {tree}: failed\n{proc.stderr[-3000:]}", file=sys.stderr)
        return None
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    row["load"] = f"{load_before}→{load()}"
    return row


def _cells(code: str, r: dict, mesh_cols: list[str]) -> list[str]:
    v, c = r["img_s"], r["cpu_img_s"]
    return [code, r["preset"], r["variant"], r.get("up_mode", "bilinear"),
            r.get("sr_layout", "uniform"), str(r["batch"]), f"{min(v):.2f} / {statistics.median(v):.2f}",
            f"{min(c):.2f} / {statistics.median(c):.2f}",
            f"{r['r1_s']:.2f}", f"{r['first_s']:.1f}", *[f"{r[c]:.1f}" for c in mesh_cols],
            f"{r['peak_rss_gb']:.2f}", r["load"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", "--preset", nargs="+", default=["tiny"], choices=BENCH_PRESETS)
    ap.add_argument("--variants", "--variant", nargs="+", default=["eg3d", "geogen"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", type=int, default=4, help="timed iterations per process")
    ap.add_argument("--rounds", type=int, default=1, help="processes per preset/variant (and per tree)")
    ap.add_argument("--old", default=None, help="git ref (or a folder holding a geogen package) to compare "
                                                "against, alternating old/new processes")
    ap.add_argument("--new", default=None, help="a git ref or folder to measure instead of this checkout")
    ap.add_argument("--mesh-grids", type=int, nargs="*", default=[])
    ap.add_argument("--keep-freed-memory", action="store_true",
                    help="geogen.model.runtime.keep_freed_memory() in the new code's process (also measured without)")
    ap.add_argument("--up-modes", nargs="+", default=None, choices=("bilinear", "transposed"),
                    help="measure each preset with each upsampling convolution (default: the preset's own)")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        import torch

        torch.set_num_threads(args.threads)
        print(json.dumps(measure(args.worker, args.variants[0], args.iters, args.mesh_grids,
                                 args.keep_freed_memory, args.up_modes[0] if args.up_modes else None)))
        return

    new = _tree(args.new) if args.new else REPO
    # (label, tree, keep_freed_memory, up_mode); ratios are printed against the first label
    modes = args.up_modes or [None]
    label = (lambda code, m: code if m is None else f"{code}:{m}")
    trees = []
    if args.old:
        trees += [(label("old", m), _tree(args.old), False, m) for m in modes]
    trees += [(label("new", m), new, False, m) for m in modes]
    if args.keep_freed_memory:
        trees += [(label("new+keepmem", m), new, True, m) for m in modes]
    base = trees[0][0]
    results: dict[tuple, list[dict]] = {}
    mesh_cols = [f"mesh{r}_s" for r in args.mesh_grids]
    run = Run("bench_train", f"{args.threads} thread(s) per worker, {args.iters} iterations × "
              f"{args.rounds} round(s) per process kind" + (f"; old = {args.old}" if args.old else "")
              + (f"; new = {args.new}" if args.new else ""))
    table = Table(["code", "preset", "variant", "up_mode", "sr_layout", "batch", "full iteration img/s (min / median)",
                   "img/s per CPU second (min / median)", "R1 step s", "first iteration s", *mesh_cols,
                   "peak RSS GB", "load (1 min, before→after)"])
    for rnd in range(args.rounds):
        for preset in args.presets:
            for variant in args.variants:
                order = trees if rnd % 2 == 0 else trees[::-1]
                for code, tree, keep_memory, up_mode in order:
                    row = run_worker(tree, keep_memory, preset, variant, args, up_mode)
                    if row is None:
                        continue
                    results.setdefault((code, preset, variant), []).append(row)
                    table.add(*_cells(code, row, mesh_cols))
    print()
    ratios = len(trees) > 1
    table = Table(["preset", "variant", "code", "img/s min / median (all rounds)", "img/s per CPU s (median)",
                   "peak RSS GB"] + ([f"÷ {base} median", f"÷ {base} min", f"÷ {base} per CPU s"] if ratios else []))
    for preset in args.presets:
        for variant in args.variants:
            stats = {}
            for code, *_ in trees:
                rows = results.get((code, preset, variant), [])
                if rows:
                    v = [x for r in rows for x in r["img_s"]]
                    c = [x for r in rows for x in r["cpu_img_s"]]
                    stats[code] = (min(v), statistics.median(v), statistics.median(c),
                                   max(r["peak_rss_gb"] for r in rows))
            for code, (lo, med, cpu, rss) in stats.items():
                cells = [preset, variant, code, f"{lo:.2f} / {med:.2f}", f"{cpu:.2f}", f"{rss:.2f}"]
                if ratios and code != base and base in stats:
                    ref = stats[base]
                    cells += [f"{med / ref[1]:.2f}", f"{lo / ref[0]:.2f}", f"{cpu / ref[2]:.2f}"]
                elif ratios:
                    cells += ["", "", ""]
                table.add(*cells)
    run.done()


if __name__ == "__main__":
    main()
