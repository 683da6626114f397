"""The scoring protocol and the track: together, every setting that changes a number.

The *protocol* (:class:`Protocol`, :meth:`Protocol.key`) says how a predicted mesh is compared
with its GT: GT kind, normalisation, crop, sampling, seed. The *track* (:func:`run_track`,
:func:`score_track`, :func:`track_key`) says how the predicted meshes were made: for
``geogen-bench run`` the input views and their seed, the mesh resolution and the inversion
(method, loss, steps, learning rates, what is tuned); for ``geogen-bench score`` only that the
meshes came from the method itself. Two results are ranked against each other only if both
keys, the dataset checksum and the full test split agree (leaderboard/build.py). Bump
:data:`PROTOCOL_VERSION` whenever a metric definition, the normalisation, the crop or the
sampling changes meaning, so older result files are never ranked together with newer ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from geogen.common.errors import UserError

PROTOCOL_VERSION = "geogen-geom-1"
GT_KINDS = ("exact", "pseudo")
NORMALISATIONS = ("gt-bbox",)   # the only one implemented (benchmark.geometry.Normalisation)


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
        if self.normalisation not in NORMALISATIONS:
            raise UserError(f"unknown normalisation {self.normalisation!r}; implemented: {', '.join(NORMALISATIONS)}")
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


def _flat(prefix: str, value) -> list[str]:
    """``prefix=value`` strings of a nested dict (keys joined with '.', sorted; floats as %g)."""
    if isinstance(value, dict):
        return [part for k in sorted(value) for part in _flat(f"{prefix}.{k}" if prefix else str(k), value[k])]
    if isinstance(value, float):
        value = f"{value:g}"
    elif isinstance(value, bool):
        value = str(value).lower()
    return [f"{prefix}={value}"]


def track_key(track: dict) -> str:
    """Canonical one-line key of a track dict: ``k=v`` pairs of the flattened dict, sorted, ``|``-joined.

    Equal keys ⇔ the predictions were made the same way."""
    return "|".join(_flat("", track))


def score_track() -> dict:
    """Track of ``geogen-bench score``: meshes made by the method itself (its inputs are its own
    declaration, see docs/benchmark.md, "Entering another method")."""
    return {"source": "meshes"}


def run_track(views: int, view_seed: int, mesh_resolution: int, inversion: dict | None) -> dict:
    """Track of ``geogen-bench run``: input views, their seed, mesh resolution, inversion settings.

    ``inversion`` is the adapter's description (e.g. PTI: loss, steps, learning rates, w-average
    samples, noise, seed, ``tune_beta``); "tuned" names what the inversion optimises."""
    track = {"source": "run", "views": int(views), "view_seed": int(view_seed),
             "mesh_resolution": int(mesh_resolution)}
    if inversion:
        inv = dict(inversion)
        if inv.get("method") == "pti":
            inv["tuned"] = "w+G" + ("+beta" if inv.get("tune_beta") else "")
        track["inversion"] = inv
    else:
        track["inversion"] = "none"
    return track
