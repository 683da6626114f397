"""Identity splits of a dataset folder (``split`` in manifest.json: train, test, and later val)."""

from __future__ import annotations

from pathlib import Path

from geogen.common.errors import UserError

from .data import Dataset


def split_ids(ds: Dataset, name: str) -> list[str]:
    """Identities of split ``name``; one-line error if the split is absent/empty or names a path."""
    if name == "test":
        return list(ds.test_ids)
    split = ds.manifest.get("split") if isinstance(ds.manifest, dict) else None
    ids = split.get(name) if isinstance(split, dict) else None
    if not isinstance(ids, list) or not ids:
        have = ", ".join(sorted(k for k, v in (split or {}).items() if isinstance(v, list) and v)) or "none"
        raise UserError(f"{ds.manifest_path} has no split {name!r} (splits present: {have})")
    ids = [str(i) for i in ids]
    for i in ids:
        if Path(i).name != i or i in (".", ".."):
            raise UserError(f"{ds.manifest_path}: split.{name} entry {i!r} is not a plain identity name; "
                            "rebuild the dataset")
    return ids
