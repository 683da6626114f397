"""Mesh-extraction level sensitivity of benchmark inversions (an investigation, not the protocol).

    python perf/bench_levels.py out/reproduce/results            # every <variant>.inversions/
    python perf/bench_levels.py out/reproduce/results --json out/reproduce/levels.json

Re-meshes each inversion kept by `geogen-bench run --save-inversions` at several levels (SDF
variants: offsets of the zero level set; EG3D: density thresholds) and scores Chamfer-L1 and F@1%
against the exact GT with the run's protocol. The benchmark itself always uses level 0 (SDF) and
10 (EG3D density, EG3D's own threshold); this table only shows how much that choice matters.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dataset.format import Dataset  # noqa: E402
from benchmark.metrics import score_pair  # noqa: E402
from benchmark.protocol import Protocol  # noqa: E402
from geogen.common.atomic import atomic_write_json  # noqa: E402
from geogen.common.meshio import load_mesh  # noqa: E402
from geogen.model.mesh import extract_mesh  # noqa: E402
from geogen.model.io import build_generator, load_file  # noqa: E402
from harness import Run, Table  # noqa: E402

SDF_LEVELS = (-0.02, -0.01, 0.0, 0.01, 0.02)
DENSITY_LEVELS = (2.0, 5.0, 10.0, 20.0, 40.0)


def sweep(result_json: Path, resolution: int, limit: int | None) -> dict:
    import trimesh

    result = json.loads(result_json.read_text())
    p = result["protocol"]
    protocol = Protocol(**{k: p[k] for k in ("version", "gt", "normalisation", "crop_margin", "n_points", "emd_points", "seed")})
    ds = Dataset(Path(result["dataset"]["path"]))
    folder = result_json.with_suffix(".inversions")
    files = sorted(folder.glob("*.pt"))[:limit]
    table: dict[float, dict[str, list[float]]] = {}
    for f in files:
        obj = load_file(f, "inversion file")
        G, cfg = build_generator(obj)
        levels = SDF_LEVELS if cfg.field == "sdf" else DENSITY_LEVELS
        gt = load_mesh(ds.gt_path(obj["meta"]["identity"], protocol.gt), "ground-truth mesh")
        for level in levels:
            with torch.no_grad():
                v, fcs = extract_mesh(G, obj["ws"], resolution=resolution, level=level)
            row = table.setdefault(level, {"chamfer_l1": [], "fscore@0.01": [], "empty": 0})
            if len(fcs) == 0:
                row["empty"] += 1
                continue
            s = score_pair(trimesh.Trimesh(v, fcs, process=False), gt, protocol, obj["meta"]["identity"],
                           metrics=["chamfer_l1", "fscore@0.01"])
            row["chamfer_l1"].append(s["chamfer_l1"])
            row["fscore@0.01"].append(s["fscore@0.01"])
    return {"method": result["method"]["name"], "n": len(files), "levels": table}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path, help="folder of geogen-bench run results with .inversions/ folders")
    ap.add_argument("--resolution", type=int, default=128, help="marching-cubes grid (the benchmark's is 128)")
    ap.add_argument("--limit", type=int, default=None, help="at most N identities per result")
    ap.add_argument("--json", type=Path, default=None, help="also write the table as JSON")
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = {}
    run = Run("bench_levels", f"{args.results}, marching cubes at {args.resolution}³")
    table = Table(["method", "level", "n meshed", "Chamfer-L1 mean", "F@1% mean", "seconds"])
    for res in sorted(args.results.glob("*.json")):
        if not res.with_suffix(".inversions").is_dir():
            continue
        t0 = time.perf_counter()
        s = sweep(res, args.resolution, args.limit)
        dt = time.perf_counter() - t0
        out[res.stem] = s
        for level, row in s["levels"].items():
            ch = np.mean(row["chamfer_l1"]) if row["chamfer_l1"] else float("nan")
            fs = np.mean(row["fscore@0.01"]) if row["fscore@0.01"] else float("nan")
            table.add(s["method"], f"{level:g}", f"{len(row['chamfer_l1'])}/{s['n']}", f"{ch:.4f}", f"{fs:.3f}",
                      f"{dt / max(len(s['levels']), 1):.0f}")
    if args.json:
        atomic_write_json(args.json, out)
    run.done()


if __name__ == "__main__":
    main()
