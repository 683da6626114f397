"""`geogen-bench score`: score meshes produced by any method (files named by identity)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from geogen.common.atomic import sha256_file
from geogen.common.errors import UserError
from geogen.common.meshio import load_mesh

from .data import Dataset
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


def score_meshes(meshes: Path, data: Path, method: str, out: Path, protocol: Protocol, limit: int | None = None,
                 pictures: bool = True, progress: bool = True) -> dict:
    """Score ``meshes/<id>.ply|obj`` for every test identity; missing files become failed rows."""
    out = require_output_json(out)
    meshes = Path(meshes)
    if not meshes.is_dir():
        raise UserError(f"mesh folder {meshes} not found; pass --meshes with files named <id>.ply or <id>.obj")
    if not method.strip():
        raise UserError("--method must name the method (it labels the leaderboard row)")
    ds = Dataset(data)
    ds.require_gt(protocol.gt)
    ids = ds.test_ids[:limit] if limit else ds.test_ids
    if not any(find_mesh(meshes, i) for i in ids):
        raise UserError(f"no mesh in {meshes} is named after a test identity (e.g. {ids[0]}.ply); "
                        "name files <id>.ply or <id>.obj")
    t0 = time.perf_counter()

    def produce(sample_id: str) -> Prediction:
        path = find_mesh(meshes, sample_id)
        if path is None:
            raise UserError(f"no mesh {sample_id}.ply/.obj in {meshes}")
        mesh = load_mesh(path, "predicted mesh")
        return Prediction(np.asarray(mesh.vertices), np.asarray(mesh.faces), info={"mesh_file": path.name})

    def fingerprint(sample_id: str) -> dict:
        path = find_mesh(meshes, sample_id)
        return {"mesh_sha256": sha256_file(path) if path else None}

    rows = evaluate(ids, produce, ds, protocol, out, fingerprint, pictures=pictures, progress=progress)
    result = build_result(
        method={"name": method, "source": "score", "details": {"meshes": str(meshes.resolve())}},
        dataset={"name": ds.name, "path": str(ds.root.resolve()), "manifest_sha256": ds.checksum(),
                 "split": "test", "n_test": len(ds.test_ids)},
        protocol=protocol, rows=rows, image_metrics={},
        provenance=provenance(ds.checksum(), None, time.perf_counter() - t0))
    write_result(out, result)
    return result
