"""Reference rows: meshes that ignore the test image, scored exactly like a method's meshes.

They say what a number means. ``template-mean`` (one mean shape of the reference split's GT,
the same mesh for every scored identity) is what a method gets without recovering anything
identity-specific; ``oracle-nearest-<split>`` (the reference GT mesh nearest to each scored GT
by the protocol's Chamfer) is what a perfect retrieval from the reference split gets;
``copy-other`` (the GT of one fixed reference identity) is a single real head.

Each baseline writes one mesh per scored identity into ``<out>/<name>.meshes/`` and scores that
folder with :func:`benchmark.score.score_meshes`: same protocol, same code, same result schema,
with ``method.kind = "reference"`` so the leaderboard lists the row without ranking it. The
reference GT meshes are only ever read here (never by training).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import trimesh
from tqdm import tqdm

from geogen.common.atomic import atomic_path, atomic_write_text, ensure_writable_dir, sha256_file
from geogen.common.errors import UserError
from geogen.common.meshio import load_mesh, save_ply
from geogen.common.seeding import rng_for
from dataset.format import Dataset

from .metrics import score_pair
from .protocol import Protocol

BASELINES = ("template-mean", "oracle-nearest", "copy-other")
TEMPLATE_MEAN = "template-mean"


@dataclass(frozen=True)
class BaselineSettings:
    """Which baselines, from which split, scored on which split."""

    baselines: tuple[str, ...] = BASELINES
    reference_split: str = "train"
    """Split whose GT meshes make the baselines (never the scored split)."""
    split: str = "test"
    """Split that is scored."""
    template_resolution: int = 128
    """Marching-cubes cells along the longest side of the reference meshes' union box."""
    copy_id: str | None = None
    """Identity copied by ``copy-other`` (default: the reference split's first identity)."""
    oracle_shortlist: int | None = 8
    """``oracle-nearest``: only the k references nearest by a 2,000-point Chamfer get the protocol's
    (None: all of them; exact, but |scored| × |reference| full scorings)."""
    template_max_reference: int = 256
    """``template-mean``: at most this many reference meshes (a seeded subset of a larger split)."""


def baseline_name(kind: str, reference_split: str) -> str:
    """Leaderboard name: the oracle says which split it retrieves from (``oracle-nearest-train``)."""
    return f"oracle-nearest-{reference_split}" if kind == "oracle-nearest" else kind


def _copy(src: Path, dst: Path) -> None:
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def _fingerprint(obj: dict) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode("utf-8")).hexdigest()


class MeanSDF:
    """The mean signed distance of watertight meshes (negative inside), with their union box.

    Each mesh's signed distance is exact (Open3D, sign by ray parity), so the mean is
    1-Lipschitz and :func:`dataset.mesh_extract.extract_mesh` may skip far-away grid blocks.
    """

    def __init__(self, meshes: list[trimesh.Trimesh]):
        import open3d as o3d

        self._scenes = []
        for m in meshes:
            scene = o3d.t.geometry.RaycastingScene()
            scene.add_triangles(o3d.core.Tensor(np.asarray(m.vertices, dtype=np.float32)),
                                o3d.core.Tensor(np.asarray(m.faces, dtype=np.uint32)))
            self._scenes.append(scene)
        lo = np.min([m.bounds[0] for m in meshes], axis=0)
        hi = np.max([m.bounds[1] for m in meshes], axis=0)
        self.bounds = (lo.astype(np.float64), hi.astype(np.float64))

    def sdf(self, points: np.ndarray) -> np.ndarray:
        import open3d as o3d

        q = o3d.core.Tensor(np.asarray(points, dtype=np.float32).reshape(-1, 3))
        total = np.zeros(len(q), dtype=np.float64)
        for scene in self._scenes:
            total += scene.compute_signed_distance(q).numpy()
        return total / len(self._scenes)


def mean_shape(meshes: list[trimesh.Trimesh], resolution: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Marching cubes of the mean signed distance of ``meshes`` (watertight, one frame).

    Identical inputs give that shape back (up to the grid); the result is closed and keeps its
    largest pieces. Raises UserError if the mean is positive everywhere (no common inside).
    """
    from dataset.mesh_extract import extract_mesh

    if resolution < 16:
        raise UserError(f"template resolution must be at least 16 (got {resolution})")
    open_ = sum(1 for m in meshes if not m.is_watertight)
    if open_:
        print(f"warning: {open_} of {len(meshes)} reference meshes are not watertight; their inside/outside "
              "(ray parity) may be wrong", file=sys.stderr)
    try:
        return extract_mesh(MeanSDF(meshes), resolution)
    except UserError:
        raise UserError("the mean signed distance of the reference meshes is positive everywhere: "
                        "they share no inside (are they in one world frame?)") from None


def _chamfer(mesh: trimesh.Trimesh, gt: trimesh.Trimesh, protocol: Protocol, target_id: str) -> float:
    try:
        return score_pair(mesh, gt, protocol, target_id, metrics=["chamfer_l1"])["chamfer_l1"]
    except UserError:  # no surface inside the GT box: not a candidate
        return float("inf")


def nearest_reference(target_id: str, gt: trimesh.Trimesh, references: dict[str, trimesh.Trimesh],
                      protocol: Protocol, shortlist: int | None = None,
                      screen_points: int = 2_000) -> tuple[str, dict[str, float]]:
    """The reference id whose mesh, scored as a prediction of ``gt``, has the lowest protocol
    Chamfer (ties: the first id in order), and the protocol Chamfer of every candidate scored.

    With ``shortlist`` k smaller than the number of references, the candidates are first screened
    by the same Chamfer on ``screen_points`` points per surface and only the k best get the
    protocol's; otherwise every reference gets it (exact)."""
    ids = list(references)
    if shortlist is not None and shortlist < len(ids):
        coarse = replace(protocol, n_points=max(100, screen_points), emd_points=2)
        screen = {rid: _chamfer(references[rid], gt, coarse, target_id) for rid in ids}
        ids = sorted(ids, key=lambda rid: (screen[rid], ids.index(rid)))[:shortlist]
        ids = [rid for rid in references if rid in ids]  # back in reference order for the tie rule
    scores = {rid: _chamfer(references[rid], gt, protocol, target_id) for rid in ids}
    best = min(scores, key=scores.get)  # first of equal minima: deterministic
    if not np.isfinite(scores[best]):
        raise UserError(f"no reference mesh overlaps the ground-truth box of {target_id}")
    return best, scores


class BaselineBuilder:
    """Writes the baselines' mesh folders (resumable: a folder whose fingerprint matches is kept)."""

    def __init__(self, ds: Dataset, settings: BaselineSettings, protocol: Protocol, out_dir: Path,
                 progress: bool = True):
        if settings.reference_split == settings.split:
            raise UserError(f"the reference split and the scored split are both {settings.split!r}; "
                            "reference rows must come from other identities")
        unknown = [b for b in settings.baselines if b not in BASELINES]
        if unknown:
            raise UserError(f"unknown baseline {unknown[0]!r}; choose from {', '.join(BASELINES)}")
        self.ds, self.settings, self.protocol, self.progress = ds, settings, protocol, progress
        self.out_dir = ensure_writable_dir(out_dir)
        self.ref_ids = ds.split(settings.reference_split)
        self.ids = ds.split(settings.split)
        overlap = sorted(set(self.ref_ids) & set(self.ids))
        if overlap:
            raise UserError(f"identity {overlap[0]} is in both the {settings.reference_split!r} and the "
                            f"{settings.split!r} split; the dataset's splits must be disjoint")
        self._ref_meshes: dict[str, trimesh.Trimesh] = {}
        self._ref_hashes: dict[str, str] | None = None

    def mesh_dir(self, kind: str) -> Path:
        return self.out_dir / f"{baseline_name(kind, self.settings.reference_split)}.meshes"

    def reference_hashes(self) -> dict[str, str]:
        if self._ref_hashes is None:
            paths = {i: self.ds.gt_path(i, self.protocol.gt) for i in self.ref_ids}
            missing = [i for i, p in paths.items() if not p.is_file()]
            if missing:
                raise UserError(f"{self.protocol.gt} ground truth of {self.settings.reference_split!r} identity "
                                f"{missing[0]} not found ({paths[missing[0]]}); "
                                f"{len(missing)} of {len(paths)} missing")
            self._ref_hashes = {i: sha256_file(p) for i, p in paths.items()}
        return self._ref_hashes

    def reference_meshes(self, ids: list[str] | None = None) -> dict[str, trimesh.Trimesh]:
        """GT meshes of ``ids`` (default: the whole reference split), loaded once."""
        self.reference_hashes()
        ids = self.ref_ids if ids is None else ids
        todo = [i for i in ids if i not in self._ref_meshes]
        for i in tqdm(todo, desc=f"{self.settings.reference_split} GT", unit="mesh", disable=not self.progress):
            self._ref_meshes[i] = load_mesh(self.ds.gt_path(i, self.protocol.gt),
                                            f"{self.settings.reference_split} GT mesh")
        return {i: self._ref_meshes[i] for i in ids}

    def template_ids(self) -> list[str]:
        """The reference identities averaged by template-mean: all, or a seeded subset of a large split."""
        cap = self.settings.template_max_reference
        if len(self.ref_ids) <= cap:
            return list(self.ref_ids)
        pick = set(rng_for(self.protocol.seed, 11).choice(len(self.ref_ids), size=cap, replace=False).tolist())
        return [i for k, i in enumerate(self.ref_ids) if k in pick]

    def _fresh(self, folder: Path, fingerprint: str) -> bool:
        stamp = folder / "fingerprint.txt"
        return stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == fingerprint and \
            all((folder / f"{i}.ply").is_file() for i in self.ids)

    def _restart(self, folder: Path) -> None:
        """Forget a stale folder: a changed input must never leave old meshes next to new ones."""
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)

    def build(self, kind: str) -> tuple[Path, dict]:
        """Write the mesh folder of one baseline; returns it and the details recorded in the result."""
        s = self.settings
        common = {"baseline": kind, "reference_split": s.reference_split, "reference_ids": self.ref_ids,
                  "reference_gt": self.protocol.gt, "manifest_sha256": self.ds.checksum(),
                  "reference_sha256": self.reference_hashes()}
        folder = self.mesh_dir(kind)
        if kind == "template-mean":
            used = self.template_ids()
            fp = {**common, "resolution": s.template_resolution, "template_ids": used}
            details = {"baseline": kind, "reference_split": s.reference_split, "n_reference": len(used),
                       "resolution": s.template_resolution}
            if len(used) < len(self.ref_ids):
                details["template_ids"] = used
            if not self._fresh(folder, _fingerprint(fp)):
                self._restart(folder)
                v, f = mean_shape(list(self.reference_meshes(used).values()), s.template_resolution)
                for i in self.ids:
                    save_ply(folder / f"{i}.ply", v, f)
                atomic_write_text(folder / "fingerprint.txt", _fingerprint(fp) + "\n")
        elif kind == "copy-other":
            copy_id = s.copy_id or self.ref_ids[0]
            if copy_id not in self.ref_ids:
                raise UserError(f"--copy-id {copy_id} is not in the {s.reference_split!r} split")
            fp = {**common, "copy_id": copy_id}
            details = {"baseline": kind, "reference_split": s.reference_split, "copy_id": copy_id}
            if not self._fresh(folder, _fingerprint(fp)):
                self._restart(folder)
                for i in self.ids:
                    _copy(self.ds.gt_path(copy_id, self.protocol.gt), folder / f"{i}.ply")
                atomic_write_text(folder / "fingerprint.txt", _fingerprint(fp) + "\n")
        else:
            details = {"baseline": kind, "reference_split": s.reference_split, "n_reference": len(self.ref_ids),
                       "shortlist": s.oracle_shortlist, "nearest": self._oracle(folder, common)}
        return folder, details

    def _oracle(self, folder: Path, common: dict) -> dict[str, dict]:
        """Per scored identity the nearest reference GT (protocol Chamfer), cached per identity."""
        fp = _fingerprint({**common, "protocol": self.protocol.key(), "shortlist": self.settings.oracle_shortlist})
        stamp = folder / "fingerprint.txt"
        if not (stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == fp):
            self._restart(folder)
            atomic_write_text(stamp, fp + "\n")
        chosen = {i: self._cached_choice(folder, i) for i in self.ids}
        todo = [i for i, c in chosen.items() if c is None]
        refs = self.reference_meshes() if todo else {}
        for i in tqdm(todo, desc="nearest reference", unit="id", disable=not self.progress):
            gt = load_mesh(self.ds.gt_path(i, self.protocol.gt), f"{self.protocol.gt} ground-truth mesh")
            best, scores = nearest_reference(i, gt, refs, self.protocol, shortlist=self.settings.oracle_shortlist)
            ranked = sorted(scores.values())
            chosen[i] = {"id": best, "chamfer_l1": scores[best],
                         "runner_up_chamfer_l1": ranked[1] if len(ranked) > 1 else None}
            _copy(self.ds.gt_path(best, self.protocol.gt), folder / f"{i}.ply")
            atomic_write_text(folder / f"{i}.nearest", json.dumps(chosen[i]) + "\n")
        return chosen

    def _cached_choice(self, folder: Path, sample_id: str) -> dict | None:
        try:
            choice = json.loads((folder / f"{sample_id}.nearest").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None
        ok = isinstance(choice, dict) and choice.get("id") in self.ref_ids and (folder / f"{sample_id}.ply").is_file()
        return choice if ok else None


def run_baselines(data: Path, out_dir: Path, protocol: Protocol, settings: BaselineSettings = BaselineSettings(),
                  pictures: bool = True, progress: bool = True, executor=None) -> dict[str, dict]:
    """Build and score every requested baseline; returns {leaderboard name: result}. ``executor``
    (geogen.common.executor.ExecutorConfig) scores the identities of each baseline, e.g. on Ray."""
    from .score import score_meshes

    ds = Dataset(data)
    ds.require_gt(protocol.gt)
    builder = BaselineBuilder(ds, settings, protocol, Path(out_dir), progress=progress)
    results = {}
    for kind in settings.baselines:
        name = baseline_name(kind, settings.reference_split)
        if progress:
            print(f"== {name}", file=sys.stderr, flush=True)
        folder, details = builder.build(kind)
        results[name] = score_meshes(folder, data, name, builder.out_dir / f"{name}.json", protocol,
                                     pictures=pictures, progress=progress, split=settings.split,
                                     kind="reference", details={**details, "settings": asdict(settings)},
                                     executor=executor)
    return results
