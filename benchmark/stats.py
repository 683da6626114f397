"""Summary statistics: the mean over samples with a 95 % bootstrap percentile interval.

Rule (docs/benchmark.md, "Intervals"): below ``MIN_N`` samples no interval is given ("n too
small") — a t-interval from 2–4 values is wider than most metrics' range and says nothing.
From ``MIN_N`` on, the interval is the 2.5–97.5 % percentile of the means of
``RESAMPLES`` bootstrap resamples drawn with an explicit seed, clipped to the metric's range
where it has one (a percentile interval of means already lies within [min, max] of the data;
the clip is a guard for metrics whose values could be out of range through round-off).
"""

from __future__ import annotations

import math

import numpy as np

MIN_N = 5
RESAMPLES = 10_000
SEED = 0
CI_METHOD = (f"bootstrap percentile 95% of the mean ({RESAMPLES} resamples, seed {SEED}) over samples with "
             f"status ok, clipped to the metric's range; none when n < {MIN_N} ('n too small')")
N_TOO_SMALL = "n too small"


def bootstrap_means(x: np.ndarray, resamples: int = RESAMPLES, seed: int = SEED, chunk: int = 1_000) -> np.ndarray:
    """Means of ``resamples`` resamples of ``x`` (with replacement, same size), drawn in chunks."""
    rng = np.random.default_rng(seed)
    out = np.empty(resamples)
    for start in range(0, resamples, chunk):
        stop = min(start + chunk, resamples)
        idx = rng.integers(0, x.size, size=(stop - start, x.size))
        out[start:stop] = x[idx].mean(axis=1)
    return out


def mean_ci95(values, value_range: tuple[float, float] | None = None, seed: int = SEED) -> dict:
    """Mean, sample std, n and the 95 % bootstrap percentile interval (None below ``MIN_N`` samples).

    ``interval`` says why an interval is missing ("n too small") or is "bootstrap-percentile".
    Non-finite and None values are dropped (failed samples are not averaged).
    """
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    n = int(x.size)
    out = {"mean": None, "std": None, "ci95_low": None, "ci95_high": None, "n": n, "interval": None}
    if n == 0:
        return out
    out["mean"] = float(x.mean())
    out["std"] = float(x.std(ddof=1)) if n > 1 else None
    if n < MIN_N:
        out["interval"] = N_TOO_SMALL
        return out
    lo, hi = np.percentile(bootstrap_means(x, seed=seed), [2.5, 97.5])
    if value_range is not None:
        lo, hi = np.clip([lo, hi], value_range[0], value_range[1])
    out.update(ci95_low=float(lo), ci95_high=float(hi), interval="bootstrap-percentile")
    return out
