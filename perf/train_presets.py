"""Benchmark-only training configurations shared by bench_train.py and profile_train.py.

``eg3d-matched`` reproduces the settings of issue 14's side-by-side run with EG3D's own code:
batch 4, z/w 512, cbase 4096 / cmax 128 for G and D, tri-planes 3 × 32 ch × 256², decoder 64
hidden / 32 features, 32² rendering → 64² image (super-resolution 128 channels), 24 + 24
samples, rays 2.25–3.3, dual discrimination, R1 γ 1 every 16, blur 0, no density regulariser,
fresh fakes for the D step, EG3D's upsampling convolution (``up_mode="transposed"``: a
stride-2 transposed 3x3 conv then a [1,3,3,1] low-pass) and EG3D's super-resolution blocks
(``sr_layout="two_block"``: 128 channels at 32², then 64 up to 64²). It is built from the ``tiny``
preset by overriding fields, so every setting not listed here is the tiny preset's.

``up_mode`` overrides the preset's upsampling (``bilinear``: the package presets' bilinear 2x then a
full-resolution 3x3 conv, which is what every measurement before 2026-12-03 used at these
settings). A ``geogen`` package older than the ``up_mode`` field only has ``bilinear``: the config
then leaves the field out, and ``up_mode_of`` reports it. Likewise a package older than ``sr_layout``
(before 2026-12-03 afternoon; every measurement before then ran 128 channels at 64²) keeps its
``uniform`` super-resolution, which ``sr_layout_of`` reports.
"""

from __future__ import annotations

import dataclasses

BENCH_PRESETS = ("tiny", "small", "eg3d-matched")

EG3D_MATCHED_MODEL = dict(
    z_dim=512, w_dim=512, channel_base=4096, channel_max=128, d_channel_base=4096, d_channel_max=128,
    d_cmap_dim=128, plane_resolution=256, plane_channels=32, decoder_hidden=64, decoder_features=32,
    neural_resolution=32, image_resolution=64, sr_channels=128, samples_coarse=24, samples_fine=24,
    ray_start=2.25, ray_end=3.3, up_mode="transposed", sr_layout="two_block")
EG3D_MATCHED_LOSS = dict(batch_size=4, r1_gamma=1.0, r1_interval=16, blur_sigma=0.0, blur_fade_kimg=0.0,
                         density_reg_weight=0.0)


def up_mode_of(mcfg) -> str:
    """The config's upsampling; ``bilinear`` for a package older than the field (its only one)."""
    return getattr(mcfg, "up_mode", "bilinear")


def sr_layout_of(mcfg) -> str:
    """The config's super-resolution layout; ``uniform`` for a package older than the field."""
    return getattr(mcfg, "sr_layout", "uniform")


def configs(preset: str, variant: str, up_mode: str | None = None):
    """(ModelConfig, TrainConfig) of a benchmark preset: a package preset or ``eg3d-matched``;
    ``up_mode`` (optional) overrides the preset's upsampling convolution."""
    from geogen.model.config import ModelConfig, model_config
    from geogen.training.config import train_config

    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    has_field = "up_mode" in fields
    if up_mode not in (None, "bilinear") and not has_field:
        raise SystemExit(f"error: this geogen package has no up_mode field (bilinear only); drop --up-modes {up_mode}")
    if preset != "eg3d-matched":
        mcfg, tcfg = model_config(preset, variant), train_config(preset, variant)
    else:
        overrides = {k: v for k, v in EG3D_MATCHED_MODEL.items() if k in fields}
        mcfg = dataclasses.replace(model_config("tiny", variant), **overrides)
        tcfg = train_config("tiny", variant)
        tcfg = dataclasses.replace(tcfg, reuse_fakes=False,
                                   loss=dataclasses.replace(tcfg.loss, **EG3D_MATCHED_LOSS))
    if up_mode is not None and has_field:
        mcfg = dataclasses.replace(mcfg, up_mode=up_mode)
    return mcfg, tcfg
