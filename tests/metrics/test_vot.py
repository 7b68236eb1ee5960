"""Known-answer tests of the VOT supervised-protocol measures."""

from __future__ import annotations

import numpy as np
import pytest

from trackkit.metrics.vot import (
    SupervisedRun,
    eao_curve,
    evaluate_vot,
    polygon_overlaps,
    vot_accuracy,
)


def test_polygon_overlaps_axis_aligned_and_rotated() -> None:
    box = np.array([[0.0, 0.0, 10.0, 10.0]])
    square = np.array([[0, 0, 10, 0, 10, 10, 0, 10]], dtype=float)
    assert polygon_overlaps(box, square)[0] == pytest.approx(1.0)
    assert polygon_overlaps(box, square[:, ::-1].copy())[0] == pytest.approx(1.0)  # clockwise
    half = np.array([[5, 0, 15, 0, 15, 10, 5, 10]], dtype=float)
    assert polygon_overlaps(box, half)[0] == pytest.approx(50 / 150)
    # A diamond inscribed in the box: area 50, fully inside -> IoU 0.5.
    diamond = np.array([[5, 0, 10, 5, 5, 10, 0, 5]], dtype=float)
    assert polygon_overlaps(box, diamond)[0] == pytest.approx(0.5)
    assert polygon_overlaps(np.array([[np.nan] * 4]), square)[0] == 0.0
    assert np.isnan(polygon_overlaps(box, np.full((1, 8), np.nan))[0])


def test_accuracy_skips_burnin() -> None:
    o = np.array([1.0, 0.2, 0.2, 0.8, 0.8, 0.8])
    run = SupervisedRun(o, (0,), ())
    assert vot_accuracy(run, burnin=3) == (pytest.approx(0.8), 3)
    assert vot_accuracy(run, burnin=0)[0] == pytest.approx(o.mean())


def test_eao_without_failures_is_mean_prefix_overlap() -> None:
    run = SupervisedRun(np.full(10, 0.5), (0,), ())
    curve = eao_curve([run], 12)
    np.testing.assert_allclose(curve[:10], 0.5)
    assert np.isnan(curve[10:]).all()  # no fragment is known to be that long


def test_eao_failure_pads_zeros() -> None:
    # Tracked 4 frames at overlap 1, failed at frame 4, re-initialised at 9, tracked to 11.
    o = np.array([1, 1, 1, 1, 0] + [np.nan] * 4 + [1, 1, 1], dtype=float)
    run = SupervisedRun(o, (0, 9), (4,))
    curve = eao_curve([run], 8)
    # Fragment 1: 1,1,1,1,0,0,0,0 (known for every length). Fragment 2: 1,1,1 then unknown.
    assert curve[0] == pytest.approx(1.0)
    assert curve[2] == pytest.approx(1.0)
    assert curve[3] == pytest.approx(1.0)  # only fragment 1 counts at length 4
    assert curve[7] == pytest.approx(4 / 8)
    res = evaluate_vot({"s": run}, burnin=0, eao_range=(4, 8))
    assert res.failures == 1
    assert res.eao == pytest.approx(np.mean([4 / n for n in range(4, 9)]))
    assert res.robustness == pytest.approx(100 / 12)
    assert res.per_sequence["s"][1:] == (1, 12)
    assert res.accuracy == pytest.approx(7 / 8)  # skipped frames left out, failure scores 0


def test_evaluate_vot_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        evaluate_vot({})
    with pytest.raises(ValueError):
        evaluate_vot({"s": SupervisedRun(np.ones(3), (0,), ())}, eao_range=(5, 2))
