"""The benchmark's commands of ``geogen-bench``: score meshes, run the inversion benchmark, image
and shape-distribution metrics, reference rows. The console command (geogen/cli/bench.py) adds
the leaderboard stage's ``leaderboard`` and ``agreement`` (leaderboard/cli.py) in that order.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from geogen.common.errors import UserError
from dataset.format import GT_FOLDERS

from .protocol import PROTOCOL_VERSION, Protocol

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help=f"GeoGen geometry benchmark (protocol {PROTOCOL_VERSION}) and generation metrics.")

GT_HELP = f"ground truth: exact ({GT_FOLDERS['exact']}) or pseudo ({GT_FOLDERS['pseudo']})"


def _protocol(gt: str, points: int, emd_points: int, margin: float, seed: int) -> Protocol:
    return Protocol(gt=gt, n_points=points, emd_points=emd_points, crop_margin=margin, seed=seed)


EXECUTOR_HELP = ("local (one identity after another in this process) or ray (one Ray task per identity, "
                 "retried if its worker dies; one GPU each with --device cuda)")
RAY_ADDRESS_HELP = "attach to this Ray cluster (auto, HOST:PORT, ray://HOST:10001); default: start a local one"


THREADS_HELP = ("torch CPU threads: auto = the cores other processes leave free, re-checked between {what}; "
                "N = fixed; 0 = torch's default")


def _threads(value: str):
    """``--threads``: a ThreadGovernor for ``auto``, else torch's count set once (0: torch's default)."""
    from geogen.common.threads import ThreadGovernor, available_cores, parse_threads

    try:
        fixed = parse_threads(value)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if fixed is None:
        return ThreadGovernor(available_cores())
    if fixed > 0:
        import torch

        torch.set_num_threads(fixed)
    return None


def _executor(kind: str, ray_address: str | None):
    """Executor of the per-identity loop; a local Ray cluster gets every CPU of this machine."""
    import os

    from geogen.common.executor import ExecutorConfig

    return ExecutorConfig(kind=kind, ray_address=ray_address, workers=(os.cpu_count() or 1) if kind == "ray" else 1)


def _summary_line(result: dict, out: Path) -> None:
    s = result["summary"]
    parts = [f"{k}={s[k]['mean']:.4g}" for k in ("chamfer_l1", "msd", "emd", "fscore@0.01") if s[k]["mean"] is not None]
    print(f"{result['n_ok']}/{result['n_samples']} samples scored ({', '.join(parts)}) → {out}")
    failed = [r for r in result["samples"] if r["status"] != "ok"]
    for r in failed[:5]:
        print(f"  failed {r['id']}: {r['reason']}", file=sys.stderr)


@app.command()
def score(meshes: Path = typer.Option(..., help="folder of predicted meshes named <id>.ply or <id>.obj"),
          data: Path = typer.Option(..., help="dataset folder (manifest.json with a test split)"),
          method: str = typer.Option(..., help="method name shown on the leaderboard"),
          out: Path = typer.Option(Path("results.json"), help="results JSON (CSV/pictures written beside it)"),
          gt: str = typer.Option("exact", help=GT_HELP),
          limit: Optional[int] = typer.Option(None, help="score only the first N test identities"),
          points: int = typer.Option(100_000, help="points sampled per surface"),
          emd_points: int = typer.Option(2_048, help="subsample size of the exact EMD"),
          margin: float = typer.Option(0.05, help="crop margin around the GT box (normalised units)"),
          seed: int = typer.Option(0, help="sampling seed"),
          pictures: bool = typer.Option(True, help="write a picture per sample"),
          progress: bool = typer.Option(True, help="show a progress bar"),
          executor: str = typer.Option("local", help=EXECUTOR_HELP),
          ray_address: Optional[str] = typer.Option(None, help=RAY_ADDRESS_HELP)) -> None:
    """Score meshes from any method against the dataset's test ground truth."""
    from .score import score_meshes

    result = score_meshes(meshes, data, method, out, _protocol(gt, points, emd_points, margin, seed),
                          limit=limit, pictures=pictures, progress=progress,
                          executor=_executor(executor, ray_address))
    _summary_line(result, out)


@app.command()
def run(model: Path = typer.Option(..., help="model file (geogen.pkl / snapshot, safe format)"),
        data: Path = typer.Option(..., help="dataset folder (manifest.json with a test split)"),
        out: Path = typer.Option(Path("results.json"), help="results JSON (CSV/pictures/records beside it)"),
        gt: str = typer.Option("exact", help=GT_HELP),
        method: Optional[str] = typer.Option(None, help="leaderboard name (default: model file name + variant)"),
        limit: Optional[int] = typer.Option(None, help="only the first N test identities"),
        split: str = typer.Option("test", help="identities scored: test (report once, at the end) or val "
                                               "(choose settings on it)"),
        preset: str = typer.Option("paper", help="PTI preset: paper (450+350 steps), small, tiny"),
        steps_w: Optional[int] = typer.Option(None, help="W-space inversion steps (overrides the preset)"),
        steps_g: Optional[int] = typer.Option(None, help="pivotal-tuning steps (overrides the preset)"),
        lr_w: Optional[float] = typer.Option(None, help="peak learning rate of w"),
        lr_g: Optional[float] = typer.Option(None, help="generator learning rate while tuning"),
        set_: List[str] = typer.Option([], "--set", help="override a PTI setting, e.g. --set w_avg_samples=500 "
                                                          "--set tune_beta=true (repeatable; type-checked)"),
        views: int = typer.Option(1, help="input views inverted together per identity"),
        view_seed: int = typer.Option(0, help="seed of the input-view choice"),
        mesh_resolution: int = typer.Option(128, help="marching-cubes grid resolution"),
        device: str = typer.Option("auto", help="torch device: auto (cuda if visible), cpu, cuda[:N]"),
        threads: str = typer.Option("auto", help=THREADS_HELP.format(what="identities")),
        inception_weights: Optional[Path] = typer.Option(None, help="Inception-v3 2015-12-05 weights for FID/KID"),
        save_inversions: bool = typer.Option(False, help="also keep each inversion (tuned generator + pivot) "
                                                         "in <out>.inversions/ for later analysis"),
        points: int = typer.Option(100_000, help="points sampled per surface"),
        emd_points: int = typer.Option(2_048, help="subsample size of the exact EMD"),
        margin: float = typer.Option(0.05, help="crop margin around the GT box (normalised units)"),
        seed: int = typer.Option(0, help="sampling seed"),
        pictures: bool = typer.Option(True, help="write a picture per sample"),
        progress: bool = typer.Option(True, help="show a progress bar"),
        executor: str = typer.Option("local", help=EXECUTOR_HELP),
        ray_address: Optional[str] = typer.Option(None, help=RAY_ADDRESS_HELP)) -> None:
    """Invert every test identity with PTI (known camera), extract its mesh and score it."""
    from dataclasses import replace

    from geogen.common.config import apply_sets

    from .pti import PTI_PRESETS
    from .run import RunSettings, run_benchmark

    if preset not in PTI_PRESETS:
        raise UserError(f"unknown PTI preset {preset!r}; choose from {', '.join(PTI_PRESETS)}")
    governor = _threads(threads)
    overrides = {k: v for k, v in dict(steps_w=steps_w, steps_g=steps_g, lr_w=lr_w, lr_g=lr_g).items()
                 if v is not None}
    pti = apply_sets(replace(PTI_PRESETS[preset], **overrides), set_)
    result = run_benchmark(model, data, out, _protocol(gt, points, emd_points, margin, seed), pti,
                           RunSettings(views=views, seed=view_seed, mesh_resolution=mesh_resolution,
                                       device=device, save_inversions=save_inversions),
                           method=method, limit=limit, inception_weights=inception_weights,
                           pictures=pictures, progress=progress, split=split,
                           executor=_executor(executor, ray_address), threads=governor)
    _summary_line(result, out)


@app.command()
def images(model: Path = typer.Option(..., help="model file (geogen.pkl / snapshot) written by geogen-train"),
           data: Path = typer.Option(..., help="dataset folder: real images = its training split (dataset.json)"),
           out: Path = typer.Option(Path("images.json"), help="result JSON of the generation metrics"),
           samples: int = typer.Option(1000, help="generated samples for FID/KID"),
           real_limit: Optional[int] = typer.Option(None, help="at most N training images (seeded; default all)"),
           id_samples: int = typer.Option(100, help="generated samples for ID (0 = skip)"),
           id_views: int = typer.Option(4, help="random views per ID sample"),
           id_yaw: float = typer.Option(30.0, help="ID views: azimuth uniform in ±this many degrees"),
           id_pitch: float = typer.Option(10.0, help="ID views: elevation = training median ± this"),
           truncation: float = typer.Option(1.0, help="truncation ψ (1 = none)"),
           seed: int = typer.Option(0, help="first latent seed (sample i uses seed + i)"),
           inception_weights: Optional[Path] = typer.Option(None, help="pt_inception-2015-12-05-6726825d.pth "
                                                            "(default: the torch hub cache)"),
           allow_nonstandard_weights: bool = typer.Option(False, help="accept other Inception weights; the "
                                                          "metrics are then named fid_nonstandard/kid_nonstandard"),
           device: str = typer.Option("auto", help="torch device: auto (cuda if visible), cpu, cuda[:N]"),
           threads: str = typer.Option("auto", help=THREADS_HELP.format(what="images and ID samples")),
           method: Optional[str] = typer.Option(None, help="name recorded in the result"),
           progress: bool = typer.Option(True, help="print progress")) -> None:
    """Generation metrics of a model: FID/KID against the training images, and ID (face identity across views)."""
    from .generation import ImageProtocol, image_metrics_for_model

    governor = _threads(threads)
    proto = ImageProtocol(samples=samples, seed=seed, truncation=truncation, real_limit=real_limit,
                          id_samples=id_samples, id_views=id_views, id_yaw_deg=id_yaw, id_pitch_deg=id_pitch)
    result = image_metrics_for_model(model, data, out, proto, inception_weights, allow_nonstandard_weights,
                                     device=device, method=method, progress=progress, threads=governor)
    for name, value in result["metrics"].items():
        if isinstance(value, dict) and value.get("status") == "unavailable":
            text = f"unavailable ({value['reason']})"
        elif isinstance(value, dict):
            text = f"{value['mean']:.5g}" + (f" ± {value['std']:.2g}" if value.get("std") is not None else "")
        else:
            text = f"{value:.5g}"
        print(f"{name}: {text}")
    print(f"→ {out}")


@app.command()
def baselines(data: Path = typer.Option(..., help="dataset folder (manifest.json with the reference and scored splits)"),
              out: Path = typer.Option(Path("results"), help="results folder: <name>.json (+ CSV, meshes) per baseline"),
              only: Optional[str] = typer.Option(None, help="comma-separated subset of: template-mean, "
                                                            "oracle-nearest, copy-other (default: all)"),
              reference_split: str = typer.Option("train", help="split whose GT meshes make the baselines"),
              split: str = typer.Option("test", help="split that is scored"),
              resolution: int = typer.Option(128, help="template-mean: marching-cubes cells along the longest side"),
              copy_id: Optional[str] = typer.Option(None, help="copy-other: the reference identity copied "
                                                               "(default: the reference split's first)"),
              shortlist: int = typer.Option(8, help="oracle: protocol Chamfer for the k references nearest by a "
                                                    "2,000-point Chamfer (0 = for every reference: exact, slow)"),
              max_reference: int = typer.Option(256, help="template-mean: average at most N reference meshes "
                                                          "(a seeded subset of a larger split)"),
              gt: str = typer.Option("exact", help=GT_HELP),
              points: int = typer.Option(100_000, help="points sampled per surface"),
              emd_points: int = typer.Option(2_048, help="subsample size of the exact EMD"),
              margin: float = typer.Option(0.05, help="crop margin around the GT box (normalised units)"),
              seed: int = typer.Option(0, help="sampling seed"),
              pictures: bool = typer.Option(True, help="write a picture per sample"),
              progress: bool = typer.Option(True, help="show progress bars"),
              executor: str = typer.Option("local", help=EXECUTOR_HELP),
              ray_address: Optional[str] = typer.Option(None, help=RAY_ADDRESS_HELP)) -> None:
    """Reference rows (not methods): the mean training shape, the nearest training GT (an oracle),
    and a fixed other identity's GT, scored with the same protocol as `score`."""
    from .baselines import BASELINES, BaselineSettings, run_baselines

    if out.suffix == ".json":
        raise UserError(f"--out {out} must be a folder (one result file per baseline is written into it)")
    if resolution < 16:
        raise UserError(f"--resolution must be at least 16 (got {resolution})")
    if shortlist < 0 or max_reference < 1:
        raise UserError("--shortlist must be >= 0 and --max-reference >= 1")
    chosen = tuple(b.strip() for b in only.split(",") if b.strip()) if only else BASELINES
    settings = BaselineSettings(baselines=chosen, reference_split=reference_split, split=split,
                                template_resolution=resolution, copy_id=copy_id,
                                oracle_shortlist=shortlist or None, template_max_reference=max_reference)
    results = run_baselines(data, out, _protocol(gt, points, emd_points, margin, seed), settings,
                            pictures=pictures, progress=progress, executor=_executor(executor, ray_address))
    for name, result in results.items():
        _summary_line(result, out / f"{name}.json")


@app.command()
def shapes(model: Path = typer.Option(..., help="model file (geogen.pkl / snapshot) written by geogen-train"),
           data: Path = typer.Option(..., help="dataset folder (its GT meshes are the reference shapes)"),
           out: Path = typer.Option(Path("shapes.json"), help="result JSON (sample meshes kept in <out>.meshes/)"),
           samples: Optional[int] = typer.Option(None, help="K sample meshes (default: size of the largest split)"),
           splits: str = typer.Option("test,train", help="reference splits, comma-separated; the first sets the "
                                                         "distance scale"),
           seed: int = typer.Option(0, help="first latent seed (sample i uses seed + i, as geogen-gen --seeds)"),
           truncation: float = typer.Option(1.0, help="truncation ψ (1 = none)"),
           mesh_resolution: int = typer.Option(128, help="marching-cubes grid resolution"),
           method: Optional[str] = typer.Option(None, help="name shown on the leaderboard (default: model file name)"),
           gt: str = typer.Option("exact", help=GT_HELP),
           points: int = typer.Option(10_000, help="points sampled per shape"),
           margin: float = typer.Option(0.05, help="crop margin around the union GT box (fraction of the scale)"),
           sampling_seed: int = typer.Option(0, help="seed of the surface sampling"),
           device: str = typer.Option("auto", help="torch device: auto (cuda if visible), cpu, cuda[:N]"),
           threads: str = typer.Option("auto", help=THREADS_HELP.format(what="sample meshes")),
           progress: bool = typer.Option(True, help="show progress bars")) -> None:
    """Shape-distribution metrics of generated samples: COV, MMD, 1-NNA against the GT meshes of
    each split, under the protocol's Chamfer (docs/benchmark.md)."""
    from .adapters import resolve_device
    from .shapes import SampleSettings, ShapeProtocol, shape_metrics_for_model

    governor = _threads(threads)
    names = tuple(s.strip() for s in splits.split(",") if s.strip())
    if len(set(names)) != len(names):
        raise UserError(f"--splits {splits!r} names a split twice")
    doc = shape_metrics_for_model(
        model, data, out, ShapeProtocol(gt=gt, n_points=points, crop_margin=margin, seed=sampling_seed),
        SampleSettings(samples=samples, seed=seed, truncation=truncation, mesh_resolution=mesh_resolution),
        splits=names, method=method, device=resolve_device(device), progress=progress, threads=governor)
    for split, r in doc["results"].items():
        nna = "–" if r["1-nna"] is None else f"{100 * r['1-nna']:.1f} %"
        flag = "  MEMORISATION: samples are near-copies of reference shapes" if r["memorisation"] else ""
        print(f"vs {split} ({r['n_reference']} shapes): COV {100 * r['cov']:.1f} %, MMD {r['mmd']:.4g}, "
              f"1-NNA {nna}{flag}")
    print(f"{doc['n_ok']}/{doc['n_samples']} sample meshes used → {out}")
