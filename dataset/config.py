"""Typed configuration of a dataset build, with presets ``tiny``, ``small`` and ``paper``.

A preset is a complete :class:`DatasetConfig`; command-line options and ``--set field=value``
(the shared parser, :func:`geogen.common.config.apply_sets`) replace single fields.
Everything that changes the bytes of the output lives here (so it is recorded in the
manifest); things that do not (worker count, progress bar) are build options instead.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass, field
from typing import Any, Iterable

from geogen.common.cameras import DEFAULT_RADIUS, fov_from_focal
from geogen.common.config import Config, apply_sets
from geogen.common.errors import UserError

#: Normalised focal length of the dataset cameras (image-size units). With radius 2.7 the
#: frame spans about +-0.42 scene units at the origin: head, neck and shoulders (layout.md).
DATASET_FOCAL = 3.2


@dataclass(frozen=True)
class DatasetConfig(Config):
    """Everything that determines the files of a dataset build."""

    preset: str = "tiny"
    """Name of the preset this config started from (recorded in the manifest)."""
    identities: int = 24
    """Number of identities (heads); identity indices are 0..identities-1."""
    views: int = 10
    """Views per identity, spread over the full 360 deg azimuth (stratified with jitter)."""
    resolution: int = 128
    """Square image size in pixels."""
    seed: int = 0
    """Master seed: identities, cameras, lighting and the split all derive from it."""
    test_fraction: float = 0.15
    """Fraction of identities held out as the test split (at least one when identities >= 2)."""
    val_fraction: float = 0.15
    """Fraction of identities held out as the validation split, on which settings are chosen (at least
    one when val_fraction > 0 and two identities remain besides the test split; 0 = no split)."""
    elevation_min: float = -10.0
    """Lowest camera elevation in degrees (negative looks up from below)."""
    elevation_max: float = 25.0
    """Highest camera elevation in degrees (positive looks down from above)."""
    azimuth_jitter: float = 1.0
    """How much of the allowed per-view azimuth jitter to use (0 = evenly spaced)."""
    radius: float = DEFAULT_RADIUS
    """Camera distance from the origin (scene units), EG3D's 2.7."""
    focal: float = DATASET_FOCAL
    """Normalised focal length (image-size units); field of view = 2 atan(0.5 / focal)."""
    generator: str = "procedural"
    """Head generator (see ``dataset.generators``)."""
    mesh_resolution: int = 128
    """Marching-cubes grid resolution of the GT mesh."""
    renderer: str = "embree"
    """Rendering backend (see ``dataset.render.RENDERERS``)."""
    supersample: int = 2
    """Anti-aliasing: supersample x supersample RGB samples per pixel (2 = rotated grid)."""
    shadow_rays: int = 2
    """Jittered shadow rays toward the key (area) light per RGB sample."""
    ao_rays: int = 2
    """Ambient-occlusion hemisphere rays per RGB sample."""
    ao_distance: float = 0.12
    """Ambient-occlusion ray length in scene units."""
    post_steps: tuple[str, ...] = field(default_factory=tuple)
    """Steps run after all identities are built (registry ``dataset.build.POST_STEPS``)."""

    @property
    def fov_deg(self) -> float:
        return fov_from_focal(self.focal)

    @property
    def test_count(self) -> int:
        if self.identities < 2:
            return 0
        return min(self.identities - 1, max(1, round(self.test_fraction * self.identities)))

    @property
    def val_count(self) -> int:
        left = self.identities - self.test_count          # train + val; train keeps at least one
        if self.val_fraction <= 0 or left < 2:
            return 0
        return min(left - 1, max(1, round(self.val_fraction * self.identities)))

    @classmethod
    def from_dict(cls, d: Any) -> "DatasetConfig":
        return super().from_dict(d).validated()

    def validated(self) -> "DatasetConfig":
        """Return self, or raise a one-line UserError naming the bad field and the fix."""
        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise UserError(msg)

        need(self.identities >= 1, f"--identities must be >= 1 (got {self.identities})")
        need(self.views >= 4, f"--views must be >= 4 so views cover 360 deg with no gap > 90 deg (got {self.views})")
        need(self.views <= 999, f"--views must be <= 999 (file names have 3 digits; got {self.views})")
        need(self.identities <= 999_999, f"--identities must be <= 999999 (got {self.identities})")
        need(16 <= self.resolution <= 4096, f"--resolution must be between 16 and 4096 pixels (got {self.resolution})")
        need(self.seed >= 0, f"--seed must be >= 0 (got {self.seed})")
        need(0.0 <= self.test_fraction < 1.0, f"test_fraction must be in [0, 1) (got {self.test_fraction})")
        need(0.0 <= self.val_fraction < 1.0, f"val_fraction must be in [0, 1) (got {self.val_fraction})")
        for name in ("elevation_min", "elevation_max"):
            v = getattr(self, name)
            need(-80.0 <= v <= 80.0, f"--{name.replace('_', '-')} must be within [-80, 80] degrees (got {v})")
        need(self.elevation_min <= self.elevation_max,
             f"--elevation-min ({self.elevation_min}) must not exceed --elevation-max ({self.elevation_max})")
        need(0.0 <= self.azimuth_jitter <= 1.0, f"azimuth_jitter must be in [0, 1] (got {self.azimuth_jitter})")
        need(self.radius > math.sqrt(3) * 0.5 + 0.1,
             f"radius must put the camera outside the scene cube (> 0.97; got {self.radius})")
        need(self.focal > 0.0, f"focal must be > 0 (got {self.focal})")
        need(32 <= self.mesh_resolution <= 1024, f"mesh_resolution must be in [32, 1024] (got {self.mesh_resolution})")
        need(1 <= self.supersample <= 4, f"supersample must be 1..4 (got {self.supersample})")
        need(self.shadow_rays >= 0 and self.ao_rays >= 0, "shadow_rays and ao_rays must be >= 0")
        need(self.ao_distance > 0.0, f"ao_distance must be > 0 (got {self.ao_distance})")
        return self


PRESETS: dict[str, DatasetConfig] = {
    # CPU demo/test scale: builds on 2 cores in about a minute.
    "tiny": DatasetConfig(preset="tiny", identities=30, views=10, resolution=128, test_fraction=0.15,
                          val_fraction=0.15, mesh_resolution=128),
    # A few hundred identities at 256^2: tens of minutes on a laptop.
    "small": DatasetConfig(preset="small", identities=300, views=10, resolution=256, test_fraction=0.1,
                           val_fraction=0.1, mesh_resolution=192),
    # The paper's scale (19,800 identities x 10 views at 512^2); shard it across machines.
    "paper": DatasetConfig(preset="paper", identities=19_800, views=10, resolution=512, test_fraction=0.01,
                           val_fraction=0.01, mesh_resolution=256, shadow_rays=2, ao_rays=4),
}


def make_config(preset: str, sets: Iterable[str] = (), **overrides: Any) -> DatasetConfig:
    """Preset ``preset`` with non-None ``overrides`` and then the ``--set`` assignments ``sets``
    (``mesh_resolution=64``) applied, validated (UserError on bad input)."""
    if preset not in PRESETS:
        close = difflib.get_close_matches(preset, list(PRESETS), n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UserError(f"unknown preset {preset!r} (choose from {', '.join(PRESETS)}){hint}")
    changes = {k: v for k, v in overrides.items() if v is not None}
    names = {f.name for f in dataclasses.fields(DatasetConfig)}
    for k in changes:
        if k not in names:
            raise UserError(f"unknown dataset config field {k!r}")
    return apply_sets(dataclasses.replace(PRESETS[preset], **changes), list(sets), fixed=("preset",)).validated()
