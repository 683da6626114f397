"""StyleGAN2 building blocks in plain PyTorch: equalised-lr layers, mapping, modulated convolutions.

Written for CPU speed:

* modulation/demodulation scale the activations around one shared convolution (mathematically
  the same as StyleGAN2's per-sample weights, but a single dense conv);
* up/down-sampling is bilinear / average pooling instead of StyleGAN2's FIR filters; a conv
  followed by 2x average pooling runs as one stride-2 convolution with the pooled 4x4 kernel
  (the same function, 2.25x fewer multiply-adds);
* activations are channels-last (NHWC) by default, the layout oneDNN's CPU convolutions,
  bilinear resampling and the tri-plane sampler are fastest in;
* demodulation, noise, bias and the leaky-ReLU gain are folded into few elementwise passes
  (lrelu(a·x) = a·lrelu(x) for a > 0), partly in place.

The parameters (names and shapes) are those of the original layers, so snapshots load unchanged;
tests/test_model_speed_equivalence.py compares every layer with the original formulation.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class FullyConnected(nn.Module):
    """Linear layer with equalised learning rate (weights scaled at run time) and a learning-rate multiplier."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, activation: str = "linear",
                 lr_mul: float = 1.0, bias_init: float = 0.0, weight_init: float = 1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) * (weight_init / lr_mul))
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul)) if bias else None
        self.weight_gain = lr_mul / math.sqrt(in_features)
        self.bias_gain = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.bias * self.bias_gain if self.bias is not None else None
        x = F.linear(x, self.weight * self.weight_gain, b)
        if self.activation == "lrelu":
            x = F.leaky_relu(x, 0.2) * math.sqrt(2.0)
        elif self.activation == "softplus":
            x = F.softplus(x)
        return x


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


class MappingNetwork(nn.Module):
    """z (+ camera label c) → w broadcast to ``num_ws``; tracks w_avg for truncation (EG3D-style)."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: int, num_layers: int = 2,
                 lr_mul: float = 0.01, w_avg_beta: float = 0.998):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        self.w_avg_beta = w_avg_beta
        self.embed_c = FullyConnected(c_dim, w_dim) if c_dim > 0 else None
        in_dim = z_dim + (w_dim if c_dim > 0 else 0)
        dims = [in_dim] + [w_dim] * num_layers
        self.layers = nn.ModuleList(
            FullyConnected(dims[i], dims[i + 1], activation="lrelu", lr_mul=lr_mul) for i in range(num_layers))
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None, truncation_psi: float = 1.0,
                update_emas: bool = False) -> torch.Tensor:
        x = normalize_2nd_moment(z.float())
        if self.embed_c is not None:
            y = normalize_2nd_moment(self.embed_c(c.float()))
            x = torch.cat([x, y], dim=1)
        for layer in self.layers:
            x = layer(x)
        if update_emas:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        ws = x.unsqueeze(1).repeat(1, self.num_ws, 1)
        if truncation_psi != 1.0:
            ws = self.w_avg.lerp(ws, truncation_psi)
        return ws


LRELU_GAIN = math.sqrt(2.0)


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    """Bilinear 2x upsampling (align_corners=False); keeps the memory layout of ``x``."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


UP_MODES = ("bilinear", "transposed")

# [1, 3, 3, 1] low-pass (StyleGAN2's resampling filter) for a stride-2 zero-inserted signal: taps
# sum to 2 per axis, the gain that restores the mean halved by the inserted zeros
_LOWPASS_1D = (0.25, 0.75, 0.75, 0.25)


def transposed_up_conv(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """2x upsampling convolution at the input resolution (EG3D's up-conv; ``weight`` (O, I, 3, 3)).

    A stride-2 transposed convolution (2H+1 outputs), then the [1, 3, 3, 1] low-pass per axis as one
    depthwise 4x4 convolution with padding 1 (2H outputs). The output pixel m sits at input
    coordinate m/2 - 1/4, as with bilinear ``upsample2x``, and a constant input c gives c·Σw away from
    the border, as a stride-1 conv would. A quarter of the multiply-adds of ``conv(upsample2x(x))``
    (the low-pass is per channel), and a different function: the test compares it with a written-out
    zero-insertion + filter + conv reference, not with the bilinear form.
    """
    y = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2)
    taps = torch.tensor(_LOWPASS_1D, dtype=y.dtype, device=y.device)
    kernel = (taps[:, None] * taps[None, :]).expand(y.shape[1], 1, 4, 4).contiguous()
    return F.conv2d(y, kernel, padding=1, groups=y.shape[1])


def to_layout(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """``x`` in channels-last (NHWC) or standard (NCHW) memory layout; a no-op when already so."""
    return x.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


class ModulatedConv2d(nn.Module):
    """StyleGAN2 modulated (and optionally demodulated) convolution, style from w."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, kernel_size: int = 3,
                 demodulate: bool = True, up_mode: str = "bilinear"):
        super().__init__()
        if up_mode not in UP_MODES:
            raise ValueError(f"up_mode must be one of {UP_MODES}, got {up_mode!r}")
        self.up_mode = up_mode
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = kernel_size // 2
        self.demodulate = demodulate

    def modulated(self, x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None = None,
                  up: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """conv(x · styles) (+ ``bias``) and the demodulation coefficients (B, O), None without demodulation.

        ``up``: the 2x upsampling convolution of ``up_mode`` — ``bilinear``: conv(upsample2x(x) · styles),
        computed as conv(upsample2x(x · styles)) (a per-channel scale commutes with the bilinear
        upsampling, and so is applied to 4x fewer pixels); ``transposed``: ``transposed_up_conv``."""
        styles = self.affine(w)                                   # (B, I)
        weight = self.weight * self.weight_gain                   # (O, I, k, k)
        x = x * styles[:, :, None, None]
        if up and self.up_mode == "transposed":
            x = transposed_up_conv(x, weight)
            if bias is not None:
                x = x + bias[None, :, None, None]
        else:
            if up:
                x = upsample2x(x)
            x = F.conv2d(x, weight, bias, padding=self.padding)
        if not self.demodulate:
            return x, None
        # 1/sqrt(sum_{i,k} (w_oik * s_i)^2) per sample and output channel
        return x, (styles.square() @ weight.square().sum(dim=[2, 3]).t() + 1e-8).rsqrt()

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x, dcoefs = self.modulated(x, w)
        return x if dcoefs is None else x * dcoefs[:, :, None, None]


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv + noise + bias + leaky ReLU, optionally upsampling 2x (``up_mode``) first."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool = False,
                 up_mode: str = "bilinear"):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, w_dim, up_mode=up_mode)
        self.up = up
        self.resolution = resolution
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random",
                up: bool | None = None) -> torch.Tensor:
        """``up`` overrides the layer's own upsampling (False: ``x`` is already at ``resolution``)."""
        if noise_mode not in ("random", "const", "none"):
            raise ValueError(f"noise_mode must be 'random', 'const' or 'none', got {noise_mode!r}")
        x, dcoefs = self.conv.modulated(x, w, up=self.up if up is None else up)
        # √2·lrelu(x·d + noise·s + b) = lrelu(x·(√2d) + noise·(√2s) + √2b): one fused pass, then in place
        x = torch.addcmul((self.bias * LRELU_GAIN)[None, :, None, None], x, (dcoefs * LRELU_GAIN)[:, :, None, None])
        if noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, self.resolution, self.resolution, device=x.device)
            x = x.add_(noise * (self.noise_strength * LRELU_GAIN))
        elif noise_mode == "const":
            x = x.add_(self.noise_const * (self.noise_strength * LRELU_GAIN))
        return F.leaky_relu(x, 0.2, inplace=True)


class ToRGB(nn.Module):
    """1x1 modulated conv without demodulation (StyleGAN2's toRGB), any number of output channels.

    ``forward(x, w, img)`` adds the skip connection, the bilinear 2x upsampling of ``img``. On
    channels-last input the 1x1 conv runs as one batched matrix product per sample with the style
    folded into the weight, the upsampled skip as its accumulator and the bias added to ``img``
    before the upsampling (which preserves constants).
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, w_dim, kernel_size=1, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor, img: torch.Tensor | None = None) -> torch.Tensor:
        bias = self.bias[None, :, None, None]
        if not x.is_contiguous(memory_format=torch.channels_last):
            y = self.conv.modulated(x, w, bias=self.bias)[0]
            return y if img is None else y + upsample2x(img)
        B, I, H, W = x.shape
        styles = self.conv.affine(w)                                                   # (B, I)
        weight = self.conv.weight.view(-1, I) * self.conv.weight_gain                  # (O, I)
        w_b = (weight[None] * styles[:, None, :]).transpose(1, 2)                      # (B, I, O)
        rows = x.permute(0, 2, 3, 1).reshape(B, H * W, I)                              # NHWC rows, a view
        if img is None:
            y = torch.baddbmm(bias.view(1, 1, -1), rows, w_b)                          # (B, H·W, O)
        else:  # the upsampled skip as the product's accumulator; out of place: an in-place product on a
            # view of it made autograd copy the whole 256² gradient three times in the backward.
            # (Interpolating the skip into the product's output in place with a compiled loop saved
            # 25 ms of 150 in a scratch timing and nothing measurable per iteration: not kept.)
            base = to_layout(upsample2x(img + bias), True)
            y = torch.baddbmm(base.permute(0, 2, 3, 1).view(B, H * W, -1), rows, w_b)
        return y.view(B, H, W, -1).permute(0, 3, 1, 2)                                 # channels-last (B, O, H, W)


class SynthesisBlock(nn.Module):
    """Two synthesis layers (the first upsamples unless this is the 4x4 block) and a skip toRGB."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int,
                 first: bool = False, channels_last: bool = True, up_mode: str = "bilinear"):
        super().__init__()
        self.first = first
        self.channels_last = channels_last
        if first:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
            self.convs = nn.ModuleList([SynthesisLayer(out_channels, out_channels, w_dim, resolution)])
        else:
            self.convs = nn.ModuleList([SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=True,
                                                       up_mode=up_mode),
                                        SynthesisLayer(out_channels, out_channels, w_dim, resolution)])
        self.torgb = ToRGB(out_channels, img_channels, w_dim)

    @property
    def num_conv(self) -> int:
        return len(self.convs)

    def forward(self, x, img, ws, noise_mode="random"):
        """``ws`` holds num_conv + 1 vectors: one per conv, then the toRGB one."""
        if self.first:
            x = to_layout(self.const.unsqueeze(0).repeat(ws.shape[0], 1, 1, 1), self.channels_last)
        for i, conv in enumerate(self.convs):
            x = conv(x, ws[:, i], noise_mode=noise_mode)
        return x, self.torgb(x, ws[:, self.num_conv], img)


class SynthesisNetwork(nn.Module):
    """StyleGAN2 skip-architecture synthesis from 4x4 up to ``resolution`` with ``img_channels`` outputs.

    ``channels_last``: compute (and return) activations in NHWC layout (faster on CPU, same values).
    ``up_mode``: how the first conv of each block upsamples (``ModulatedConv2d.modulated``).
    """

    def __init__(self, w_dim: int, resolution: int, img_channels: int, channel_base: int, channel_max: int,
                 channels_last: bool = True, up_mode: str = "bilinear"):
        super().__init__()
        if resolution < 4 or resolution & (resolution - 1):
            raise ValueError(f"synthesis resolution must be a power of two >= 4, got {resolution}")
        self.resolutions = [2 ** i for i in range(2, int(np.log2(resolution)) + 1)]
        ch = {r: min(channel_base // r, channel_max) for r in self.resolutions}
        self.blocks = nn.ModuleList()
        for i, r in enumerate(self.resolutions):
            in_ch = ch[self.resolutions[i - 1]] if i else 0
            self.blocks.append(SynthesisBlock(in_ch, ch[r], w_dim, r, img_channels, first=(i == 0),
                                              channels_last=channels_last, up_mode=up_mode))
        # the toRGB of block i shares its w with the first conv of block i+1 (StyleGAN2's ws layout)
        self.num_ws = sum(b.num_conv for b in self.blocks) + 1

    def forward(self, ws: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        x = img = None
        idx = 0
        for block in self.blocks:
            x, img = block(x, img, ws[:, idx: idx + block.num_conv + 1], noise_mode=noise_mode)
            idx += block.num_conv
        return img


class Conv2dLayer(nn.Module):
    """Equalised-lr conv with optional 2x average-pool downsampling and leaky ReLU (discriminator).

    ``down``: the function is conv (stride 1, zero padding) then 2x2 average pooling. It runs as
    one stride-2 convolution whose kernel is the conv kernel convolved with the 2x2 box (k+1 taps;
    for 1x1 kernels: pooling first, then the conv), i.e. the same values at a quarter of the
    output positions.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, activation: str = "lrelu",
                 down: bool = False, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = kernel_size // 2
        self.activation = activation
        self.down = down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight * self.weight_gain
        k = weight.shape[-1]
        if not self.down:
            x = F.conv2d(x, weight, self.bias, padding=self.padding)
        elif k == 1:
            x = F.conv2d(F.avg_pool2d(x, 2), weight, self.bias)
        elif x.shape[-1] % 2 == 0 and x.shape[-2] % 2 == 0 and k % 2 == 1:
            x = F.conv2d(x, pooled_kernel(weight), self.bias, stride=2, padding=self.padding)
        else:  # odd sizes: pooling drops the last row/column, which the fused form would not
            x = F.avg_pool2d(F.conv2d(x, weight, self.bias, padding=self.padding), 2)
        if self.activation == "lrelu":
            x = F.leaky_relu(x, 0.2) * LRELU_GAIN
        return x


def pooled_kernel(weight: torch.Tensor) -> torch.Tensor:
    """Kernel (O, I, k+1, k+1) of "conv with ``weight`` then 2x2 average pooling" as one stride-2 conv."""
    w = F.pad(weight, (0, 1, 0, 1))
    return 0.25 * (w + w.roll(1, -1) + w.roll(1, -2) + w.roll((1, 1), (-2, -1)))
