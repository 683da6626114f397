"""Summary statistics: mean with a 95 % Student-t confidence interval."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def mean_ci95(values) -> dict:
    """Mean, sample std and the two-sided 95 % t-interval mean ± t_{0.975, n−1} · s / √n.

    With fewer than two finite values the interval is undefined and reported as null.
    """
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    n = int(x.size)
    if n == 0:
        return {"mean": None, "std": None, "ci95_low": None, "ci95_high": None, "n": 0}
    mean = float(x.mean())
    if n < 2:
        return {"mean": mean, "std": None, "ci95_low": None, "ci95_high": None, "n": 1}
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n)
    return {"mean": mean, "std": std, "ci95_low": mean - half, "ci95_high": mean + half, "n": n}
