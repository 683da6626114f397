"""Does torch.compile pay back on CPU? Compile time and steady state of the tri-plane backbone.

    OMP_NUM_THREADS=1 .venv/bin/python perf/bench_compile.py [--preset eg3d-matched] [--reps 3]

Times the backbone (``G.backbone``, the largest part of a training iteration at eg3d-matched
settings) eagerly and under ``torch.compile`` (inductor, C++ code generated with the machine's
gcc; ``fallback_random`` so the noise draws are eager's), forward + backward and forward without
gradients: the first call (compilation included) and the mean CPU seconds of ``--reps`` further
calls. Each mode runs in its own process (a fresh compile cache directory), one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Run, Table, load  # noqa: E402
from train_presets import BENCH_PRESETS, configs  # noqa: E402


def measure(preset: str, mode: str, reps: int) -> dict:
    import torch

    from geogen.model import Generator

    torch.set_num_threads(1)
    torch.manual_seed(0)
    mcfg, tcfg = configs(preset, "eg3d")
    G = Generator(mcfg).train()
    B = tcfg.loss.batch_size
    ws = torch.randn(B, G.num_ws, mcfg.w_dim, requires_grad=True)
    backbone = G.backbone
    if mode == "compile":
        import torch._inductor.config as inductor_config

        inductor_config.fallback_random = True
        backbone = torch.compile(G.backbone)
    out = {"mode": mode}

    def fwd_bwd():
        backbone(ws, noise_mode="random").sum().backward()

    def fwd():
        with torch.no_grad():
            backbone(ws, noise_mode="random")

    for name, fn in (("fwd_bwd", fwd_bwd), ("fwd", fwd)):
        start = time.perf_counter()
        fn()
        out[f"{name}_first_s"] = time.perf_counter() - start
        start = time.process_time()
        for _ in range(reps):
            fn()
        out[f"{name}_cpu_s"] = (time.process_time() - start) / reps
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="eg3d-matched", choices=BENCH_PRESETS)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(measure(args.preset, args.worker, args.reps)))
        return
    run = Run("bench_compile", f"preset {args.preset}, backbone only, batch of the preset, 1 thread")
    table = Table(["mode", "fwd+bwd first call s", "fwd+bwd CPU s", "fwd (no grad) first call s", "fwd CPU s",
                   "load before→after"])
    for mode in ("eager", "compile"):
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "OMP_NUM_THREADS": "1", "TORCHINDUCTOR_CACHE_DIR": cache}
            before = load()
            proc = subprocess.run([sys.executable, __file__, "--worker", mode, "--preset", args.preset,
                                   "--reps", str(args.reps)], capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            print(f"{mode}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        table.add(mode, f"{r['fwd_bwd_first_s']:.1f}", f"{r['fwd_bwd_cpu_s']:.2f}", f"{r['fwd_first_s']:.1f}",
                  f"{r['fwd_cpu_s']:.2f}", f"{before}→{load()}")
    run.done()


if __name__ == "__main__":
    main()
