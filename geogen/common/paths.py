"""Paths read from dataset files (dataset.json, transforms.json, manifest.json) stay inside the dataset.

A dataset folder is data from elsewhere: an entry such as ``../../home/me/.ssh/id_rsa`` or an
absolute path must not make a tool read (or write) outside it. Every such path goes through
:func:`inside_dataset`.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import UserError


def inside_dataset(root: str | os.PathLike, rel, base: str | os.PathLike | None = None,
                   what: str = "path") -> Path:
    """``base / rel`` resolved (symlinks followed), or a one-line UserError if it leaves ``root``.

    ``base`` defaults to ``root`` (dataset.json and manifest.json entries are relative to the
    dataset folder; transforms.json entries are relative to the file's own folder).
    """
    if not isinstance(rel, (str, os.PathLike)) or not str(rel) or "\x00" in str(rel):
        raise UserError(f"{what} {rel!r} is not a relative file path; fix or rebuild the dataset")
    top = Path(root).resolve()
    path = (Path(base).resolve() if base is not None else top) / rel
    path = path.resolve()
    if path != top and top not in path.parents:
        raise UserError(f"{what} {str(rel)!r} points outside the dataset folder {root}; "
                        "dataset files may only name files inside it")
    return path
