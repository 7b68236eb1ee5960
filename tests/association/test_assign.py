"""Gated assignment equals the brute-force optimum of the dummy-node formulation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from trackkit.association.assign import lap_available, linear_assignment
from trackkit.errors import ConfigError

BACKENDS = ["scipy", "lap"] if lap_available() else ["scipy"]


def _brute_force(cost: np.ndarray, thr: float) -> float:
    """max over partial matchings of sum(thr - c) over matched pairs with c <= thr."""
    n, m = cost.shape
    best = 0.0
    for k in range(1, min(n, m) + 1):
        for rows in itertools.combinations(range(n), k):
            for cols in itertools.permutations(range(m), k):
                c = cost[list(rows), list(cols)]
                if (c <= thr).all():
                    best = max(best, float((thr - c).sum()))
    return best


@pytest.mark.parametrize("backend", BACKENDS)
def test_optimal_with_no_match_price(backend: str) -> None:
    rng = np.random.default_rng(0)
    for _ in range(40):
        n, m = rng.integers(1, 5, size=2)
        cost = rng.random((n, m))
        cost[rng.random((n, m)) < 0.2] = np.inf
        thr = 0.6
        a = linear_assignment(cost, thr, backend=backend)  # type: ignore[arg-type]
        gain = float((thr - cost[a.matches[:, 0], a.matches[:, 1]]).sum())
        assert gain == pytest.approx(_brute_force(cost, thr))
        assert (cost[a.matches[:, 0], a.matches[:, 1]] <= thr).all()
        rows = sorted([*a.matches[:, 0].tolist(), *a.unmatched_rows.tolist()])
        cols = sorted([*a.matches[:, 1].tolist(), *a.unmatched_cols.tolist()])
        assert rows == list(range(n)) and cols == list(range(m))


def test_threshold_semantics_and_no_mutation() -> None:
    cost = np.array([[0.1, 0.9], [0.8, 0.75], [np.nan, 0.2]])
    before = cost.copy()
    a = linear_assignment(cost, 0.7)
    np.testing.assert_array_equal(a.matches, [[0, 0], [2, 1]])
    np.testing.assert_array_equal(a.unmatched_rows, [1])
    assert len(a.unmatched_cols) == 0
    np.testing.assert_array_equal(cost, before)  # NaN kept, nothing written
    # the classic pitfall: greedy-after-Hungarian would drop a pair the optimum keeps
    c2 = np.array([[0.5, 0.45], [0.05, 2.0]])
    a2 = linear_assignment(c2, 0.5)
    np.testing.assert_array_equal(a2.matches, [[0, 1], [1, 0]])


def test_infinite_threshold_matches_all_finite_pairs() -> None:
    cost = np.array([[1.0, np.inf], [np.inf, 50.0]])
    a = linear_assignment(cost)
    np.testing.assert_array_equal(a.matches, [[0, 0], [1, 1]])
    none = linear_assignment(np.full((2, 2), np.inf))
    assert len(none.matches) == 0 and len(none.unmatched_rows) == 2


def test_empty_and_bad_input() -> None:
    a = linear_assignment(np.zeros((0, 3)), 0.5)
    assert a.matches.shape == (0, 2) and a.unmatched_cols.tolist() == [0, 1, 2]
    b = linear_assignment(np.zeros((2, 0)), 0.5)
    assert b.unmatched_rows.tolist() == [0, 1]
    with pytest.raises(ValueError):
        linear_assignment(np.zeros(3), 0.5)
    with pytest.raises(ConfigError):
        linear_assignment(np.zeros((1, 1)), 0.5, backend="bogus")  # type: ignore[arg-type]
