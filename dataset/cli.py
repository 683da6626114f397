"""The dataset stage's commands of ``geogen-data``: build, validate, preview and merge synthetic
head datasets. The console command (geogen/cli/data.py) adds the reconstruction stage's
``pseudo-gt`` command and registers the post-build step ``build`` runs for the pseudo-GT.

Bad arguments end with one line ``error: ...`` and exit code 2 (never a traceback).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import List, Optional

import typer

from geogen.common.errors import UserError

from .format import PREVIEW_DIR, PSEUDO_GT_DIR

PSEUDO_GT_STEP = "pseudo-gt"  # the post-build step (dataset.build.POST_STEPS) that --pseudo-gt runs

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Synthetic 360-degree head dataset: build, validate, preview, merge shards.")


@app.command()
def build(
    out: Path = typer.Option(..., "--out", "-o", help="Output dataset folder (created; re-running resumes)."),
    preset: str = typer.Option("tiny", help="Preset: tiny (CPU demo), small, paper (19,800 identities at 512^2)."),
    identities: Optional[int] = typer.Option(None, help="Number of identities (overrides the preset)."),
    views: Optional[int] = typer.Option(None, help="Views per identity, spread over 360 deg azimuth (>= 4)."),
    resolution: Optional[int] = typer.Option(None, help="Image size in pixels (square)."),
    seed: Optional[int] = typer.Option(None, help="Master seed (default 0)."),
    elevation_min: Optional[float] = typer.Option(None, help="Lowest camera elevation (deg)."),
    elevation_max: Optional[float] = typer.Option(None, help="Highest camera elevation (deg)."),
    workers: int = typer.Option(2, help="Worker processes for the build and its pseudo-GT step (results do not "
                                        "depend on it); with --executor ray "
                                        "and no --ray-address, the CPUs of the local Ray cluster."),
    executor: str = typer.Option("local", help="local (process pool) or ray (one Ray task per identity, "
                                               "retried if its worker dies; also runs the pseudo-GT step). "
                                               "Same bytes either way."),
    ray_address: Optional[str] = typer.Option(None, help="Attach to this Ray cluster (auto, HOST:PORT or "
                                                         "ray://HOST:10001; nodes must share --out's file "
                                                         "system). Default: start a local cluster."),
    shard: Optional[str] = typer.Option(None, help="Build only identities with index % n == i, given as i/n "
                                                   "(for schedulers without Ray, e.g. Slurm arrays; then "
                                                   "geogen-data merge)."),
    zip_: bool = typer.Option(False, "--zip", help="Also write EG3D's zip layout (eg3d.zip, training split)."),
    progress: bool = typer.Option(True, help="Show a progress bar with ETA."),
    pseudo_gt: bool = typer.Option(True, help="Then reconstruct pseudo-GT meshes (multi-view stereo + Poisson) "
                                              f"into {PSEUDO_GT_DIR}/ with a quality report (resumable)."),
    pseudo_gt_all: bool = typer.Option(False, help="Pseudo-GT for every identity, not only the test split."),
    pseudo_gt_preset: Optional[str] = typer.Option(None, help="Reconstruction preset (default: the dataset's "
                                                              "preset; see docs/reconstruction.md)."),
    recon_views: Optional[int] = typer.Option(None, help="Render N extra views per pseudo-GT identity only for "
                                                         "reconstruction (recon_views/<id>/, not training data). At "
                                                         "the dataset's resolution the pseudo-GT is built from the "
                                                         "training views plus these; at another --recon-resolution "
                                                         "from these alone. Default 10; 0: the training views alone."),
    recon_resolution: Optional[int] = typer.Option(None, help="Image size of those extra views "
                                                              "(default: --resolution)."),
    set_: List[str] = typer.Option([], "--set", help="Override a dataset config field, e.g. --set "
                                                      "mesh_resolution=64 --set ao_rays=4 (repeatable; type-checked)."),
) -> None:
    """Build (or resume) a dataset folder; ends with manifest.json once every identity is built.

    Unless --no-pseudo-gt, the test split then gets pseudo-GT meshes (geogen-data pseudo-gt).
    """
    from geogen.common.executor import ExecutorConfig, executor_session

    from .build import POST_STEPS, BuildOptions, parse_shard
    from .config import make_config

    config = make_config(preset, set_, identities=identities, views=views, resolution=resolution, seed=seed,
                         elevation_min=elevation_min, elevation_max=elevation_max)
    options = BuildOptions(workers=workers, shard=parse_shard(shard), write_zip=zip_, progress=progress,
                           executor=executor, ray_address=ray_address)
    from .recon_views import DEFAULT_RECON_VIEWS, recon_config

    if recon_views is not None or recon_resolution is not None:  # check before a long build, not after it
        if not pseudo_gt:
            raise UserError("--recon-views/--recon-resolution only feed the pseudo-GT; drop --no-pseudo-gt")
        if recon_views == 0 and recon_resolution is not None:
            raise UserError("--recon-resolution needs --recon-views N (the number of extra views to render)")
    recon_views = DEFAULT_RECON_VIEWS if recon_views is None else recon_views
    if pseudo_gt and recon_views:
        recon_config(config, recon_views, recon_resolution)
    if pseudo_gt and PSEUDO_GT_STEP not in POST_STEPS:
        raise UserError(f"no post-build step {PSEUDO_GT_STEP!r} is registered (the console command geogen-data "
                        "registers the reconstruction stage's); pass --no-pseudo-gt or run geogen-data")
    with executor_session(ExecutorConfig(kind=executor, workers=workers, ray_address=ray_address, progress=False)):
        _build_and_reconstruct(config, out, options, pseudo_gt, pseudo_gt_all, pseudo_gt_preset, recon_views,
                               recon_resolution)


def _build_and_reconstruct(config, out: Path, options, pseudo_gt: bool, pseudo_gt_all: bool,
                           pseudo_gt_preset: Optional[str], recon_views: int, recon_resolution: Optional[int]) -> None:
    """The build, then (unless --no-pseudo-gt, once the dataset is complete) its pseudo-GT post-step."""
    from .build import build_dataset, run_post_step

    start = time.perf_counter()
    try:
        summary = build_dataset(config, out, options)
    except OSError as exc:  # disk full, a file where a folder belongs, permissions: one line, not a traceback
        raise UserError(f"cannot write the dataset into {out}: {exc.strerror or exc} ({exc.filename}); "
                        "committed identities are kept, fix the cause and re-run to resume") from None
    except KeyboardInterrupt:
        typer.echo("interrupted: committed identities are kept; re-run the same command to resume", err=True)
        raise typer.Exit(130) from None
    secs = time.perf_counter() - start
    msg = f"built {len(summary.built)} identities, {len(summary.skipped)} already complete, in {secs:.1f} s"
    if summary.complete:
        typer.echo(f"{msg}; dataset ready: {out} (check it with: geogen-data validate {out})")
        if pseudo_gt:
            run_post_step(PSEUDO_GT_STEP, out, all_ids=pseudo_gt_all, preset=pseudo_gt_preset or config.preset,
                          recon_views=recon_views, recon_resolution=recon_resolution, executor=options.executor,
                          ray_address=options.ray_address,
                          workers=options.workers)  # pseudo-GT identities in parallel too (1 thread each)
    else:
        typer.echo(f"{msg}; shard {options.shard[0]}/{options.shard[1]} done. When every shard is built, run: "
                   f"geogen-data merge {out} --from <other shard folders>")


@app.command()
def validate(root: Path = typer.Argument(..., help="Dataset folder.")) -> None:
    """Check every file against the manifest; list problems and exit 1 if there are any."""
    from .validate import validate_dataset

    problems = validate_dataset(root)
    for p in problems:
        typer.echo(p)
    if problems:
        typer.echo(f"{len(problems)} problem(s) in {root}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{root}: OK")


@app.command()
def preview(
    root: Path = typer.Argument(..., help="Dataset folder."),
    out: Optional[Path] = typer.Option(None, help="Contact sheet PNG (default ROOT/preview/contact_sheet.png)."),
    gif: Optional[Path] = typer.Option(None, help="Turntable GIF (default ROOT/preview/turntable.gif)."),
    identities: int = typer.Option(8, help="Rows of the contact sheet."),
    identity: Optional[int] = typer.Option(None, help="Identity of the turntable (default: the first)."),
    frames: int = typer.Option(36, help="Frames of the turntable."),
    resolution: Optional[int] = typer.Option(None, help="Turntable image size (default: the dataset's)."),
) -> None:
    """Write a contact sheet (identities x views) and a turntable GIF of one identity."""
    from .preview import contact_sheet, turntable

    out = out or root / PREVIEW_DIR / "contact_sheet.png"
    gif = gif or root / PREVIEW_DIR / "turntable.gif"
    if identities < 1:
        raise UserError(f"--identities must be >= 1 (got {identities})")
    typer.echo(f"contact sheet: {contact_sheet(root, out, identities)}")
    typer.echo(f"turntable: {turntable(root, gif, identity, frames, resolution)}")


@app.command()
def merge(
    root: Path = typer.Argument(..., help="Dataset folder to complete (may already hold some shards)."),
    sources: list[Path] = typer.Option([], "--from", help="Shard folders to copy committed identities from."),
    zip_: bool = typer.Option(False, "--zip", help="Also write EG3D's zip layout."),
) -> None:
    """Merge shard folders into ROOT and write its manifest.json and dataset.json."""
    from .build import merge as merge_shards

    config = merge_shards(root, sources, zip_)
    typer.echo(f"merged {config.identities} identities into {root}; check it with: geogen-data validate {root}")
