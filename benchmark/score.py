"""`geogen-bench score`: score meshes produced by any method (files named by identity)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geogen.common.atomic import sha256_file
from geogen.common.errors import UserError
from geogen.common.executor import ExecutorConfig
from geogen.common.meshio import load_mesh
from dataset.format import Dataset

from .evaluate import Prediction, evaluate
from .protocol import Protocol
from .provenance import provenance
from .results import build_result, require_output_json, write_result

MESH_SUFFIXES = (".ply", ".obj")


def find_mesh(folder: Path, sample_id: str) -> Path | None:
    for suffix in MESH_SUFFIXES:
        p = folder / f"{sample_id}{suffix}"
        if p.is_file():
            return p
    return None


@dataclass(frozen=True)
class MeshReader:
    """``produce`` of the scoring loop: read ``<folder>/<id>.ply|obj`` (picklable for Ray tasks)."""

    folder: Path

    def __call__(self, sample_id: str) -> Prediction:
        path = find_mesh(self.folder, sample_id)
        if path is None:
            raise UserError(f"no mesh {sample_id}.ply/.obj in {self.folder}")
        mesh = load_mesh(path, "predicted mesh")
        return Prediction(np.asarray(mesh.vertices), np.asarray(mesh.faces), info={"mesh_file": path.name})


def score_meshes(meshes: Path, data: Path, method: str, out: Path, protocol: Protocol, limit: int | None = None,
                 pictures: bool = True, progress: bool = True, split: str = "test", kind: str = "method",
                 details: dict | None = None, executor: ExecutorConfig | None = None) -> dict:
    """Score ``meshes/<id>.ply|obj`` for every identity of ``split``; missing files become failed rows.

    ``kind`` is ``"method"`` or ``"reference"`` (a baseline row, listed but never ranked; see
    benchmark/baselines.py); ``details`` are recorded in ``method.details``; ``executor`` says where
    the samples are scored (default: this process; Ray: one task per identity)."""
    out = require_output_json(out)
    meshes = Path(meshes)
    if not meshes.is_dir():
        raise UserError(f"mesh folder {meshes} not found; pass --meshes with files named <id>.ply or <id>.obj")
    if not method.strip():
        raise UserError("--method must name the method (it labels the leaderboard row)")
    ds = Dataset(data)
    ds.require_gt(protocol.gt)
    split_all = ds.split(split)
    ids = split_all[:limit] if limit else split_all
    if not any(find_mesh(meshes, i) for i in ids):
        raise UserError(f"no mesh in {meshes} is named after a test identity (e.g. {ids[0]}.ply); "
                        "name files <id>.ply or <id>.obj")
    t0 = time.perf_counter()

    produce = MeshReader(meshes)

    def fingerprint(sample_id: str) -> dict:
        path = find_mesh(meshes, sample_id)
        return {"mesh_sha256": sha256_file(path) if path else None}

    rows = evaluate(ids, produce, ds, protocol, out, fingerprint, pictures=pictures, progress=progress,
                    executor=executor)
    result = build_result(
        method={"name": method, "source": "score", "kind": kind,
                "details": {"meshes": str(meshes.resolve()), **(details or {})}},
        dataset={"name": ds.name, "path": str(ds.root.resolve()), "manifest_sha256": ds.checksum(),
                 "split": split, "n_test": len(split_all)},
        protocol=protocol, rows=rows, image_metrics={},
        provenance=provenance(ds.checksum(), None, time.perf_counter() - t0))
    write_result(out, result)
    return result
