"""``geogen-recon``: pseudo ground truth from calibrated images (own captures or a dataset folder)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from dataset.format import DEFAULT_RECON_VIEWS
from geogen.common.cli import run_typer
from geogen.common.errors import UserError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Multi-view stereo (PatchMatch) + screened Poisson: meshes from images with known cameras.")


def _bounds(text: str | None):
    if text is None:
        return None
    import numpy as np

    try:
        vals = [float(v) for v in text.split(",")]
    except ValueError:
        vals = []
    if len(vals) != 6 or any(vals[i] >= vals[i + 3] for i in range(3)):
        raise UserError(f"--bounds must be 'xmin,ymin,zmin,xmax,ymax,zmax' with min < max, got {text!r}")
    return np.array(vals[:3]), np.array(vals[3:])


@app.command()
def run(
    out: Path = typer.Option(..., "--out", "-o", help="Output mesh (.ply)."),
    transforms: Optional[Path] = typer.Option(None, help="NeRF-style transforms.json (OpenGL cam2world)."),
    colmap: Optional[Path] = typer.Option(None, help="Folder with a COLMAP text model (cameras.txt, images.txt; PINHOLE)."),
    images: Optional[Path] = typer.Option(None, help="Image folder for --colmap."),
    preset: str = typer.Option("tiny", help="tiny (CPU, fast), small (default quality), paper (512^2+)."),
    bounds: Optional[str] = typer.Option(None, help="Scene box 'xmin,ymin,zmin,xmax,ymax,zmax' (default: from sparse points)."),
    backend: str = typer.Option("torch", help="Dense stereo: torch (ours, CPU/GPU) or colmap (needs CUDA pycolmap)."),
    device: Optional[str] = typer.Option(None, help="Torch device (default: cuda if available, else cpu)."),
    masks: bool = typer.Option(True, help="Use foreground masks when the input names them."),
    threads: int = typer.Option(1, help="CPU threads for torch and SIFT."),
    workspace: Optional[Path] = typer.Option(None, help="Also write COLMAP-format depth/normal maps here."),
    set_: List[str] = typer.Option([], "--set", help="Override a config field, e.g. --set meshing.depth=9 "
                                                      "--set fusion.max_normal_angle=30 (repeatable; type-checked)."),
) -> None:
    """Reconstruct one scene (your own images + cameras) into a mesh."""
    from geogen.common.atomic import atomic_write_json, ensure_writable_dir
    from geogen.common.meshio import save_ply

    from .config import make_recon_config
    from .pipeline import reconstruct_scene
    from .scene import read_colmap_text, read_transforms

    if (transforms is None) == (colmap is None):
        raise UserError("give exactly one input: --transforms FILE or --colmap DIR --images DIR")
    if out.suffix.lower() != ".ply":
        raise UserError(f"--out must end in .ply, got {out}")
    ensure_writable_dir(out.parent if str(out.parent) else Path("."))
    cfg = make_recon_config(preset, set_, backend=backend, device=device, use_masks=masks, num_threads=threads)
    if transforms is not None:
        scene = read_transforms(transforms, use_masks=masks)  # paths must stay inside its dataset/folder
    else:
        if images is None:
            raise UserError("--colmap needs --images DIR (the folder the model's image names refer to)")
        scene = read_colmap_text(colmap, images, use_masks=masks)
    scene.bounds = _bounds(bounds)
    result = reconstruct_scene(scene, cfg, workspace=workspace, log=lambda m: typer.echo(m, err=True))
    save_ply(out, result.vertices, result.faces)
    stats_path = out.with_suffix(".json")
    atomic_write_json(stats_path, {"timings_s": result.timings, "stats": result.stats, "config": cfg.to_dict()})
    warned = len(result.stats.get("warnings", []))
    typer.echo(f"wrote {out} ({len(result.faces)} faces); stage seconds {json.dumps(result.timings)}; stats in {stats_path}"
               + (f" ({warned} warning(s) recorded there)" if warned else ""))


@app.command()
def dataset(
    dataset_dir: Path = typer.Argument(..., help="Dataset folder written by geogen-data build."),
    all_ids: bool = typer.Option(False, "--all", help="Every identity, not only the test split."),
    ids: Optional[str] = typer.Option(None, help="Comma-separated identity ids (e.g. 000004,000007)."),
    preset: str = typer.Option("tiny", help="Reconstruction preset."),
    overwrite: bool = typer.Option(False, help="Redo identities that already have a pseudo-GT record."),
    report: bool = typer.Option(True, help="Write quality.csv / quality_summary.json / quality.png."),
    threads: int = typer.Option(1, help="CPU threads for torch and SIFT."),
    device: Optional[str] = typer.Option(None, help="Torch device (default: cuda if available, else cpu)."),
    recon_views: int = typer.Option(DEFAULT_RECON_VIEWS, help="First render N extra views per identity only for "
                                                              "reconstruction (D/recon_views/<id>/; not training "
                                                              "data). At the dataset's resolution they are "
                                                              "reconstructed with the training views, at another "
                                                              "--recon-resolution instead of them. 0: the training "
                                                              "views alone."),
    recon_resolution: Optional[int] = typer.Option(None, help="Image size of the extra views (default: the "
                                                              "dataset's resolution)."),
    executor: str = typer.Option("local", help="local (this process, or a pool with --workers) or ray (one Ray "
                                               "task per identity, one GPU each with --device cuda)."),
    ray_address: Optional[str] = typer.Option(None, help="Attach to this Ray cluster (default: start a local "
                                                         "one with --workers CPUs)."),
    workers: int = typer.Option(1, help="Local worker processes, or CPUs of a local Ray cluster."),
    set_: List[str] = typer.Option([], "--set", help="Override a config field, e.g. --set meshing.depth=9 "
                                                      "--set fusion.max_normal_angle=30 (repeatable; type-checked)."),
) -> None:
    """Write D/meshes/pseudo_gt/<id>.ply (resumable) and the quality report against the exact GT."""
    from .pseudo_gt import run_dataset

    id_list = [i.strip() for i in ids.split(",") if i.strip()] if ids else None
    summary = run_dataset(dataset_dir, all_ids=all_ids, ids=id_list, preset=preset, overwrite=overwrite, report=report,
                          threads=threads, device=device, recon_views=recon_views, recon_resolution=recon_resolution,
                          executor=executor, ray_address=ray_address, workers=workers, sets=set_,
                          log=lambda m: typer.echo(m, err=True))
    typer.echo(json.dumps(summary, indent=2))


def main() -> None:
    run_typer(app, "geogen-recon")
