"""Training speed against EG3D's own code at identical settings, in one run (issue 14).

    git clone https://github.com/NVlabs/eg3d
    OMP_NUM_THREADS=1 .venv/bin/python perf/bench_eg3d.py --eg3d eg3d/eg3d --iters 2 --rounds 2

``--eg3d`` is EG3D's ``eg3d/`` folder (the one holding ``train.py``, ``dnnlib``, ``torch_utils``,
``training``); nothing of EG3D is vendored here. Processes alternate round by round: EG3D, this
project's ``eg3d`` variant, its ``geogen`` variant — each fresh (its peak RSS is its own), building
the networks at the matched settings of ``train_presets.py`` (``eg3d-matched``) with a fixed seed,
running one warm-up iteration (which includes the R1 step of iteration 0), one more R1 step alone
(timed), then N timed iterations without R1. A "full iteration" is those phases plus the R1 step
divided by its interval (16), i.e. the long-run average with lazy R1, as ``bench_train.py`` does.

Both sides read the same data: ``--data DIR`` (a dataset folder of this project: 64² images and
25-float camera labels), else the stand-in spheres of ``geogen.training.synthetic`` written to a
temporary folder, loaded through ``ImageLabelDataset`` (x-flips on) on both sides.

EG3D side: ``TriPlaneGenerator`` + ``DualDiscriminator`` + ``StyleGAN2Loss.accumulate_gradients``
built as EG3D's ``train.py`` would (``--cbase 4096 --cmax 128 --map-depth 2 --mbstd-group 4
--gamma 1 --density_reg 0 --aug noaug --mirror 1 --neural_rendering_resolution_initial 32
--gen_pose_cond 1 --gpc_reg_prob 0.5 --gpc_reg_fade_kimg 12 (this project's pose-conditioning swap)
--g_num_fp16_res 0 --d_num_fp16_res 0 --sr_num_fp16_res 0``, blur off, ffhq rendering options with
24 + 24 samples), stepped by a loop that follows ``training_loop.py``'s phases (Gboth = Gmain since
no G regulariser, Dmain, Dreg every 16 with gain 16; Adam with EG3D's lazy-regularisation lr/β
scaling; nan_to_num of gradients; G_ema update). Patched at runtime, only so it runs on CPU at 64²:
a 32²→64² variant of ``SuperresolutionHybrid2X`` (same blocks at half the resolution, ``rgb``
cloned before the first block: at 32² no resize copies it and EG3D's SR adds into it in place);
the CUDA plugins are never built (``_init`` → False; their reference paths run on CPU); Adam's betas
are given as floats (torch 2.13 rejects train.py's ``[0, 0.99]``).
``misc.InfiniteSampler`` is not used (batches are drawn here the same way for both sides).

This project's trainer calls ``geogen.model.runtime.keep_freed_memory()`` on CPU (glibc keeps freed
blocks instead of returning them to the OS; page faults are costly on these VMs); EG3D's loop does
not. ``--eg3d-keep-freed-memory`` adds a row of EG3D's code with the same malloc setting, so the
ratio can be read with and without it.

This project's rows use the preset's ``up_mode="transposed"`` (EG3D's upsampling convolution: a
stride-2 transposed 3x3 conv, then the [1,3,3,1] low-pass) and ``sr_layout="two_block"`` (EG3D's two
super-resolution blocks, 128 channels at 32² then 64 at 64², as the patched SR on EG3D's side;
before 2026-12-03 afternoon this project's side ran 128 channels at 64²). ``--bilinear`` adds rows with
``up_mode="bilinear"`` (bilinear 2x then a full-resolution 3x3 conv: the package presets, and
this preset before 2026-12-03), labelled ``geogen-bilinear``.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Run, Table, load, peak_rss_mb  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
KINDS = [("eg3d-code", "eg3d"), ("geogen", "eg3d"), ("geogen", "geogen")]


def _dataset(data: str | None, tmp: str):
    from geogen.training.data import ImageLabelDataset
    from geogen.training.synthetic import write_fake_dataset

    folder = data or write_fake_dataset(tmp, identities=4, views=4, resolution=64)
    return ImageLabelDataset(folder, 64, xflip=True)


def _timed(fn) -> tuple[float, float]:
    start, start_cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - start_cpu


def _params(module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e6


def _row(code, variant, B, first, r1, steps, interval, G, D) -> dict:
    wall = [w + r1[0] / interval for w, _ in steps]
    cpu = [c + r1[1] / interval for _, c in steps]
    return {"code": code, "variant": variant, "batch": B, "G_M": _params(G), "D_M": _params(D), "first_s": first,
            "r1_s": r1[0],
            "img_s": [B / t for t in wall], "cpu_img_s": [B / t for t in cpu], "peak_rss_gb": peak_rss_mb() / 1024}


def measure_geogen(variant: str, iters: int, data: str | None, seed: int, up_mode: str | None = None) -> dict:
    """This project's full iterations (``Trainer.train_step``; R1 timed alone, amortised)."""
    import dataclasses

    from geogen.training.trainer import Trainer
    from train_presets import configs

    mcfg, cfg = configs("eg3d-matched", variant, up_mode)
    cfg = dataclasses.replace(cfg, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, mcfg, _dataset(data, tmp))
        B, interval = cfg.loss.batch_size, cfg.loss.r1_interval
        first, _ = _timed(trainer.train_step)  # warm-up, includes the R1 step of iteration 0
        images, labels = trainer._next_batch()
        r1 = _timed(lambda: trainer.r1_step(images, labels, trainer.schedule()))
        steps = []
        for _ in range(iters):
            if trainer.progress.step % interval == 0:  # R1 is added amortised instead
                trainer.progress.step += 1
            steps.append(_timed(trainer.train_step))
        return _row("geogen", variant, B, first, r1, steps, interval, trainer.G, trainer.D)


def _eg3d_modules(eg3d: str):
    """Import EG3D from its folder and patch what must change to run on CPU at 64²."""
    sys.path.insert(0, str(Path(eg3d).resolve()))
    import dnnlib  # noqa: F401
    from torch_utils.ops import bias_act, conv2d_gradfix, filtered_lrelu, grid_sample_gradfix, upfirdn2d
    from training import networks_stylegan2, superresolution

    for op in (bias_act, upfirdn2d, filtered_lrelu):
        op._init = lambda: False  # never build a CUDA plugin; CPU tensors take the reference path
    conv2d_gradfix.enabled = True  # as training_loop.py sets them (their custom paths need CUDA tensors)
    grid_sample_gradfix.enabled = False

    class SuperresolutionHybrid2X64(superresolution.SuperresolutionHybrid2X):
        """EG3D's 2× super-resolution with its two blocks at 32² → 64² instead of 64² → 128²."""

        def __init__(self, channels, img_resolution, sr_num_fp16_res, sr_antialias, **kwargs):
            assert img_resolution == 64
            super().__init__(channels, 128, sr_num_fp16_res, sr_antialias, **kwargs)
            block = {k: v for k, v in kwargs.items() if k not in ("num_fp16_res", "conv_clamp", "channel_base",
                                                                  "channel_max")}
            fp16 = sr_num_fp16_res > 0
            clamp = 256 if fp16 else None
            self.input_resolution = 32
            self.block0 = superresolution.SynthesisBlockNoUp(channels, 128, w_dim=512, resolution=32, img_channels=3,
                                                             is_last=False, use_fp16=fp16, conv_clamp=clamp, **block)
            self.block1 = networks_stylegan2.SynthesisBlock(128, 64, w_dim=512, resolution=64, img_channels=3,
                                                            is_last=True, use_fp16=fp16, conv_clamp=clamp, **block)

        def forward(self, rgb, x, ws, **kwargs):
            return super().forward(rgb.clone(), x, ws, **kwargs)

    superresolution.SuperresolutionHybrid2X64 = SuperresolutionHybrid2X64


def measure_eg3d(eg3d: str, iters: int, data: str | None, seed: int) -> dict:
    """EG3D's networks and loss, stepped like training_loop.py at the matched settings."""
    import numpy as np
    import torch

    _eg3d_modules(eg3d)
    import dnnlib
    from torch_utils import misc
    from training.loss import StyleGAN2Loss

    np.random.seed(seed)
    torch.manual_seed(seed)
    B, cbase, cmax, r1_interval = 4, 4096, 128, 16
    rendering = dict(image_resolution=64, disparity_space_sampling=False, clamp_mode="softplus",
                     superresolution_module="training.superresolution.SuperresolutionHybrid2X64",
                     c_gen_conditioning_zero=False, gpc_reg_prob=0.5, c_scale=1, superresolution_noise_mode="none",
                     density_reg=0.0, density_reg_p_dist=0.004, reg_type="l1", decoder_lr_mul=1, sr_antialias=True,
                     depth_resolution=24, depth_resolution_importance=24, ray_start=2.25, ray_end=3.3, box_warp=1,
                     avg_camera_radius=2.7, avg_camera_pivot=[0, 0, 0.2])
    common = dict(c_dim=25, img_resolution=64, img_channels=3)
    G = dnnlib.util.construct_class_by_name(
        class_name="training.triplane.TriPlaneGenerator", z_dim=512, w_dim=512, mapping_kwargs={"num_layers": 2},
        channel_base=cbase, channel_max=cmax, fused_modconv_default="inference_only", rendering_kwargs=rendering,
        num_fp16_res=0, conv_clamp=None, sr_num_fp16_res=0,
        sr_kwargs=dict(channel_base=cbase, channel_max=cmax, fused_modconv_default="inference_only"), **common).train()
    D = dnnlib.util.construct_class_by_name(
        class_name="training.dual_discriminator.DualDiscriminator", channel_base=cbase, channel_max=cmax,
        num_fp16_res=0, conv_clamp=None, disc_c_noise=0, block_kwargs={"freeze_layers": 0}, mapping_kwargs={},
        epilogue_kwargs={"mbstd_group_size": 4}, **common).train()
    G_ema = __import__("copy").deepcopy(G).eval()
    for m in (G, D, G_ema):
        m.requires_grad_(False)
    device = torch.device("cpu")
    loss = StyleGAN2Loss(device, G, D, r1_gamma=1.0, blur_init_sigma=0, blur_fade_kimg=0,
                         neural_rendering_resolution_initial=32, gpc_reg_prob=0.5, gpc_reg_fade_kimg=12,
                         dual_discrimination=True, filter_mode="antialiased")
    phases = [dict(name="Gboth", module=G, opt=torch.optim.Adam(G.parameters(), lr=0.0025, betas=(0.0, 0.99), eps=1e-8),
                   interval=1)]
    ratio = r1_interval / (r1_interval + 1)
    d_opt = torch.optim.Adam(D.parameters(), lr=0.002 * ratio, betas=(0.0, 0.99 ** ratio), eps=1e-8)
    phases += [dict(name="Dmain", module=D, opt=d_opt, interval=1),
               dict(name="Dreg", module=D, opt=d_opt, interval=r1_interval)]
    ema_kimg, ema_rampup = B * 10 / 32, 0.05
    state = {"batch_idx": 0, "nimg": 0}

    with tempfile.TemporaryDirectory() as tmp:
        dataset = _dataset(data, tmp)
        rng = torch.Generator().manual_seed(seed)

        def batch(n):
            items = [dataset[int(i)] for i in torch.randint(len(dataset), (n,), generator=rng)]
            images = torch.stack([x[0] for x in items]).float()
            return images, torch.stack([torch.as_tensor(x[1]) for x in items]).float()

        def run_phase(phase, real_img, real_c, gen_z, gen_c):
            phase["opt"].zero_grad(set_to_none=True)
            phase["module"].requires_grad_(True)
            loss.accumulate_gradients(phase=phase["name"], real_img=real_img, real_c=real_c, gen_z=gen_z, gen_c=gen_c,
                                      gain=phase["interval"], cur_nimg=state["nimg"])
            phase["module"].requires_grad_(False)
            params = [p for p in phase["module"].parameters() if p.numel() > 0 and p.grad is not None]
            if params:
                flat = torch.cat([p.grad.flatten() for p in params])
                misc.nan_to_num(flat, nan=0, posinf=1e5, neginf=-1e5, out=flat)
                for p, g in zip(params, flat.split([p.numel() for p in params])):
                    p.grad = g.reshape(p.shape)
            phase["opt"].step()

        def iteration():
            real_img, real_c = batch(B)
            gen_z = torch.randn([len(phases) * B, G.z_dim]).split(B)
            gen_c = batch(len(phases) * B)[1].split(B)  # EG3D draws the fakes' cameras from dataset labels
            for phase, z, c in zip(phases, gen_z, gen_c):
                if state["batch_idx"] % phase["interval"] == 0:
                    run_phase(phase, real_img, real_c, z, c)
            with torch.no_grad():
                ema_nimg = min(ema_kimg * 1000, state["nimg"] * ema_rampup)
                beta = 0.5 ** (B / max(ema_nimg, 1e-8))
                for p_ema, p in zip(G_ema.parameters(), G.parameters()):
                    p_ema.copy_(p.lerp(p_ema, beta))
                for b_ema, b in zip(G_ema.buffers(), G.buffers()):
                    b_ema.copy_(b)
            state["batch_idx"] += 1
            state["nimg"] += B

        first, _ = _timed(iteration)  # warm-up, includes the Dreg (R1) phase of iteration 0
        real_img, real_c = batch(B)
        r1 = _timed(lambda: run_phase(phases[2], real_img, real_c, torch.randn(B, G.z_dim), real_c))
        steps = []
        for _ in range(iters):
            if state["batch_idx"] % r1_interval == 0:
                state["batch_idx"] += 1
            steps.append(_timed(iteration))
        return _row("eg3d-code", "eg3d", B, first, r1, steps, r1_interval, G, D)


def run_worker(code: str, variant: str, args) -> dict | None:
    cmd = [sys.executable, __file__, "--worker", code, variant, "--eg3d", str(args.eg3d), "--iters", str(args.iters),
           "--threads", str(args.threads), "--seed", str(args.seed)] + (["--data", args.data] if args.data else [])
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": str(REPO)}
    before = load()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    if proc.returncode != 0:
        print(f"{code}/{variant}: failed\n{proc.stderr[-3000:]}", file=sys.stderr)
        return None
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    row["load"] = f"{before}→{load()}"
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eg3d", required=True, help="EG3D's eg3d/ folder (git clone https://github.com/NVlabs/eg3d "
                                                  "→ eg3d/eg3d)")
    ap.add_argument("--eg3d-commit", default=None, help="EG3D's commit, printed in the header (default: git "
                                                          "rev-parse of --eg3d; give it for an exported tree)")
    ap.add_argument("--data", default=None, help="a 64² dataset folder (default: stand-in spheres)")
    ap.add_argument("--iters", type=int, default=2, help="timed iterations per process")
    ap.add_argument("--rounds", type=int, default=2, help="processes per kind, alternating")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eg3d-keep-freed-memory", action="store_true",
                    help="also time EG3D's code with keep_freed_memory(), the malloc setting this project's trainer uses")
    ap.add_argument("--bilinear", action="store_true",
                    help="also time this project with up_mode=bilinear (the package presets' upsampling)")
    ap.add_argument("--worker", nargs=2, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not (Path(args.eg3d) / "training" / "triplane.py").is_file():
        ap.exit(2, f"bench_eg3d.py: error: --eg3d {args.eg3d}: no training/triplane.py there "
                   "(pass EG3D's eg3d/ folder)\n")

    if args.worker:
        import torch

        torch.set_num_threads(args.threads)
        code, variant = args.worker
        if code == "eg3d-code+kfm":
            from geogen.model.runtime import keep_freed_memory

            keep_freed_memory()
        row = (measure_eg3d(args.eg3d, args.iters, args.data, args.seed) if code.startswith("eg3d-code")
               else measure_geogen(variant, args.iters, args.data, args.seed,
                                   "bilinear" if code == "geogen-bilinear" else None))
        row["code"] = code
        print(json.dumps(row))
        return

    eg3d_commit = args.eg3d_commit or subprocess.run(
        ["git", "-C", args.eg3d, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip() \
        or "unknown commit (not a git checkout: pass --eg3d-commit)"
    run = Run("bench_eg3d", f"EG3D ({args.eg3d}, {eg3d_commit}) vs this project at eg3d-matched settings; "
              f"{args.threads} thread(s), {args.iters} iterations × {args.rounds} round(s) per kind")
    table = Table(["code", "variant", "batch", "G / D params (M)", "full iteration img/s (min / median)",
                   "img/s per CPU second (min / median)", "R1 step s", "first iteration s", "peak RSS GB",
                   "load (1 min, before→after)"])
    results: dict[tuple, list[dict]] = {}
    kinds = KINDS + ([("eg3d-code+kfm", "eg3d")] if args.eg3d_keep_freed_memory else [])
    kinds += [("geogen-bilinear", "eg3d"), ("geogen-bilinear", "geogen")] if args.bilinear else []
    for rnd in range(args.rounds):
        for code, variant in (kinds if rnd % 2 == 0 else kinds[::-1]):
            r = run_worker(code, variant, args)
            if r is None:
                continue
            results.setdefault((code, variant), []).append(r)
            v, c = r["img_s"], r["cpu_img_s"]
            table.add(code, variant, r["batch"], f"{r['G_M']:.3f} / {r['D_M']:.3f}",
                      f"{min(v):.2f} / {statistics.median(v):.2f}",
                      f"{min(c):.2f} / {statistics.median(c):.2f}", f"{r['r1_s']:.2f}", f"{r['first_s']:.1f}",
                      f"{r['peak_rss_gb']:.2f}", r["load"])
    print()
    stats = {}
    for key, rows in results.items():
        v = [x for r in rows for x in r["img_s"]]
        c = [x for r in rows for x in r["cpu_img_s"]]
        stats[key] = (min(v), statistics.median(v), statistics.median(c), max(r["peak_rss_gb"] for r in rows))
    ref = stats.get(("eg3d-code", "eg3d"))
    table = Table(["code", "variant", "img/s min / median (all rounds)", "img/s per CPU s (median)", "peak RSS GB",
                   "÷ EG3D median", "÷ EG3D min", "÷ EG3D per CPU s"])
    for (code, variant), (lo, med, cpu, rss) in stats.items():
        ratios = [f"{med / ref[1]:.2f}", f"{lo / ref[0]:.2f}", f"{cpu / ref[2]:.2f}"] if ref else ["", "", ""]
        table.add(code, variant, f"{lo:.2f} / {med:.2f}", f"{cpu:.2f}", f"{rss:.2f}", *ratios)
    run.done()


if __name__ == "__main__":
    main()
