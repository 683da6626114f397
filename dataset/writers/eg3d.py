"""EG3D's ``dataset.json`` ({"labels": [[relpath, 25 floats], ...]}) and its zip layout.

EG3D's ImageFolderDataset reads either a folder or a zip holding the images plus
``dataset.json`` at the root, and matches labels by the image's relative path; our zip holds
the training split's images under their dataset paths, so the same labels serve both.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from geogen.common.atomic import atomic_path, atomic_write_json, sha256_file

from ..format import DATASET_JSON

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed timestamp: byte-identical zips


def write_dataset_json(path: Path, labels: list[tuple[str, list[float]]]) -> str:
    atomic_write_json(path, {"labels": [[p, lab] for p, lab in labels]})
    return sha256_file(path)


def write_eg3d_zip(path: Path, root: Path, labels: list[tuple[str, list[float]]]) -> str:
    """Zip (stored, deterministic) with every labelled image and dataset.json at the root."""
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
            for rel, _ in labels:
                info = zipfile.ZipInfo(rel, date_time=_ZIP_DATE)
                info.external_attr = 0o644 << 16
                zf.writestr(info, (root / rel).read_bytes())
            info = zipfile.ZipInfo(DATASET_JSON, date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            data = json.dumps({"labels": [[p, lab] for p, lab in labels]}, indent=2, sort_keys=True) + "\n"
            zf.writestr(info, data.encode("utf-8"))
    return sha256_file(path)
