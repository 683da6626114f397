"""The GPU check of issue 12: one script a lent GPU machine runs end to end (< 8 min on one GPU).

    python perf/gpu_check.py --out $OUT/gpu_check.json          # on the GPU machine
    python perf/gpu_check.py --device cpu --quick --out /tmp/g.json   # CPU smoke run (tests)

It measures, on one device:

1. agreement: one forward/backward of the tiny model (fixed noise, no ray jitter) on the device
   and on the CPU — max |Δ| of the image and relative difference of the gradients;
2. training: images/s and peak memory of full iterations (``Trainer.train_step``, lazy R1
   included at its interval) of the ``small`` and ``paper`` presets, per variant, after warm-up;
3. PTI seconds per identity at the ``paper`` inversion preset (450 + 350 steps), untrained
   generator (speed does not depend on the weights);
4. mesh extraction of one latent at 256³;
5. the extrapolated GPU-days of ``make experiment-paper`` (scripts/reproduce.py's ``paper``
   experiment: 3 variants × 25,000 kimg, then PTI + a 256³ mesh for 198 test identities for
   each milestone model of each variant) from those numbers.

It writes one JSON file and a Markdown table beside it (same name, ``.md``) and prints the table.
``--quick`` shrinks everything (tiny preset, batch 2, one iteration, 1 + 1 PTI steps, 32³ mesh,
one thread) so the CPU smoke test stays short; its numbers say nothing about speed. Nothing is downloaded: a
stand-in dataset of spheres is written to a temporary folder. ``--max-seconds`` skips what is
left once the budget is spent (recorded as skipped) so a lease is never overrun.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from geogen.common.atomic import atomic_write_json, atomic_write_text  # noqa: E402
from geogen.model.config import variant_names  # noqa: E402
from harness import machine, markdown as table, peak_rss_mb  # noqa: E402

VARIANTS = variant_names()   # the registered model variants
PAPER = {"kimg": 25000.0, "milestone_kimg": 5000.0, "test_identities": 198}  # scripts/reproduce.py EXPERIMENTS


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--device", default="cuda", help="torch device to check (cuda, cuda:N, cpu)")
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run, not a measurement")
    p.add_argument("--presets", nargs="+", default=["small", "paper"], help="training presets to time")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    p.add_argument("--iters", type=int, default=24, help="timed training iterations per preset × variant")
    p.add_argument("--warmup", type=int, default=3, help="untimed iterations first (allocator, cuDNN autotune)")
    p.add_argument("--batch", type=int, default=None, help="global batch (default: the preset's)")
    p.add_argument("--mesh-resolution", type=int, default=256)
    p.add_argument("--max-seconds", type=float, default=420.0, help="skip the remaining parts after this long")
    p.add_argument("--out", type=Path, default=Path("gpu_check.json"), help="JSON result (table: same name .md)")
    args = p.parse_args(argv)
    if args.quick:
        args.presets, args.iters, args.warmup, args.mesh_resolution, args.batch = ["tiny"], 1, 0, 32, 2
        torch.set_num_threads(1)
    return args


class Clock:
    """Wall time of a device (synchronised on CUDA) and the run's time budget."""

    def __init__(self, device: torch.device, budget: float):
        self.device, self.budget, self.start = device, budget, time.perf_counter()

    def now(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def spent(self) -> bool:
        return time.perf_counter() - self.start > self.budget


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_gb(device: torch.device) -> float:
    """Peak GPU memory allocated since the last reset; on CPU the process's peak RSS so far."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return peak_rss_mb() / 1024


# ----------------------------------------------------------------------------------- parts
def front_label() -> torch.Tensor:
    """(1, 25) camera label of a frontal view at the dataset's default radius and focal length."""
    from geogen.common.cameras import normalized_intrinsics, spherical_cam2world, to_label

    return torch.tensor([to_label(spherical_cam2world(0.0, 5.0), normalized_intrinsics())], dtype=torch.float32)


def agreement(device: torch.device) -> dict:
    """One forward/backward of the tiny model on ``device`` and on the CPU, same weights and inputs."""
    from geogen.model.config import model_config
    from geogen.model.generator import Generator

    cfg = model_config("tiny", "geogen")
    torch.manual_seed(0)
    G = Generator(cfg).eval()
    z = torch.randn(2, cfg.z_dim, generator=torch.Generator().manual_seed(1))
    c = front_label().expand(2, -1)

    def run(dev):
        net = G.to(dev)
        net.zero_grad(set_to_none=True)
        out = net.synthesis(net.mapping(z.to(dev), c.to(dev)), c.to(dev), noise_mode="const")
        (out["image"].square().mean() + out["image_raw"].mean()).backward()
        grads = {k: p.grad.detach().cpu().clone() for k, p in net.named_parameters() if p.grad is not None}
        return out["image"].detach().cpu(), grads

    img_cpu, g_cpu = run(torch.device("cpu"))
    img_dev, g_dev = run(device)
    G.to("cpu")
    rel = max(((g_dev[k] - g_cpu[k]).norm() / g_cpu[k].norm().clamp_min(1e-12)).item() for k in g_cpu)
    return {"compared_with": "cpu", "same_device": device.type == "cpu",
            "image_max_abs_diff": float((img_dev - img_cpu).abs().max()), "grad_max_rel_diff": float(rel),
            "tf32": bool(device.type == "cuda" and torch.backends.cuda.matmul.allow_tf32)}


def training(preset: str, variant: str, device: torch.device, iters: int, warmup: int, clock: Clock,
             batch: int | None = None) -> dict:
    """img/s and peak memory of ``iters`` full training iterations of ``preset`` / ``variant``."""
    from dataclasses import replace

    from geogen.model.config import model_config
    from geogen.training.config import train_config
    from geogen.training.data import ImageLabelDataset
    from geogen.training.distributed import DistContext
    from geogen.training.synthetic import write_fake_dataset
    from geogen.training.trainer import Trainer

    mcfg, cfg = model_config(preset, variant), train_config(preset, variant)
    if batch is not None:
        cfg = replace(cfg, loss=replace(cfg.loss, batch_size=batch))
    with tempfile.TemporaryDirectory() as tmp:
        data = write_fake_dataset(tmp, identities=4, views=4, resolution=mcfg.image_resolution)
        reset_peak(device)
        trainer = Trainer(cfg, mcfg, ImageLabelDataset(data, mcfg.image_resolution, xflip=True),
                          DistContext(device=device))
        for _ in range(warmup):
            trainer.train_step()
        start = clock.now()
        for _ in range(iters):
            trainer.train_step()
        seconds = clock.now() - start
    batch = cfg.loss.batch_size
    return {"preset": preset, "variant": variant, "batch": batch, "iters": iters,
            "img_per_s": batch * iters / seconds, "s_per_kimg": seconds / (batch * iters) * 1000,
            "peak_gb": peak_gb(device)}


def pti_and_mesh(device: torch.device, quick: bool, mesh_resolution: int, clock: Clock) -> dict:
    """Seconds of one PTI inversion (one view) and of one mesh extraction, paper-size generator."""
    from dataclasses import replace

    from benchmark.pti import PTI_PRESETS, ImageLoss, invert
    from geogen.model.config import model_config
    from geogen.model.generator import Generator
    from geogen.model.mesh import extract_mesh

    preset = "tiny" if quick else "paper"
    pti = replace(PTI_PRESETS["tiny"], steps_w=1, steps_g=1, w_avg_samples=4) if quick else PTI_PRESETS["paper"]
    cfg = model_config(preset, "geogen")
    torch.manual_seed(0)
    G = Generator(cfg).to(device).eval()
    res = cfg.image_resolution
    target = torch.rand(1, 3, res, res, generator=torch.Generator().manual_seed(0)).to(device) * 2 - 1
    cam = front_label().to(device)
    reset_peak(device)
    start = clock.now()
    G_tuned, ws, _ = invert(G, target, cam, pti, ImageLoss(None))
    pti_s = clock.now() - start
    pti_peak = peak_gb(device)
    start = clock.now()
    vertices, faces = extract_mesh(G_tuned, ws, resolution=mesh_resolution)
    mesh_s = clock.now() - start
    return {"model_preset": preset, "pti_steps": [pti.steps_w, pti.steps_g], "pti_s_per_identity": pti_s,
            "pti_peak_gb": pti_peak, "loss": "mse (LPIPS weights are not on the machine)",
            "mesh_resolution": mesh_resolution, "mesh_s": mesh_s, "mesh_faces": int(len(faces))}


def extrapolate(train_rows: list[dict], pti: dict | None) -> dict:
    """GPU-days of the paper experiment on this GPU kind, assuming linear scaling over GPUs."""
    paper = {r["variant"]: r for r in train_rows if r["preset"] == "paper" and "img_per_s" in r}
    out = {"assumes": "linear scaling over GPUs (torchrun); the dataset build and pseudo-GT run on CPUs"}
    if len(paper) == len(VARIANTS):
        out["train_gpu_days"] = sum(PAPER["kimg"] * 1000 / r["img_per_s"] for r in paper.values()) / 86400
    if pti is not None and pti.get("model_preset") == "paper":
        models = len(VARIANTS) * int(PAPER["kimg"] / PAPER["milestone_kimg"])
        per_id = pti["pti_s_per_identity"] + pti["mesh_s"]
        out["benchmark_gpu_days"] = models * PAPER["test_identities"] * per_id / 86400
    if "train_gpu_days" in out and "benchmark_gpu_days" in out:
        out["total_gpu_days"] = out["train_gpu_days"] + out["benchmark_gpu_days"]
    return out


# ----------------------------------------------------------------------------------- report
def markdown(doc: dict) -> str:
    lines = [f"# GPU check — {doc['device_name']} (torch {doc['torch']}, {doc['seconds']:.0f} s"
             + (", --quick: not a measurement" if doc["quick"] else "") + ")", ""]
    m = doc.get("machine")
    if m:
        lines += [f"{m['time']}, commit {m['commit']}, {m['cpus']} CPUs, load {m['load']}", ""]
    a = doc.get("agreement")
    if a and "error" in a:
        lines += [f"agreement: failed ({a['error']})", ""]
    elif a:
        measure = "agreement (tiny model, one forward/backward)"
        lines += [table([{measure: "image max abs diff vs CPU", "value": f"{a['image_max_abs_diff']:.3g}"},
                         {measure: "gradient max relative diff vs CPU", "value": f"{a['grad_max_rel_diff']:.3g}"}]),
                  ""]
    rows = []
    for r in doc["training"]:
        if "img_per_s" in r:
            rows.append({"preset": r["preset"], "variant": r["variant"], "batch": r["batch"],
                         "img/s": f"{r['img_per_s']:.2f}", "s/kimg": f"{r['s_per_kimg']:.1f}",
                         "peak GB": f"{r['peak_gb']:.2f}"})
        else:
            rows.append({"preset": r["preset"], "variant": r["variant"], "batch": "–",
                         "img/s": r.get("skipped") or r.get("error")})
    lines.append(table(rows, ["preset", "variant", "batch", "img/s", "s/kimg", "peak GB"]))
    p = doc.get("pti_mesh")
    if p and "error" in p:
        lines += ["", f"PTI and mesh: failed ({p['error']})"]
    elif p:
        lines += ["", table([{"PTI (steps w+g)": f"{p['model_preset']} ({p['pti_steps'][0]}+{p['pti_steps'][1]})",
                              "s/identity": f"{p['pti_s_per_identity']:.1f}", "peak GB": f"{p['pti_peak_gb']:.2f}",
                              "mesh": f"{p['mesh_resolution']}³", "s": f"{p['mesh_s']:.2f}"}])]
    e = doc.get("extrapolation", {})
    if "total_gpu_days" in e:
        lines += ["", f"make experiment-paper ≈ {e['total_gpu_days']:.1f} GPU-days on this GPU "
                      f"(training {e['train_gpu_days']:.1f}, benchmark {e['benchmark_gpu_days']:.1f}; {e['assumes']})"]
    return "\n".join(lines) + "\n"


def attempt(fn, *args) -> dict:
    """``fn(*args)``, or ``{"error": ...}`` if it fails: one broken part must not lose the others'
    numbers on a one-shot GPU lease (the traceback goes to stderr for the log)."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - recorded, and the check goes on
        import traceback

        traceback.print_exc()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return {"error": f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300]}


def main(argv=None) -> dict:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but no CUDA GPU is visible; use --device cpu --quick for the smoke run",
              file=sys.stderr)
        sys.exit(2)
    clock = Clock(device, args.max_seconds)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    doc = {"device": str(device), "device_name": name, "torch": torch.__version__, "quick": args.quick,
           "machine": machine(), "agreement": attempt(agreement, device), "training": []}
    for preset in args.presets:
        for variant in args.variants:
            if clock.spent():
                doc["training"].append({"preset": preset, "variant": variant, "skipped": "time budget spent"})
                continue
            row = attempt(training, preset, variant, device, args.iters, args.warmup, clock, args.batch)
            doc["training"].append({"preset": preset, "variant": variant, **row})
            print(json.dumps(doc["training"][-1]), flush=True)
    doc["pti_mesh"] = None if clock.spent() else attempt(pti_and_mesh, device, args.quick, args.mesh_resolution,
                                                          clock)
    doc["extrapolation"] = extrapolate(doc["training"], doc["pti_mesh"])
    doc["seconds"] = time.perf_counter() - clock.start
    atomic_write_json(args.out, doc)
    table = markdown(doc)
    atomic_write_text(args.out.with_suffix(".md"), table)
    print(table)
    return doc


if __name__ == "__main__":
    main()
