"""Dual, camera-conditioned ResNet discriminator (EG3D-style).

Input: the final image concatenated with the raw neural rendering resized to the same size
(6 channels), optionally blurred by a Gaussian of σ pixels (blur fade-in is the training loop's
schedule). Camera conditioning is a projection: logits = <features(x), cmap(c)> / sqrt(cmap_dim).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .layers import Conv2dLayer, FullyConnected, normalize_2nd_moment, to_layout


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur with standard deviation ``sigma`` pixels (radius 3σ, reflect padding)."""
    radius = int(np.floor(3 * sigma))
    if sigma <= 0 or radius < 1:
        return x
    radius = min(radius, x.shape[-1] - 1)
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    C = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).repeat(C, 1, 1, 1), groups=C)
    return F.conv2d(x, k.view(1, 1, -1, 1).repeat(C, 1, 1, 1), groups=C)


class DiscriminatorBlock(nn.Module):
    """Two 3x3 convs (the second downsampling) with a 1x1 downsampling residual skip."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv0 = Conv2dLayer(in_channels, in_channels)
        self.conv1 = Conv2dLayer(in_channels, out_channels, down=True)
        self.skip = Conv2dLayer(in_channels, out_channels, kernel_size=1, activation="linear", down=True, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.skip(x) + self.conv1(self.conv0(x))) / math.sqrt(2.0)


class MinibatchStd(nn.Module):
    """Appends the minibatch standard deviation (over groups of ``group`` samples) as one feature map."""

    def __init__(self, group: int):
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        G = min(self.group, B)
        while B % G:
            G -= 1
        y = x.reshape(G, B // G, C, H, W)
        y = (y - y.mean(dim=0)).square().mean(dim=0).add(1e-8).sqrt()    # (B/G, C, H, W)
        y = y.mean(dim=[1, 2, 3]).reshape(1, B // G, 1, 1, 1).repeat(G, 1, 1, H, W).reshape(B, 1, H, W)
        return torch.cat([x, y], dim=1)


class CameraMapping(nn.Module):
    """Camera label → conditioning vector (normalised embedding, then FC layers with lr multiplier)."""

    def __init__(self, c_dim: int, dim: int, num_layers: int = 2, lr_mul: float = 0.01):
        super().__init__()
        self.embed = FullyConnected(c_dim, dim)
        self.layers = nn.ModuleList(FullyConnected(dim, dim, activation="lrelu", lr_mul=lr_mul)
                                    for _ in range(num_layers))

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        x = normalize_2nd_moment(self.embed(c.float()))
        for layer in self.layers:
            x = layer(x)
        return x


class Discriminator(nn.Module):
    def __init__(self, cfg: ModelConfig, channels_last: bool = True):
        super().__init__()
        self.cfg = cfg
        self.channels_last = channels_last   # NHWC activations: same values, faster CPU convolutions
        res = cfg.image_resolution
        resolutions = [2 ** i for i in range(int(np.log2(res)), 2, -1)]   # res, res/2, ..., 8
        ch = lambda r: min(cfg.d_channel_base // r, cfg.d_channel_max)    # noqa: E731
        self.from_rgb = Conv2dLayer(6, ch(res), kernel_size=1)
        self.blocks = nn.ModuleList(DiscriminatorBlock(ch(r), ch(r // 2)) for r in resolutions)
        c4 = ch(4)
        self.mbstd = MinibatchStd(cfg.d_mbstd_group)
        self.conv = Conv2dLayer(c4 + 1, c4)
        self.fc = FullyConnected(c4 * 16, c4, activation="lrelu")
        self.out = FullyConnected(c4, cfg.d_cmap_dim)
        self.cmap = CameraMapping(cfg.c_dim, cfg.d_cmap_dim)

    def forward(self, img: dict, c: torch.Tensor, blur_sigma: float = 0.0) -> torch.Tensor:
        """img: {"image": (B,3,H,W), "image_raw": (B,3,h,w)} in [-1,1]; c (B, 25) → logits (B, 1)."""
        image = img["image"]
        H = image.shape[-1]
        if H != self.cfg.image_resolution:
            raise ValueError(f"discriminator expects {self.cfg.image_resolution}² images, got {H}²")
        raw = F.interpolate(img["image_raw"], size=(H, H), mode="bilinear", align_corners=False, antialias=True)
        x = torch.cat([image, raw], dim=1)
        if blur_sigma > 0:
            x = gaussian_blur(x, blur_sigma)
        x = self.from_rgb(to_layout(x, self.channels_last))
        for block in self.blocks:
            x = block(x)
        x = self.conv(self.mbstd(x))
        x = self.out(self.fc(x.flatten(1)))
        cmap = self.cmap(c)
        return (x * cmap).sum(dim=1, keepdim=True) / math.sqrt(self.cfg.d_cmap_dim)
