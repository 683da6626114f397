"""Reading the dataset folder (layout in docs/benchmark.md): test split, GT meshes, test views.

Every path named by the dataset's files (split ids, transforms.json ``file_path``) must stay
inside the dataset folder (:func:`geogen.common.paths.inside_dataset`).
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

GT_FOLDERS = {"exact": "meshes/gt", "pseudo": "meshes/pseudo_gt"}


@dataclass(frozen=True)
class View:
    """One image of a test identity with its camera."""

    index: int
    image_path: Path
    camera: Camera


class Dataset:
    """A dataset folder opened for benchmarking (read only)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise UserError(f"dataset folder {self.root} not found; pass --data pointing at a geogen-data build")
        self.manifest_path = self.root / "manifest.json"
        self.manifest = read_json(self.manifest_path, "dataset manifest")
        split = self.manifest.get("split") if isinstance(self.manifest, dict) else None
        test = split.get("test") if isinstance(split, dict) else None
        if not isinstance(test, list) or not test:
            raise UserError(f"{self.manifest_path} has no test split (split.test is missing or empty); "
                            "rebuild the dataset with a test fraction > 0")
        self.test_ids = [str(i) for i in test]
        for i in self.test_ids:
            if Path(i).name != i or i in (".", ".."):
                raise UserError(f"{self.manifest_path}: split.test entry {i!r} is not a plain identity name; "
                                "rebuild the dataset")

    @property
    def name(self) -> str:
        m = self.manifest
        return str(m.get("name") or f"{self.root.name}:{m.get('preset', '?')}:seed{m.get('seed', '?')}")

    def checksum(self) -> str:
        return sha256_file(self.manifest_path)

    def gt_path(self, sample_id: str, gt: str) -> Path:
        return inside_dataset(self.root, f"{GT_FOLDERS[gt]}/{sample_id}.ply", what="ground-truth mesh")

    def require_gt(self, gt: str) -> None:
        """One-line error if the chosen ground-truth folder does not exist at all."""
        folder = self.root / GT_FOLDERS[gt]
        if not folder.is_dir():
            hint = "run the reconstruction stage (geogen-recon) first" if gt == "pseudo" else "rebuild the dataset"
            raise UserError(f"ground-truth folder {folder} not found; {hint} or choose another --gt")

    def views(self, sample_id: str) -> list[View]:
        """Every view of an identity, cameras read from identities/<id>/transforms.json."""
        path = inside_dataset(self.root, f"identities/{sample_id}/transforms.json", what="camera file")
        tf = read_json(path, "camera file")
        frames = tf.get("frames") if isinstance(tf, dict) else None
        if not isinstance(frames, list) or not frames:
            raise UserError(f"{path} has no frames; rebuild the dataset")
        try:
            return [self._view(self.root, path, tf, k, fr) for k, fr in enumerate(frames)]
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"{path} has a malformed frame ({type(exc).__name__}: {exc}); rebuild the dataset") from None

    @staticmethod
    def _view(root: Path, path: Path, tf: dict, k: int, fr: dict) -> View:
        """One frame: OpenGL c2w → OpenCV, pixel intrinsics (frame overrides file) → normalised."""
        img = inside_dataset(root, fr["file_path"], base=path.parent, what=f"{path} frame {k} file_path")
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
        return View(index, img, Camera(c2w, K_norm, w, h))
