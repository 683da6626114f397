"""Training speed and memory on CPU: images/s of the G step, D step, lazy R1 and a full iteration,
peak RSS, and mesh-extraction time, for the tiny and small presets.

    .venv/bin/python benchmarks/bench_train.py [--presets tiny small] [--threads 2] [--iters 5] [--data D]

Each preset runs in its own subprocess so its peak RSS is its own. Without ``--data`` a stand-in
dataset of spheres at the preset's resolution is written to a temporary folder (speed does not
depend on image content). "full iteration" is the mean of ``Trainer.train_step`` over iterations
without R1 plus the R1 step amortised over its interval (EG3D's lazy regularisation), i.e. the
long-run average. Timings are wall-clock minima/means on whatever else the machine is doing:
on a shared machine they are pessimistic.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _mean_time(fn, iters: int) -> float:
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sum(times) / len(times)


def measure(preset: str, variant: str, iters: int, data: str | None, mesh_grids: list[int]) -> dict:
    """Run in a fresh process: time the phases of one preset and report peak RSS."""
    import torch

    from geogen.model.config import model_config
    from geogen.model.mesh import extract_mesh
    from geogen.training.config import train_config
    from geogen.training.data import ImageLabelDataset
    from geogen.training.synthetic import write_fake_dataset
    from geogen.training.trainer import Trainer

    mcfg = model_config(preset, variant)
    cfg = train_config(preset, variant)
    tmp = None
    if data is None:
        tmp = tempfile.TemporaryDirectory()
        data = str(write_fake_dataset(tmp.name, identities=4, views=4, resolution=mcfg.image_resolution))
    trainer = Trainer(cfg, mcfg, ImageLabelDataset(data, mcfg.image_resolution, xflip=True))
    B = cfg.loss.batch_size
    trainer.train_step()  # warm-up (includes the R1 step of iteration 0)
    sched = trainer.schedule()
    images, labels = trainer._next_batch()
    t_g = _mean_time(lambda: trainer.g_step(sched), iters)
    t_d = _mean_time(lambda: trainer.d_step(images, labels, sched), iters)
    t_r1 = _mean_time(lambda: trainer.r1_step(images, labels, sched), max(1, iters // 2))
    interval = cfg.loss.r1_interval
    steps = []
    for _ in range(iters):
        if trainer.progress.step % interval == 0:  # keep R1 out of these; it is added amortised below
            trainer.progress.step += 1
        steps.append(_mean_time(trainer.train_step, 1))
    t_full = sum(steps) / len(steps) + t_r1 / interval
    row = {"preset": preset, "variant": variant, "batch": B, "out": mcfg.image_resolution,
           "neural": mcfg.neural_resolution, "samples": f"{mcfg.samples_coarse}+{mcfg.samples_fine}",
           "G_img_s": B / t_g, "D_img_s": B / t_d, "R1_s": t_r1, "full_img_s": B / t_full, "full_s": t_full}
    G, ws = trainer.G_ema, None
    with torch.no_grad():
        ws = G.mapping(torch.randn(1, mcfg.z_dim), trainer.gen_labels[:1])
        for res in mesh_grids:
            start = time.perf_counter()
            extract_mesh(G, ws, resolution=res)
            row[f"mesh{res}_s"] = time.perf_counter() - start
    row["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    if tmp is not None:
        tmp.cleanup()
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["tiny", "small"])
    ap.add_argument("--variant", default="geogen")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--data", default=None, help="dataset folder (default: stand-in spheres)")
    ap.add_argument("--mesh-grids", type=int, nargs="*", default=[128, 256])
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        import torch

        torch.set_num_threads(args.threads)
        print(json.dumps(measure(args.worker, args.variant, args.iters, args.data, args.mesh_grids)))
        return

    rows = []
    for preset in args.presets:
        cmd = [sys.executable, __file__, "--worker", preset, "--variant", args.variant, "--threads",
               str(args.threads), "--iters", str(args.iters), "--mesh-grids", *map(str, args.mesh_grids)]
        if args.data:
            cmd += ["--data", args.data]
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            print(f"{preset}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))

    load = os.getloadavg()[0]
    print(f"# bench_train: variant {args.variant}, {args.threads} threads, {os.cpu_count()} CPUs, "
          f"load average {load:.1f} at the end (other work on the machine slows these numbers)")
    mesh_cols = [f"mesh{r}_s" for r in args.mesh_grids]
    header = ["preset", "batch", "out", "neural", "samples", "G_img_s", "D_img_s", "R1_s", "full_img_s",
              *mesh_cols, "peak_rss_gb"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        cells = [f"{r[h]:.2f}" if isinstance(r[h], float) else str(r[h]) for h in header]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
