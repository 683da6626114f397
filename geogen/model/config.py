"""Typed configuration of the GeoGen model (networks + renderer) and of its training schedule.

``model_config(preset, variant)`` and ``loss_config(preset, variant)`` return complete configs.
Variants differ only in what the paper changes:

* ``geogen``          SDF field, Laplace density (Eq. 2), positional encoding (Eq. 1), depth loss (Eqs. 5-6)
* ``geogen-nodepth``  the same with λ = 0 throughout (the paper's "w/o SDF depth loss" ablation)
* ``eg3d``            EG3D's density field softplus(σ-1), mean-aggregated planes, no positional encoding
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields

from geogen.common.errors import UserError
from geogen.common.registry import Registry

VARIANTS = ("geogen", "geogen-nodepth", "eg3d")
PRESETS = ("tiny", "small", "paper")


def _from_dict(cls, data: dict):
    """Build dataclass ``cls`` from a dict, refusing unknown keys (a typo must not pass silently)."""
    if not isinstance(data, dict):
        raise UserError(f"{cls.__name__} must be a mapping of field names to values, got {type(data).__name__}")
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise UserError(f"unknown {cls.__name__} field(s) {unknown}; known fields: {sorted(names)}")
    kwargs = {}
    for f in fields(cls):
        if f.name in data:
            value = data[f.name]
            kwargs[f.name] = tuple(value) if isinstance(value, list) else value
    return cls(**kwargs)


# Accepted Python types per annotation (the modules use ``from __future__ import annotations``,
# so dataclass field types are these strings). An int is a valid float; a bool is not a number.
_ACCEPTED = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "tuple": (tuple, list),
             "float | None": (int, float, type(None))}


def check_field_types(obj) -> None:
    """Refuse a dataclass whose field values do not match their annotations (one-line UserError),
    and turn ints given for float fields into floats. Called from ``__post_init__`` so configs
    read from files or ``--set`` fail at once with the field's name, not deep inside a network."""
    for f in fields(obj):
        accepted = _ACCEPTED.get(f.type)
        if accepted is None:
            continue
        value = getattr(obj, f.name)
        wrong_bool = isinstance(value, bool) and f.type not in ("bool",)
        if wrong_bool or not isinstance(value, accepted):
            raise UserError(f"{type(obj).__name__}.{f.name} must be of type {f.type}, got {value!r} "
                            f"({type(value).__name__})")
        if f.type.startswith("float") and isinstance(value, int):
            setattr(obj, f.name, float(value))


@dataclass
class ModelConfig:
    """Architecture and rendering settings shared by the generator, discriminator and renderer."""

    variant: str = "geogen"            # "geogen" | "geogen-nodepth" | "eg3d"
    # --- latent / conditioning
    z_dim: int = 64                    # latent code size
    w_dim: int = 64                    # intermediate latent size
    c_dim: int = 25                    # camera label size (EG3D's 25 floats)
    mapping_layers: int = 2            # FC layers of the mapping network (EG3D: 2)
    mapping_lr_mul: float = 0.01       # learning-rate multiplier of the mapping network (EG3D: 0.01)
    # --- tri-plane backbone (StyleGAN2 synthesis)
    plane_resolution: int = 32         # tri-plane resolution (EG3D: 256)
    plane_channels: int = 16           # feature channels per plane (EG3D: 32)
    channel_base: int = 1024           # backbone channels at resolution r = min(channel_base // r, channel_max)
    channel_max: int = 64
    plane_aggregation: str = "concat"  # "concat" (the paper's augmented tri-plane) or "mean" (EG3D)
    # --- decoder / field
    decoder_hidden: int = 64           # hidden width of the decoder MLP (EG3D: 64)
    decoder_features: int = 16         # colour feature channels rendered (first 3 are RGB; EG3D: 32)
    pe_levels: int = 4                 # L of Eq. 1 (0 disables the positional encoding)
    beta_init: float = 0.05            # initial β of the Laplace density (scene units)
    beta_min: float = 1e-3             # β = β_min + exp(log_beta): positive and smooth, cannot flip sign
    sphere_init_radius: float = 0.3    # SDF prior: sdf = MLP output + (|p| - r); the field starts as a sphere
    geometry_lr_mul: float = 1.0       # lr multiplier of the decoder's SDF/density output (< 1: geometry moves slower than colour)
    # --- rendering
    neural_resolution: int = 32        # raw volume-rendered image size
    image_resolution: int = 64         # final image size after super-resolution
    samples_coarse: int = 12           # stratified samples per ray
    samples_fine: int = 12             # importance samples per ray (from the coarse weights)
    ray_start: float = 2.1             # ray interval (camera radius 2.7, scene inside [-0.5, 0.5]^3)
    ray_end: float = 3.3
    box_warp: float = 1.0              # side of the cube the tri-planes span (centred at the origin)
    background_mode: str = "gradient"  # "gradient": vertical colour gradient (top/bottom RGB predicted from w,
                                       # as the dataset's backdrop); "constant": the fixed ``background`` colour
    background: tuple = (1.0, 1.0, 1.0)  # constant RGB in [0, 1] (background_mode "constant")
    background_lr_mul: float = 10.0    # learning-rate multiplier of the gradient-background layer
    depth_loss_min_weight: float = 0.5   # rays with weights_sum below this are excluded from the depth loss
    depth_loss_grad: str = "full"      # gradient path of the depth loss (Eqs. 5-6): "full" = through the rendered
                                       # depth d(r) too (every sample's SDF and β); "surface" = d(r) is a fixed
                                       # target and only s(p_d) is trained (docs/model.md)
    # --- super-resolution
    sr_channels: int = 32              # channels of the super-resolution blocks
    # --- discriminator
    d_channel_base: int = 1024         # D channels at resolution r = min(d_channel_base // r, d_channel_max)
    d_channel_max: int = 64
    d_cmap_dim: int = 64               # camera-projection dimension of the conditional D
    d_mbstd_group: int = 4             # minibatch-std group size

    def __post_init__(self):
        check_field_types(self)
        if self.variant not in VARIANT_REGISTRY:
            VARIANT_REGISTRY.get(self.variant)   # raises the one-line error
        if self.plane_aggregation not in ("concat", "mean"):
            raise UserError(f"plane_aggregation must be 'concat' or 'mean', got {self.plane_aggregation!r}")
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
        self.background = tuple(float(v) for v in self.background)

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

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["background"] = list(self.background)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        return _from_dict(cls, data)


@dataclass
class LossConfig:
    """Training losses and schedules of the method (consumed by the training loop).

    ``*_at(kimg)`` helpers give the scheduled value after ``kimg`` thousand real images shown.
    """

    batch_size: int = 8
    g_lr: float = 0.0025               # Adam lr of G (EG3D: 0.0025)
    d_lr: float = 0.002                # Adam lr of D (EG3D: 0.002)
    adam_betas: tuple = (0.0, 0.99)
    r1_gamma: float = 1.0              # R1 weight; loss = γ/2 · E|∇D(x)|² (EG3D FFHQ: 1)
    r1_interval: int = 16              # lazy R1 every this many D steps (the loss is scaled by the interval)
    blur_sigma: float = 2.0            # initial blur σ in pixels of real and fake D inputs (EG3D: 10 at 512²)
    blur_fade_kimg: float = 20.0       # σ fades linearly to 0 over this many kimg (EG3D: 200·batch/32)
    gpc_prob: float = 0.5              # final probability of swapping the mapping's camera for a random one
    gpc_fade_kimg: float = 100.0       # swap probability fades from 1 to gpc_prob over this many kimg
    ema_kimg: float = 2.5              # G EMA half-life in kimg (EG3D: batch·10/32)
    ema_rampup: float | None = 0.05    # EMA ramp-up (StyleGAN2), None/0 for none
    beta_fixed_kimg: float = 50.0      # N: β is frozen until N kimg, learnable after
    beta_lr: float = 1e-3              # Adam lr of log β (its own parameter group; SDF variants). One step
                                       # moves β by at most ~beta_lr relative (G's lr 0.0025 on β itself moved
                                       # it ~5 % per step and collapsed it to β_min; docs/model.md)
    depth_loss_weight: float = 0.1     # λ of Eq. 7 after N kimg (0 before); 0 throughout for geogen-nodepth/eg3d
    depth_loss_start_kimg: float = 50.0
    eikonal_weight: float = 0.1        # (|∇s| - 1)² on points the renderer sampled (SDF variants; VolSDF and
                                       # StyleSDF: 0.1); 0 for the density variant
    eikonal_points: int = 512          # rendered sample points per image that the eikonal term uses
    minimal_surface_weight: float = 0.0   # StyleSDF's exp(-100|s|) on the rendered samples (StyleSDF: 0.05)
    density_reg_weight: float = 0.0    # EG3D's density regulariser: L1 between σ(p) and σ(p + ε), p uniform in
                                       # the box, every G step (EG3D FFHQ: 0.25 lazily every 4 steps ×4)
    density_reg_points: int = 1000     # points per image of the density regulariser (EG3D: 1000)
    density_reg_p_dist: float = 0.004  # σ of the perturbation ε (EG3D: 0.004)

    def __post_init__(self):
        check_field_types(self)
        self.adam_betas = tuple(float(v) for v in self.adam_betas)
        if self.beta_lr < 0 or self.eikonal_weight < 0 or self.minimal_surface_weight < 0 \
                or self.density_reg_weight < 0 or self.depth_loss_weight < 0:
            raise UserError("learning rates and loss weights must be non-negative")

    def depth_weight_at(self, kimg: float) -> float:
        """λ of Eq. 7: 0 before ``depth_loss_start_kimg``, ``depth_loss_weight`` after."""
        return self.depth_loss_weight if kimg >= self.depth_loss_start_kimg else 0.0

    def beta_trainable_at(self, kimg: float) -> bool:
        return kimg >= self.beta_fixed_kimg

    def blur_sigma_at(self, kimg: float) -> float:
        if self.blur_fade_kimg <= 0:
            return 0.0
        return self.blur_sigma * max(0.0, 1.0 - kimg / self.blur_fade_kimg)

    def swap_prob_at(self, kimg: float) -> float:
        """Probability that G's mapping is conditioned on a random pose instead of the rendered one."""
        if self.gpc_fade_kimg <= 0:
            return self.gpc_prob
        t = min(kimg / self.gpc_fade_kimg, 1.0)
        return 1.0 + (self.gpc_prob - 1.0) * t

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["adam_betas"] = list(self.adam_betas)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "LossConfig":
        return _from_dict(cls, data)


@dataclass(frozen=True)
class Variant:
    """What a model variant changes relative to the GeoGen defaults."""

    field_kind: str = "sdf"                                # "sdf" (Laplace density, learnable β) or "density"
    depth_loss: bool = True                                # λ > 0 after the switch point (SDF fields only)
    model_overrides: dict = field(default_factory=dict)   # ModelConfig fields
    loss_overrides: dict = field(default_factory=dict)    # LossConfig fields


VARIANT_REGISTRY: Registry[Variant] = Registry("model variant")
VARIANT_REGISTRY.add("geogen", Variant())
VARIANT_REGISTRY.add("geogen-nodepth", Variant(depth_loss=False, loss_overrides=dict(depth_loss_weight=0.0)))
VARIANT_REGISTRY.add("eg3d", Variant("density", depth_loss=False,
                                     model_overrides=dict(pe_levels=0, plane_aggregation="mean"),
                                     loss_overrides=dict(depth_loss_weight=0.0, eikonal_weight=0.0,
                                                         density_reg_weight=0.25)))


def _check(preset: str, variant: str) -> Variant:
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    return VARIANT_REGISTRY.get(variant)   # one-line error with "did you mean"


def _variant_overrides(variant: str) -> dict:
    return dict(VARIANT_REGISTRY.get(variant).model_overrides)


def model_config(preset: str = "tiny", variant: str = "geogen") -> ModelConfig:
    """Complete model config for a preset ("tiny" | "small" | "paper") and a variant."""
    _check(preset, variant)
    if preset == "tiny":  # learns on 2 CPU cores: 32² volume rendering → 64² images
        base = dict()
    elif preset == "small":  # 64² volume rendering → 128² images
        base = dict(z_dim=256, w_dim=256, plane_resolution=64, plane_channels=24, channel_base=8192,
                    channel_max=128, decoder_features=24, pe_levels=6, neural_resolution=64,
                    image_resolution=128, samples_coarse=24, samples_fine=24, sr_channels=64,
                    d_channel_base=8192, d_channel_max=128, d_cmap_dim=128, beta_init=0.03)
    else:  # paper: EG3D's FFHQ 512² set-up, 64→128 neural rendering, 48+48 samples
        base = dict(z_dim=512, w_dim=512, plane_resolution=256, plane_channels=32, channel_base=32768,
                    channel_max=512, decoder_features=32, pe_levels=6, neural_resolution=128,
                    image_resolution=512, samples_coarse=48, samples_fine=48, ray_start=2.25,
                    ray_end=3.3, sr_channels=128, d_channel_base=32768, d_channel_max=512,
                    d_cmap_dim=512, beta_init=0.02)
    base.update(_variant_overrides(variant))
    return ModelConfig(variant=variant, **base)


def loss_config(preset: str = "tiny", variant: str = "geogen") -> LossConfig:
    """Training schedule for a preset and variant (λ = 0 throughout except for ``geogen``)."""
    spec = _check(preset, variant)
    if preset == "tiny":
        # Scaled to the ~15 kimg a one-hour CPU run reaches, so such a run exercises both phases
        # of the method (β fixed / λ = 0, then β learnable / λ = 0.1).
        base = dict(batch_size=8, beta_fixed_kimg=8.0, depth_loss_start_kimg=8.0, blur_sigma=2.0,
                    blur_fade_kimg=10.0, gpc_fade_kimg=12.0, ema_kimg=2.5)
    elif preset == "small":
        base = dict(batch_size=16, beta_fixed_kimg=200.0, depth_loss_start_kimg=200.0, blur_sigma=4.0,
                    blur_fade_kimg=100.0, gpc_fade_kimg=500.0, ema_kimg=5.0)
    else:
        base = dict(batch_size=32, beta_fixed_kimg=1000.0, depth_loss_start_kimg=1000.0, blur_sigma=10.0,
                    blur_fade_kimg=200.0, gpc_fade_kimg=1000.0, ema_kimg=10.0)
    base.update(spec.loss_overrides)
    return LossConfig(**base)
