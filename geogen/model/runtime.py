"""CPU runtime setting that pays back in training: keep freed memory in the process.

A training iteration allocates and frees the same large activations (the 256² tri-planes and
their gradients are 100 MB each at EG3D's settings) every step. glibc's malloc serves blocks of
more than 32 MB with fresh mmap()s and returns freed heap tops to the OS, so every step
page-faults the same memory in again (zero-filled by the kernel): a large share of the step's
time is spent in the kernel. Telling malloc never to mmap and never to trim makes freed blocks
reusable, for ~0.1–0.2 GB more peak RSS. Measured at eg3d-matched settings with
perf/bench_train.py --keep-freed-memory: +25–30 % images/s under heavy machine load,
within noise (±5 %) at moderate load (docs/training.md); PTI's few-MB activations gain as much
(docs/benchmark.md). Process-wide and irreversible: the training loop
(``geogen.training.trainer.Trainer`` on CPU) and the benchmark's PTI adapter
(``benchmark.adapters.GeoGenAdapter`` on CPU) call it; other library code should not.
"""

from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to reuse freed memory instead of returning it to the OS (no-op elsewhere).

    Returns whether the setting took effect (False off Linux/glibc).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 2 ** 31 - 1))
    except (OSError, AttributeError):
        return False
