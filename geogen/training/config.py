"""Typed training configuration: run length, snapshots, logging and data (:class:`TrainConfig`)
and the method's losses and schedules (:class:`LossConfig`, its ``loss`` field).

``train_config(preset, variant)`` returns a complete config: the preset's instance in ``PRESETS``
with the variant's loss overrides. ``with_overrides`` / ``model_with_overrides`` apply the
command line's ``--set key=value`` (``kimg=10``, ``loss.r1_gamma=2``, ``model.pe_levels=6``) with
the shared parser (:func:`geogen.common.config.apply_sets`).

The schedule has one switch point, ``loss.switch_kimg`` (N): before it β is frozen and λ = 0;
from it on β is learnable (variants with ``learnable_beta``) and λ = ``depth_loss_weight``
(variants with ``depth_loss``). Files written before it existed name it twice
(``beta_fixed_kimg``, ``depth_loss_start_kimg``); ``LossConfig.from_dict`` reads them when they agree.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from geogen.common.config import Config, apply_sets
from geogen.common.errors import UserError
from geogen.model.config import VARIANT_REGISTRY, ModelConfig, check_preset

OLD_SWITCH_KEYS = ("beta_fixed_kimg", "depth_loss_start_kimg")   # the switch point's names before switch_kimg


@dataclass
class LossConfig(Config):
    """Training losses and schedules of the method (consumed by the training loop).

    ``*_at(kimg)`` helpers give the scheduled value after ``kimg`` thousand real images shown.
    """

    batch_size: int = 8
    """Images per optimiser step (all processes together)."""
    g_lr: float = 0.0025
    """Adam lr of G (EG3D: 0.0025)."""
    d_lr: float = 0.002
    """Adam lr of D (EG3D: 0.002)."""
    adam_betas: tuple[float, ...] = (0.0, 0.99)
    """Adam's (β1, β2) of G and D."""
    r1_gamma: float = 1.0
    """R1 weight; loss = γ/2 · E|∇D(x)|² (EG3D FFHQ: 1)."""
    r1_interval: int = 16
    """Lazy R1 every this many D steps (the loss is scaled by the interval)."""
    blur_sigma: float = 2.0
    """Initial blur σ in pixels of real and fake D inputs (EG3D: 10 at 512²)."""
    blur_fade_kimg: float = 20.0
    """σ fades linearly to 0 over this many kimg (EG3D: 200·batch/32)."""
    gpc_prob: float = 0.5
    """Final probability of swapping the mapping's camera for a random one."""
    gpc_fade_kimg: float = 100.0
    """The swap probability fades from 1 to gpc_prob over this many kimg."""
    ema_kimg: float = 2.5
    """G EMA half-life in kimg (EG3D: batch·10/32)."""
    ema_rampup: float | None = 0.05
    """EMA ramp-up (StyleGAN2); None or 0 for none."""
    switch_kimg: float = 50.0
    """N, the switch point: β frozen and λ = 0 before N kimg; from N on β learnable (variants with
    ``learnable_beta``) and λ = depth_loss_weight (variants with ``depth_loss``)."""
    beta_lr: float = 1e-3
    """Adam lr of log β (its own parameter group; SDF variants). One step moves β by at most ~beta_lr
    relative (G's lr 0.0025 on β itself moved it ~5 % per step and collapsed it to β_min; docs/model.md)."""
    depth_loss_weight: float = 0.1
    """λ of Eq. 7 from the switch point on (0 before); 0 throughout for variants without the depth loss."""
    eikonal_weight: float = 0.1
    """(|∇s| - 1)² on points the renderer sampled (SDF variants; VolSDF and StyleSDF: 0.1); 0 for density."""
    eikonal_points: int = 512
    """Rendered sample points per image that the eikonal term uses."""
    minimal_surface_weight: float = 0.0
    """StyleSDF's exp(-100|s|) on the rendered samples (StyleSDF: 0.05)."""
    density_reg_weight: float = 0.0
    """EG3D's density regulariser: L1 between σ(p) and σ(p + ε), p uniform in the box, every G step
    (EG3D FFHQ: 0.25 lazily every 4 steps ×4)."""
    density_reg_points: int = 1000
    """Points per image of the density regulariser (EG3D: 1000)."""
    density_reg_p_dist: float = 0.004
    """σ of the perturbation ε (EG3D: 0.004)."""

    def __post_init__(self):
        super().__post_init__()
        if self.beta_lr < 0 or self.eikonal_weight < 0 or self.minimal_surface_weight < 0 \
                or self.density_reg_weight < 0 or self.depth_loss_weight < 0:
            raise UserError("learning rates and loss weights must be non-negative")

    @classmethod
    def _migrate(cls, data: dict) -> dict:
        """Files from before ``switch_kimg`` name the switch point twice; read them when they agree."""
        old = {k: data.pop(k) for k in OLD_SWITCH_KEYS if k in data}
        values = set(old.values()) | ({data["switch_kimg"]} if "switch_kimg" in data and old else set())
        if len(values) > 1:
            given = ", ".join(f"{k}={v}" for k, v in {**old, **{k: data[k] for k in ["switch_kimg"] if k in data}}.items())
            raise UserError(f"this loss config has two switch points ({given}); the schedule has one, "
                            "switch_kimg: β learnable and the depth loss on from the same kimg")
        if old:
            data["switch_kimg"] = values.pop()
        return data

    def depth_weight_at(self, kimg: float) -> float:
        """λ of Eq. 7: 0 before ``switch_kimg``, ``depth_loss_weight`` from it on."""
        return self.depth_loss_weight if self.switched_at(kimg) else 0.0

    def switched_at(self, kimg: float) -> bool:
        """True from the switch point on (β learnable, λ > 0 for the variants that have them)."""
        return kimg >= self.switch_kimg

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


@dataclass
class TrainConfig(Config):
    """Everything a training run needs besides the model architecture."""

    preset: str = "tiny"
    """``tiny`` | ``small`` | ``paper`` (also picks the ModelConfig)."""
    variant: str = "geogen"
    """Name of an entry of ``geogen.model.config.VARIANT_REGISTRY``."""
    kimg: float = 15.0
    """Run length in thousands of real images shown (all ranks together)."""
    snapshot_kimg: float = 2.0
    """Write snapshot-<kimg>.pt (+ samples PNG, TensorBoard images) this often."""
    keep_snapshots: int = 3
    """Keep the newest N periodic snapshots (0 = keep all)."""
    milestone_kimg: float = 0.0
    """Also keep every snapshot at a multiple of this (0 = none); for budget curves."""
    log_steps: int = 10
    """TensorBoard scalars every this many steps."""
    seed: int = 0
    """Every random choice of the run derives from it (and the rank)."""
    xflip: bool = True
    """Add x-mirrored copies of every image with the mirrored camera label."""
    reuse_fakes: bool = False
    """D and G phases share one set of renderings (saves a G forward; tiny preset)."""
    workers: int = 0
    """DataLoader worker processes (0: load in the training process)."""
    batch_gpu: int = 0
    """Samples per forward pass of one process (0: batch_size / processes); the randomness is drawn per
    such micro-batch, so N processes equal one process at the same batch_gpu (it accumulates N micro-batches)."""
    tf32: bool = True
    """CUDA: TF32 matmuls/convolutions (Ampere+); no effect on CPU."""
    bf16: bool = False
    """bf16 autocast of G's synthesis; refused until the tri-plane sampler's backward handles it
    (docs/training.md)."""
    loss: LossConfig = field(default_factory=LossConfig)
    """Losses and schedules (``--set loss.<field>=...``)."""

    def __post_init__(self):
        super().__post_init__()
        check_preset(self.preset)
        spec, L = VARIANT_REGISTRY.get(self.variant), self.loss
        if self.kimg <= 0 or self.snapshot_kimg <= 0:
            raise UserError("kimg and snapshot_kimg must be positive")
        if self.loss.batch_size < 1:
            raise UserError("loss.batch_size must be at least 1")
        if spec.field_kind != "sdf" and (L.eikonal_weight > 0 or L.minimal_surface_weight > 0):
            raise UserError(f"the {self.variant} variant has no SDF: set loss.eikonal_weight and "
                            "loss.minimal_surface_weight to 0")
        if not spec.depth_loss and L.depth_loss_weight > 0:
            raise UserError(f"the {self.variant} variant has no depth loss: loss.depth_loss_weight must be 0 "
                            "(use --variant geogen for the depth loss)")


PRESETS: dict[str, TrainConfig] = {
    # ~1 hour at the 4-5 img/s measured on a contended 2-core machine (docs/training.md); the schedule
    # is scaled to the ~15 kimg such a run reaches, so it exercises both phases of the method
    # (β fixed / λ = 0, then β learnable / λ = 0.1)
    "tiny": TrainConfig(preset="tiny", kimg=15.0, snapshot_kimg=1.0, log_steps=10, reuse_fakes=True,
                        loss=LossConfig(batch_size=8, switch_kimg=8.0, blur_sigma=2.0, blur_fade_kimg=10.0,
                                        gpc_fade_kimg=12.0, ema_kimg=2.5)),
    "small": TrainConfig(preset="small", kimg=2000.0, snapshot_kimg=50.0, log_steps=50,
                         loss=LossConfig(batch_size=16, switch_kimg=200.0, blur_sigma=4.0, blur_fade_kimg=100.0,
                                         gpc_fade_kimg=500.0, ema_kimg=5.0)),
    # EG3D's FFHQ length
    "paper": TrainConfig(preset="paper", kimg=25000.0, snapshot_kimg=200.0, log_steps=100,
                         loss=LossConfig(batch_size=32, switch_kimg=1000.0, blur_sigma=10.0, blur_fade_kimg=200.0,
                                         gpc_fade_kimg=1000.0, ema_kimg=10.0)),
}


def train_config(preset: str = "tiny", variant: str = "geogen") -> TrainConfig:
    """Complete training config for a preset and a model variant (the variant's loss overrides applied)."""
    check_preset(preset)
    spec, base = VARIANT_REGISTRY.get(variant), PRESETS[preset]
    return dataclasses.replace(base, variant=variant, loss=dataclasses.replace(base.loss, **spec.loss_overrides))


def loss_config(preset: str = "tiny", variant: str = "geogen") -> LossConfig:
    """The losses and schedules of ``train_config(preset, variant)``."""
    return train_config(preset, variant).loss


def _refuse_old_names(assignments: list[str]) -> None:
    for item in assignments:
        key = item.split("=", 1)[0].strip()
        if key in {f"loss.{k}" for k in OLD_SWITCH_KEYS}:
            raise UserError(f"--set {key}: renamed; the one switch point of β and λ is loss.switch_kimg")


def with_overrides(cfg: TrainConfig, assignments: list[str]) -> TrainConfig:
    """A copy of ``cfg`` with ``key=value`` assignments applied (``loss.<field>`` for the loss);
    ``model.<field>`` assignments are skipped here, see :func:`model_with_overrides`."""
    mine = [a for a in assignments if not a.strip().startswith("model.")]
    _refuse_old_names(mine)
    return apply_sets(cfg, mine, fixed=("preset", "variant"), also_known=("model.<field>",))


def model_with_overrides(model_cfg: ModelConfig, assignments: list[str]) -> ModelConfig:
    """A copy of ``model_cfg`` with the ``model.<field>=value`` assignments applied (type-checked)."""
    mine = [a.strip()[len("model."):] for a in assignments if a.strip().startswith("model.")]
    return apply_sets(model_cfg, mine, fixed=("variant",), prefix="model.")
