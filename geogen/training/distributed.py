"""Data-parallel plumbing for ``torchrun``: process group, rank-derived seeds, gradient averaging.

Like StyleGAN2-ADA/EG3D we average gradients by hand (one all-reduce of the flattened
gradients per optimizer step) instead of wrapping G and D in DistributedDataParallel: the
training phases switch which network takes gradients (G step through a frozen D, D step on
detached fakes, lazy R1 every N steps), which DDP's fixed bucket/hook set-up handles badly.
Every rank holds identical weights (broadcast from rank 0 at start) and takes identical
optimizer steps on the averaged gradients, so the result is the same data-parallel SGD.

Equality with one process. The unit of randomness is the micro-batch (``batch_gpu`` samples, one
forward pass): micro-batch k of the global batch at iteration t draws every random number
(latents, cameras, noise, ray jitter, regulariser points) from its own stream seeded by
``step_seed(seed, k, t)``, and takes samples ``[k·m, (k+1)·m)`` of the global batch. One process
accumulating N micro-batches and N processes running one each therefore compute the same
samples, the same losses and the same mean gradient (up to float summation order).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    def barrier(self) -> None:
        """Wait for every rank (no-op in a single process)."""
        if self.enabled:
            torch.distributed.barrier()


def init_distributed() -> DistContext:
    """Join the process group when launched by torchrun (gloo on CPU, nccl on CUDA); else single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistContext(rank=rank, world=world, device=device)


def shutdown(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()


def step_seed(seed: int, micro_batch: int, step: int) -> int:
    """Seed of one micro-batch of one training step: resumable (depends only on the step) and the
    same whichever process runs that micro-batch (``micro_batch`` is its index in the global batch)."""
    return int(np.random.SeedSequence([int(seed), int(micro_batch), int(step)]).generate_state(1, dtype=np.uint64)[0] >> 1)


class RandomStreams:
    """One torch random stream per micro-batch: ``with streams.use(j):`` makes stream j the global
    generator (CPU and the CUDA device) and keeps its position for the next phase of the step."""

    def __init__(self, seeds: list[int], device: torch.device):
        self.cuda = device if device.type == "cuda" else None
        self.states = []
        for s in seeds:
            torch.manual_seed(s)
            self.states.append(self._get())

    def _get(self):
        return torch.get_rng_state(), (torch.cuda.get_rng_state(self.cuda) if self.cuda is not None else None)

    def _set(self, state) -> None:
        torch.set_rng_state(state[0])
        if self.cuda is not None:
            torch.cuda.set_rng_state(state[1], self.cuda)

    @contextmanager
    def use(self, j: int):
        self._set(self.states[j])
        try:
            yield
        finally:
            self.states[j] = self._get()


class RankSlice(torch.utils.data.Sampler):
    """This rank's part ``[lo, hi)`` of every global batch of ``batches`` (a batch sampler)."""

    def __init__(self, batches: torch.utils.data.Sampler, lo: int, hi: int):
        self.batches, self.lo, self.hi = batches, lo, hi

    def __iter__(self):
        for batch in self.batches:
            yield batch[self.lo:self.hi]


def set_precision(ctx: DistContext, tf32: bool) -> None:
    """TF32 for CUDA matmuls and cuDNN convolutions (Ampere and newer) when ``tf32``; CPU: nothing."""
    if ctx.device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32


def broadcast_module(module: torch.nn.Module, ctx: DistContext) -> None:
    """Copy rank 0's parameters and buffers to every rank."""
    if not ctx.enabled:
        return
    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t.data, src=0)


def average_gradients(module: torch.nn.Module, ctx: DistContext) -> None:
    """All-reduce (mean) the gradients of ``module``'s parameters that have one."""
    if not ctx.enabled:
        return
    params = [p for p in module.parameters() if p.grad is not None]
    if not params:
        return
    flat = torch.cat([p.grad.flatten() for p in params])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= ctx.world
    for p, g in zip(params, flat.split([p.numel() for p in params])):
        p.grad.copy_(g.view_as(p))


def all_reduce_mean_tensor(t: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Mean of a tensor over ranks (itself in a single process)."""
    if not ctx.enabled:
        return t
    t = t.clone()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t / ctx.world


def all_reduce_mean(values: dict[str, float], ctx: DistContext) -> dict[str, float]:
    """Average scalar statistics over ranks (for logging)."""
    if not ctx.enabled or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return {k: float(v) / ctx.world for k, v in zip(keys, t.tolist())}
