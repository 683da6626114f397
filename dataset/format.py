"""The dataset folder's on-disk contract, in one place: every path, the manifest, the splits and
the per-identity views. The builder writes through it; reconstruction, training, the benchmark
and the fit check read through it. Nothing else spells a path of the layout (docs/dataset.md)::

    manifest.json  dataset.json  eg3d.zip          images|depth|normals|masks/<id>/<vvv>.*
    identities/<id>/{record.json, transforms.json, colmap/}
    meshes/gt/<id>.ply                               exact GT mesh (written by the build)
    meshes/pseudo_gt/<id>.ply, records/<id>.json, quality.{csv,png}, quality_summary.json
    recon_views/<id>/                                extra views for reconstruction only
    shards/manifest-<i>-of-<n>.json                  a shard's partial manifest

Identities are named by their 6-digit index (``000007``); functions taking an identity accept
the index or that name. Paths are relative to the dataset folder (``str``, POSIX) unless a
function takes ``root``; every path read from the folder's own files (split entries, frame
``file_path``) must stay inside it (:func:`geogen.common.paths.inside_dataset`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geogen.common.atomic import read_json, sha256_file
from geogen.common.cameras import Camera, opencv_to_opengl
from geogen.common.errors import UserError
from geogen.common.paths import inside_dataset

from .config import DatasetConfig

# --- paths ----------------------------------------------------------------------------------------

MANIFEST = "manifest.json"
DATASET_JSON = "dataset.json"
EG3D_ZIP = "eg3d.zip"
SHARDS_DIR = "shards"
IDENTITIES_DIR = "identities"
IMAGE_DIRS = ("images", "depth", "normals", "masks")
MESHES_DIR = "meshes"
GT_MESH_DIR = f"{MESHES_DIR}/gt"
PSEUDO_GT_DIR = f"{MESHES_DIR}/pseudo_gt"
PSEUDO_GT_RECORDS_DIR = f"{PSEUDO_GT_DIR}/records"
QUALITY_CSV = f"{PSEUDO_GT_DIR}/quality.csv"
QUALITY_SUMMARY = f"{PSEUDO_GT_DIR}/quality_summary.json"
QUALITY_PNG = f"{PSEUDO_GT_DIR}/quality.png"
# Extra views rendered only for pseudo-GT reconstruction (not training data; not in the manifest).
RECON_VIEWS_DIR = "recon_views"
# Extra views the pseudo-GT gets by default, at the dataset's resolution and so reconstructed together
# with the training views (docs/reconstruction.md, session 8): on the validation identities of a
# 54-identity tiny build, 10 + 10 views gave median / mean F@1% 0.851 / 0.857 against 0.842 / 0.813
# for the 10 training views alone; the stereo takes about twice as long.
DEFAULT_RECON_VIEWS = 10
PREVIEW_DIR = "preview"

#: Ground-truth kinds a benchmark can score against → the folder of their meshes.
GT_FOLDERS = {"exact": GT_MESH_DIR, "pseudo": PSEUDO_GT_DIR}


def id_str(identity: int | str) -> str:
    """``7`` → ``"000007"``; a name (``"000007"``, or a hand-made folder's id) is returned as it is."""
    return identity if isinstance(identity, str) else f"{identity:06d}"


def image(identity: int | str, view: int) -> str:
    return f"images/{id_str(identity)}/{view:03d}.png"


def depth(identity: int | str, view: int) -> str:
    return f"depth/{id_str(identity)}/{view:03d}.npy"


def normals(identity: int | str, view: int) -> str:
    return f"normals/{id_str(identity)}/{view:03d}.png"


def mask(identity: int | str, view: int) -> str:
    return f"masks/{id_str(identity)}/{view:03d}.png"


def gt_mesh(identity: int | str, gt: str = "exact") -> str:
    """The GT mesh of ``identity``: exact (``meshes/gt``) or ``gt="pseudo"`` (``meshes/pseudo_gt``)."""
    if gt not in GT_FOLDERS:
        raise UserError(f"unknown ground truth {gt!r}; use one of {', '.join(GT_FOLDERS)}")
    return f"{GT_FOLDERS[gt]}/{id_str(identity)}.ply"


def pseudo_gt_mesh(identity: int | str) -> str:
    return gt_mesh(identity, "pseudo")


def pseudo_gt_record(identity: int | str) -> str:
    return f"{PSEUDO_GT_RECORDS_DIR}/{id_str(identity)}.json"


def identity_dir(identity: int | str) -> str:
    return f"{IDENTITIES_DIR}/{id_str(identity)}"


def record(identity: int | str) -> str:
    return f"{identity_dir(identity)}/record.json"


def transforms(identity: int | str) -> str:
    return f"{identity_dir(identity)}/transforms.json"


def colmap_dir(identity: int | str) -> str:
    return f"{identity_dir(identity)}/colmap"


def recon_views_dir(identity: int | str) -> str:
    return f"{RECON_VIEWS_DIR}/{id_str(identity)}"


def recon_views_transforms(identity: int | str) -> str:
    return f"{recon_views_dir(identity)}/transforms.json"


def recon_views_record(identity: int | str) -> str:
    return f"{recon_views_dir(identity)}/record.json"


# --- manifest and splits --------------------------------------------------------------------------

SCHEMA_VERSION = 1  # of manifest.json and of the identity records
SPLITS = ("train", "val", "test")


def read_manifest(root: Path) -> dict:
    """manifest.json of a folder written by ``geogen-data build`` (one-line error if another schema)."""
    m = read_json(root / MANIFEST, what="dataset manifest")
    if m.get("schema_version") != SCHEMA_VERSION:
        raise UserError(f"{root / MANIFEST} has schema_version {m.get('schema_version')!r}, "
                        f"this tool reads {SCHEMA_VERSION}; rebuild the dataset")
    return m


def splits(config: DatasetConfig) -> dict[str, list[int]]:
    """{"train", "val", "test"} identity indices: one seeded permutation; test takes its first
    ``test_count`` entries (so adding the validation split kept every test split), val the next
    ``val_count``, train the rest."""
    from geogen.common.seeding import rng_for

    SPLIT_KEY = 1_000_003  # a key no identity index reaches (<= 999999), so the stream is its own
    order = [int(i) for i in rng_for(config.seed, SPLIT_KEY).permutation(config.identities)]
    test = sorted(order[: config.test_count])
    val = sorted(order[config.test_count: config.test_count + config.val_count])
    train = sorted(set(range(config.identities)) - set(test) - set(val))
    return {"train": train, "val": val, "test": test}


def split_ids(config: DatasetConfig) -> tuple[list[int], list[int]]:
    """(train, test) identity indices (the validation identities are in neither; see :func:`splits`)."""
    s = splits(config)
    return s["train"], s["test"]


def manifest_split(manifest, name: str) -> list[str] | None:
    """Identity names of split ``name`` in a manifest dict as written (None if it has no such list)."""
    split = manifest.get("split") if isinstance(manifest, dict) else None
    ids = split.get(name) if isinstance(split, dict) else None
    return [str(i) for i in ids] if isinstance(ids, list) else None


def check_plain_ids(ids: list[str], where: str) -> list[str]:
    """``ids`` become file names (meshes, records): refuse any that hides a path (one-line error)."""
    for i in ids:
        if Path(i).name != i or i in (".", ".."):
            raise UserError(f"{where} entry {i!r} is not a plain identity name; rebuild the dataset")
    return ids


# --- views ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class View:
    """One image of an identity with its camera (and its foreground mask, when the frame names one)."""

    index: int
    image_path: Path
    camera: Camera
    mask_path: Path | None = None


def read_views(root: Path, identity: int | str, masks: bool = False) -> list[View]:
    """Every view of an identity, cameras read from ``identities/<id>/transforms.json`` (with
    ``masks``, also each frame's ``mask_path``, which must then be inside the folder)."""
    path = inside_dataset(root, transforms(identity), what="camera file")
    tf = read_json(path, "camera file")
    frames = tf.get("frames") if isinstance(tf, dict) else None
    if not isinstance(frames, list) or not frames:
        raise UserError(f"{path} has no frames; rebuild the dataset")
    try:
        return [_view(root, path, tf, k, fr, masks) for k, fr in enumerate(frames)]
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path} has a malformed frame ({type(exc).__name__}: {exc}); rebuild the dataset") from None


def _view(root: Path, path: Path, tf: dict, k: int, fr: dict, masks: bool) -> View:
    """One frame: OpenGL c2w → OpenCV, pixel intrinsics (frame overrides file) → normalised."""
    img = inside_dataset(root, fr["file_path"], base=path.parent, what=f"{path} frame {k} file_path")
    mask_path = None
    if masks:
        mask_path = inside_dataset(root, fr["mask_path"], base=path.parent, what=f"{path} frame {k} mask_path")
    c2w = np.asarray(fr["transform_matrix"], dtype=np.float64)
    if c2w.shape != (4, 4) or not np.all(np.isfinite(c2w)):
        raise ValueError(f"frame {k}: transform_matrix must be a finite 4x4 matrix")
    c2w = opencv_to_opengl(c2w)  # the flip is its own inverse: OpenGL → OpenCV
    w = int(fr.get("w", tf.get("w")))
    h = int(fr.get("h", tf.get("h")))
    fl_x = fr.get("fl_x", tf.get("fl_x"))
    if fl_x is None:
        fl_x = 0.5 * w / math.tan(float(fr.get("camera_angle_x", tf["camera_angle_x"])) / 2)
    fl_y = fr.get("fl_y", tf.get("fl_y", fl_x))
    cx = fr.get("cx", tf.get("cx", w / 2))
    cy = fr.get("cy", tf.get("cy", h / 2))
    K_norm = np.array([[fl_x / w, 0, cx / w], [0, fl_y / h, cy / h], [0, 0, 1.0]])
    try:
        index = int(Path(fr["file_path"]).stem)
    except ValueError:
        index = k
    return View(index, img, Camera(c2w, K_norm, w, h), mask_path)


# --- a dataset folder opened for reading ----------------------------------------------------------

class Dataset:
    """A dataset folder opened for reading (benchmark, fit check): manifest, splits, GT, views.

    Works on any folder with a manifest holding a non-empty test split (a ``geogen-data build``
    or a hand-made one such as ``benchmark.toydata``); it never writes.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise UserError(f"dataset folder {self.root} not found; pass --data pointing at a geogen-data build")
        self.manifest_path = self.root / MANIFEST
        self.manifest = read_json(self.manifest_path, "dataset manifest")
        test = manifest_split(self.manifest, "test")
        if not test:
            raise UserError(f"{self.manifest_path} has no test split (split.test is missing or empty); "
                            "rebuild the dataset with a test fraction > 0")
        self.test_ids = check_plain_ids(test, f"{self.manifest_path}: split.test")

    @property
    def name(self) -> str:
        m = self.manifest
        return str(m.get("name") or f"{self.root.name}:{m.get('preset', '?')}:seed{m.get('seed', '?')}")

    def checksum(self) -> str:
        return sha256_file(self.manifest_path)

    def split(self, name: str) -> list[str]:
        """Identities of split ``name``; one-line error if the split is absent/empty or names a path."""
        if name == "test":
            return list(self.test_ids)
        ids = manifest_split(self.manifest, name)
        if not ids:
            split = self.manifest.get("split") if isinstance(self.manifest, dict) else None
            have = ", ".join(sorted(k for k, v in (split or {}).items() if isinstance(v, list) and v)) or "none"
            raise UserError(f"{self.manifest_path} has no split {name!r} (splits present: {have})")
        return check_plain_ids(ids, f"{self.manifest_path}: split.{name}")

    def gt_path(self, sample_id: str, gt: str) -> Path:
        return inside_dataset(self.root, gt_mesh(sample_id, gt), what="ground-truth mesh")

    def require_gt(self, gt: str) -> None:
        """One-line error if the chosen ground-truth folder does not exist at all."""
        folder = self.root / GT_FOLDERS[gt]
        if not folder.is_dir():
            hint = "run the reconstruction stage (geogen-recon) first" if gt == "pseudo" else "rebuild the dataset"
            raise UserError(f"ground-truth folder {folder} not found; {hint} or choose another --gt")

    def views(self, sample_id: str) -> list[View]:
        """Every view of an identity, cameras read from identities/<id>/transforms.json."""
        return read_views(self.root, sample_id)
