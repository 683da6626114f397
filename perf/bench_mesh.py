"""Mesh-extraction time (tri-planes + grid + marching cubes) and peak RSS, new code vs an older commit.

    OMP_NUM_THREADS=1 .venv/bin/python perf/bench_mesh.py --old 10e816d
    .venv/bin/python perf/bench_mesh.py --old 10e816d --model runs/tiny/geogen.pkl --presets model

Presets: ``tiny`` (the package preset) and ``eg3d-matched`` (issue 14's settings: planes 3 × 32 ch
× 256², decoder 64 hidden / 32 features, z/w 512, cbase 4096 / cmax 128), each with randomly
initialised weights (seed 0), and ``model`` (the G_ema of ``--model``, a trained model file). An
untrained EG3D density never reaches σ = 10, so the ``eg3d`` variant of a random model is meshed at
the 90 % quantile of its density (printed). Every measurement runs in its own subprocess (one
thread, its own peak RSS), old and new alternating round by round so machine noise hits both;
``--old REF`` (and ``--new REF``, default this working tree) check REF out into a git worktree
and run the same worker against that tree's ``geogen`` package. The new mesh is compared with the old one (the old code meshed the dense
grid): "same" means identical vertex and face arrays.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Run, Table, load, peak_rss_mb  # noqa: E402
from worktrees import old_tree  # noqa: E402
EG3D_MATCHED = dict(z_dim=512, w_dim=512, channel_base=4096, channel_max=128, plane_resolution=256,
                    plane_channels=32, decoder_hidden=64, decoder_features=32)


def build(preset: str, variant: str, model: str | None):
    """(G, ws, level) for a preset: seeded random weights, or a model file's G_ema."""
    import dataclasses

    import torch

    from geogen.model import Generator, model_config

    torch.manual_seed(0)
    if preset == "model":
        from geogen.model.io import build_generator, load_file

        G, cfg = build_generator(load_file(model, "model file"))
    else:
        cfg = model_config("tiny", variant)
        if preset == "eg3d-matched":
            cfg = dataclasses.replace(cfg, **EG3D_MATCHED)
        G = Generator(cfg)
    G.eval().requires_grad_(False)
    from geogen.common.cameras import normalized_intrinsics, spherical_cam2world, to_label

    c = torch.tensor([to_label(spherical_cam2world(0.0, 10.0), normalized_intrinsics())],
                     dtype=torch.float32)
    ws = G.mapping(torch.randn(1, cfg.z_dim, generator=torch.Generator().manual_seed(1)), c)
    level = None
    if cfg.field != "sdf" and preset != "model":
        from geogen.model.mesh import sample_grid

        vol = sample_grid(lambda p: G.query(G.planes(ws), p), 32, cfg.box_warp, "sigma")
        level = float(sorted(vol.ravel())[int(0.9 * vol.size)])
    return G, ws, level


def worker(args) -> None:
    import numpy as np
    import torch

    torch.set_num_threads(1)
    from geogen.model.mesh import extract_mesh

    G, ws, level = build(args.preset, args.variant, args.model)
    load_start = load()
    t = time.perf_counter()
    v, f = extract_mesh(G, ws, resolution=args.resolution, level=level)
    seconds = time.perf_counter() - t
    np.savez(args.save, v=v, f=f)
    print(json.dumps({"seconds": seconds, "load": load_start, "faces": int(len(f)), "level": level,
                      "peak_rss_mb": peak_rss_mb()}))




def run_worker(tree: Path, preset: str, variant: str, args, save: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--preset", preset, "--variant", variant,
           "--resolution", str(args.resolution), "--save", str(save)] + (["--model", args.model] if args.model else [])
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tree)
    if out.returncode != 0:
        raise SystemExit(f"worker failed ({tree}):\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def same_mesh(a: Path, b: Path) -> str:
    import numpy as np

    x, y = np.load(a), np.load(b)
    if x["f"].shape == y["f"].shape and np.array_equal(x["f"], y["f"]) and np.array_equal(x["v"], y["v"]):
        return "same"
    from benchmark.metrics import nearest

    if len(x["v"]) == 0 or len(y["v"]) == 0:
        return f"differ ({len(x['f'])} vs {len(y['f'])} faces)"
    d = 0.5 * (nearest(x["v"], y["v"])[0].mean() + nearest(y["v"], x["v"])[0].mean())
    return f"differ (vertex Chamfer {d:.2e})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["tiny", "eg3d-matched"])
    ap.add_argument("--variants", nargs="+", default=["geogen", "eg3d"])
    ap.add_argument("--resolution", type=int, default=256)
    ap.add_argument("--old", help="git ref of the code to compare with (e.g. 10e816d)")
    ap.add_argument("--new", help="git ref of the new code (default: this working tree)")
    ap.add_argument("--rounds", type=int, default=2, help="alternating old/new rounds")
    ap.add_argument("--model", help="model file for --presets model")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--preset", help=argparse.SUPPRESS)
    ap.add_argument("--variant", help=argparse.SUPPRESS)
    ap.add_argument("--save", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    trees = {"new": old_tree(args.new) if args.new else REPO} | ({"old": old_tree(args.old)} if args.old else {})
    tmp = Path(tempfile.mkdtemp())
    run = Run("bench_mesh", f"mesh extraction at {args.resolution}³, one thread, seconds "
              "(loads = 1-min load average at the start of each worker)")
    table = Table(["preset", "variant", "code", "min s", "median s", "loads", "peak RSS MB", "faces", "mesh"])
    for preset in args.presets:
        for variant in (args.variants if preset != "model" else ["model"]):
            res = {k: [] for k in trees}
            for r in range(args.rounds):
                for code, tree in (trees.items() if r % 2 == 0 else reversed(trees.items())):
                    res[code].append(run_worker(tree, preset, variant, args, tmp / f"{code}.npz"))
            for code, rows in res.items():
                secs = [x["seconds"] for x in rows]
                check = same_mesh(tmp / "new.npz", tmp / "old.npz") if code == "new" and "old" in res else ""
                lvl = f" (level {rows[0]['level']:.3g})" if rows[0]["level"] is not None and code == "new" else ""
                table.add(preset, variant, code, f"{min(secs):.2f}", f"{statistics.median(secs):.2f}",
                          ",".join(x["load"] for x in rows), f"{max(x['peak_rss_mb'] for x in rows):.0f}",
                          rows[0]["faces"], f"{check}{lvl}")
            if "old" in res:
                ratio = statistics.median(x["seconds"] for x in res["old"]) / statistics.median(
                    x["seconds"] for x in res["new"])
                table.add(preset, variant, "old/new", "", f"{ratio:.1f}× (median time)", "", "", "", "")
    run.done()


if __name__ == "__main__":
    main()
