"""Training data: the batch sampler that resumes mid-epoch, and the camera statistics stored in
the model file. The images and labels themselves are read by :mod:`dataset.eg3d` (re-exported
here: ``ImageLabelDataset``, ``mirror_label``).
"""

from __future__ import annotations

import torch

from dataset.eg3d import ImageLabelDataset, mirror_label  # noqa: F401


def camera_stats(labels: torch.Tensor) -> dict:
    """Median camera radius, elevation (deg) and normalised focal of a label set.

    Stored in the model file so ``geogen-gen`` renders with cameras like the training ones.
    """
    lab = labels.double()
    pos = lab[:, [3, 7, 11]]
    radius = pos.norm(dim=1)
    elevation = torch.rad2deg(torch.asin((pos[:, 1] / radius).clamp(-1, 1)))
    focal = lab[:, 16]
    return {"radius": float(radius.median()), "elevation": float(elevation.median()),
            "focal": float(focal.median())}


class ResumableBatchSampler(torch.utils.data.Sampler):
    """Endless per-rank batches of indices that can restart at any batch number.

    The index stream is ``DistributedSampler``'s shuffled shard for epoch 0, 1, 2, ... (seeded
    by ``seed``, the same permutation on every rank, a different shard per rank) laid end to
    end; batch ``b`` is items ``[b·B, (b+1)·B)`` of that stream. Restarting at
    ``start_batch`` after a resume therefore yields exactly the batches an uninterrupted run
    would have seen, and datasets smaller than a batch still work.
    """

    def __init__(self, dataset_len: int, batch_per_rank: int, rank: int = 0, world: int = 1,
                 seed: int = 0, start_batch: int = 0):
        self.sampler = torch.utils.data.DistributedSampler(
            range(dataset_len), num_replicas=world, rank=rank, shuffle=True, seed=seed, drop_last=False)
        self.batch = int(batch_per_rank)
        self.start_batch = int(start_batch)

    def _epoch(self, epoch: int) -> list[int]:
        self.sampler.set_epoch(epoch)
        return list(self.sampler)

    def __iter__(self):
        per_epoch = len(self.sampler)
        pos = self.start_batch * self.batch
        epoch, offset = divmod(pos, per_epoch)
        pending = self._epoch(epoch)[offset:]
        while True:
            while len(pending) < self.batch:
                epoch += 1
                pending += self._epoch(epoch)
            yield pending[:self.batch]
            pending = pending[self.batch:]
