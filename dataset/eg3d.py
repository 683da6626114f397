"""Reading images with camera labels in EG3D's layout (a dataset folder or its zip): the reader of
what :mod:`dataset.writers.eg3d` writes, used by training and by the benchmark's image metrics.

The dataset is ``dataset.json`` (``{"labels": [[relpath, 25 floats], ...]}``) plus the images
it names, exactly as EG3D's ``dataset_tool`` writes and ``geogen-data build`` produces.

X-flip augmentation (``xflip=True``) doubles the dataset: index ``i + N`` is image ``i``
mirrored left-right *with its camera mirrored too* (see :func:`mirror_label`), so the pair
(image, camera) stays geometrically consistent. This relies on the scene being roughly
symmetric about the plane x = 0 (a head facing +z, y up), which heads are. Flipping the image
without mirroring the camera (as plain 2D GANs do) would teach G wrong geometry.
"""

from __future__ import annotations

import io
import math
import os
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from geogen.common.cameras import from_label, to_label
from geogen.common.errors import UserError
from geogen.common.paths import inside_dataset

from .format import DATASET_JSON

_MIRROR_X = np.diag([-1.0, 1.0, 1.0, 1.0])


def mirror_label(label) -> list[float]:
    """Camera label of the x-mirrored scene seen in the left-right flipped image.

    Reflecting the world by M = diag(-1, 1, 1) maps the camera frame to a left-handed one;
    negating the camera's x axis (= flipping the image horizontally) makes it right-handed
    again: c2w' = M4 · c2w · M4 with M4 = diag(-1, 1, 1, 1). The principal point mirrors to
    cx' = 1 - cx (unchanged for centred cameras).
    """
    c2w, K = from_label(label)
    c2w_m = _MIRROR_X @ c2w @ _MIRROR_X
    K_m = K.copy()
    K_m[0, 2] = 1.0 - K[0, 2]
    K_m[0, 1] = -K[0, 1]  # skew changes sign with the x axis
    return to_label(c2w_m, K_m)


class _FolderSource:
    def __init__(self, root: Path):
        self.root = root
        self.name = str(root)

    def has(self, rel: str) -> bool:  # a name leaving the folder (../, absolute) is a UserError
        return inside_dataset(self.root, rel, what="dataset.json entry").is_file()

    def read(self, rel: str) -> bytes:
        return inside_dataset(self.root, rel, what="dataset.json entry").read_bytes()


class _ZipSource:
    """EG3D's zip layout: dataset.json and the images inside one archive."""

    def __init__(self, path: Path):
        self.path = path
        self.name = str(path)
        try:
            with zipfile.ZipFile(path) as zf:
                self.members = set(zf.namelist())
        except (zipfile.BadZipFile, OSError) as exc:
            raise UserError(f"dataset archive {path} cannot be read ({exc}); rebuild it") from None
        self._zip = None

    def has(self, rel: str) -> bool:
        return rel in self.members

    def read(self, rel: str) -> bytes:
        if self._zip is None:  # opened lazily, once per process (DataLoader workers fork)
            self._zip = zipfile.ZipFile(self.path)
        return self._zip.read(rel)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_zip"] = None
        return state


def _open_source(path: str | os.PathLike):
    p = Path(path)
    if p.is_dir():
        return _FolderSource(p)
    if p.is_file() and p.suffix == ".zip":
        return _ZipSource(p)
    raise UserError(f"dataset {p} not found; pass --data a folder (or .zip) with dataset.json and images "
                    "(build one with: geogen-data build --preset tiny --out DIR)")


def _parse_labels(raw: bytes, where: str) -> list[tuple[str, list[float]]]:
    """Validate dataset.json and return [(relpath, 25 floats)]; one-line UserError if malformed."""
    import json

    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{where} is not valid JSON ({exc}); rebuild the dataset") from None
    labels = data.get("labels") if isinstance(data, dict) else None
    if not isinstance(labels, list) or not labels:
        raise UserError(f"{where} has no 'labels' list of [relpath, 25 floats]; rebuild the dataset")
    out = []
    for i, entry in enumerate(labels):
        ok = (isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[0], str)
              and isinstance(entry[1], (list, tuple)) and len(entry[1]) == 25
              and all(isinstance(v, (int, float)) and math.isfinite(v) for v in entry[1]))
        if not ok:
            raise UserError(f"{where}: labels[{i}] is not [relpath, 25 finite floats] "
                            "(camera labels are required for 3D-aware training); fix or rebuild the dataset")
        out.append((entry[0], [float(v) for v in entry[1]]))
    return out


class ImageLabelDataset(torch.utils.data.Dataset):
    """(image, label) pairs: image float32 (3, R, R) in [-1, 1], label float32 (25,).

    Images are converted to RGB and resized (Lanczos) to ``resolution``. Decoded images are
    cached in memory while the cache stays under ``cache_bytes`` (the tiny dataset fits).
    """

    def __init__(self, path: str | os.PathLike, resolution: int, xflip: bool = False,
                 cache_bytes: int = 1 << 30):
        self.source = _open_source(path)
        if not self.source.has(DATASET_JSON):
            raise UserError(f"{self.source.name} has no dataset.json; pass --data an EG3D-style dataset "
                            "(build one with: geogen-data build --preset tiny --out DIR)")
        self.items = _parse_labels(self.source.read(DATASET_JSON), f"{self.source.name}/{DATASET_JSON}")
        missing = [rel for rel, _ in self.items if not self.source.has(rel)]
        if missing:
            raise UserError(f"{len(missing)} image(s) listed in {self.source.name}/dataset.json are missing "
                            f"(first: {missing[0]}); rebuild or re-download the dataset")
        self.resolution = int(resolution)
        self.xflip = bool(xflip)
        self.labels = torch.tensor([lab for _, lab in self.items], dtype=torch.float32)
        self.mirrored_labels = torch.tensor([mirror_label(lab) for _, lab in self.items], dtype=torch.float32)
        self._cache: dict[int, np.ndarray] = {}
        self._cache_budget = cache_bytes // (3 * self.resolution ** 2)

    @property
    def num_images(self) -> int:
        return len(self.items)

    def __len__(self) -> int:
        return self.num_images * (2 if self.xflip else 1)

    def all_labels(self) -> torch.Tensor:
        """Every camera label G may be rendered from (mirrored ones included with x-flip)."""
        return torch.cat([self.labels, self.mirrored_labels]) if self.xflip else self.labels

    def _load(self, i: int) -> np.ndarray:
        if i in self._cache:
            return self._cache[i]
        rel = self.items[i][0]
        try:
            img = Image.open(io.BytesIO(self.source.read(rel)))
            img = img.convert("RGB")
        except (OSError, ValueError) as exc:
            raise UserError(f"image {self.source.name}/{rel} cannot be decoded ({exc}); rebuild the dataset") from None
        if img.width != img.height:
            raise UserError(f"image {self.source.name}/{rel} is {img.width}x{img.height}; training needs square images")
        if img.width != self.resolution:
            img = img.resize((self.resolution, self.resolution), Image.LANCZOS)
        arr = np.asarray(img, dtype=np.uint8).transpose(2, 0, 1).copy()  # (3, R, R)
        if len(self._cache) < self._cache_budget:
            self._cache[i] = arr
        return arr

    def __getitem__(self, index: int):
        i, flip = index % self.num_images, index >= self.num_images
        arr = self._load(i)
        if flip:
            arr = arr[:, :, ::-1]
        image = torch.from_numpy(np.ascontiguousarray(arr)).float() / 127.5 - 1.0
        label = self.mirrored_labels[i] if flip else self.labels[i]
        return image, label.clone()
