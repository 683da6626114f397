"""``min_cost_assignment`` returns scipy's exact optimum (the auction prices only speed it up).

Totals are compared with ``scipy.optimize.linear_sum_assignment`` on the unreduced matrix: EMD
costs of nearby, concentric and far-apart point sets, uniform random matrices, integer matrices
with many ties, a constant matrix, 1x1 and 2x2 matrices; plus a brute-force check over all
permutations of small matrices and a capped auction (prices far from converged stay exact).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from benchmark import assignment
from benchmark.assignment import min_cost_assignment


def _unit(rng, n):
    v = rng.normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _cases():
    rng = np.random.default_rng(0)
    n = 300
    yield "nearby spheres", cdist(_unit(rng, n), _unit(rng, n) * 1.01)
    yield "concentric spheres", cdist(_unit(rng, n), 1.1 * _unit(rng, n))
    yield "far apart", cdist(0.5 * _unit(rng, n) + [0.8, 0, 0], _unit(rng, n))
    yield "uniform random", rng.random((n, n))
    yield "integers with ties", rng.integers(0, 4, size=(n, n)).astype(float)
    yield "constant", np.full((50, 50), 2.5)
    yield "1x1", np.array([[3.0]])
    yield "2x2", np.array([[1.0, 2.0], [2.0, 1.5]])


@pytest.mark.parametrize("name,cost", list(_cases()), ids=[c[0] for c in _cases()])
def test_same_optimum_as_scipy(name, cost):
    rows, cols = min_cost_assignment(cost)
    n = len(cost)
    assert sorted(rows) == list(range(n)) and sorted(cols) == list(range(n))     # a permutation
    r, c = linear_sum_assignment(cost)
    assert cost[rows, cols].sum() == pytest.approx(cost[r, c].sum(), rel=1e-12, abs=1e-12)


def test_small_matrices_against_every_permutation():
    rng = np.random.default_rng(1)
    for _ in range(20):
        cost = rng.random((6, 6))
        best = min(sum(cost[i, p[i]] for i in range(6)) for p in itertools.permutations(range(6)))
        rows, cols = min_cost_assignment(cost)
        assert cost[rows, cols].sum() == pytest.approx(best, rel=1e-12)


def test_capped_auction_is_still_exact(monkeypatch):
    """Two bids per row and phase leave the prices far from converged: the result must not change."""
    rng = np.random.default_rng(2)
    cost = cdist(rng.random((200, 3)), rng.random((200, 3)) + 0.3)
    monkeypatch.setattr(assignment, "MAX_BIDS_PER_ROW", 2)
    rows, cols = min_cost_assignment(cost)
    r, c = linear_sum_assignment(cost)
    assert cost[rows, cols].sum() == pytest.approx(cost[r, c].sum(), rel=1e-12)


def test_prices_make_the_matrix_nearly_reduced():
    """After the auction every row's assigned-by-scipy column has a reduced cost near 0 (what makes
    scipy's search short): the mean reduced cost on the optimum is below 1e-3 of the mean cost."""
    rng = np.random.default_rng(3)
    cost = cdist(_unit(rng, 400), 1.05 * _unit(rng, 400))
    shifted = cost - cost.min()
    prices = assignment._compiled()(shifted, 0.25 * np.ptp(cost), 3e-4 * shifted.mean(), 4.0, 200 * 400)
    reduced = shifted + prices[None, :]
    reduced -= reduced.min(axis=1, keepdims=True)
    r, c = linear_sum_assignment(cost)
    assert reduced[r, c].mean() < 1e-3 * cost.mean()


def test_rejects_non_square():
    with pytest.raises(ValueError, match="square"):
        min_cost_assignment(np.zeros((3, 4)))
