"""The solver-free shortcut of ``gated_matches`` returns exactly the solver's matches."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from trackkit.association.assign import gated_matches, linear_assignment


def _solver_matches(cost: np.ndarray, thr: float) -> tuple[np.ndarray, np.ndarray]:
    """The full Hungarian solve of the gated problem (the reference)."""
    work = np.fmin(cost - thr, 0.0)
    rows, cols = linear_sum_assignment(work)
    keep = work[rows, cols] < 0.0
    return rows[keep], cols[keep]


def test_same_matches_as_the_solver() -> None:
    rng = np.random.default_rng(3)
    shortcut = 0
    for _ in range(400):
        n, m = (int(v) for v in rng.integers(1, 9, size=2))
        # sparse overlaps, as between well separated objects: often already a matching
        cost = np.where(rng.random((n, m)) < 0.15, rng.random((n, m)) * 0.7, 1.0)
        if rng.random() < 0.2:
            cost[rng.random((n, m)) < 0.2] = np.inf
        if rng.random() < 0.1:
            cost[0, 0] = np.nan
        before = cost.copy()
        rows, cols = gated_matches(cost, 0.7)
        ref_rows, ref_cols = _solver_matches(cost, 0.7)
        np.testing.assert_array_equal(rows, ref_rows)
        np.testing.assert_array_equal(cols, ref_cols)
        np.testing.assert_array_equal(cost, before)  # input untouched
        a = linear_assignment(cost, 0.7)
        np.testing.assert_array_equal(a.matches, np.c_[ref_rows, ref_cols].astype(np.int64))
        neg = cost < 0.7
        shortcut += int(neg.sum(0).max() <= 1 and neg.sum(1).max() <= 1)
    assert 50 < shortcut < 390  # both paths were exercised


def test_conflicts_go_to_the_solver() -> None:
    # row 0 has two candidates: the solver must trade off (0,1)+(1,0) against (0,0)
    cost = np.array([[0.1, 0.2], [0.15, 0.9]])
    rows, cols = gated_matches(cost, 0.5)
    assert rows.tolist() == [0, 1] and cols.tolist() == [1, 0]
