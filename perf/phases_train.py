"""Where a training iteration's wall time goes, by phase and network, without the profiler.

    OMP_NUM_THREADS=1 .venv/bin/python perf/phases_train.py --preset eg3d-matched --variant eg3d

Wraps the trainer's G and D phases, its backward passes (``_accumulate``) and optimiser steps,
and the forward of G's synthesis, backbone, super-resolution and mapping and of D, with
``time.perf_counter`` (nested: a phase includes the networks it runs), split by whether autograd
was recording. One warm-up iteration, then ``--iters`` iterations without the lazy R1 step; the
table gives ms per iteration. torch.profiler (``profile_train.py``) says which operators run; this
says how the wall clock splits between the phases, with nothing added to it.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Run  # noqa: E402
from train_presets import BENCH_PRESETS, configs  # noqa: E402


def wrap(obj, name: str, label: str, totals: dict) -> None:
    """Replace ``obj.name`` by a call that adds its wall time to ``totals[(label, grad enabled)]``."""
    import torch

    inner = getattr(obj, name)

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            totals[(label, torch.is_grad_enabled())] += time.perf_counter() - start

    setattr(obj, name, timed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="eg3d-matched", choices=BENCH_PRESETS)
    ap.add_argument("--variant", default="eg3d")
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import torch

    from geogen.training.data import ImageLabelDataset
    from geogen.training.synthetic import write_fake_dataset
    from geogen.training.trainer import Trainer

    torch.set_num_threads(args.threads)
    run = Run("phases_train", f"preset {args.preset}, variant {args.variant}, {args.iters} iterations, "
                              f"{args.threads} thread(s)")
    mcfg, cfg = configs(args.preset, args.variant)
    with tempfile.TemporaryDirectory() as tmp:
        data = write_fake_dataset(tmp, identities=4, views=4, resolution=mcfg.image_resolution)
        trainer = Trainer(cfg, mcfg, ImageLabelDataset(data, mcfg.image_resolution, xflip=True))
        totals: dict = collections.defaultdict(float)
        G = trainer.G
        for obj, name, label in [(trainer, "g_step", "G phase"), (trainer, "d_step", "D phase"),
                                 (trainer, "_accumulate", "backward"), (trainer, "_step", "optimiser step"),
                                 (G, "synthesis", "G synthesis"), (G.backbone, "forward", "G backbone"),
                                 (G.superresolution, "forward", "G super-resolution"),
                                 (G.mapping_network, "forward", "G mapping"), (trainer.D, "forward", "D forward")]:
            wrap(obj, name, label, totals)
        trainer.train_step()                          # warm-up (includes the R1 step of iteration 0)
        totals.clear()
        interval = cfg.loss.r1_interval
        start = time.perf_counter()
        for _ in range(args.iters):
            if interval > 0 and trainer.progress.step % interval == 0:
                trainer.progress.step += 1            # keep R1 out, as bench_train.py does
            trainer.train_step()
        iteration = (time.perf_counter() - start) / args.iters
    rows = [{"part": "full iteration (no R1)", "autograd": "", "ms per iteration": 1e3 * iteration, "share %": 100.0}]
    for (label, grad), seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
        per_iter = seconds / args.iters
        rows.append({"part": label, "autograd": "on" if grad else "off", "ms per iteration": 1e3 * per_iter,
                     "share %": 100 * per_iter / iteration})
    run.table(rows)
    run.done(f"batch {cfg.loss.batch_size}: {cfg.loss.batch_size / iteration:.2f} img/s")


if __name__ == "__main__":
    main()
