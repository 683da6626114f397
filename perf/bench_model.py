"""Speed of the GeoGen networks alone (no data loading, no optimiser): images/s per phase.

Phases, as one training iteration runs them: G step (G forward + D on fakes + backward), D step
(G forward without grad + D on fakes and reals + backward), R1 (D on reals with a double
backward, every ``r1_interval`` D steps, amortised here). Prints wall and CPU-time figures.

    .venv/bin/python perf/bench_model.py --presets tiny small --variants geogen eg3d
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from geogen.common.cameras import normalized_intrinsics, spherical_cam2world, to_label
from geogen.model import Discriminator, Generator, model_config
from geogen.training.config import loss_config
from harness import Run, Table, peak_rss_mb  # perf/, the script's folder


def timed(fn, reps):
    fn()  # warm-up
    t, c = time.time(), time.process_time()
    for _ in range(reps):
        fn()
    return (time.time() - t) / reps, (time.process_time() - c) / reps


def bench(preset: str, variant: str, batch: int | None, reps: int) -> dict:
    cfg, lc = model_config(preset, variant), loss_config(preset, variant)
    B = batch or lc.batch_size
    G, D = Generator(cfg).train(), Discriminator(cfg).train()
    G.set_beta_trainable(True) if cfg.field == "sdf" else None
    c = torch.tensor([to_label(spherical_cam2world(360.0 * i / B, 10.0), normalized_intrinsics(3.2))
                      for i in range(B)], dtype=torch.float32)
    real = {"image": torch.rand(B, 3, cfg.image_resolution, cfg.image_resolution) * 2 - 1,
            "image_raw": torch.rand(B, 3, cfg.neural_resolution, cfg.neural_resolution) * 2 - 1}

    def g_step():
        out = G(torch.randn(B, cfg.z_dim), c, noise_mode="random")
        loss = F.softplus(-D(out, c, blur_sigma=1.0)).mean()
        if "sdf_depth_loss" in out:
            loss = loss + 0.1 * out["sdf_depth_loss"]
        loss.backward()

    def d_step():
        with torch.no_grad():
            out = G(torch.randn(B, cfg.z_dim), c, noise_mode="random")
        fake = {"image": out["image"], "image_raw": out["image_raw"]}
        (F.softplus(D(fake, c, blur_sigma=1.0)).mean() + F.softplus(-D(real, c, blur_sigma=1.0)).mean()).backward()

    def r1_step():
        x = {k: v.detach().requires_grad_(True) for k, v in real.items()}
        grads = torch.autograd.grad(D(x, c).sum(), [x["image"], x["image_raw"]], create_graph=True)
        (sum(g.square().sum(dim=[1, 2, 3]) for g in grads).mean() * lc.r1_gamma / 2 * lc.r1_interval).backward()

    g = timed(g_step, reps)
    d = timed(d_step, reps)
    r = timed(r1_step, max(1, reps // 2))
    it_wall = g[0] + d[0] + r[0] / lc.r1_interval
    it_cpu = g[1] + d[1] + r[1] / lc.r1_interval
    return {"preset": preset, "variant": variant, "batch": B, "g": g, "d": d, "r1": r,
            "img_s": B / it_wall, "img_s_cpu": B / it_cpu,
            "peak_mb": peak_rss_mb()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", nargs="+", default=["tiny"])
    ap.add_argument("--variants", nargs="+", default=["geogen", "eg3d"])
    ap.add_argument("--batch", type=int, default=None, help="default: the preset's batch size")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)   # 1: fastest on a shared 2-core machine
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    run = Run("bench_model", f"{args.reps} reps per phase")
    table = Table(["preset", "variant", "batch", "G step s", "D step s", "R1 s", "full iteration img/s (wall)",
                   "img/s if CPU time were wall", "peak RSS MB"])
    for preset in args.presets:
        for variant in args.variants:
            r = bench(preset, variant, args.batch, args.reps)
            table.add(preset, variant, r["batch"], f"{r['g'][0]:.3f}", f"{r['d'][0]:.3f}", f"{r['r1'][0]:.3f}",
                      f"{r['img_s']:.1f}", f"{r['img_s_cpu'] * args.threads:.1f}", f"{r['peak_mb']:.0f}")
    run.done("other processes share this CPU, so wall figures are pessimistic; the CPU-time column divides "
             "CPU seconds by the thread count")


if __name__ == "__main__":
    main()
