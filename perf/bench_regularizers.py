"""Cost of the SDF training terms of issue 10 on a tiny-preset training iteration (CPU).

    .venv/bin/python perf/bench_regularizers.py [--iters 6] [--threads 1]

Alternates iterations of each configuration (so machine noise hits all of them) on a stand-in
dataset and prints the median seconds per iteration, img/s, the ratio to the configuration
without any regulariser, and the machine load.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from harness import Run  # perf/, the script's folder

CONFIGS = {
    "no regulariser": ["loss.eikonal_weight=0"],
    "eikonal 0.1 (default)": [],
    "eikonal + minimal surface": ["loss.minimal_surface_weight=0.05"],
    "depth loss through d(r) (full)": ["loss.switch_kimg=0"],
    "depth loss, d(r) fixed (surface)": ["loss.switch_kimg=0",
                                         "model.depth_loss_grad=surface"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iters", type=int, default=6)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch

    from geogen.training.data import ImageLabelDataset
    from geogen.training.run import prepare_run
    from geogen.training.synthetic import write_fake_dataset
    from geogen.training.trainer import Trainer

    torch.set_num_threads(args.threads)
    run = Run("bench_regularizers", f"tiny preset, {args.iters} alternating iterations")
    with tempfile.TemporaryDirectory() as tmp:
        data = write_fake_dataset(tmp, identities=4, views=4, resolution=64)
        trainers = {}
        for name, sets in CONFIGS.items():
            cfg, mcfg, _ = prepare_run("tiny", "geogen", f"{tmp}/{len(trainers)}", overrides=["loss.r1_interval=0"] + sets)
            trainers[name] = Trainer(cfg, mcfg, ImageLabelDataset(data, 64))
            trainers[name].train_step()                      # warm-up
        times = {name: [] for name in CONFIGS}
        for _ in range(args.iters):
            for name, t in trainers.items():
                start = time.perf_counter()
                t.train_step()
                times[name].append(time.perf_counter() - start)
    base = statistics.median(times["no regulariser"])
    batch = next(iter(trainers.values())).cfg.loss.batch_size
    print(f"tiny preset, batch {batch}, {args.threads} thread(s), {args.iters} alternating iterations")
    run.table([{"configuration": name, "s / iteration (median)": f"{med:.3f}", "img/s": f"{batch / med:.1f}",
                "× time of 'no regulariser'": f"{med / base:.2f}"}
               for name, med in ((name, statistics.median(ts)) for name, ts in times.items())])
    run.done()


if __name__ == "__main__":
    main()
