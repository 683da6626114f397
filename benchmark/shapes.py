"""Shape-distribution metrics of a generator (PointFlow / LION): COV, MMD and 1-NNA.

``geogen-bench shapes`` extracts K sample meshes (the mesh code path of ``geogen-gen``) and
compares the set with the GT meshes of a split (test; and train) under the protocol's Chamfer:

- D(X, Y) = ½ (mean_{x} d(x, Y) + mean_{y} d(y, X)) on n_points area-uniform surface samples of
  each shape, all shapes in one frame (centred on the union box of the GT meshes, divided by the
  median GT bounding-box diagonal of the scored split) and cropped to the union GT box grown by
  ``crop_margin``. One frame for every shape keeps D symmetric, which a per-pair GT box cannot.
- COV = |{argmin_{Y∈R} D(X, Y) : X ∈ S}| / |R|: the fraction of reference shapes that are the
  nearest reference of some sample (↑; low = mode collapse).
- MMD = mean_{Y∈R} min_{X∈S} D(X, Y): how close the closest sample comes to each reference (↓).
- 1-NNA: leave-one-out 1-nearest-neighbour classification of S ∪ R (a shape counts as right
  when its nearest other shape comes from its own set; a tie counts ½); 50 % = the sets cannot
  be told apart, 100 % = fully separated, well below 50 % = samples sit on reference shapes
  (memorisation).

All three on equal-size sets (:func:`set_metrics`); by default K = the largest reference split.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import trimesh
from scipy.spatial import cKDTree
from tqdm import tqdm

from geogen.common.atomic import atomic_write_json, atomic_write_text, ensure_writable_dir, sha256_file
from geogen.common.errors import UserError
from geogen.common.meshio import load_mesh, save_ply
from geogen.common.seeding import rng_for
from dataset.format import Dataset

from .geometry import crop_to_box, sample_surface
from .metrics import sample_key
from .protocol import GT_KINDS
from .provenance import provenance

SHAPES_SCHEMA = "geogen-bench-shapes"
SHAPES_SCHEMA_VERSION = 1
SHAPES_PROTOCOL_VERSION = "geogen-shapes-1"
SET_METRICS = {
    "cov": (True, "|{argmin_{Y∈R} D(X,Y) : X∈S}| / |R|"),
    "mmd": (False, "mean_{Y∈R} min_{X∈S} D(X,Y)"),
    "1-nna": (False, "leave-one-out 1-NN accuracy on S ∪ R (equal sizes); 0.5 is ideal, lower than 0.5 "
                     "means samples copy reference shapes"),
}


@dataclass(frozen=True)
class ShapeProtocol:
    """How two shapes are compared: every setting that changes a COV/MMD/1-NNA number."""

    version: str = SHAPES_PROTOCOL_VERSION
    gt: str = "exact"
    n_points: int = 10_000
    """Surface samples per shape (every pair is compared, so fewer than the per-pair protocol)."""
    crop_margin: float = 0.05
    """Crop box: the union GT box grown by this fraction of the frame's scale."""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.gt not in GT_KINDS:
            raise UserError(f"unknown ground truth {self.gt!r}; use one of {', '.join(GT_KINDS)}")
        if self.n_points < 100:
            raise UserError(f"--points must be at least 100, got {self.n_points}")
        if self.crop_margin < 0:
            raise UserError(f"--margin must be >= 0, got {self.crop_margin}")

    def key(self) -> str:
        return f"{self.version}|gt={self.gt}|N={self.n_points}|margin={self.crop_margin:g}|seed={self.seed}"


@dataclass(frozen=True)
class SampleSettings:
    """Which sample meshes are drawn from the model (as ``geogen-gen --seeds``)."""

    samples: int | None = None
    """K sample meshes (default: the size of the largest reference split, so every split is compared
    with as many samples as it has shapes)."""
    seed: int = 0
    """Sample i uses latent seed ``seed + i``."""
    truncation: float = 1.0
    mesh_resolution: int = 128


# ---- the set metrics, on distance matrices ------------------------------------------------------

def coverage(d_sr: np.ndarray) -> float:
    """COV: fraction of references that are some sample's nearest reference (ties: first index)."""
    return float(len(np.unique(np.argmin(d_sr, axis=1))) / d_sr.shape[1])


def mmd(d_sr: np.ndarray) -> float:
    """MMD: mean over references of the distance to their nearest sample."""
    return float(d_sr.min(axis=0).mean())


def one_nna(d_ss: np.ndarray, d_rr: np.ndarray, d_sr: np.ndarray) -> float:
    """Leave-one-out 1-NN accuracy of S ∪ R: right when the nearest other shape is in one's own set
    (a tie between the two sets counts ½)."""
    ns, nr = d_sr.shape
    if ns < 2 or nr < 2:
        raise ValueError("1-NNA needs at least two shapes in each set")
    own_s = np.where(np.eye(ns, dtype=bool), np.inf, d_ss).min(axis=1)
    own_r = np.where(np.eye(nr, dtype=bool), np.inf, d_rr).min(axis=1)
    other_s, other_r = d_sr.min(axis=1), d_sr.min(axis=0)
    score = lambda own, other: (own < other) + 0.5 * (own == other)  # noqa: E731
    return float((score(own_s, other_s).sum() + score(own_r, other_r).sum()) / (ns + nr))


def memorisation_threshold(n: int) -> float:
    """1-NNA below 50 % by more than two binomial standard errors of 2n classifications."""
    return 0.5 - 2 * 0.5 / math.sqrt(2 * n)


def set_metrics(d_ss: np.ndarray, d_rr: np.ndarray, d_sr: np.ndarray, seed: int = 0) -> dict:
    """COV, MMD and 1-NNA on equal-size sets, as PointFlow defines them: the first n = min(|S|, |R|)
    samples against every reference (a seeded n-subset of the references when |S| < |R|).
    COV grows and 1-NNA's 50 % moves with unequal sizes, so they are never mixed."""
    ns, nr = d_sr.shape
    n = min(ns, nr)
    keep = np.sort(rng_for(seed, 7).choice(nr, size=n, replace=False)) if n < nr else np.arange(nr)
    d_ss, d_rr, d_sr = d_ss[:n, :n], d_rr[np.ix_(keep, keep)], d_sr[:n][:, keep]
    nna = one_nna(d_ss, d_rr, d_sr) if n >= 2 else None
    threshold = memorisation_threshold(n) if n >= 2 else None
    return {"cov": coverage(d_sr), "mmd": mmd(d_sr), "1-nna": nna, "n": n, "n_samples": ns, "n_reference": nr,
            "memorisation_threshold": threshold, "memorisation": bool(nna is not None and nna < threshold)}


# ---- shapes → points → Chamfer matrices ---------------------------------------------------------

@dataclass(frozen=True)
class Frame:
    """The one frame of every shape: x ↦ (x − centre) / scale, then crop to [lo, hi]."""

    centre: np.ndarray
    scale: float
    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def from_gt(cls, scored: list[trimesh.Trimesh], others: list[trimesh.Trimesh], margin: float) -> "Frame":
        bounds = np.array([m.bounds for m in scored + others])
        lo, hi = bounds[:, 0].min(axis=0), bounds[:, 1].max(axis=0)
        scale = float(np.median([np.linalg.norm(m.bounds[1] - m.bounds[0]) for m in scored]))
        if not np.isfinite(scale) or scale <= 0:
            raise UserError("ground-truth meshes have degenerate (zero-size) bounding boxes")
        centre = (lo + hi) / 2
        return cls(centre, scale, (lo - centre) / scale - margin, (hi - centre) / scale + margin)


def shape_points(mesh: trimesh.Trimesh, frame: Frame, n: int, rng: np.random.Generator) -> np.ndarray | None:
    """``n`` area-uniform points of the mesh in the frame, after the crop (None: nothing inside)."""
    m = trimesh.Trimesh((np.asarray(mesh.vertices, dtype=np.float64) - frame.centre) / frame.scale,
                        np.asarray(mesh.faces), process=False)
    m = crop_to_box(m, frame.lo, frame.hi)
    if len(m.faces) == 0 or m.area <= 0:
        return None
    return sample_surface(m, n, rng).points


class PointSet:
    """Point clouds with their KD-trees; directed mean distances are cached per pair."""

    def __init__(self, clouds: list[np.ndarray]):
        self.clouds = clouds
        self.trees = [cKDTree(c) for c in clouds]


def _directed(a: np.ndarray, tree: cKDTree) -> float:
    return float(tree.query(a, k=1)[0].mean())


def chamfer_matrix(A: PointSet, B: PointSet | None = None, progress: bool = False, desc: str = "") -> np.ndarray:
    """D[i, j] = ½ (mean_{a∈A_i} d(a, B_j) + mean_{b∈B_j} d(b, A_i)); ``B=None``: A against itself
    (symmetric, zero diagonal)."""
    same = B is None
    B = A if same else B
    na, nb = len(A.clouds), len(B.clouds)
    D = np.zeros((na, nb))
    pairs = [(i, j) for i in range(na) for j in range(i + 1 if same else 0, nb)]
    for i, j in tqdm(pairs, desc=desc, unit="pair", disable=not progress, leave=False):
        D[i, j] = 0.5 * (_directed(A.clouds[i], B.trees[j]) + _directed(B.clouds[j], A.trees[i]))
        if same:
            D[j, i] = D[i, j]
    return D


# ---- sample meshes from a model ----------------------------------------------------------------

def _fingerprint(obj: dict) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode("utf-8")).hexdigest()


def sample_meshes(model: Path, settings: SampleSettings, seeds: list[int], folder: Path, device: str = "cpu",
                  progress: bool = True, threads=None) -> tuple[dict[int, trimesh.Trimesh | None], dict]:
    """Mesh of each latent seed (None: no surface), as ``geogen-gen`` makes them, cached in ``folder``
    (``seed<s>.ply``, or ``seed<s>.empty``) under a fingerprint of the model file and settings.
    ``threads``: a ThreadGovernor updated before each mesh (``--threads auto``)."""
    import torch

    from geogen.common.threads import governed

    from geogen.model.io import load_model_file
    from geogen.model.mesh import extract_mesh
    from geogen.model.render_views import front_label, latent_for_seed, model_camera

    model_sha = sha256_file(model) if Path(model).is_file() else None
    if model_sha is None:
        raise UserError(f"model file {model} not found")
    fp = _fingerprint({"model_sha256": model_sha, "truncation": settings.truncation,
                       "mesh_resolution": settings.mesh_resolution})
    stamp = folder / "fingerprint.txt"
    if not (stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == fp):
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        atomic_write_text(stamp, fp + "\n")
    todo = [s for s in seeds if not ((folder / f"seed{s:06d}.ply").is_file() or (folder / f"seed{s:06d}.empty").is_file())]
    G, cfg, meta = load_model_file(model)
    camera = model_camera(meta)
    info = {"model_sha256": model_sha, "field": cfg.field, "kimg": meta.get("kimg"), "camera": camera}
    if todo:
        G = G.to(device)
        label = front_label(camera).to(device)
        for s in tqdm(governed(todo, threads), total=len(todo), desc="sample meshes", unit="mesh",
                      disable=not progress):
            with torch.no_grad():
                ws = G.mapping(latent_for_seed(s, cfg.z_dim).to(device), label, truncation_psi=settings.truncation)
                v, f = extract_mesh(G, ws, resolution=settings.mesh_resolution)
            if len(f) == 0:
                atomic_write_text(folder / f"seed{s:06d}.empty", "no surface inside the box\n")
            else:
                save_ply(folder / f"seed{s:06d}.ply", v, f)
    meshes = {s: (load_mesh(folder / f"seed{s:06d}.ply", "sample mesh") if (folder / f"seed{s:06d}.ply").is_file()
                  else None) for s in seeds}
    return meshes, info


def compare_sets(samples: dict[int, trimesh.Trimesh | None], references: dict[str, tuple[list[str], list]],
                 protocol: ShapeProtocol, progress: bool = False) -> tuple[dict, list[dict], list[str], Frame]:
    """COV/MMD/1-NNA of the sample meshes (latent seed → mesh, None = no surface) against each
    reference split (name → (ids, GT meshes)); the first split sets the frame's scale.

    Returns (results per split, one row per sample with its nearest reference, warnings, frame).
    Samples without surface in the crop box are left out with a warning."""
    names = list(references)
    frame = Frame.from_gt(references[names[0]][1], [m for n in names[1:] for m in references[n][1]],
                          protocol.crop_margin)
    rows, clouds = [], []
    for s, mesh in samples.items():
        pts = None if mesh is None else shape_points(mesh, frame, protocol.n_points, rng_for(protocol.seed, 0, s))
        rows.append({"seed": s, "status": "ok" if pts is not None else "failed",
                     "reason": None if pts is not None else
                     ("no surface" if mesh is None else "no surface inside the ground-truth box")})
        if pts is not None:
            clouds.append(pts)
    warnings = [f"sample seed {r['seed']}: {r['reason']}; left out of the set" for r in rows if r["status"] != "ok"]
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    if len(clouds) < 2:
        raise UserError(f"only {len(clouds)} of {len(samples)} sample meshes have a surface inside the "
                        "ground-truth box; COV/MMD/1-NNA need at least two")
    S = PointSet(clouds)
    d_ss = chamfer_matrix(S, progress=progress, desc="samples × samples")
    ok_rows = [r for r in rows if r["status"] == "ok"]
    results = {}
    for split, (ids, meshes) in references.items():
        pts = [shape_points(m, frame, protocol.n_points, rng_for(protocol.seed, 1, sample_key(i)))
               for i, m in zip(ids, meshes)]
        if any(p is None for p in pts):
            raise UserError(f"a {split} GT mesh has no surface inside the union GT box; check the dataset")
        R = PointSet(pts)
        d_rr = chamfer_matrix(R, progress=progress, desc=f"{split} × {split}")
        d_sr = chamfer_matrix(S, R, progress=progress, desc=f"samples × {split}")
        results[split] = set_metrics(d_ss, d_rr, d_sr, seed=protocol.seed)
        for r, j, d in zip(ok_rows, d_sr.argmin(axis=1), d_sr.min(axis=1)):
            r[f"nearest_{split}"] = ids[j]
            r[f"nearest_{split}_chamfer"] = float(d)
    return results, rows, warnings, frame


# ---- the command ------------------------------------------------------------------------------

def shapes_paths(out_json: Path) -> dict[str, Path]:
    stem = Path(out_json).with_suffix("")
    return {"meshes": Path(f"{stem}.meshes")}


def _gt_meshes(ds: Dataset, ids: list[str], gt: str, split: str) -> list[trimesh.Trimesh]:
    missing = [i for i in ids if not ds.gt_path(i, gt).is_file()]
    if missing:
        raise UserError(f"{gt} ground truth of {split!r} identity {missing[0]} not found "
                        f"({ds.gt_path(missing[0], gt)}); {len(missing)} of {len(ids)} missing")
    return [load_mesh(ds.gt_path(i, gt), f"{split} GT mesh") for i in ids]


def shape_metrics_for_model(model: Path, data: Path, out: Path, protocol: ShapeProtocol = ShapeProtocol(),
                            settings: SampleSettings = SampleSettings(), splits: tuple[str, ...] = ("test", "train"),
                            method: str | None = None, device: str = "cpu", progress: bool = True,
                            threads=None) -> dict:
    """Sample K meshes, compare the set with each split's GT meshes, write the result JSON."""
    out = Path(out)
    if out.suffix != ".json":
        raise UserError(f"--out {out} must be a .json file path (sample meshes are kept beside it)")
    if not splits:
        raise UserError("--splits must name at least one split (e.g. test,train)")
    if settings.samples is not None and settings.samples < 2:
        raise UserError(f"--samples must be at least 2 (got {settings.samples})")
    if settings.mesh_resolution < 16 or not 0 < settings.truncation <= 1:
        raise UserError("--mesh-resolution must be >= 16 and --truncation in (0, 1]")
    ds = Dataset(data)
    ds.require_gt(protocol.gt)
    ids = {s: ds.split(s) for s in splits}
    ensure_writable_dir(out.parent)
    t0 = time.perf_counter()
    k = settings.samples or max(len(v) for v in ids.values())
    seeds = list(range(settings.seed, settings.seed + k))
    meshes, model_info = sample_meshes(Path(model), settings, seeds, shapes_paths(out)["meshes"], device, progress,
                                       threads)
    gts = {s: _gt_meshes(ds, ids[s], protocol.gt, s) for s in splits}
    results, rows, warnings, frame = compare_sets(meshes, {s: (ids[s], gts[s]) for s in splits}, protocol, progress)
    ok_rows = [r for r in rows if r["status"] == "ok"]
    doc = {
        "schema": SHAPES_SCHEMA, "schema_version": SHAPES_SCHEMA_VERSION,
        "method": {"name": method or f"{Path(model).stem}", "source": "shapes", "details": model_info},
        "dataset": {"name": ds.name, "path": str(ds.root.resolve()), "manifest_sha256": ds.checksum(),
                    "splits": {s: len(ids[s]) for s in splits}},
        "protocol": {**asdict(protocol), "key": f"{protocol.key()}|frame={'+'.join(splits)}",
                     "frame": {"centre": frame.centre.tolist(), "scale": frame.scale, "scored_split": splits[0]}},
        "sampling": asdict(settings) | {"samples": k},
        "metrics": {n: {"higher_is_better": h, "formula": f} for n, (h, f) in SET_METRICS.items()},
        "results": results, "warnings": warnings,
        "n_samples": len(rows), "n_ok": len(ok_rows), "samples": rows,
        "provenance": provenance(ds.checksum(), model_info["model_sha256"], time.perf_counter() - t0),
    }
    atomic_write_json(out, doc)
    return doc
