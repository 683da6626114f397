"""Summary intervals: none below 5 samples, bootstrap percentile vs a naive loop, range clipping."""

import math

import numpy as np
import pytest
from scipy import stats

from benchmark.stats import MIN_N, N_TOO_SMALL, RESAMPLES, bootstrap_means, mean_ci95


def test_no_interval_below_five_samples():
    for n in range(1, MIN_N):
        r = mean_ci95([0.1 * (k + 1) for k in range(n)])
        assert r["n"] == n and r["ci95_low"] is None and r["ci95_high"] is None and r["interval"] == N_TOO_SMALL
    assert mean_ci95([0.01, 0.5])["mean"] == pytest.approx(0.255)
    assert mean_ci95([1.0, 2.0, 4.0, 7.0])["std"] == pytest.approx(math.sqrt(7.0))


def test_degenerate_inputs():
    empty = mean_ci95([])
    assert empty["mean"] is None and empty["n"] == 0 and empty["ci95_low"] is None
    one = mean_ci95([0.5, None, float("nan")])
    assert one["mean"] == 0.5 and one["n"] == 1 and one["std"] is None and one["ci95_low"] is None
    const = mean_ci95([0.3] * 7)
    assert const["ci95_low"] == pytest.approx(0.3) and const["ci95_high"] == pytest.approx(0.3)


def test_bootstrap_matches_a_naive_resampling_loop():
    x = np.array([0.3, 0.1, 0.7, 0.2, 0.9, 0.4])
    rng = np.random.default_rng(5)
    naive = []
    for size in (1_000, 1_000, 500):  # the same draws (chunks of 1000), averaged one resample at a time
        idx = rng.integers(0, x.size, size=(size, x.size))
        naive += [float(np.mean([x[i] for i in row])) for row in idx]
    assert np.allclose(bootstrap_means(x, resamples=2_500, seed=5), naive)
    r = mean_ci95(x, seed=5)
    lo, hi = np.percentile(bootstrap_means(x, resamples=RESAMPLES, seed=5), [2.5, 97.5])
    assert (r["ci95_low"], r["ci95_high"]) == (pytest.approx(lo), pytest.approx(hi))
    assert mean_ci95(x, seed=5) == r  # seeded: reproducible
    assert r["ci95_low"] >= x.min() and r["ci95_high"] <= x.max()


def test_bootstrap_is_close_to_the_t_interval_for_normal_data():
    x = np.random.default_rng(0).normal(1.0, 0.2, size=200)
    r = mean_ci95(x)
    half = stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    assert (r["ci95_high"] - r["ci95_low"]) / 2 == pytest.approx(half, rel=0.1)
    assert r["ci95_low"] < x.mean() < r["ci95_high"]


def test_interval_is_clipped_to_the_metric_range():
    x = [1.0, 1.0, 1.0, 1.0, 0.2, 1.0, 1.0]
    plain = mean_ci95(x)
    clipped = mean_ci95(x, value_range=(0.0, 0.9))
    assert plain["ci95_high"] == pytest.approx(1.0) and clipped["ci95_high"] == pytest.approx(0.9)
    assert clipped["ci95_low"] == pytest.approx(plain["ci95_low"])
