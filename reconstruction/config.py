"""Typed configuration of the reconstruction pipeline, with presets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from geogen.common.errors import UserError

from .fusion import FusionConfig
from .meshing import MeshingConfig
from .patchmatch import PatchMatchConfig


@dataclass
class ReconConfig:
    preset: str = "tiny"
    backend: str = "torch"  # "torch" (ours, CPU/GPU) or "colmap" (pycolmap.patch_match_stereo, needs CUDA)
    device: str | None = None  # torch device; None = CUDA when available, else CPU
    use_sparse: bool = True  # SIFT + triangulation for depth ranges and source views
    use_masks: bool = True  # restrict stereo to foreground masks when the input has them
    use_hull: bool = True  # with masks: limit each pixel's depth range to the visual hull (see hull.py)
    hull_resolution: int = 128  # voxels per side of the scene box for the hull
    max_source_angle: float = 80.0  # degrees between optical axes for a usable source view
    depth_margin: float = 0.25  # widen the sparse depth range by this fraction of itself (each side)
    min_textured_fraction: float = 0.05  # below this share of textured pixels → "too little texture"
    min_fused_points: int = 500  # fewer fused points → "empty fusion"
    num_threads: int = 1  # torch / SIFT threads
    patchmatch: PatchMatchConfig = field(default_factory=PatchMatchConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    meshing: MeshingConfig = field(default_factory=MeshingConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def make_recon_config(preset: str = "tiny", **overrides: Any) -> ReconConfig:
    """A preset with top-level overrides (None values ignored)."""
    if preset not in PRESETS:
        raise UserError(f"unknown reconstruction preset {preset!r}; choose from {', '.join(PRESETS)}")
    cfg = dataclasses.replace(PRESETS[preset])
    cfg.patchmatch = dataclasses.replace(cfg.patchmatch)
    cfg.fusion = dataclasses.replace(cfg.fusion)
    cfg.meshing = dataclasses.replace(cfg.meshing)
    for k, v in overrides.items():
        if v is None:
            continue
        if not hasattr(cfg, k):
            raise UserError(f"unknown reconstruction option {k!r}")
        setattr(cfg, k, v)
    if cfg.backend not in ("torch", "colmap"):
        raise UserError(f"unknown backend {cfg.backend!r}; choose 'torch' or 'colmap'")
    return cfg


# Fusion and meshing of the CPU presets, chosen on the validation identities of a 54-identity tiny
# build (docs/reconstruction.md, "Issue 15"): normals may differ by 30 degrees between agreeing views
# (128^2 PatchMatch normals are noisy; ACMP's 10 degrees dropped good points), Poisson point weight 10,
# and the surface is closed: clamped onto the scene box (the unseen torso bottom lies on it) and its
# holes capped, one watertight component.
CPU_FUSION = FusionConfig(max_normal_angle=30.0)
CLOSED = dict(point_weight=10.0, bounds_mode="clamp", bounds_margin=0.0, cap_holes=True)

PRESETS: dict[str, ReconConfig] = {
    # CPU, 128^2-256^2 images: a 7x7 dense patch (11x11 stride 2 is too coarse for a 30-pixel-wide head
    # at 128^2: measured F-score@1% 0.60 vs 0.52 on identity 000004 of the tiny build); best_k=1 (the
    # best source view decides, fusion's cross-view check removes the outliers: F@1% 0.72 / 0.78 vs
    # 0.65 / 0.74 with best_k=2 on identities 000004 / 000007), octree depth 8. Coarse-to-fine and the
    # planar prior stay off: neither paid on the validation identities.
    # 5 photometric + 2 geometric iterations (was 4 + 1): val mean F@1% 0.765 -> 0.772, ~1.4x the dense time.
    "tiny": ReconConfig(preset="tiny", patchmatch=PatchMatchConfig(iterations=5, geom_iterations=2, patch_size=7,
                                                                   patch_stride=1, best_k=1),
                        fusion=dataclasses.replace(CPU_FUSION), meshing=MeshingConfig(depth=8, **CLOSED)),
    # Default quality.
    "small": ReconConfig(preset="small", patchmatch=PatchMatchConfig(iterations=5, geom_iterations=2, patch_size=7,
                                                                     patch_stride=1, best_k=1),
                         fusion=dataclasses.replace(CPU_FUSION), meshing=MeshingConfig(depth=9, **CLOSED)),
    # 512^2 and up: more sources and iterations (a GPU is advisable); ACMP's fusion thresholds (not measured).
    "paper": ReconConfig(preset="paper", patchmatch=PatchMatchConfig(iterations=6, geom_iterations=2, num_sources=6,
                                                                    best_k=2),
                         meshing=MeshingConfig(depth=10, **CLOSED), fusion=FusionConfig(voxel_size=0.001)),
}
