"""The reconstruction stage's part of a dataset build: post-build step ``"pseudo-gt"``.

Importing this module registers :func:`pseudo_gt_step` in :data:`dataset.build.POST_STEPS`;
``geogen-data`` (geogen/cli/data.py) imports it, and ``geogen-data build`` runs the step once
the dataset is complete (unless ``--no-pseudo-gt``). The dataset stage itself never imports
the reconstruction stage: it only runs what was registered.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from dataset.build import POST_STEPS

NAME = "pseudo-gt"


@POST_STEPS.register(NAME)
def pseudo_gt_step(root: Path, manifest: dict, *, all_ids: bool = False, preset: str | None = None,
                   recon_views: int = 0, recon_resolution: int | None = None, executor: str = "local",
                   ray_address: str | None = None, workers: int = 1) -> None:
    """Pseudo-GT meshes and the quality report for the finished dataset at ``root``, as
    ``geogen-recon dataset`` makes them (resumable; preset default: the dataset's), with the
    summary printed as JSON."""
    from .pseudo_gt import run_dataset

    summary = run_dataset(root, all_ids=all_ids, preset=preset or str(manifest.get("preset", "tiny")),
                          recon_views=recon_views, recon_resolution=recon_resolution, executor=executor,
                          ray_address=ray_address, workers=workers, log=lambda m: typer.echo(m, err=True))
    typer.echo(json.dumps(summary, indent=2))
