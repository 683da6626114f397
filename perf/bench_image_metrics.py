"""Cost of the generation metrics and a sanity figure for ID; prints a table.

    python perf/bench_image_metrics.py [--data D] [--model geogen.pkl] [--n 1000]

- Inception-v3 (FID variant) seconds per image (random non-standard weights: the cost does not
  depend on the weights), FID from N×2048 features (d×d path) and KID (100 subsets × 1000);
- dlib face embedding seconds per face;
- with --model: generator seconds per image;
- with --data: ID of the dataset itself — mean cosine between two near-frontal views (|azimuth|
  < 35°) of the same identity, and between views of different identities. The gap shows how
  much the dlib embedding separates identities on these renders.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import numpy as np

from harness import Run  # perf/, the script's folder


def timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t


def dataset_id(data: Path, embedder) -> tuple[float, float, int]:
    from dataset.format import Dataset
    from benchmark.face_id import cosine, face_box
    from benchmark.run import read_image

    ds = Dataset(data)
    split = ds.manifest["split"]
    per_id = {}
    for sid in split.get("train", []) + split["test"]:
        for v in ds.views(sid):
            x, _, z = v.camera.c2w[:3, 3]
            if abs(np.degrees(np.arctan2(x, z))) < 35:
                per_id.setdefault(sid, []).append(embedder.embed(read_image(v.image_path), face_box(v.camera)))
    same = [cosine(a, b) for e in per_id.values() for a, b in itertools.combinations(e, 2)]
    diff = [cosine(per_id[a][0], per_id[b][0]) for a, b in itertools.combinations(list(per_id), 2)]
    return float(np.mean(same)), float(np.mean(diff)), len(per_id)


def main() -> None:
    import torch

    from benchmark.face_id import load_face_embedder
    from benchmark.fid import fid_from_features, kid_from_features
    from benchmark.inception import inception_features, load_inception, random_inception_weights

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path)
    ap.add_argument("--model", type=Path)
    ap.add_argument("--n", type=int, default=1000, help="feature count for the FID/KID timing")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    run = Run("bench_image_metrics", f"N = {args.n}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        net, _ = load_inception(random_inception_weights(Path(tmp) / "w.pth"), allow_nonstandard=True)
    imgs = np.random.default_rng(0).integers(0, 256, (16, 128, 128, 3), dtype=np.uint8)
    inception_features(net, imgs[:2])  # warm-up
    _, t = timed(inception_features, net, imgs, batch=16)
    rows.append(("Inception-v3 features (batch 16, 299²)", f"{t / 16:.3f} s/image"))
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(args.n, 2048)), rng.normal(size=(args.n, 2048)) + 0.1
    _, t = timed(fid_from_features, a, b)
    rows.append((f"FID from {args.n}×2048 features", f"{t:.2f} s"))
    _, t = timed(kid_from_features, a, b)
    rows.append((f"KID 100 subsets × {min(1000, args.n)}", f"{t:.2f} s"))
    embedder, status = load_face_embedder()
    if embedder is None:
        rows.append(("dlib face embedding", status["reason"]))
    else:
        _, t = timed(lambda: [embedder.embed(imgs[i], (30, 30, 98, 98)) for i in range(8)])
        rows.append(("dlib face embedding (5 landmarks + ResNet)", f"{t / 8:.3f} s/face"))
    if args.model:
        from benchmark.generation import ImageProtocol, generated_images
        from geogen.model.io import load_model_file
        from geogen.model.render_views import orbit_labels

        G, cfg, meta = load_model_file(args.model)
        proto = ImageProtocol(samples=8)
        _, t = timed(lambda: list(generated_images(G, orbit_labels(8, meta.get("camera")), proto, "cpu")))
        rows.append((f"generator {cfg.image_resolution}² ({args.model.name})", f"{t / 8:.3f} s/image"))
    if args.data and embedder is not None:
        same, diff, n = dataset_id(args.data, embedder)
        rows.append((f"dataset ID, same identity ({n} identities, |az| < 35°)", f"{same:.4f}"))
        rows.append(("dataset ID, different identities", f"{diff:.4f}"))
    run.table([{"measure": name, "value": value} for name, value in rows])
    run.done()


if __name__ == "__main__":
    main()
