"""Tri-plane sampling on the XY, XZ and YZ planes and the positional encoding of Eq. 1.

Plane order and axes (tested): plane 0 = XY (u = x, v = y), plane 1 = XZ (u = x, v = z),
plane 2 = YZ (u = y, v = z). ``u`` indexes the plane's width (grid_sample's x), ``v`` its height.
EG3D's reference code projects onto XY, XZ and ZX by accident; we use the intended YZ plane.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .scatter import accumulate_bilinear_rows

# (u axis, v axis) of each plane, as indices into (x, y, z)
PLANE_AXES = ((0, 1), (0, 2), (1, 2))
PLANE_NAMES = ("xy", "xz", "yz")


def project_onto_planes(points: torch.Tensor, box_warp: float) -> torch.Tensor:
    """World points (B, N, 3) → plane coordinates (B, 3, N, 2) in grid_sample's [-1, 1] range."""
    p = points * (2.0 / box_warp)
    return torch.stack([p[..., list(axes)] for axes in PLANE_AXES], dim=1)


class _SharedRows:
    """The planes' gradient as rows (b, y, x, plane) of C features, shared by every sampling of
    one planes tensor in a backward pass (see ``share_plane_gradient``)."""

    def __init__(self):
        self.acc: torch.Tensor | None = None

    def rows(self, like: torch.Tensor, n: int, C: int) -> torch.Tensor:
        if self.acc is None:
            self.acc = torch.zeros(n, C, dtype=like.dtype, device=like.device)
        return self.acc

    def take(self) -> torch.Tensor | None:
        acc, self.acc = self.acc, None
        return acc


class _ShareGradient(torch.autograd.Function):
    """Identity on the planes whose backward hands on the shared rows the samplers accumulated."""

    @staticmethod
    def forward(ctx, planes: torch.Tensor, shared: _SharedRows) -> torch.Tensor:
        ctx.shared, ctx.shape = shared, planes.shape
        ctx.set_materialize_grads(False)
        return planes.view_as(planes)

    @staticmethod
    def backward(ctx, grad: torch.Tensor | None):
        acc = ctx.shared.take()
        if acc is None:
            return grad, None
        B, P, C, H, W = ctx.shape
        rows = acc.view(B, H, W, P, C).permute(0, 3, 4, 1, 2)                  # (B, P, C, H, W), NHWC strides
        return (rows if grad is None else rows.add_(grad)), None


def share_plane_gradient(planes: torch.Tensor) -> torch.Tensor:
    """``planes`` (B, 3, C, R, R), as a tensor whose large-plane samplings (the renderer's coarse and
    fine passes, the depth loss, the regularisers) accumulate their gradient into one buffer.

    Each sampling's backward would otherwise zero a planes-sized buffer (100 MB at EG3D's
    settings) and autograd would add the buffers up; here the first one creates the buffer, the
    others add their rows to it, and it is handed to the planes when autograd reaches them. A
    sampling whose backward does not reach the planes (e.g. ``autograd.grad`` w.r.t. the points
    only) keeps a buffer of its own. Same gradient, up to the order of float additions.
    """
    if not planes.requires_grad:
        return planes
    shared = _SharedRows()
    out = _ShareGradient.apply(planes, shared)
    out._geogen_shared_rows = shared
    return out


class _SampleTriplane(torch.autograd.Function):
    """Bilinear grid_sample of each plane (zero padding, align_corners=False): P × (B, C, N).

    The planes' gradient is accumulated as rows of C contiguous features (``scatter.py``: a
    compiled loop on CPU, index_add_ elsewhere) into a channels-last buffer (shared with the
    planes' other samplings when they come from ``share_plane_gradient``) instead of aten's
    per-channel scatter into a standard-layout one, which is slow on CPU once the gradient no
    longer fits in cache and would hand the channels-last backbone a gradient in the other layout.
    The gradient w.r.t. the coordinates (SDF depth loss) is aten's.
    """

    ROWS_MIN_BYTES = 8 << 20     # size of one plane (all samples) from which sample_planes uses this

    @staticmethod
    def forward(ctx, planes: torch.Tensor, coords: torch.Tensor, shared: _SharedRows | None) -> tuple[torch.Tensor, ...]:
        ctx.save_for_backward(planes, coords)
        ctx.shared = shared
        ctx.planes_node = planes.grad_fn if shared is not None else None
        return tuple(F.grid_sample(plane, coords[:, i].unsqueeze(1), mode="bilinear", padding_mode="zeros",
                                   align_corners=False).squeeze(2)                          # (B, C, N)
                     for i, plane in enumerate(planes.unbind(1)))

    @staticmethod
    def backward(ctx, *grads: torch.Tensor):
        planes, coords = ctx.saved_tensors
        need_planes, need_coords, _ = ctx.needs_input_grad
        B, P, C, H, W = planes.shape
        grad_planes = grad_coords = None
        if need_planes:
            # the shared buffer only when this backward pass goes on to the planes (it hands the buffer on)
            shared = ctx.shared is not None and torch._C._will_engine_execute_node(ctx.planes_node)
            acc = (ctx.shared.rows(grads[0], B * H * W * P, C) if shared else
                   torch.zeros(B * H * W * P, C, dtype=grads[0].dtype, device=grads[0].device))  # rows (b, y, x, plane)
            for i in range(P):
                g = grads[i].transpose(1, 2).contiguous()                           # (B, N, C) rows
                accumulate_bilinear_rows(acc, g, coords[:, i], H, W, P, i)
            if not shared:
                grad_planes = acc.view(B, H, W, P, C).permute(0, 3, 4, 1, 2)        # (B, P, C, H, W), NHWC strides
        if need_coords:
            grad_coords = torch.stack([torch.ops.aten.grid_sampler_2d_backward(
                grads[i].unsqueeze(2), planes[:, i], coords[:, i].unsqueeze(1),
                0, 0, False, [False, True])[1].squeeze(1) for i in range(P)], dim=1)
        return grad_planes, grad_coords, None


def _uses_rows(planes: torch.Tensor) -> bool:
    B, _, C, H, W = planes.shape
    return B * C * H * W * planes.element_size() >= _SampleTriplane.ROWS_MIN_BYTES


def sample_planes(planes: torch.Tensor, points: torch.Tensor, box_warp: float) -> tuple[torch.Tensor, ...]:
    """Bilinear features of each of the ``planes`` (B, 3, C, R, R) at ``points`` (B, N, 3):
    3 × (B, C, N), channels first (grid_sample's own output layout, no copy).

    Points outside the box get zero features (grid_sample's zero padding, as EG3D). Large planes
    (EG3D's 256²) are sampled with one grid_sample per plane on the planes as they are laid out:
    the backbone's channels-last output is read without a copy, a corner's C features are
    contiguous in memory, and the backward accumulates rows (see ``_SampleTriplane``; into one
    buffer for all samplings of planes from ``share_plane_gradient``). Small planes (the tiny
    preset's 32²) take one batched grid_sample, which is faster there.
    """
    if _uses_rows(planes):
        coords = project_onto_planes(points, box_warp)              # (B, 3, N, 2)
        return _SampleTriplane.apply(planes, coords, getattr(planes, "_geogen_shared_rows", None))
    return sample_planes_stacked(planes, points, box_warp).unbind(1)


def sample_planes_stacked(planes: torch.Tensor, points: torch.Tensor, box_warp: float) -> torch.Tensor:
    """``sample_planes`` as one contiguous (B, 3, C, N) tensor: for small planes grid_sample's own
    output (no copy), for large planes the three per-plane samplings stacked (one copy)."""
    if _uses_rows(planes):
        return torch.stack(sample_planes(planes, points, box_warp), dim=1)
    B, P, C, H, W = planes.shape
    coords = project_onto_planes(points, box_warp)                  # (B, 3, N, 2)
    feats = F.grid_sample(planes.reshape(B * P, C, H, W), coords.reshape(B * P, 1, -1, 2), mode="bilinear",
                          padding_mode="zeros", align_corners=False)  # (B*3, C, 1, N)
    return feats.view(B, P, C, -1)


def sample_triplane(planes: torch.Tensor, points: torch.Tensor, box_warp: float) -> torch.Tensor:
    """Bilinear features of ``planes`` (B, 3, C, R, R) at ``points`` (B, N, 3) → (B, 3, N, C)
    (``sample_planes`` stacked; a view of a contiguous (B, 3, C, N) tensor)."""
    return sample_planes_stacked(planes, points, box_warp).transpose(2, 3)


class _PositionalEncoding(torch.autograd.Function):
    """Eq. 1, channels first: points (B, N, 3) → (B, 3 * (1 + 2L), N), the layout the decoder's
    matrix products read. sin and cos are computed on contiguous angles (B, 3, L, N) and written
    into their rows: torch's vectorised sin/cos are ~5× slower into a strided output. The
    backward is the derivative of the same formula."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, levels: int) -> torch.Tensor:
        B, N, D = x.shape
        freqs = (2.0 ** torch.arange(levels, dtype=x.dtype, device=x.device)) * math.pi   # (L,)
        xt = x.transpose(1, 2).contiguous()                                                 # (B, D, N)
        angles = xt.unsqueeze(2) * freqs[:, None]                                           # (B, D, L, N)
        out = x.new_empty(B, D, 1 + 2 * levels, N)
        out[:, :, 0] = xt
        torch.sin(angles, out=out[:, :, 1::2])     # rows of N contiguous values: vectorised
        torch.cos(angles, out=out[:, :, 2::2])
        ctx.save_for_backward(out, freqs)
        return out.view(B, D * (1 + 2 * levels), N)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        out, freqs = ctx.saved_tensors
        g = grad.reshape(out.shape)
        d_angles = g[:, :, 1::2] * out[:, :, 2::2] - g[:, :, 2::2] * out[:, :, 1::2]   # d sin = cos, d cos = -sin
        grad_xt = g[:, :, 0] + (d_angles * freqs[:, None]).sum(dim=2)                  # (B, D, N)
        return grad_xt.transpose(1, 2), None


def positional_encoding_channels_first(x: torch.Tensor, levels: int) -> torch.Tensor:
    """Eq. 1 (see :func:`positional_encoding`) of points ``x`` (B, N, D), channels first:
    (B, D * (1 + 2L), N), row k of which is feature k of ``positional_encoding``."""
    if levels <= 0:
        return x.transpose(1, 2)
    return _PositionalEncoding.apply(x, levels)


def positional_encoding(x: torch.Tensor, levels: int) -> torch.Tensor:
    """Eq. 1 per coordinate: PE(a) = [a, sin(2^0 π a), cos(2^0 π a), ..., sin(2^{L-1} π a), cos(2^{L-1} π a)].

    ``x`` (..., D) → (..., D * (1 + 2L)), laid out coordinate by coordinate: [PE(x), PE(y), PE(z)].
    """
    if levels <= 0:
        return x
    flat = x.reshape(1, -1, x.shape[-1])
    return _PositionalEncoding.apply(flat, levels).transpose(1, 2).reshape(*x.shape[:-1], -1)


def pe_dim(levels: int, dims: int = 3) -> int:
    return dims * (1 + 2 * max(levels, 0))
