"""``geogen-train``: train GeoGen (or the EG3D / no-depth-loss baselines) on an EG3D-style dataset.

Single process::

    geogen-train --data D --variant geogen --preset tiny --out runs/x --kimg 30

Data-parallel (CPU: gloo; GPUs: nccl), same arguments::

    torchrun --nproc_per_node 2 -m geogen.cli.train --data D --preset tiny --out runs/x
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from geogen.common.cli import run_typer
from geogen.common.errors import UserError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False,
                  help="Train GeoGen / EG3D on an EG3D-style dataset (dataset.json + images).")


@app.command()
def train_command(
    data: Path = typer.Option(..., "--data", help="dataset folder or .zip with dataset.json (EG3D layout)"),
    out: Path = typer.Option(..., "--out", help="run folder: snapshots, geogen.pkl, samples, TensorBoard logs"),
    variant: str = typer.Option("geogen", help="geogen | geogen-nodepth | eg3d"),
    preset: str = typer.Option("tiny", help="tiny | small | paper (model size and schedules)"),
    kimg: Optional[float] = typer.Option(None, help="train until this many thousand real images (default: preset)"),
    seed: Optional[int] = typer.Option(None, help="seed of every random choice (default 0)"),
    resume: Optional[str] = typer.Option(None, help="'auto' = continue from --out's latest snapshot, or a snapshot path"),
    branch_from: Optional[Path] = typer.Option(None, help="start --out (empty) from another variant's snapshot "
                                                         "taken before the variants differ (e.g. geogen-nodepth "
                                                         "from geogen's snapshot at the switch kimg)"),
    set_: List[str] = typer.Option([], "--set", help="override a config field, e.g. --set loss.r1_gamma=2 "
                                                      "--set model.samples_coarse=24 --set snapshot_kimg=1 "
                                                      "(repeatable; type-checked)"),
    threads: str = typer.Option("auto", help="torch CPU threads per process: auto = the cores other processes "
                                             "leave free, re-checked every 10 s; N = fixed; 0 = torch's default"),
    progress: bool = typer.Option(True, help="show the progress bar"),
) -> None:
    """Train a model; writes snapshot-<kimg>.pt periodically and geogen.pkl at the end."""
    import torch

    from geogen.training.distributed import init_distributed, shutdown
    from geogen.common.threads import ThreadGovernor, available_cores, parse_threads
    from geogen.training.run import branch_run, final_nimg, prepare_run, train

    try:
        fixed = parse_threads(threads)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    governor = None
    if fixed is None:
        governor = ThreadGovernor(available_cores())
    elif fixed > 0:
        torch.set_num_threads(fixed)
    ctx = init_distributed()
    try:
        if branch_from is not None:
            if resume is not None:
                raise UserError("--branch-from starts a run; it cannot be combined with --resume")
            if ctx.is_main:
                branch_run(branch_from, variant, out)
            ctx.barrier()
            resume = "auto"
        cfg, model_cfg, snap = prepare_run(preset, variant, out, resume, kimg=kimg, seed=seed, overrides=set_)
        if snap is not None and ctx.is_main:
            print(f"resuming from {snap['_path']} at kimg {snap['progress']['nimg'] / 1000:.3f}")
        model_file = train(data, out, cfg, model_cfg, snap, ctx=ctx, progress_bar=progress, threads=governor)
        if ctx.is_main:
            start_nimg = snap["progress"]["nimg"] if snap is not None else 0
            trained = final_nimg(start_nimg, round(cfg.kimg * 1000), cfg.loss.batch_size) / 1000
            print(f"done: {model_file} (kimg {trained:g}, whole batches of {cfg.loss.batch_size} up to --kimg "
                  f"{cfg.kimg:g}); sample it with: geogen-gen --model {model_file} --seeds 0-7 --out {Path(out) / 'samples'}")
    finally:
        shutdown(ctx)


def main() -> None:
    run_typer(app, "geogen-train")


if __name__ == "__main__":
    main()
