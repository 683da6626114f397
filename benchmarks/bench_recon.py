"""Seconds per identity per reconstruction stage (sparse, dense, fusion, Poisson) at 128² and 256², 10 views.

Scene: by default a synthetic textured sphere plus a textured plane with masks (no dataset needed);
with ``--dataset D`` the first test identity of a dataset folder, resampled to each resolution. The
``source`` column says whether a row is the dataset's own resolution or its renders resampled
(an upsampled row times that many pixels, but its images hold only the dataset's detail: build
the dataset at that resolution for a true figure).
Run: ``.venv/bin/python benchmarks/bench_recon.py [--threads 1] [--preset tiny] [--dataset D]``.
Timings on a shared CPU are pessimistic; the table says which device ran them.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import reconstruction  # noqa: F401  (loads Pillow before pycolmap)
from reconstruction.config import make_recon_config
from reconstruction.pipeline import reconstruct_scene
from reconstruction.scene import DEFAULT_BOUNDS, MVSScene, View, read_transforms
from reconstruction.synthetic import Sphere, Square, make_scene


def dataset_scene(dataset: str, resolution: int) -> tuple[MVSScene, str]:
    import json
    from pathlib import Path

    from PIL import Image

    from geogen.common.cameras import Camera

    root = Path(dataset)
    ident = json.loads((root / "manifest.json").read_text())["split"]["test"][0]
    scene = read_transforms(root / "identities" / ident / "transforms.json")
    views = []
    for v in scene.views:
        img = Image.fromarray(np.round(v.image * 255).astype(np.uint8)).resize((resolution, resolution), Image.BICUBIC)
        mask = None
        if v.mask is not None:
            mask = np.asarray(Image.fromarray(v.mask).resize((resolution, resolution), Image.NEAREST))
        cam = Camera(v.camera.c2w, v.camera.K_norm, resolution, resolution)
        views.append(View(v.name, np.asarray(img, np.float32) / 255, cam, mask))
    native = scene.size[0]
    source = "native" if native == resolution else (
        f"{'up' if resolution > native else 'down'}sampled from {native}")
    return MVSScene(views, DEFAULT_BOUNDS), source


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=1)  # 2 threads on a busy 2-core CPU was 10x slower
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--resolutions", default="128,256")
    ap.add_argument("--views", type=int, default=10)
    ap.add_argument("--dataset", default=None, help="use the first test identity of this dataset folder")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"device: {device}, torch threads: {args.threads}, preset: {args.preset}, views: {args.views}"
          f", scene: {'dataset ' + args.dataset if args.dataset else 'synthetic textured sphere + plane'}")
    print(f"{'res':>5} {'sparse s':>9} {'dense s':>8} {'fusion s':>9} {'poisson s':>10} {'total s':>8} "
          f"{'fused pts':>10} {'faces':>8}  source")
    for res in [int(r) for r in args.resolutions.split(",")]:
        source = "synthetic"
        if args.dataset:
            scene, source = dataset_scene(args.dataset, res)
        else:
            scene, _, _ = make_scene([Sphere(centre=(0.0, 0.05, 0.0), radius=0.25),
                                      Square(centre=(0.0, -0.2, -0.3), size=0.6)], n_views=args.views, resolution=res,
                                     with_masks=True)
        cfg = make_recon_config(args.preset, num_threads=args.threads)
        t0 = time.perf_counter()
        result = reconstruct_scene(scene, cfg)
        total = time.perf_counter() - t0
        t = result.timings
        print(f"{res:>5} {t['sparse']:>9.1f} {t['dense']:>8.1f} {t['fusion']:>9.1f} {t['poisson']:>10.1f} "
              f"{total:>8.1f} {result.stats['fused_points']:>10} {result.stats['mesh_faces']:>8}  {source}", flush=True)


if __name__ == "__main__":
    main()
