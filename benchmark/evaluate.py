"""The per-sample loop shared by `score` and `run`: predict → score → record, resumable.

Each finished sample is written to ``<out>.records/<id>.json`` with a fingerprint: the protocol
key, the dataset manifest's SHA-256, the SHA-256 of the sample's GT mesh, and whatever
identifies the prediction (mesh hash, or model + settings). A rerun reuses a record only if its
fingerprint matches, so another dataset, a changed GT, changed meshes, models or settings are
scored again.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import trimesh

from geogen.common.atomic import atomic_write_json, sha256_file
from geogen.common.errors import UserError
from geogen.common.executor import ExecutorConfig, map_tasks
from geogen.common.meshio import load_mesh
from dataset.format import Dataset

from .metrics import score_pair
from .pictures import sample_picture
from .protocol import Protocol
from .results import SAMPLE_SCHEMA, side_paths


@dataclass
class Prediction:
    """What a method produced for one test identity."""

    vertices: np.ndarray
    faces: np.ndarray
    images: list[tuple[str, np.ndarray]] = field(default_factory=list)  # shown in the picture
    info: dict = field(default_factory=dict)  # recorded in the row (view, psnr, timings...)


def _load_record(path: Path, fingerprint: dict) -> dict | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    if isinstance(doc, dict) and doc.get("schema") == SAMPLE_SCHEMA and doc.get("fingerprint") == fingerprint:
        return doc.get("row")
    return None


def score_one(sample_id: str, produce: Callable[[str], Prediction], dataset: Dataset, protocol: Protocol,
              picture_path: Path | None) -> dict:
    """One row: {"id", "status": "ok"|"failed", "reason", "metrics", "diagnostics", "info"}."""
    row = {"id": sample_id, "status": "failed", "reason": None, "metrics": {}, "diagnostics": {}, "info": {}}
    t0 = time.perf_counter()
    try:
        gt = load_mesh(dataset.gt_path(sample_id, protocol.gt), f"{protocol.gt} ground-truth mesh")
        pred = produce(sample_id)
        row["info"].update(pred.info)
        mesh = trimesh.Trimesh(np.asarray(pred.vertices, dtype=np.float64), np.asarray(pred.faces), process=False)
        if len(mesh.faces) == 0:
            raise UserError("predicted mesh has no triangles")
        if not np.all(np.isfinite(mesh.vertices)):
            raise UserError("predicted mesh has non-finite vertices")
        scored = score_pair(mesh, gt, protocol, sample_id)
        diag_keys = ("pred_area_kept", "pred_faces", "pred_watertight")
        row["diagnostics"] = {k: scored.pop(k) for k in diag_keys}
        row["metrics"] = scored
        row["status"] = "ok"
        if picture_path is not None:
            sample_picture(picture_path, (np.asarray(gt.vertices), np.asarray(gt.faces)),
                           (mesh.vertices, mesh.faces), extra=pred.images)
    except UserError as exc:
        row["reason"] = str(exc)
    except Exception as exc:  # a bad sample must not lose the whole run; the reason is kept in the row
        row["reason"] = f"unexpected {type(exc).__name__}: {exc}"
        row["info"]["unexpected_error"] = True  # not cached: retried on the next run
        print(f"warning: sample {sample_id}: {row['reason']}", file=sys.stderr)
    row["info"]["seconds"] = round(time.perf_counter() - t0, 3)
    return row


def gt_checksum(dataset: Dataset, sample_id: str, protocol: Protocol) -> str | None:
    """SHA-256 of the sample's GT mesh (None if missing: the row fails, and is rescored once it exists)."""
    path = dataset.gt_path(sample_id, protocol.gt)
    return sha256_file(path) if path.is_file() else None


def evaluate(ids: list[str], produce: Callable[[str], Prediction], dataset: Dataset, protocol: Protocol,
             out_json: Path, fingerprint: Callable[[str], dict], pictures: bool = True,
             progress: bool = True, executor: ExecutorConfig | None = None) -> list[dict]:
    """Score every id (resuming from matching records) and return the rows in ``ids`` order.

    ``executor`` runs the samples without a record in this process (default), a process pool or
    as Ray tasks (``produce`` must then be picklable); each record is written here, once, as its
    task finishes."""
    paths = side_paths(out_json)
    manifest_sha = dataset.checksum()
    rows, prints = {}, {}
    for sample_id in ids:
        prints[sample_id] = {"protocol": protocol.key(), "dataset_manifest_sha256": manifest_sha,
                             "gt_sha256": gt_checksum(dataset, sample_id, protocol), **fingerprint(sample_id)}
        row = _load_record(paths["records"] / f"{sample_id}.json", prints[sample_id])
        if row is not None:
            rows[sample_id] = row
    todo = [i for i in ids if i not in rows]
    executor = replace(executor or ExecutorConfig(), progress=progress, desc="samples")
    task = partial(_score_task, produce, dataset, protocol, paths["pictures"] if pictures else None)
    for sample_id, row in map_tasks(task, todo, executor):
        if not row["info"].get("unexpected_error"):
            atomic_write_json(paths["records"] / f"{sample_id}.json",
                              {"schema": SAMPLE_SCHEMA, "fingerprint": prints[sample_id], "row": row})
        rows[sample_id] = row
    return [rows[i] for i in ids]


def _score_task(produce: Callable[[str], Prediction], dataset: Dataset, protocol: Protocol,
                pictures: Path | None, sample_id: str) -> dict:
    """One executor task: predict and score one sample (its picture is written here)."""
    return score_one(sample_id, produce, dataset, protocol, pictures / f"{sample_id}.png" if pictures else None)
