"""Where a training iteration spends its time: torch.profiler table of ``Trainer.train_step``.

    OMP_NUM_THREADS=1 .venv/bin/python perf/profile_train.py --preset eg3d-matched --variant eg3d

Runs one warm-up iteration (it includes the lazy R1 step), then profiles ``--iters`` iterations
without R1 and one R1 step on their own, and prints the operators sorted by self CPU time with
their FLOP estimate (convolutions and matrix products only: torch.profiler counts no others), and
the forward GFLOP of G and D at the preset's batch size. ``--shapes`` splits each operator by
its input shapes (e.g. which tensor a ``copy_`` or ``fill_`` moves), how issue 14's later
changes were found.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Run  # noqa: E402
from train_presets import BENCH_PRESETS, configs  # noqa: E402


def forward_gflop(fn) -> float:
    """FLOPs torch.profiler attributes to one call of ``fn`` (convs + matmuls), in GFLOP."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        fn()
    return sum(e.flops for e in prof.key_averages()) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="eg3d-matched", choices=BENCH_PRESETS)
    ap.add_argument("--variant", default="eg3d")
    ap.add_argument("--iters", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rows", type=int, default=30)
    ap.add_argument("--shapes", action="store_true",
                    help="one row per operator and input shapes (which tensor of which layer the time goes to)")
    ap.add_argument("--keep-freed-memory", action="store_true", help="geogen.model.runtime.keep_freed_memory() first")
    args = ap.parse_args()
    if args.keep_freed_memory:
        from geogen.model.runtime import keep_freed_memory

        keep_freed_memory()

    import torch
    from torch.profiler import ProfilerActivity, profile

    from geogen.training.data import ImageLabelDataset
    from geogen.training.synthetic import write_fake_dataset
    from geogen.training.trainer import Trainer

    torch.set_num_threads(args.threads)
    run = Run("profile_train", f"preset {args.preset}, variant {args.variant}, {args.iters} profiled iteration(s)")
    mcfg, tcfg = configs(args.preset, args.variant)
    with tempfile.TemporaryDirectory() as tmp:
        data = write_fake_dataset(tmp, identities=4, views=4, resolution=mcfg.image_resolution)
        trainer = Trainer(tcfg, mcfg, ImageLabelDataset(data, mcfg.image_resolution, xflip=True))
        trainer.train_step()
        B = tcfg.loss.batch_size
        G, D = trainer.G, trainer.D
        z = torch.randn(B, mcfg.z_dim)
        c = trainer.gen_labels[:B]
        with torch.no_grad():
            g_gflop = forward_gflop(lambda: G(z, c))
            fake = G(z, c)
            d_gflop = forward_gflop(lambda: D(fake, c))
        images, labels = trainer._next_batch()
        sched = trainer.schedule()
        interval = tcfg.loss.r1_interval
        with profile(activities=[ProfilerActivity.CPU], with_flops=True, record_shapes=args.shapes) as prof:
            start = time.perf_counter()
            for _ in range(args.iters):
                if trainer.progress.step % interval == 0:
                    trainer.progress.step += 1
                trainer.train_step()
            t_iter = (time.perf_counter() - start) / args.iters
            start = time.perf_counter()
            trainer.r1_step(images, labels, sched)
            t_r1 = time.perf_counter() - start
    print(f"# batch {B}, {args.threads} thread(s)")
    print(f"# forward GFLOP (convs + matmuls): G {g_gflop:.2f}, D {d_gflop:.2f}")
    print(f"# iteration without R1 {t_iter:.2f} s (profiled, {B / t_iter:.2f} img/s), R1 step {t_r1:.2f} s "
          f"(every {interval}); profiler overhead included")
    print(prof.key_averages(group_by_input_shape=args.shapes).table(sort_by="self_cpu_time_total", row_limit=args.rows,
                                                                   max_shapes_column_width=90))
    run.done()


if __name__ == "__main__":
    main()
