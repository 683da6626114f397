"""Training snapshots on disk: their names, the ``latest`` pointer, pruning.

The file format itself (plain data read with ``torch.load(weights_only=True)``, never pickled
code) and the model loader live in :mod:`geogen.model.io`, so a trained model can be used
without the training package; they are re-exported here for the training code.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from geogen.common.atomic import atomic_write_text
from geogen.model.io import (FORMAT, FORMAT_VERSION, MODEL_KEYS, SNAPSHOT_KEYS, build_generator,  # noqa: F401
                             load_file, load_model_file, load_state, save_file)

LATEST = "latest"
_SNAPSHOT_RE = re.compile(r"^snapshot-(\d+\.\d+)\.pt$")


def snapshot_name(kimg: float) -> str:
    """File name of the periodic snapshot at ``kimg`` (sorts by kimg as text)."""
    return f"snapshot-{kimg:09.3f}.pt"


def write_latest(out_dir: str | os.PathLike, name: str) -> None:
    """Point ``out_dir/latest`` at snapshot file ``name`` (atomic)."""
    atomic_write_text(Path(out_dir) / LATEST, name + "\n")


def list_snapshots(out_dir: str | os.PathLike) -> list[Path]:
    """Periodic snapshots in ``out_dir``, oldest first."""
    d = Path(out_dir)
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if _SNAPSHOT_RE.match(p.name))


def find_latest(out_dir: str | os.PathLike) -> Path | None:
    """The snapshot ``latest`` points at, else the newest snapshot file, else None."""
    d = Path(out_dir)
    pointer = d / LATEST
    if pointer.is_file():
        target = d / pointer.read_text().strip()
        if target.is_file():
            return target
    snaps = list_snapshots(d)
    return snaps[-1] if snaps else None


def is_milestone(path: Path, milestone_kimg: float) -> bool:
    """Whether snapshot ``path`` is at a multiple of ``milestone_kimg`` (never when that is <= 0)."""
    if milestone_kimg <= 0:
        return False
    kimg = float(path.name.removeprefix("snapshot-").removesuffix(".pt"))
    ratio = kimg / milestone_kimg
    return ratio >= 1 and abs(ratio - round(ratio)) < 1e-6


def prune_snapshots(out_dir: str | os.PathLike, keep: int, milestone_kimg: float = 0.0) -> None:
    """Delete all but the newest ``keep`` periodic snapshots (never the one ``latest`` names, nor
    milestones: snapshots at multiples of ``milestone_kimg``)."""
    if keep <= 0:
        return
    latest = find_latest(out_dir)
    for p in list_snapshots(out_dir)[:-keep]:
        if p != latest and not is_milestone(p, milestone_kimg):
            p.unlink(missing_ok=True)
