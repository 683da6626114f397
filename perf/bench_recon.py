"""Reconstruction speed and quality: seconds per stage and, on a dataset, pseudo-GT vs exact GT.

Two modes:

* **speed** (default): seconds per identity per stage (sparse, dense, fusion, Poisson) at 128² and
  256², 10 views. Scene: a synthetic textured sphere plus plane with masks, or with ``--dataset D``
  the first test identity of a dataset folder, resampled to each resolution. The ``source``
  column says whether a row is the dataset's own resolution or resampled (an upsampled row times
  that many pixels, but its images hold only the dataset's detail).
* **quality** (``--split val`` or ``--ids``): every identity of that split of ``--dataset D`` at
  its native resolution, scored against ``D/meshes/gt/<id>.ply`` with the benchmark protocol
  (:mod:`reconstruction.quality`); a row per identity (F@1%, Chamfer, accuracy, completeness,
  components before the largest was kept, watertight, seconds per stage) and median / mean.
  ``--set patchmatch.iterations=3`` overrides a config field (repeatable; the shared parser of
  every CLI). ``--maps DIR`` caches each identity's depth/normal maps; ``--reuse-maps`` then
  re-runs only fusion + Poisson on them (for sweeping fusion and meshing settings without redoing
  stereo).

Tune settings on the ``val`` (or ``train``) split; the ``test`` split is for the final figure.
Run: ``.venv/bin/python perf/bench_recon.py [--threads 1] [--preset tiny] [--dataset D [--split val]]``.
Timings on a shared CPU are pessimistic: the header prints the load average.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from dataset import format as layout
from dataset.recon_views import render_recon_views
from harness import Run, Table  # perf/, the script's folder
import reconstruction  # noqa: F401  (loads Pillow before pycolmap)
from reconstruction.config import ReconConfig, make_recon_config
from reconstruction.pipeline import DepthMaps, ReconstructionFailure, estimate_maps, mesh_from_maps, reconstruct_scene
from reconstruction.pseudo_gt import dataset_config_of, identity_inputs
from reconstruction.scene import DEFAULT_BOUNDS, MVSScene, View, read_transforms, read_transforms_files
from reconstruction.synthetic import Sphere, Square, make_scene


def dataset_scene(dataset: str, resolution: int) -> tuple[MVSScene, str]:
    from PIL import Image

    from geogen.common.cameras import Camera

    root = Path(dataset)
    ident = _first_test_id(dataset)
    scene = read_transforms(root / layout.transforms(ident))
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


def speed(args) -> None:
    """Seconds per stage at each resolution; with a dataset also F@1% and Chamfer against its exact GT."""
    table = Table(["res", "sparse s", "dense s", "fusion s", "poisson s", "total s", "fused pts", "faces", "F@1%",
                   "chamfer", "source"])
    for res in [int(r) for r in args.resolutions.split(",")]:
        source, fscore, chamfer = "synthetic", "–", "–"
        if args.dataset:
            scene, source = dataset_scene(args.dataset, res)
        else:
            scene, _, _ = make_scene([Sphere(centre=(0.0, 0.05, 0.0), radius=0.25),
                                      Square(centre=(0.0, -0.2, -0.3), size=0.6)], n_views=args.views, resolution=res,
                                     with_masks=True)
        cfg = make_recon_config(args.preset, args.set, num_threads=args.threads)
        t0 = time.perf_counter()
        result = reconstruct_scene(scene, cfg)
        total = time.perf_counter() - t0
        if args.dataset:
            q = _quality(Path(args.dataset), _first_test_id(args.dataset), result)
            fscore, chamfer = f"{q['fscore@0.01']:.3f}", f"{q['chamfer_l1']:.4f}"
        t = result.timings
        table.add(res, f"{t['sparse']:.1f}", f"{t['dense']:.1f}", f"{t['fusion']:.1f}", f"{t['poisson']:.1f}",
                  f"{total:.1f}", result.stats["fused_points"], result.stats["mesh_faces"], fscore, chamfer, source)


def _first_test_id(dataset: str) -> str:
    return json.loads((Path(dataset) / layout.MANIFEST).read_text())["split"]["test"][0]


def _quality(root: Path, ident: str, result) -> dict:
    import trimesh

    from geogen.common.meshio import load_mesh
    from reconstruction.quality import mesh_quality

    pred = trimesh.Trimesh(result.vertices, result.faces, process=False)
    return mesh_quality(pred, load_mesh(root / layout.gt_mesh(ident)), ident)


def _maps_path(folder: str, ident: str) -> Path:
    return Path(folder) / f"{ident}.npz"


def _save_maps(path: Path, maps: DepthMaps, timings: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, depths=np.stack(maps.depths), normals=np.stack(maps.normals_cam),
                        lo=maps.bounds[0], hi=maps.bounds[1], sparse_ok=maps.sparse_ok,
                        sparse_s=timings.get("sparse", 0.0), dense_s=timings.get("dense", 0.0))
    os.replace(tmp, path)


def _load_maps(path: Path, scene: MVSScene, cfg: ReconConfig) -> tuple[DepthMaps, dict]:
    """Cached maps; the visual hull is carved again when the meshing uses it (``hull_fill``)."""
    from reconstruction.hull import carve
    from reconstruction.meshing import Hull

    z = np.load(path)
    bounds = (z["lo"], z["hi"])
    hull = None
    if (cfg.meshing.hull_fill > 0 or cfg.meshing.floor_extrude > 0) and cfg.use_masks and any(v.mask is not None for v in scene.views):
        hull = Hull(carve(scene, bounds, cfg.hull_resolution), np.asarray(bounds[0]), np.asarray(bounds[1]))
    maps = DepthMaps(list(z["depths"]), list(z["normals"]), bounds, bool(z["sparse_ok"]), hull)
    return maps, {"sparse": float(z["sparse_s"]), "dense": float(z["dense_s"])}


def quality(args) -> None:
    root = Path(args.dataset)
    split = json.loads((root / layout.MANIFEST).read_text())["split"]
    ids = args.ids.split(",") if args.ids else list(split[args.split])
    if args.limit:
        ids = ids[:args.limit]
    cfg = make_recon_config(args.preset, args.set, num_threads=args.threads)
    dataset_config = dataset_config_of(root)
    if args.recon_views:  # the pseudo-GT's extra views, rendered once (committed per identity, reused)
        render_recon_views(root, dataset_config, [int(i) for i in ids], args.recon_views, args.recon_resolution,
                           log=lambda m: None)
    print(f"identities: {', '.join(ids)} ({args.split if not args.ids else 'given'}); overrides: {args.set or 'none'}"
          f"{'; stereo maps reused from ' + args.maps if args.reuse_maps else ''}")
    cols = ("views", "F@1%", "F@2%", "chamfer", "acc", "comp", "comps", "wt", "sparse", "dense", "fusion", "poisson",
            "total")
    table = Table(["id", *cols])
    rows = []
    for ident in ids:
        # the pseudo-GT's own inputs: the training views, plus recon views rendered for this identity
        transforms = (identity_inputs(root, ident, dataset_config)[0] if args.recon_views
                      else [root / layout.transforms(ident)])
        scene = read_transforms_files(transforms, use_masks=cfg.use_masks, root=root)
        scene.bounds = DEFAULT_BOUNDS
        timings, stats = {}, {"notes": [], "warnings": []}
        t0 = time.perf_counter()
        try:
            if args.reuse_maps:
                maps, timings = _load_maps(_maps_path(args.maps, ident), scene, cfg)
            else:
                maps = estimate_maps(scene, cfg, timings, stats)
                if args.maps:
                    _save_maps(_maps_path(args.maps, ident), maps, timings)
            result = mesh_from_maps(scene, maps, cfg, timings, stats)
        except ReconstructionFailure as exc:
            table.add(ident, f"failed: {exc.reason}", *[""] * (len(cols) - 1))
            continue
        t = dict(result.timings)
        t["total"] = (time.perf_counter() - t0) + (t["sparse"] + t["dense"] if args.reuse_maps else 0.0)
        if args.write_meshes:
            from geogen.common.meshio import save_ply

            save_ply(Path(args.write_meshes) / f"{ident}.ply", result.vertices, result.faces)
        q = _quality(root, ident, result)
        row = {"views": len(scene.views), "F@1%": q["fscore@0.01"], "F@2%": q["fscore@0.02"], "chamfer": q["chamfer_l1"], "acc": q["accuracy"],
               "comp": q["completeness"], "comps": stats.get("mesh_components", 1),
               "wt": int(bool(stats.get("watertight"))),
               **{k: t.get(k, 0.0) for k in ("sparse", "dense", "fusion", "poisson", "total")}}
        rows.append(row)
        table.add(ident, *(_fmt(c, row[c]) for c in cols))
    if rows:
        for name, fn in (("median", np.median), ("mean", np.mean)):
            table.add(name, *(_fmt(c, float(fn([r[c] for r in rows]))) for c in cols))


def _fmt(col: str, v: float) -> str:
    if col in ("F@1%", "F@2%"):
        return f"{v:.3f}"
    if col in ("chamfer", "acc", "comp"):
        return f"{v:.4f}"
    if col in ("views", "comps", "wt"):
        return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"
    return f"{v:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)  # 2 threads on a busy 2-core CPU was 10x slower
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--resolutions", default="128,256")
    ap.add_argument("--views", type=int, default=10)
    ap.add_argument("--dataset", default=None, help="dataset folder (speed: its first test identity)")
    ap.add_argument("--split", default=None, help="quality mode: score every identity of this split (val, train, test)")
    ap.add_argument("--ids", default=None, help="quality mode: comma-separated identities instead of a split")
    ap.add_argument("--limit", type=int, default=0, help="quality mode: only the first N identities")
    ap.add_argument("--set", action="append", default=[], help="config override section.field=value (repeatable)")
    ap.add_argument("--maps", default=None, help="quality mode: cache folder for depth/normal maps")
    ap.add_argument("--reuse-maps", action="store_true", help="quality mode: fusion + Poisson on the cached maps only")
    ap.add_argument("--recon-views", type=int, default=0,
                    help="quality mode: render N extra views per identity (D/recon_views/) and reconstruct from them "
                         "with the training views, as the pseudo-GT does by default (0: the training views alone)")
    ap.add_argument("--recon-resolution", type=int, default=None,
                    help="quality mode: their size (default: the dataset's; another size replaces the training views)")
    ap.add_argument("--write-meshes", default=None, help="quality mode: also save each mesh as DIR/<id>.ply")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    run = Run("bench_recon", f"device {device}, preset {args.preset}, scene: "
              f"{'dataset ' + args.dataset if args.dataset else 'synthetic sphere + plane'}")
    if args.split or args.ids:
        if not args.dataset:
            ap.error("--split/--ids need --dataset")
        if args.reuse_maps and not args.maps:
            ap.error("--reuse-maps needs --maps DIR")
        quality(args)
    else:
        speed(args)
    run.done("timings depend on load; quality does not")


if __name__ == "__main__":
    main()
