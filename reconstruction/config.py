"""Typed configuration of the reconstruction pipeline, with presets (``PRESETS``).

``make_recon_config(preset, sets, **overrides)`` copies a preset and applies command-line
options and ``--set section.field=value`` assignments (``--set meshing.depth=9``).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Iterable

from geogen.common.config import Config, apply_sets
from geogen.common.errors import UserError

from .fusion import FusionConfig
from .meshing import MeshingConfig
from .patchmatch import PatchMatchConfig


@dataclass
class ReconConfig(Config):
    """Everything that determines a reconstruction: the stages' options and their settings."""

    preset: str = "tiny"
    """Name of the preset this config started from (recorded with the results)."""
    backend: str = "torch"
    """Dense stereo: ``torch`` (ours, CPU/GPU) or ``colmap`` (pycolmap.patch_match_stereo, needs CUDA)."""
    device: str | None = None
    """Torch device; None = CUDA when available, else CPU."""
    use_sparse: bool = True
    """SIFT + triangulation for depth ranges and source views."""
    use_masks: bool = True
    """Restrict stereo to foreground masks when the input has them."""
    use_hull: bool = True
    """With masks: limit each pixel's depth range to the visual hull (see hull.py)."""
    hull_resolution: int = 128
    """Voxels per side of the scene box for the hull."""
    max_source_angle: float = 80.0
    """Degrees between optical axes for a usable source view."""
    depth_margin: float = 0.25
    """Widen the sparse depth range by this fraction of itself (each side)."""
    min_textured_fraction: float = 0.05
    """Below this share of textured pixels → "too little texture"."""
    min_fused_points: int = 500
    """Fewer fused points → "empty fusion"."""
    num_threads: int = 1
    """Torch / SIFT threads."""
    patchmatch: PatchMatchConfig = field(default_factory=PatchMatchConfig)
    """Dense stereo (``--set patchmatch.<field>=...``)."""
    fusion: FusionConfig = field(default_factory=FusionConfig)
    """Depth-map fusion (``--set fusion.<field>=...``)."""
    meshing: MeshingConfig = field(default_factory=MeshingConfig)
    """Poisson meshing (``--set meshing.<field>=...``)."""

    def __post_init__(self):
        super().__post_init__()
        if self.backend not in ("torch", "colmap"):
            raise UserError(f"unknown backend {self.backend!r}; choose 'torch' or 'colmap'")


def make_recon_config(preset: str = "tiny", sets: Iterable[str] = (), **overrides: Any) -> ReconConfig:
    """A copy of a preset with top-level ``overrides`` (None values ignored), then the dotted
    ``--set`` assignments ``sets`` (``meshing.depth=9``), type-checked."""
    if preset not in PRESETS:
        raise UserError(f"unknown reconstruction preset {preset!r}; choose from {', '.join(PRESETS)}")
    cfg = copy.deepcopy(PRESETS[preset])     # callers may change the nested configs in place
    names = {f.name for f in dataclasses.fields(ReconConfig)}
    changes = {k: v for k, v in overrides.items() if v is not None}
    for k in changes:
        if k not in names:
            raise UserError(f"unknown reconstruction option {k!r}")
    return apply_sets(dataclasses.replace(cfg, **changes), list(sets), fixed=("preset",))


# Fusion and meshing of the CPU presets, chosen on the validation identities of a 54-identity tiny
# build (docs/reconstruction.md, "Issue 15"): normals may differ by 30 degrees between agreeing views
# (128^2 PatchMatch normals are noisy; ACMP's 10 degrees dropped good points), Poisson point weight 10,
# and the surface is closed: clamped onto the scene box (the unseen torso bottom lies on it) and its
# holes capped, one watertight component.
CPU_FUSION = FusionConfig(max_normal_angle=30.0)
# Session 9: the lowest 6 % of the GT's height (the torso below the bottom edge of every image, down to the
# box floor where the dataset cuts it) held 75 % of the missed GT surface; the cloud's lower edge is now
# continued to the floor along the visual hull (meshing.floor_extrude, 1 cm columns): val median F@1%
# 0.866 -> 0.920 (tiny, 128^2) and 0.898 -> 0.954 (small, 256^2); straight down without following the
# hull gave 0.889 (tiny).
CLOSED = dict(point_weight=10.0, bounds_mode="clamp", bounds_margin=0.0, cap_holes=True, floor_extrude=0.01)

PRESETS: dict[str, ReconConfig] = {
    # CPU, 128^2-256^2 images: a 7x7 dense patch (11x11 stride 2 is too coarse for a 30-pixel-wide head
    # at 128^2: measured F-score@1% 0.60 vs 0.52 on identity 000004 of the tiny build); best_k=1 (the
    # best source view decides, fusion's cross-view check removes the outliers: F@1% 0.72 / 0.78 vs
    # 0.65 / 0.74 with best_k=2 on identities 000004 / 000007), octree depth 8. Coarse-to-fine and the
    # planar prior stay off: neither paid on the validation identities.
    # 5 photometric + 2 geometric iterations (was 4 + 1): val mean F@1% 0.765 -> 0.772, ~1.4x the dense time.
    # Session 6 (val, docs/reconstruction.md): keep pixels up to cost 1.2 instead of 0.5 (coverage 83 % -> 99 %
    # of the mask; fusion's cross-view check removes the bad ones), no normal test in fusion (128^2 stereo
    # normals are too noisy for any threshold: 10/30/60/90/180 degrees gave 0.77/0.79/0.80/0.81/0.81) and
    # Poisson point weight 4: val median F@1% 0.779 -> 0.842, mean 0.772 -> 0.813.
    # Session 8, with the training views plus 10 extra recon views (20 views, the datasets' default): the
    # 30-degree normal test pays again (val median / mean F@1% 0.851 / 0.857 -> 0.866 / 0.860; 20/45/60
    # degrees 0.860 / 0.864 / 0.853 median), coarse-to-fine does not (0.851 / 0.849), nor 3 + 1 iterations.
    "tiny": ReconConfig(preset="tiny", patchmatch=PatchMatchConfig(iterations=5, geom_iterations=2, patch_size=7,
                                                                   patch_stride=1, best_k=1, max_cost=1.2),
                        fusion=dataclasses.replace(CPU_FUSION),
                        meshing=MeshingConfig(depth=8, **{**CLOSED, "point_weight": 4.0})),
    # Default quality, 256^2 renders: the 7x7 patch at stride 2 (a 13-pixel footprint, what 7x7 covers of a
    # head at 128^2): val (small build, 2 identities) median F@1% 0.880 -> 0.882 with half the dense time.
    # The 128^2 choices above did not carry over at 256^2 (no normal test: 0.880 -> 0.837; cost 1.2: 0.881).
    # Session 8, 20 views (training + 10 recon views), val of a 40-identity small build (4 identities): no
    # normal test (median / mean F@1% 0.885 / 0.883 with 30 degrees -> 0.892 / 0.891), then coarse-to-fine
    # (3 iterations at 128^2, then 2 + 2 at 256^2 instead of 5 + 2): 0.898 / 0.897 in ~0.7x the stereo time.
    # Poisson depth 8 would save ~15 s per identity for 0.005 (0.893 / 0.892).
    # Session 9, with the floor extrusion: depth 9 / 8 give 0.954 / 0.949 (mean 0.949 / 0.945), and depth 8
    # takes 9 s instead of 30 s per identity: depth 8. Then 1 geometric iteration at 256^2 instead of 2:
    # 0.950 / 0.946 (vs 0.949 / 0.945) in ~0.93x the stereo time.
    "small": ReconConfig(preset="small", patchmatch=PatchMatchConfig(iterations=2, geom_iterations=1, patch_size=7,
                                                                     patch_stride=2, best_k=1, coarse_levels=1),
                         fusion=FusionConfig(max_normal_angle=180.0), meshing=MeshingConfig(depth=8, **CLOSED)),
    # 512^2 and up: more sources and iterations (a GPU is advisable); ACMP's fusion thresholds (not measured).
    "paper": ReconConfig(preset="paper", patchmatch=PatchMatchConfig(iterations=6, geom_iterations=2, num_sources=6,
                                                                    best_k=2),
                         meshing=MeshingConfig(depth=10, **CLOSED), fusion=FusionConfig(voxel_size=0.001)),
}
