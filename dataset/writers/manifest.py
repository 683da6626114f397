"""Per-identity records (the commit point of an identity) and the dataset manifest built from them.

An identity is complete exactly when ``identities/<id>/record.json`` exists and every file it
lists has the recorded SHA-256. The record is written last and atomically, so a killed build
never leaves an identity that looks complete. ``manifest.json`` is assembled from the records
at the end of a build (or by ``geogen-data merge`` over shards), so any set of shards merges.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from geogen.common.atomic import sha256_file
from geogen.common.errors import UserError

from .. import format as layout
from ..config import DatasetConfig
from ..format import SCHEMA_VERSION, splits

PIPELINE_VERSION = "geogen-dataset-2"  # bump when the same config gives different files

# Config fields that change an identity's files. Others (count, split, preset name, post
# steps) do not, so a dataset can grow or be re-split while reusing built identities.
IDENTITY_FIELDS = ("seed", "views", "resolution", "elevation_min", "elevation_max", "azimuth_jitter", "radius",
                   "focal", "generator", "mesh_resolution", "renderer", "supersample", "shadow_rays", "ao_rays",
                   "ao_distance")

CAMERA_CONVENTION = ("EG3D: OpenCV cam2world (x right, y down, z forward), intrinsics normalised by image size, "
                     "world y-up, head centred at the origin facing +z")


def identity_key(config: DatasetConfig) -> str:
    """Hash of what an identity's files depend on: config fields, pipeline and generator versions."""
    from ..generators import get_generator

    d = config.to_dict()
    blob = json.dumps({"config": {k: d[k] for k in IDENTITY_FIELDS}, "pipeline": PIPELINE_VERSION,
                       "generator": get_generator(config.generator).version}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load_record(root: Path, identity: int) -> dict | None:
    """The identity's record, or None if missing/unreadable (i.e. the identity is not committed)."""
    path = root / layout.record(identity)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def verify_files(root: Path, files: dict[str, str]) -> list[str]:
    """Problems (missing file, checksum mismatch) with the files a record/manifest lists."""
    from geogen.common.paths import inside_dataset

    problems = []
    for rel, digest in sorted(files.items()):
        try:
            p = inside_dataset(root, rel, what="listed file")
        except UserError:
            problems.append(f"{rel}: points outside the dataset folder")
            continue
        if not p.is_file():
            problems.append(f"{rel}: missing")
        elif sha256_file(p) != digest:
            problems.append(f"{rel}: checksum mismatch (file changed or corrupt)")
    return problems


def record_is_complete(root: Path, record: dict | None, key: str) -> bool:
    return (record is not None and record.get("schema_version") == SCHEMA_VERSION
            and record.get("identity_key") == key and not verify_files(root, record.get("files", {})))


def dataset_labels(records: dict[int, dict], ids: list[int]) -> list[tuple[str, list[float]]]:
    """EG3D labels of every view of ``ids``, ordered by identity then view."""
    return [(v["image"], v["label"]) for i in ids for v in records[i]["views"]]


def build_manifest(config: DatasetConfig, records: dict[int, dict], derived: dict[str, str]) -> dict[str, Any]:
    """The manifest of a complete dataset (every identity of the config has a record)."""
    split = splits(config)
    train, test = split["train"], split["test"]
    files: dict[str, str] = {}
    identities = {}
    versions = sorted({r["generator_version"] for r in records.values()})
    for i in range(config.identities):
        r = records[i]
        files.update(r["files"])
        identities[layout.id_str(i)] = {k: r[k] for k in ("params", "lighting", "views", "mesh")}
    return {
        "schema_version": SCHEMA_VERSION,
        "generator_version": f"{PIPELINE_VERSION}; {', '.join(versions)}",
        "seed": config.seed,
        "preset": config.preset,
        "config": config.to_dict(),
        "resolution": config.resolution,
        "counts": {"identities": config.identities, "views_per_identity": config.views,
                   "images": config.identities * config.views, "train_identities": len(train),
                   "val_identities": len(split["val"]), "test_identities": len(test)},
        "camera": {"convention": CAMERA_CONVENTION, "radius": config.radius, "focal_normalized": config.focal,
                   "fov_deg": config.fov_deg, "elevation_range_deg": [config.elevation_min, config.elevation_max],
                   "azimuth": "full 360 deg, stratified with jitter (no gap > 90 deg per identity)"},
        "split": {name: [layout.id_str(i) for i in ids] for name, ids in split.items()},
        "identities": identities,
        "files": dict(sorted(files.items())),
        "derived_files": dict(sorted(derived.items())),
    }
