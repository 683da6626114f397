"""Typed training configuration: run length, snapshots, logging and data, plus the method's
loss/schedule settings (:class:`geogen.model.config.LossConfig`, owned by the model package
so the schedules live next to the model they describe).

``train_config(preset, variant)`` returns a complete config; ``with_overrides`` applies
``key=value`` strings from the CLI (``kimg=10``, ``loss.r1_gamma=2``) with type checks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields

from geogen.common.errors import UserError
from geogen.model.config import PRESETS, VARIANT_REGISTRY, VARIANTS, LossConfig, ModelConfig, check_field_types, loss_config


@dataclass
class TrainConfig:
    """Everything a training run needs besides the model architecture."""

    preset: str = "tiny"               # "tiny" | "small" | "paper" (also picks the ModelConfig)
    variant: str = "geogen"            # "geogen" | "geogen-nodepth" | "eg3d"
    kimg: float = 15.0                 # run length in thousands of real images shown (all ranks together)
    snapshot_kimg: float = 2.0         # write snapshot-<kimg>.pt (+ samples PNG, TensorBoard images) this often
    keep_snapshots: int = 3            # keep the newest N periodic snapshots (0 = keep all)
    milestone_kimg: float = 0.0        # also keep every snapshot at a multiple of this (0 = none); for budget curves
    log_steps: int = 10                # TensorBoard scalars every this many steps
    seed: int = 0                      # every random choice of the run derives from it (and the rank)
    xflip: bool = True                 # add x-mirrored copies of every image with the mirrored camera label
    reuse_fakes: bool = False          # D and G phases share one set of renderings (saves a G forward; tiny preset)
    workers: int = 0                   # DataLoader worker processes (0: load in the training process)
    batch_gpu: int = 0                 # samples per forward pass of one process (0: batch_size / processes); the
                                       # randomness is drawn per such micro-batch, so N processes equal one
                                       # process at the same batch_gpu (it accumulates N micro-batches)
    tf32: bool = True                  # CUDA: TF32 matmuls/convolutions (Ampere+); no effect on CPU
    bf16: bool = False                 # bf16 autocast of G's synthesis; refused until the tri-plane sampler's
                                       # backward handles it (docs/training.md)
    loss: LossConfig = field(default_factory=LossConfig)

    def __post_init__(self):
        check_field_types(self)
        if self.preset not in PRESETS:
            raise UserError(f"unknown preset {self.preset!r}; choose from {', '.join(PRESETS)}")
        if self.variant not in VARIANTS:
            raise UserError(f"unknown variant {self.variant!r}; choose from {', '.join(VARIANTS)}")
        if self.kimg <= 0 or self.snapshot_kimg <= 0:
            raise UserError("kimg and snapshot_kimg must be positive")
        if self.loss.batch_size < 1:
            raise UserError("loss.batch_size must be at least 1")
        spec, L = VARIANT_REGISTRY.get(self.variant), self.loss
        if spec.field_kind != "sdf" and (L.eikonal_weight > 0 or L.minimal_surface_weight > 0):
            raise UserError(f"the {self.variant} variant has no SDF: set loss.eikonal_weight and "
                            "loss.minimal_surface_weight to 0")
        if not spec.depth_loss and L.depth_loss_weight > 0:
            raise UserError(f"the {self.variant} variant has no depth loss: loss.depth_loss_weight must be 0 "
                            "(use --variant geogen for the depth loss)")

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "loss"}
        d["loss"] = self.loss.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise UserError(f"unknown TrainConfig field(s) {unknown}; known fields: {sorted(names)}")
        kwargs = {k: v for k, v in data.items() if k != "loss"}
        if "loss" in data:
            kwargs["loss"] = LossConfig.from_dict(data["loss"])
        return cls(**kwargs)


# Per-preset run settings (the loss schedules come from the model package's loss_config).
_PRESET_RUNS = {
    # ~1 hour at the 4-5 img/s measured on a contended 2-core machine (docs/training.md)
    "tiny": dict(kimg=15.0, snapshot_kimg=1.0, log_steps=10, reuse_fakes=True),
    "small": dict(kimg=2000.0, snapshot_kimg=50.0, log_steps=50),
    "paper": dict(kimg=25000.0, snapshot_kimg=200.0, log_steps=100),  # EG3D's FFHQ length
}


def train_config(preset: str = "tiny", variant: str = "geogen") -> TrainConfig:
    """Complete training config for a preset and a model variant."""
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    return TrainConfig(preset=preset, variant=variant, loss=loss_config(preset, variant), **_PRESET_RUNS[preset])


def _parse_value(text: str, current, key: str):
    """Parse ``text`` into the type of ``current`` (bool, int, float, str or tuple of floats)."""
    try:
        if isinstance(current, bool):
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return text.lower() in ("true", "1", "yes")
        if isinstance(current, int):
            return int(text)
        if isinstance(current, float):
            return float(text)
        if isinstance(current, tuple):
            return tuple(float(v) for v in text.split(","))
        if current is None:
            return float(text)
        return text
    except ValueError:
        raise UserError(f"--set {key}={text}: expected a {type(current).__name__}") from None


def _split(item: str) -> tuple[str, str]:
    if "=" not in item:
        raise UserError(f"--set expects key=value, got {item!r}")
    key, value = (s.strip() for s in item.split("=", 1))
    return key, value


def with_overrides(cfg: TrainConfig, assignments: list[str]) -> TrainConfig:
    """Return a copy of ``cfg`` with ``key=value`` assignments applied (``loss.<field>`` for the loss;
    ``model.<field>`` assignments are skipped here, see :func:`model_with_overrides`)."""
    top = {f.name for f in fields(TrainConfig)} - {"loss", "preset", "variant"}
    loss_names = {f.name for f in fields(LossConfig)}
    top_changes, loss_changes = {}, {}
    for key, value in map(_split, assignments):
        if key.startswith("model."):
            continue
        if key.startswith("loss."):
            name = key[len("loss."):]
            if name not in loss_names:
                raise UserError(f"--set {key}: unknown loss field; known: {', '.join(sorted(loss_names))}")
            loss_changes[name] = _parse_value(value, getattr(cfg.loss, name), key)
        elif key in top:
            top_changes[key] = _parse_value(value, getattr(cfg, key), key)
        else:
            raise UserError(f"--set {key}: unknown field; known: {', '.join(sorted(top))}, loss.<field>, "
                            "model.<field>")
    loss = dataclasses.replace(cfg.loss, **loss_changes)
    return dataclasses.replace(cfg, loss=loss, **top_changes)


def model_with_overrides(model_cfg: ModelConfig, assignments: list[str]) -> ModelConfig:
    """Return a copy of ``model_cfg`` with the ``model.<field>=value`` assignments applied (type-checked)."""
    names = {f.name for f in fields(ModelConfig)} - {"variant"}
    changes = {}
    for key, value in map(_split, assignments):
        if not key.startswith("model."):
            continue
        name = key[len("model."):]
        if name not in names:
            raise UserError(f"--set {key}: unknown model field; known: {', '.join(sorted(names))}")
        changes[name] = _parse_value(value, getattr(model_cfg, name), key)
    return dataclasses.replace(model_cfg, **changes) if changes else model_cfg
