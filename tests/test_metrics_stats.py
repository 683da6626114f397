"""Mean and 95 % t-interval against a hand computation."""

import math

import pytest

from benchmark.stats import mean_ci95


def test_t_interval_matches_hand_computation():
    x = [1.0, 2.0, 4.0, 7.0]
    mean = sum(x) / 4
    s = math.sqrt(sum((v - mean) ** 2 for v in x) / 3)
    t = 3.182446305284263  # t_{0.975, 3} from tables
    r = mean_ci95(x)
    assert r["mean"] == pytest.approx(mean) and r["std"] == pytest.approx(s) and r["n"] == 4
    assert r["ci95_low"] == pytest.approx(mean - t * s / 2) and r["ci95_high"] == pytest.approx(mean + t * s / 2)


def test_degenerate_inputs():
    assert mean_ci95([]) == {"mean": None, "std": None, "ci95_low": None, "ci95_high": None, "n": 0}
    one = mean_ci95([0.5, None, float("nan")])
    assert one["mean"] == 0.5 and one["n"] == 1 and one["ci95_low"] is None
