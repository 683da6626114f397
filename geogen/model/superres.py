"""Super-resolution from the volume-rendered feature image to the final image (EG3D-style).

Each stage is two modulated 3x3 convolutions (the first an upsampling one, ``up_mode``, when the
stage doubles the resolution) and a toRGB added to the bilinearly upsampled RGB (skip
architecture); all layers use the last w. A non power of two ratio, or a rendering at another
neural resolution than the one built for, is bridged by a bilinear resize of the features to the
stage's size (its first conv then does not upsample: with ``up_mode="transposed"`` the same
weights as a plain 3x3 conv). Activations are channels-last (NHWC) unless ``channels_last=False``
(same values; faster CPU convolutions).

``sr_stages`` lays out the stages (``ModelConfig.sr_layout``): ``uniform`` is one 2x stage of
``channels`` per doubling up to the image size (this project's presets); ``two_block`` is EG3D's two
blocks, ``channels`` at half the image size (no upsampling when that is the neural resolution, as
EG3D's ``SynthesisBlockNoUp``) then ``channels // 2`` at the image size: at 32² → 64² that is
128 channels at 32² and 64 at 64², where ``uniform`` runs 128 channels at 64².
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .layers import SynthesisLayer, ToRGB, to_layout


def sr_stages(layout: str, channels: int, neural_resolution: int, image_resolution: int) -> list[tuple[int, int]]:
    """(resolution, channels) of each super-resolution stage, in order (see the module docstring)."""
    if layout == "two_block":
        return [(image_resolution // 2, channels), (image_resolution, channels // 2)]
    n_stages = max(0, math.ceil(math.log2(image_resolution / neural_resolution) - 1e-9))
    return [(image_resolution if i == n_stages - 1 else neural_resolution * 2 ** (i + 1), channels)
            for i in range(n_stages)]


class SuperResolution(nn.Module):
    def __init__(self, in_channels: int, channels: int, w_dim: int, neural_resolution: int, image_resolution: int,
                 channels_last: bool = True, up_mode: str = "bilinear", layout: str = "uniform"):
        super().__init__()
        self.channels_last = channels_last
        self.neural_resolution, self.image_resolution = neural_resolution, image_resolution
        self.stages = nn.ModuleList()
        prev, ch_in = neural_resolution, in_channels
        for res, ch in sr_stages(layout, channels, neural_resolution, image_resolution):
            self.stages.append(nn.ModuleDict({
                "conv0": SynthesisLayer(ch_in, ch, w_dim, res, up=(res == 2 * prev), up_mode=up_mode),
                "conv1": SynthesisLayer(ch, ch, w_dim, res),
                "torgb": ToRGB(ch, 3, w_dim),
            }))
            prev, ch_in = res, ch

    def forward(self, rgb: torch.Tensor, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        """rgb (B,3,h,w) and features x (B,F,h,w), both in [-1, 1]; w (B, w_dim) → image (B,3,H,W)."""
        rgb, x = to_layout(rgb, self.channels_last), to_layout(x, self.channels_last)
        for stage in self.stages:
            size = stage["conv0"].resolution
            if rgb.shape[-2:] != (size, size):
                rgb = F.interpolate(rgb, size=(size, size), mode="bilinear", align_corners=False)
            # not an exact 2x (a non power of two ratio, or a neural resolution other than the one
            # built for): resize the features, then conv0 without its upsampling
            up = stage["conv0"].up and 2 * x.shape[-2] == size and 2 * x.shape[-1] == size
            if not up and x.shape[-2:] != (size, size):
                x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
            x = stage["conv0"](x, w, noise_mode=noise_mode, up=up)
            x = stage["conv1"](x, w, noise_mode=noise_mode)
            rgb = stage["torgb"](x, w).add_(rgb)
        return rgb
