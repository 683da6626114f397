"""Typed configuration of the GeoGen model (networks + renderer) and its variants.

``model_config(preset, variant)`` returns a complete config: the preset's instance in ``PRESETS``
with the variant's model overrides. A variant is an entry of ``VARIANT_REGISTRY`` that says
everything it changes, so no code tests a variant's name. Built in:

* ``geogen``          SDF field, Laplace density (Eq. 2), positional encoding (Eq. 1), depth loss (Eqs. 5-6)
* ``geogen-nodepth``  the same with λ = 0 throughout (the paper's "w/o SDF depth loss" ablation)
* ``eg3d``            EG3D's density field softplus(σ-1), mean-aggregated planes, no positional encoding

The training schedule (losses, the β/λ switch point) is the training package's
(:mod:`geogen.training.config`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from geogen.common.config import Config
from geogen.common.errors import UserError
from geogen.common.registry import Registry

SR_LAYOUTS = ("uniform", "two_block")   # ModelConfig.sr_layout, built by superres.sr_stages


@dataclass(frozen=True)
class Variant(Config):
    """A model variant: everything it changes relative to the GeoGen defaults."""

    label: str
    """Display name in reports and figures."""
    field_kind: str = "sdf"
    """``sdf`` (signed distance, Laplace density with β) or ``density`` (EG3D's softplus(σ - 1))."""
    learnable_beta: bool = True
    """β of the Laplace density becomes learnable at the switch point (before it, it is frozen)."""
    depth_loss: bool = True
    """The depth loss (Eq. 7) is on from the switch point; False: λ = 0 throughout."""
    branch_of: str | None = None
    """A variant that trains identically to this one until the switch point, so a comparison may
    branch this one from its snapshot there (``geogen-train --branch-from``); None: none."""
    model_overrides: dict = field(default_factory=dict)
    """ModelConfig fields this variant sets."""
    loss_overrides: dict = field(default_factory=dict)
    """LossConfig fields (``geogen.training.config``) this variant sets."""

    def __post_init__(self):
        super().__post_init__()
        if self.field_kind not in ("sdf", "density"):
            raise UserError(f"Variant.field_kind must be 'sdf' or 'density', got {self.field_kind!r}")
        if self.field_kind != "sdf" and (self.learnable_beta or self.depth_loss):
            raise UserError("a density-field variant has no β and no SDF depth loss: set learnable_beta and "
                            "depth_loss to False")

    @property
    def has_switch(self) -> bool:
        """True when the training schedule changes at the switch point (β learnable or λ > 0 from it)."""
        return self.learnable_beta or self.depth_loss


VARIANT_REGISTRY: Registry[Variant] = Registry("model variant")
VARIANT_REGISTRY.add("geogen", Variant("GeoGen"))
VARIANT_REGISTRY.add("geogen-nodepth", Variant("GeoGen w/o depth loss", depth_loss=False, branch_of="geogen",
                                               loss_overrides=dict(depth_loss_weight=0.0)))
VARIANT_REGISTRY.add("eg3d", Variant("EG3D", "density", learnable_beta=False, depth_loss=False,
                                     model_overrides=dict(pe_levels=0, plane_aggregation="mean"),
                                     loss_overrides=dict(depth_loss_weight=0.0, eikonal_weight=0.0,
                                                         density_reg_weight=0.25)))


@dataclass
class ModelConfig(Config):
    """Architecture and rendering settings shared by the generator, discriminator and renderer."""

    variant: str = "geogen"
    """Name of an entry of ``VARIANT_REGISTRY`` (built in: geogen, geogen-nodepth, eg3d)."""
    # --- latent / conditioning
    z_dim: int = 64
    """Latent code size."""
    w_dim: int = 64
    """Intermediate latent size."""
    c_dim: int = 25
    """Camera label size (EG3D's 25 floats)."""
    mapping_layers: int = 2
    """FC layers of the mapping network (EG3D: 2)."""
    mapping_lr_mul: float = 0.01
    """Learning-rate multiplier of the mapping network (EG3D: 0.01)."""
    # --- tri-plane backbone (StyleGAN2 synthesis)
    plane_resolution: int = 32
    """Tri-plane resolution (EG3D: 256)."""
    plane_channels: int = 16
    """Feature channels per plane (EG3D: 32)."""
    channel_base: int = 1024
    """Backbone channels at resolution r = min(channel_base // r, channel_max)."""
    channel_max: int = 64
    """Upper bound of the backbone channels."""
    plane_aggregation: str = "concat"
    """``concat`` (the paper's augmented tri-plane) or ``mean`` (EG3D)."""
    up_mode: str = "bilinear"
    """How the backbone and super-resolution upsample 2x: ``bilinear`` (bilinear 2x, then the 3x3 conv
    at the output resolution; the presets, and every model saved before this field existed) or
    ``transposed`` (EG3D's: a stride-2 transposed 3x3 conv at the input resolution, then a [1,3,3,1]
    low-pass; a quarter of the multiply-adds of those layers, a different function)."""
    # --- decoder / field
    decoder_hidden: int = 64
    """Hidden width of the decoder MLP (EG3D: 64)."""
    decoder_features: int = 16
    """Colour feature channels rendered (first 3 are RGB; EG3D: 32)."""
    pe_levels: int = 4
    """L of Eq. 1 (0 disables the positional encoding)."""
    beta_init: float = 0.05
    """Initial β of the Laplace density (scene units)."""
    beta_min: float = 1e-3
    """Β = β_min + exp(log_beta): positive and smooth, cannot flip sign."""
    sphere_init_radius: float = 0.3
    """SDF prior: sdf = MLP output + (|p| - r); the field starts as a sphere."""
    geometry_lr_mul: float = 1.0
    """Lr multiplier of the decoder's SDF/density output (< 1: geometry moves slower than colour)."""
    # --- rendering
    neural_resolution: int = 32
    """Raw volume-rendered image size."""
    image_resolution: int = 64
    """Final image size after super-resolution."""
    samples_coarse: int = 12
    """Stratified samples per ray."""
    samples_fine: int = 12
    """Importance samples per ray (from the coarse weights)."""
    ray_start: float = 2.1
    """Ray interval (camera radius 2.7, scene inside [-0.5, 0.5]^3)."""
    ray_end: float = 3.3
    """End of the ray interval."""
    box_warp: float = 1.0
    """Side of the cube the tri-planes span (centred at the origin)."""
    background_mode: str = "gradient"
    """``gradient``: vertical colour gradient (top/bottom RGB predicted from w, as the dataset's backdrop);
    ``constant``: the fixed ``background`` colour."""
    background: tuple[float, ...] = (1.0, 1.0, 1.0)
    """Constant RGB in [0, 1] (background_mode ``constant``)."""
    background_lr_mul: float = 10.0
    """Learning-rate multiplier of the gradient-background layer."""
    depth_loss_min_weight: float = 0.5
    """Rays with weights_sum below this are excluded from the depth loss."""
    depth_loss_grad: str = "full"
    """Gradient path of the depth loss (Eqs. 5-6): ``full``: through the rendered depth d(r) too (every sample's
    SDF and β); ``surface``: d(r) is a fixed target and only s(p_d) is trained (docs/model.md)."""
    # --- super-resolution
    sr_channels: int = 32
    """Channels of the super-resolution blocks (``two_block`` layout: of the first; the second has half)."""
    sr_layout: str = "uniform"
    """Super-resolution stages: ``uniform`` (one 2x stage of ``sr_channels`` per doubling; the presets and
    every model saved before this field existed) or ``two_block`` (EG3D's two blocks: ``sr_channels`` at half the
    image size, then ``sr_channels // 2`` at the image size; at 32² → 64² 0.65x the multiply-adds with
    ``up_mode="transposed"``, 0.85x with ``bilinear``)."""
    # --- discriminator
    d_channel_base: int = 1024
    """D channels at resolution r = min(d_channel_base // r, d_channel_max)."""
    d_channel_max: int = 64
    """Upper bound of the D channels."""
    d_cmap_dim: int = 64
    """Camera-projection dimension of the conditional D."""
    d_mbstd_group: int = 4
    """Minibatch-std group size."""

    def __post_init__(self):
        super().__post_init__()
        VARIANT_REGISTRY.get(self.variant)   # one-line error with "did you mean" for an unknown variant
        if self.plane_aggregation not in ("concat", "mean"):
            raise UserError(f"plane_aggregation must be 'concat' or 'mean', got {self.plane_aggregation!r}")
        if self.up_mode not in ("bilinear", "transposed"):
            raise UserError(f"up_mode must be 'bilinear' or 'transposed', got {self.up_mode!r}")
        if self.sr_layout not in SR_LAYOUTS:
            raise UserError(f"sr_layout must be one of {', '.join(SR_LAYOUTS)}, got {self.sr_layout!r}")
        if self.sr_layout == "two_block" and (self.image_resolution < 2 * self.neural_resolution
                                         or self.image_resolution % 2 or self.sr_channels < 2):
            raise UserError("sr_layout 'two_block' needs image_resolution >= 2 * neural_resolution (even) and sr_channels >= 2")
        if self.background_mode not in ("gradient", "constant"):
            raise UserError(f"background_mode must be 'gradient' or 'constant', got {self.background_mode!r}")
        if self.image_resolution < self.neural_resolution:
            raise UserError("image_resolution must be >= neural_resolution")
        if self.decoder_features < 3:
            raise UserError("decoder_features must be >= 3 (the first 3 are RGB)")
        if not self.ray_start < self.ray_end:
            raise UserError("ray_start must be smaller than ray_end")
        if self.depth_loss_grad not in ("full", "surface"):
            raise UserError(f"depth_loss_grad must be 'full' or 'surface', got {self.depth_loss_grad!r}")
        if self.beta_init <= 0 or self.beta_min < 0:
            raise UserError("beta_init must be positive and beta_min non-negative")

    # fields that change how the weights are trained or rendered but not which weights exist: a
    # resumed or branched run may change them (e.g. the depth-loss gradient path from the switch on)
    RESUMABLE_FIELDS = ("depth_loss_grad", "depth_loss_min_weight")

    def same_architecture(self, other: "ModelConfig") -> bool:
        """True when ``other`` differs from this config only in ``RESUMABLE_FIELDS``."""
        keep = {f: getattr(self, f) for f in self.RESUMABLE_FIELDS}
        return dataclasses.replace(other, **keep) == self

    @property
    def field(self) -> str:
        """'sdf' for the GeoGen variants, 'density' for EG3D (from the variant's registry entry)."""
        return VARIANT_REGISTRY.get(self.variant).field_kind


PRESETS: dict[str, ModelConfig] = {
    # learns on 2 CPU cores: 32² volume rendering → 64² images
    "tiny": ModelConfig(),
    # 64² volume rendering → 128² images
    "small": ModelConfig(z_dim=256, w_dim=256, plane_resolution=64, plane_channels=24, channel_base=8192,
                         channel_max=128, decoder_features=24, pe_levels=6, neural_resolution=64,
                         image_resolution=128, samples_coarse=24, samples_fine=24, sr_channels=64,
                         d_channel_base=8192, d_channel_max=128, d_cmap_dim=128, beta_init=0.03),
    # EG3D's FFHQ 512² set-up, 64→128 neural rendering, 48+48 samples
    "paper": ModelConfig(z_dim=512, w_dim=512, plane_resolution=256, plane_channels=32, channel_base=32768,
                         channel_max=512, decoder_features=32, pe_levels=6, neural_resolution=128,
                         image_resolution=512, samples_coarse=48, samples_fine=48, ray_start=2.25,
                         ray_end=3.3, sr_channels=128, d_channel_base=32768, d_channel_max=512,
                         d_cmap_dim=512, beta_init=0.02),
}


def check_preset(preset: str) -> None:
    """One-line error for a preset name that is not one of ``PRESETS`` (shared by the training config)."""
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")


def variant_names() -> tuple[str, ...]:
    """Registered variants in registration order (the built-in ones first)."""
    return tuple(VARIANT_REGISTRY.ordered())


def model_config(preset: str = "tiny", variant: str = "geogen") -> ModelConfig:
    """Complete model config for a preset ("tiny" | "small" | "paper") and a variant."""
    check_preset(preset)
    spec = VARIANT_REGISTRY.get(variant)   # one-line error with "did you mean"
    return dataclasses.replace(PRESETS[preset], variant=variant, **spec.model_overrides)
