"""Shared test set-up: keep torch to one thread so tests behave the same on 2-core machines, and MKL's
results independent of memory alignment."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
# MKL's strict conditional numerical reproducibility: without it, on some CPUs (the AMD EPYC of
# 2026-12-02) MKL's results depend on where each buffer lies in memory, so the same micro-batch
# rounds differently in two processes and 3-6 Adam steps turn that into 2e-5-6e-3 weight differences
# (tests/test_train_ddp.py, tests/test_train_cli.py compare torchrun with one process; the
# subprocesses inherit this). Set before torch (and MKL) load; no measurable cost (perf scratch runs).
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # torch-free tests still run
    pass


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _one_torch_thread_again():
    """Commands run in-process (``--threads auto`` is their default) may change torch's thread
    count; every test starts from one thread."""
    yield
    if "torch" in globals():
        torch.set_num_threads(1)
