"""Super-resolution from the volume-rendered feature image to the final image (EG3D-style).

Each 2x stage is two modulated 3x3 convolutions (the first an upsampling one, ``up_mode``) and a
toRGB added to the bilinearly upsampled RGB (skip architecture); all layers use the last w. A non
power of two ratio, or a rendering at another neural resolution than the one built for, is
bridged by a bilinear resize of the features to the stage's size (its first conv then does not
upsample: with ``up_mode="transposed"`` the same weights as a plain 3x3 conv). Activations are channels-last
(NHWC) unless ``channels_last=False`` (same values; faster CPU convolutions).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .layers import SynthesisLayer, ToRGB, to_layout


class SuperResolution(nn.Module):
    def __init__(self, in_channels: int, channels: int, w_dim: int, neural_resolution: int, image_resolution: int,
                 channels_last: bool = True, up_mode: str = "bilinear"):
        super().__init__()
        self.channels_last = channels_last
        self.neural_resolution, self.image_resolution = neural_resolution, image_resolution
        n_stages = max(0, math.ceil(math.log2(image_resolution / neural_resolution) - 1e-9))
        self.stages = nn.ModuleList()
        res, ch_in = neural_resolution, in_channels
        for i in range(n_stages):
            prev, res = res, image_resolution if i == n_stages - 1 else res * 2
            self.stages.append(nn.ModuleDict({
                "conv0": SynthesisLayer(ch_in, channels, w_dim, res, up=(res == 2 * prev), up_mode=up_mode),
                "conv1": SynthesisLayer(channels, channels, w_dim, res),
                "torgb": ToRGB(channels, 3, w_dim),
            }))
            ch_in = channels

    def forward(self, rgb: torch.Tensor, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        """rgb (B,3,h,w) and features x (B,F,h,w), both in [-1, 1]; w (B, w_dim) → image (B,3,H,W)."""
        rgb, x = to_layout(rgb, self.channels_last), to_layout(x, self.channels_last)
        for stage in self.stages:
            size = stage["conv0"].resolution
            rgb = F.interpolate(rgb, size=(size, size), mode="bilinear", align_corners=False)
            # not an exact 2x (a non power of two ratio, or a neural resolution other than the one
            # built for): resize the features, then conv0 without its upsampling
            up = stage["conv0"].up and 2 * x.shape[-2] == size and 2 * x.shape[-1] == size
            if not up:
                x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
            x = stage["conv0"](x, w, noise_mode=noise_mode, up=up)
            x = stage["conv1"](x, w, noise_mode=noise_mode)
            rgb = stage["torgb"](x, w).add_(rgb)
        return rgb
