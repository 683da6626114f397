"""CPU threads for long jobs: as many as the cores that other processes leave free.

torch's default is one thread per core. Its parallel regions wait for their slowest thread, so
when another process keeps one of the cores busy, the thread that shares it holds every region
up and a two-thread job on a 2-core machine runs slower than a one-thread job would
(perf/bench_threads.py measures it). ``ThreadGovernor`` looks every ``interval`` seconds at how
much CPU the whole machine and this process used since its last look (``/proc/stat`` and
``os.times``), counts the rest as other processes' cores, and sets ``torch.set_num_threads`` to
the cores left free (at least 1); the first look is a ``start_window`` (0.5 s) before any work. Where ``/proc/stat`` is missing (not Linux) it says so once and
keeps the thread count it started with.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")

OTHERS_TOLERATED = 0.3   # a core counts as taken once other processes use more than this much of it


def parse_threads(value: str) -> int | None:
    """``--threads`` value: ``auto`` → None (governed), ``0`` → 0 (torch's default), N ≥ 1 → N.
    Raises ValueError with the accepted forms otherwise."""
    text = str(value).strip().lower()
    if text == "auto":
        return None
    if text.isdigit():
        return int(text)
    raise ValueError(f"--threads {value!r}: expected 'auto', 0 (torch's default) or a positive number of threads")


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def read_proc_stat(path: str = "/proc/stat") -> tuple[float, float] | None:
    """(busy, total) CPU seconds of the whole machine since boot from the ``cpu`` line of
    /proc/stat (busy = everything but idle and iowait), or None where it cannot be read."""
    try:
        with open(path) as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 5:
        return None
    ticks = [float(x) for x in fields[1:]]
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0.0)
    return (sum(ticks) - idle) / hz, sum(ticks) / hz


def own_cpu_seconds() -> float:
    """CPU seconds this process (all its threads) has used."""
    t = os.times()
    return t.user + t.system


def threads_for(cores: int, others: float) -> int:
    """Threads to run with when other processes use ``others`` cores' worth of CPU."""
    taken = int(others) + (1 if others - int(others) > OTHERS_TOLERATED else 0)
    return max(1, cores - taken)


@dataclass
class ThreadGovernor:
    """Re-sets torch's thread count every ``interval`` seconds to the cores other processes leave free.

    Call :meth:`update` often (e.g. once per training iteration); it is cheap between checks.
    ``set_threads``, ``clock``, ``machine``, ``own`` and ``sleep`` are injectable for tests.
    """

    cores: int
    interval: float = 10.0
    set_threads: Callable[[int], None] | None = None
    clock: Callable[[], float] = time.monotonic
    machine: Callable[[], tuple[float, float] | None] = read_proc_stat
    own: Callable[[], float] = own_cpu_seconds
    sleep: Callable[[float], None] = time.sleep
    start_window: float = 0.5
    threads: int = field(default=0, init=False)   # the count in force

    def __post_init__(self):
        if self.set_threads is None:
            import torch

            self.set_threads = torch.set_num_threads
        self._last = None
        self.enabled = self.machine() is not None
        if not self.enabled:
            print(f"note: --threads auto needs /proc/stat (Linux); running with {self.cores} thread(s) throughout",
                  file=sys.stderr)
        self.changes: list[tuple[float, int, float]] = []   # (time, threads, others) at each change
        self.threads = self.threads or self.cores
        if self.enabled and self.start_window > 0:   # a first look before any work: the machine alone
            first = self._sample()
            self.sleep(self.start_window)
            self.threads = threads_for(self.cores, self._others(first, self._sample()))
        self.set_threads(self.threads)

    def _sample(self) -> tuple[float, float, float] | None:
        m = self.machine()
        return None if m is None else (self.clock(), m[0], self.own())

    @staticmethod
    def _others(before: tuple[float, float, float], after: tuple[float, float, float]) -> float:
        """Cores' worth of CPU that other processes used between two samples."""
        wall = max(after[0] - before[0], 1e-9)
        machine_busy = (after[1] - before[1]) / wall      # cores busy on the whole machine
        own_busy = (after[2] - before[2]) / wall          # of which this process
        return max(0.0, machine_busy - own_busy)

    def update(self) -> int:
        """Check the machine if ``interval`` has passed; returns the thread count in force."""
        if not self.enabled:
            return self.threads
        now = self.clock()
        if self._last is not None and now - self._last[0] < self.interval:
            return self.threads
        sample = self._sample()
        if sample is None:
            return self.threads
        if self._last is not None:
            others = self._others(self._last, sample)
            wanted = threads_for(self.cores, others)
            if wanted != self.threads:
                self.threads = wanted
                self.set_threads(wanted)
                self.changes.append((sample[0], wanted, others))
        self._last = sample
        return self.threads


def governed(items: Iterable[T], governor: "ThreadGovernor | None") -> Iterator[T]:
    """``items``, calling ``governor.update()`` as each one is handed on, i.e. between the items of a
    per-item job (images, meshes, samples; ``--threads auto``); just ``items`` without a governor."""
    for item in items:
        if governor is not None:
            governor.update()
        yield item
