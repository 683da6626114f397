"""Pseudo-GT meshes for a dataset folder, resumable per identity, plus the quality report.

Writes ``D/meshes/pseudo_gt/<id>.ply`` (atomic) and a record per identity in
``D/meshes/pseudo_gt/records/<id>.json`` (status "ok" or "failed" with a reason code, stage
timings, statistics). A re-run skips identities that already have a record (``overwrite``
redoes them). The report compares each pseudo-GT with the exact GT mesh
(``D/meshes/gt/<id>.ply``): ``quality.csv``, ``quality_summary.json`` and ``quality.png``
(GT beside pseudo-GT from a few views) in ``D/meshes/pseudo_gt/``.

Inputs: the identity's training views (``D/identities/<id>/transforms.json``) and, when the
dataset holds extra reconstruction-only views (``D/recon_views/<id>/``, rendered by
``recon_views=N``; see :mod:`dataset.recon_views`), those too when they have the training views'
resolution, or those alone at another resolution (stereo needs one image size). Each record says
which (``inputs``: source, views, resolution), and so does the quality summary; a record made from
other inputs than the current ones is redone.
"""

from __future__ import annotations

import csv
import io
import os
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np

from geogen.common.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text, read_json
from geogen.common.errors import UserError
from geogen.common.executor import ExecutorConfig, map_tasks
from geogen.common.meshio import load_mesh, save_ply
from dataset import format as layout

from .config import ReconConfig, make_recon_config
from .pipeline import ReconstructionFailure, reconstruct_scene
from .scene import DEFAULT_BOUNDS, read_transforms_files

ACCEPTANCE = {"fscore@0.01": 0.80, "chamfer_l1": 0.01}  # medians over the identities (issue 3)
CSV_COLUMNS = ["id", "status", "reason", "chamfer_l1", "fscore@0.01", "fscore@0.02", "accuracy", "completeness",
               "precision@0.01", "recall@0.01", "precision@0.02", "recall@0.02", "hausdorff_95",
               "normal_consistency", "sparse_s", "dense_s", "fusion_s", "poisson_s", "total_s", "sparse_points",
               "fused_points", "mesh_faces", "mesh_components", "watertight", "input_source", "input_views", "input_resolution", "message"]


def _identity_ids(dataset_dir: Path, ids, all_ids: bool) -> list[str]:
    manifest = read_json(dataset_dir / layout.MANIFEST, "dataset manifest")
    split = manifest.get("split", {}) if isinstance(manifest, dict) else {}
    split = split if isinstance(split, dict) else {}
    known = sorted({str(i) for name in layout.SPLITS for i in split.get(name, []) or []})
    # ids become file names (records, meshes): no path may hide in one
    layout.check_plain_ids(known, f"{dataset_dir}/{layout.MANIFEST}: split")
    if ids:
        ids = [str(i).zfill(6) if str(i).isdigit() else str(i) for i in ids]
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise UserError(f"identities {', '.join(unknown)} are not in {dataset_dir}/{layout.MANIFEST}")
        return ids
    return known if all_ids else sorted(str(i) for i in split.get("test", []) or [])


def dataset_config_of(root: Path):
    """The build config recorded in the manifest (None for a hand-made folder without one)."""
    from dataset.config import DatasetConfig

    config = read_json(root / layout.MANIFEST, "dataset manifest").get("config")
    return DatasetConfig.from_dict(config) if config else None


def _training_inputs(dataset_config) -> dict:
    return {"source": "training_views", "views": getattr(dataset_config, "views", None),
            "resolution": getattr(dataset_config, "resolution", None)}


def identity_inputs(root: Path, ident: str, dataset_config) -> tuple[list[Path], dict]:
    """The transforms.json files to reconstruct ``ident`` from and their description: the training
    views, plus the committed recon views when those have the training views' resolution; recon views
    at another resolution replace the training views (stereo needs one image size)."""
    from dataset.recon_views import committed

    training = root / layout.transforms(ident)
    rec = committed(root, int(ident), dataset_config) if dataset_config is not None else None
    if rec is None:
        return [training], _training_inputs(dataset_config)
    extra = root / layout.recon_views_transforms(ident)
    if rec["resolution"] == dataset_config.resolution:
        return [training, extra], {"source": COMBINED_SOURCE, "views": dataset_config.views + rec["views"],
                                   "resolution": rec["resolution"]}
    return [extra], {"source": "recon_views", "views": rec["views"], "resolution": rec["resolution"]}


COMBINED_SOURCE = "training_views+recon_views"  # the inputs' source when both sets are reconstructed together
RUNTIME_FIELDS = ("num_threads", "device")  # how a reconstruction runs, not what it computes


def config_change(recorded, cfg: ReconConfig) -> str | None:
    """None if a record's config gives the same pseudo-GT as ``cfg``, else a short description of
    the difference (e.g. "preset tiny → small, meshing.depth 8 → 9"). Threads and device are ignored."""
    now = cfg.to_dict()
    if not isinstance(recorded, dict):
        return "no config recorded"
    diffs = []
    for key in sorted(set(now) | set(recorded), key=lambda k: (k != "preset", k)):
        if key in RUNTIME_FIELDS:
            continue
        a, b = recorded.get(key), now.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            diffs += [f"{key}.{k} {a.get(k)} → {b.get(k)}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        elif a != b:
            diffs.append(f"{key} {a} → {b}")
    if not diffs:
        return None
    return ", ".join(diffs[:3]) + (f" and {len(diffs) - 3} more" if len(diffs) > 3 else "")


def build_for_dataset(dataset_dir: str | os.PathLike, ids=None, all_ids: bool = False, preset: str = "tiny",
                      config: ReconConfig | None = None, overwrite: bool = False, report: bool = True,
                      log=print, recon_views: int = 0, recon_resolution: int | None = None,
                      executor: ExecutorConfig | None = None) -> dict:
    """Reconstruct pseudo-GT meshes for ``ids`` (default: the manifest's test split; ``all_ids``: every identity).

    ``recon_views`` > 0 first renders that many extra reconstruction-only views per identity at
    ``recon_resolution`` (default: the dataset's) into ``D/recon_views/<id>/`` and reconstructs
    from them: the pseudo-GT then uses images the trained model never sees.
    Failures (too little texture, no matches, empty fusion) are recorded per identity and do not
    stop the build. ``executor`` runs the identities in this process (default), a process pool or
    as Ray tasks (one GPU each when ``config.device`` is CUDA); records are written here as tasks finish. Returns the summary dict (also written as ``quality_summary.json`` when ``report``).
    """
    from dataset.recon_views import render_recon_views

    root = Path(dataset_dir)
    ids = _identity_ids(root, ids, all_ids)
    dataset_config = dataset_config_of(root)
    if recon_views < 0:
        raise UserError(f"--recon-views must be >= 0 (got {recon_views}); 0 reconstructs from the training views")
    if recon_views > 0:
        if dataset_config is None:
            raise UserError(f"{root}/{layout.MANIFEST} records no build config, so extra views cannot be rendered; "
                            "use a folder written by geogen-data build")
        render_recon_views(root, dataset_config, [int(i) for i in ids], recon_views, recon_resolution, log=log)
    elif recon_resolution is not None:
        raise UserError("--recon-resolution needs --recon-views N (the number of extra views to render)")
    cfg = config or make_recon_config(preset)
    rec_dir = root / layout.PSEUDO_GT_RECORDS_DIR
    rec_dir.mkdir(parents=True, exist_ok=True)
    jobs = {}  # ident → (mesh path, transforms, inputs, why an old record is replaced)
    for n, ident in enumerate(ids):
        record_path, mesh_path = root / layout.pseudo_gt_record(ident), root / layout.pseudo_gt_mesh(ident)
        transforms, inputs = identity_inputs(root, ident, dataset_config)
        replaced = None
        if record_path.is_file() and not overwrite:
            old = read_json(record_path, "pseudo-GT record")
            # a record from before `inputs` existed was made from the training views
            same_inputs = old.get("inputs", _training_inputs(dataset_config)) == inputs
            changed = config_change(old.get("config"), cfg)
            if same_inputs and changed is None and (old.get("status") == "failed" or mesh_path.is_file()):
                log(f"[{n + 1}/{len(ids)}] {ident}: already done ({old.get('status')}), skipping")
                continue
            if changed is not None:
                replaced = f"reconstruction config changed ({changed})"
                log(f"warning: {ident}: the pseudo-GT on disk was made with another reconstruction config "
                    f"({changed}); recomputing it")
        jobs[ident] = (mesh_path, transforms, inputs, replaced)
    executor = executor or ExecutorConfig(progress=False)
    gpus = 1.0 if executor.kind == "ray" and str(cfg.device or "").startswith("cuda") else 0.0
    executor = replace(executor, gpus=gpus, desc="pseudo-GT")
    task = partial(_reconstruct_task, str(root), cfg,
                   {i: (str(m), [str(p) for p in t]) for i, (m, t, _, _) in jobs.items()})
    for done, (ident, record) in enumerate(map_tasks(task, list(jobs), executor), 1):
        _, _, inputs, replaced = jobs[ident]
        record["inputs"] = inputs
        if replaced:
            record["replaced"] = replaced
        atomic_write_json(root / layout.pseudo_gt_record(ident), record)  # the commit point, written here once
        for warning in record.get("stats", {}).get("warnings", []):
            log(f"warning: {ident}: {warning}")
        source = f"{inputs['views']} {inputs['source'].replace('_', ' ')} at {inputs['resolution']}^2"
        log(f"[{done}/{len(jobs)}] {ident} (from {source}): {record['status']}"
            + (f" ({record['reason']}: {record['message']})" if record["status"] != "ok"
               else f" in {record['timings']['total']:.1f} s"))
    if not report:
        return {"identities": len(ids)}
    return write_quality_report(root, ids, log=log)


def run_dataset(dataset_dir: Path, *, all_ids: bool = False, ids: list[str] | None = None, preset: str = "tiny",
                overwrite: bool = False, report: bool = True, threads: int = 1, device: str | None = None,
                recon_views: int = 0, recon_resolution: int | None = None, executor: str = "local",
                ray_address: str | None = None, workers: int = 1, sets: list[str] = (), log=print) -> dict:
    """``geogen-recon dataset`` / ``geogen-data pseudo-gt`` and the build's post-step: check the
    folder is a finished dataset, make the preset's config (with the ``--set`` assignments ``sets``),
    run :func:`build_for_dataset`."""
    if not (Path(dataset_dir) / layout.MANIFEST).is_file():
        raise UserError(f"{dataset_dir} has no {layout.MANIFEST}; build it with geogen-data build first")
    cfg = make_recon_config(preset, sets, num_threads=threads, device=device)
    return build_for_dataset(dataset_dir, ids=ids, all_ids=all_ids, config=cfg, overwrite=overwrite, report=report,
                             log=log, recon_views=recon_views, recon_resolution=recon_resolution,
                             executor=ExecutorConfig(kind=executor, workers=workers, ray_address=ray_address,
                                                     progress=False))


def _reconstruct_task(root: str, cfg: ReconConfig, paths: dict[str, tuple[str, list[str]]], ident: str) -> dict:
    """One executor task: reconstruct ``ident`` (its mesh is written here, its record by the caller)."""
    mesh_path, transforms = paths[ident]
    return reconstruct_identity(Path(root), ident, cfg, Path(mesh_path), transforms=[Path(t) for t in transforms])


def reconstruct_identity(root: Path, ident: str, cfg: ReconConfig, mesh_path: Path,
                         transforms: list[Path] | None = None) -> dict:
    """Reconstruct one identity from the views of ``transforms`` (default: its training views); returns
    its record (never raises for a per-identity failure)."""
    transforms = transforms or [root / layout.transforms(ident)]
    t0 = time.perf_counter()
    record = {"id": ident, "config": cfg.to_dict()}
    try:
        scene = read_transforms_files(transforms, use_masks=cfg.use_masks, root=root)
        scene.bounds = DEFAULT_BOUNDS  # the dataset's scene cube (layout contract)
        result = reconstruct_scene(scene, cfg)
    except ReconstructionFailure as exc:
        record.update(status="failed", reason=exc.reason, message=str(exc))
        return record
    except UserError as exc:  # unreadable inputs for this identity: record, keep going
        record.update(status="failed", reason="bad_input", message=str(exc))
        return record
    save_ply(mesh_path, result.vertices, result.faces)
    timings = dict(result.timings, total=round(time.perf_counter() - t0, 3))
    record.update(status="ok", timings=timings, stats=result.stats)
    return record


def write_quality_report(root: Path, ids: list[str], log=print, picture_ids: int = 6) -> dict:
    """Compare each pseudo-GT with the exact GT: quality.csv, quality_summary.json, quality.png."""
    import trimesh

    from .quality import PROTOCOL_NAME, mesh_quality, summarise

    rows = []
    for ident in ids:
        rec_path = root / layout.pseudo_gt_record(ident)
        rec = read_json(rec_path, "pseudo-GT record") if rec_path.is_file() else {"status": "missing"}
        row = {"id": ident, "status": rec.get("status"), "reason": rec.get("reason", ""),
               "message": rec.get("message", "")}
        for stage in ("sparse", "dense", "fusion", "poisson", "total"):
            row[f"{stage}_s"] = rec.get("timings", {}).get(stage)
        for k in ("sparse_points", "fused_points", "mesh_faces", "mesh_components", "watertight"):
            row[k] = rec.get("stats", {}).get(k)  # components: before the largest was kept
        for k in ("source", "views", "resolution"):
            row[f"input_{k}"] = rec.get("inputs", {}).get(k)
        if rec.get("status") == "ok":
            try:
                pred = load_mesh(root / layout.pseudo_gt_mesh(ident), "pseudo-GT mesh")
                gt = load_mesh(root / layout.gt_mesh(ident), "GT mesh")
                row.update(mesh_quality(pred, gt, ident))
            except UserError as exc:
                row.update(status="failed", reason="quality", message=str(exc))
        rows.append(row)
        if row["status"] == "ok":
            log(f"    {ident}: chamfer_l1 {row['chamfer_l1']:.4f}  F@1% {row['fscore@0.01']:.3f}  "
                f"F@2% {row['fscore@0.02']:.3f}  completeness {row['completeness']:.4f}")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else ("" if v is None else v)) for k, v in row.items()})
    atomic_write_text(root / layout.QUALITY_CSV, buf.getvalue())
    summary = summarise(rows)
    summary["protocol"] = PROTOCOL_NAME
    summary["acceptance"] = {
        "median fscore@0.01 >= 0.80": bool(summary.get("fscore@0.01", {}).get("median", 0) >= ACCEPTANCE["fscore@0.01"]),
        "median chamfer_l1 <= 0.01": bool(summary.get("chamfer_l1", {}).get("median", 1) <= ACCEPTANCE["chamfer_l1"]),
    }
    summary["failures"] = {r["id"]: r["reason"] for r in rows if r["status"] != "ok"}
    summary["watertight"] = sum(1 for r in rows if r["status"] == "ok" and r.get("watertight"))
    used = {(r["input_source"], r["input_views"], r["input_resolution"]) for r in rows if r["input_source"]}
    summary["inputs"] = [{"source": s, "views": v, "resolution": res} for s, v, res in sorted(used, key=str)]
    if any(s in ("recon_views", COMBINED_SOURCE) for s, _, _ in used):
        summary["inputs_note"] = ("reconstructed with extra views rendered only for reconstruction "
                                  "(D/recon_views/); the trained model never sees these images")
    atomic_write_json(root / layout.QUALITY_SUMMARY, summary)
    ok_ids = [r["id"] for r in rows if r["status"] == "ok"][:picture_ids]
    if ok_ids:
        from .pictures import comparison_picture

        atomic_write_bytes(root / layout.QUALITY_PNG, comparison_picture(
            [load_mesh(root / layout.gt_mesh(i)) for i in ok_ids],
            [load_mesh(root / layout.pseudo_gt_mesh(i)) for i in ok_ids], ok_ids))
    log(f"report: {root / layout.QUALITY_CSV}, {root / layout.QUALITY_SUMMARY}"
        + (f", {root / layout.QUALITY_PNG}" if ok_ids else ""))
    return summary
