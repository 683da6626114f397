"""The scoring protocol: every setting that changes a geometry number, with a version string.

Two results can be ranked against each other only if their protocols are equal
(:meth:`Protocol.key`). Bump :data:`PROTOCOL_VERSION` whenever a metric definition, the
normalisation, the crop or the sampling changes meaning, so older result files are never
ranked together with newer ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from geogen.common.errors import UserError

PROTOCOL_VERSION = "geogen-geom-1"
GT_KINDS = ("exact", "pseudo")


@dataclass(frozen=True)
class Protocol:
    """How a predicted mesh is compared with its ground-truth mesh."""

    version: str = PROTOCOL_VERSION
    gt: str = "exact"
    """Ground truth: "exact" (meshes/gt) or "pseudo" (meshes/pseudo_gt, multi-view stereo)."""
    normalisation: str = "gt-bbox"
    """Translate by the GT bounding-box centre, divide by the GT bounding-box diagonal (both meshes)."""
    crop_margin: float = 0.05
    """Predicted surface is clipped to the GT bounding box grown by this much on every side
    (in normalised units, i.e. a fraction of the GT bounding-box diagonal)."""
    n_points: int = 100_000
    """Points sampled uniformly by area on each surface."""
    emd_points: int = 2_048
    """Size of the seeded subsample of each point set used for the exact EMD."""
    seed: int = 0
    """Seed of the surface sampling and of the EMD subsample (combined with the sample id)."""

    def __post_init__(self) -> None:
        if self.gt not in GT_KINDS:
            raise UserError(f"unknown ground truth {self.gt!r}; use one of {', '.join(GT_KINDS)}")
        if self.n_points < 100:
            raise UserError(f"n_points must be at least 100, got {self.n_points}")
        if not 2 <= self.emd_points <= self.n_points:
            raise UserError(f"emd_points must be in [2, n_points], got {self.emd_points}")
        if self.crop_margin < 0:
            raise UserError(f"crop_margin must be >= 0, got {self.crop_margin}")

    def to_dict(self) -> dict:
        return asdict(self)

    def key(self) -> str:
        """Identity of the protocol for ranking: equal keys ⇔ numbers are comparable."""
        return (f"{self.version}|gt={self.gt}|N={self.n_points}|M={self.emd_points}"
                f"|margin={self.crop_margin:g}|seed={self.seed}")
