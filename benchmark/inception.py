"""The FID variant of Inception-v3 in plain PyTorch, and loading its weights offline.

FID/KID are defined with TensorFlow's Inception-v3 of 2015-12-05 ("pool_3", 2048-d). The
standard PyTorch port is pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth``: a state dict
of torchvision's ``Inception3(num_classes=1008, aux_logits=False)`` whose mixed blocks differ
from torchvision's to match TensorFlow's graph:

- the average-pooling branch of every A, C and E block ignores the zero padding
  (``count_include_pad=False``, as TensorFlow's average pool);
- the last E block (``Mixed_7c``) pools its pool branch with a 3×3 *max* pool (stride 1).

torchvision cannot be installed beside this torch, so the network is written here (own code;
only its published structure is reused) with module and parameter names equal to that state
dict's keys, so ``load_state_dict(strict=True)`` accepts the real file.

Input: uint8-range RGB → [0, 1] → bilinear resize to 299×299 (``align_corners=False``) →
[-1, 1], as pytorch-fid does; the output is the 2048-d global average of ``Mixed_7c``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from geogen.common.errors import UserError

INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"
INCEPTION_SHA256_PREFIX = "6726825d"
FEATURE_DIM = 2048
INPUT_SIZE = 299


class BasicConv2d(nn.Module):
    """Conv (no bias) → BatchNorm (eps 1e-3, TensorFlow's) → ReLU."""

    def __init__(self, cin: int, cout: int, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def _avg_pool_same(x):
    """3×3 stride-1 average pool that, like TensorFlow's, does not count the zero padding."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    def __init__(self, cin: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, 1)
        self.branch5x5_1 = BasicConv2d(cin, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, 1)

    def forward(self, x):
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(_avg_pool_same(x))], 1)


class InceptionB(nn.Module):
    """Grid reduction 35 → 17."""

    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionC(nn.Module):
    """Factorised 7×7 convolutions (1×7 then 7×1)."""

    def __init__(self, cin: int, c7: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 192, 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            d = layer(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg_pool_same(x))], 1)


class InceptionD(nn.Module):
    """Grid reduction 17 → 8."""

    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(nn.Module):
    """Expanded filter bank; ``max_pool`` selects the FID graph's max pool in the last block."""

    def __init__(self, cin: int, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(cin, 320, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x):
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg_pool_same(x)
        return torch.cat([self.branch1x1(x), b3, d, self.branch_pool(pooled)], 1)


class InceptionFID(nn.Module):
    """Inception-v3, FID variant: images → 2048-d pool3 features (``fc`` is kept only so the
    state dict matches the published file; it is not used)."""

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = InceptionA(192, 32)
        self.Mixed_5c = InceptionA(256, 64)
        self.Mixed_5d = InceptionA(288, 64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, 128)
        self.Mixed_6c = InceptionC(768, 160)
        self.Mixed_6d = InceptionC(768, 160)
        self.Mixed_6e = InceptionC(768, 192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, max_pool=False)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, 3, H, W) in [0, 255] (any float dtype) → features (B, 2048)."""
        x = images.float() / 255.0
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        x = 2.0 * x - 1.0
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        return x.mean(dim=(2, 3))


def hub_checkpoints() -> Path:
    """``$TORCH_HOME/hub/checkpoints`` (default ``~/.cache/torch``), where torch.hub keeps weights."""
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch")
    return Path(torch_home) / "hub" / "checkpoints"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def locate_weights(weights: str | Path | None, allow_nonstandard: bool = False) -> tuple[Path, bool, str]:
    """(path, is_standard, sha256) of the Inception weights to use, or UserError saying why none.

    ``weights`` None → the torch hub cache. A file whose SHA-256 does not start with
    6726825d is refused unless ``allow_nonstandard`` (then its metrics get other names).
    """
    path = Path(weights) if weights else hub_checkpoints() / INCEPTION_FILE
    if not path.is_file():
        raise UserError(f"Inception-v3 2015-12-05 weights not found at {path} (they cannot be downloaded "
                        f"here; pass --inception-weights or put {INCEPTION_FILE} in the torch hub cache)")
    digest = _sha256(path)
    standard = digest.startswith(INCEPTION_SHA256_PREFIX)
    if not standard and not allow_nonstandard:
        raise UserError(f"{path} has SHA-256 {digest[:12]}…, not the standard {INCEPTION_SHA256_PREFIX}… "
                        "(pass --allow-nonstandard-weights to report fid_nonstandard/kid_nonstandard instead)")
    return path, standard, digest


def load_inception(weights: str | Path | None = None, allow_nonstandard: bool = False,
                   device: str = "cpu") -> tuple[InceptionFID, dict]:
    """The network with the weights loaded strictly (eval mode), and a description of them."""
    path, standard, digest = locate_weights(weights, allow_nonstandard)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated / foreign file: one line, nothing executed
        raise UserError(f"Inception weights {path} cannot be read ({type(exc).__name__}); re-copy the file") from None
    net = InceptionFID()
    if isinstance(state, dict):  # files written before torch 0.4.1 have no BatchNorm step counters
        for key, value in net.state_dict().items():
            if key.endswith("num_batches_tracked"):
                state.setdefault(key, value)
    try:
        net.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, AttributeError) as exc:
        detail = " ".join(str(exc).split())[:200]
        raise UserError(f"Inception weights {path} do not fit the FID Inception-v3 ({detail})") from None
    net.eval().requires_grad_(False).to(device)
    return net, {"weights": str(path), "sha256": digest, "standard": standard}


@torch.no_grad()
def inception_features(net: InceptionFID, images, batch: int = 16, device: str = "cpu") -> np.ndarray:
    """(N, H, W, 3) uint8 images (array or iterable of arrays) → (N, 2048) float64 features."""
    feats, chunk = [], []

    def flush():
        x = torch.from_numpy(np.stack(chunk)).permute(0, 3, 1, 2).to(device)
        feats.append(net(x).double().cpu().numpy())
        chunk.clear()

    for im in images:
        chunk.append(np.asarray(im, dtype=np.uint8))
        if len(chunk) == batch:
            flush()
    if chunk:
        flush()
    return np.concatenate(feats) if feats else np.zeros((0, FEATURE_DIM))


def random_inception_weights(path: str | Path, seed: int = 0) -> Path:
    """Save a randomly initialised, *non-standard* state dict (tests, demos of the code path).

    Convolutions get He-normal weights and BatchNorm random positive statistics so the 2048-d
    features neither vanish nor explode through the 94 layers.
    """
    g = torch.Generator().manual_seed(seed)
    net = InceptionFID()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            elif isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(0.1 * torch.randn(n, generator=g))
                m.running_var.copy_(1.0 + 0.1 * torch.rand(n, generator=g))
                m.bias.copy_(0.1 * torch.randn(n, generator=g))
    torch.save(net.state_dict(), path)
    return Path(path)
