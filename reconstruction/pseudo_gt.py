"""Pseudo-GT meshes for a dataset folder, resumable per identity, plus the quality report.

Writes ``D/meshes/pseudo_gt/<id>.ply`` (atomic) and a record per identity in
``D/meshes/pseudo_gt/records/<id>.json`` (status "ok" or "failed" with a reason code, stage
timings, statistics). A re-run skips identities that already have a record (``overwrite``
redoes them). The report compares each pseudo-GT with the exact GT mesh
(``D/meshes/gt/<id>.ply``): ``quality.csv``, ``quality_summary.json`` and ``quality.png``
(GT beside pseudo-GT from a few views) in ``D/meshes/pseudo_gt/``.
"""

from __future__ import annotations

import csv
import io
import os
import time
from pathlib import Path

import numpy as np

from geogen.common.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text, read_json
from geogen.common.errors import UserError
from geogen.common.meshio import load_mesh, save_ply

from .config import ReconConfig, make_recon_config
from .pipeline import ReconstructionFailure, reconstruct_scene
from .scene import DEFAULT_BOUNDS, read_transforms

ACCEPTANCE = {"fscore@0.01": 0.80, "chamfer_l1": 0.01}  # medians over the identities (issue 3)
CSV_COLUMNS = ["id", "status", "reason", "chamfer_l1", "fscore@0.01", "fscore@0.02", "accuracy", "completeness",
               "precision@0.01", "recall@0.01", "precision@0.02", "recall@0.02", "hausdorff_95",
               "normal_consistency", "sparse_s", "dense_s", "fusion_s", "poisson_s", "total_s", "sparse_points",
               "fused_points", "mesh_faces", "message"]


def _identity_ids(dataset_dir: Path, ids, all_ids: bool) -> list[str]:
    manifest = read_json(dataset_dir / "manifest.json", "dataset manifest")
    split = manifest.get("split", {})
    known = sorted(set(split.get("train", [])) | set(split.get("test", [])))
    if ids:
        ids = [str(i).zfill(6) if str(i).isdigit() else str(i) for i in ids]
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise UserError(f"identities {', '.join(unknown)} are not in {dataset_dir}/manifest.json")
        return ids
    return known if all_ids else sorted(split.get("test", []))


def build_for_dataset(dataset_dir: str | os.PathLike, ids=None, all_ids: bool = False, preset: str = "tiny",
                      config: ReconConfig | None = None, overwrite: bool = False, report: bool = True,
                      log=print) -> dict:
    """Reconstruct pseudo-GT meshes for ``ids`` (default: the manifest's test split; ``all_ids``: every identity).

    Failures (too little texture, no matches, empty fusion) are recorded per identity and do not
    stop the build. Returns the summary dict (also written as ``quality_summary.json`` when ``report``).
    """
    root = Path(dataset_dir)
    ids = _identity_ids(root, ids, all_ids)
    cfg = config or make_recon_config(preset)
    out_dir = root / "meshes" / "pseudo_gt"
    rec_dir = out_dir / "records"
    rec_dir.mkdir(parents=True, exist_ok=True)
    for n, ident in enumerate(ids):
        record_path, mesh_path = rec_dir / f"{ident}.json", out_dir / f"{ident}.ply"
        if record_path.is_file() and not overwrite:
            status = read_json(record_path, "pseudo-GT record").get("status")
            if status == "failed" or mesh_path.is_file():
                log(f"[{n + 1}/{len(ids)}] {ident}: already done ({status}), skipping")
                continue
        log(f"[{n + 1}/{len(ids)}] {ident}: reconstructing")
        record = reconstruct_identity(root, ident, cfg, mesh_path)
        atomic_write_json(record_path, record)
        log(f"    {record['status']}" + (f" ({record['reason']}: {record['message']})" if record["status"] != "ok"
                                          else f" in {record['timings']['total']:.1f} s"))
    if not report:
        return {"identities": len(ids)}
    return write_quality_report(root, ids, log=log)


def reconstruct_identity(root: Path, ident: str, cfg: ReconConfig, mesh_path: Path) -> dict:
    """Reconstruct one identity; returns its record (never raises for a per-identity failure)."""
    transforms = root / "identities" / ident / "transforms.json"
    t0 = time.perf_counter()
    record = {"id": ident, "config": cfg.to_dict()}
    try:
        scene = read_transforms(transforms, use_masks=cfg.use_masks)
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

    out_dir = root / "meshes" / "pseudo_gt"
    rows = []
    for ident in ids:
        rec_path = out_dir / "records" / f"{ident}.json"
        rec = read_json(rec_path, "pseudo-GT record") if rec_path.is_file() else {"status": "missing"}
        row = {"id": ident, "status": rec.get("status"), "reason": rec.get("reason", ""),
               "message": rec.get("message", "")}
        for stage in ("sparse", "dense", "fusion", "poisson", "total"):
            row[f"{stage}_s"] = rec.get("timings", {}).get(stage)
        for k in ("sparse_points", "fused_points", "mesh_faces"):
            row[k] = rec.get("stats", {}).get(k)
        if rec.get("status") == "ok":
            try:
                pred = load_mesh(out_dir / f"{ident}.ply", "pseudo-GT mesh")
                gt = load_mesh(root / "meshes" / "gt" / f"{ident}.ply", "GT mesh")
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
    atomic_write_text(out_dir / "quality.csv", buf.getvalue())
    summary = summarise(rows)
    summary["protocol"] = PROTOCOL_NAME
    summary["acceptance"] = {
        "median fscore@0.01 >= 0.80": bool(summary.get("fscore@0.01", {}).get("median", 0) >= ACCEPTANCE["fscore@0.01"]),
        "median chamfer_l1 <= 0.01": bool(summary.get("chamfer_l1", {}).get("median", 1) <= ACCEPTANCE["chamfer_l1"]),
    }
    summary["failures"] = {r["id"]: r["reason"] for r in rows if r["status"] != "ok"}
    atomic_write_json(out_dir / "quality_summary.json", summary)
    ok_ids = [r["id"] for r in rows if r["status"] == "ok"][:picture_ids]
    if ok_ids:
        from .pictures import comparison_picture

        atomic_write_bytes(out_dir / "quality.png", comparison_picture(
            [load_mesh(root / "meshes" / "gt" / f"{i}.ply") for i in ok_ids],
            [load_mesh(out_dir / f"{i}.ply") for i in ok_ids], ok_ids))
    log(f"report: {out_dir / 'quality.csv'}, {out_dir / 'quality_summary.json'}"
        + (f", {out_dir / 'quality.png'}" if ok_ids else ""))
    return summary
