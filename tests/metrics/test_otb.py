"""Known-answer tests of the OTB success/precision evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trackkit.io.otb import load_otb_sequences, read_reference_results
from trackkit.metrics.otb import (
    PRECISION_THRESHOLDS,
    SUCCESS_THRESHOLDS,
    center_errors,
    evaluate_sequence,
    overlaps,
    precision_curve,
    success_curve,
    summarize,
)


def _gt(n: int = 50) -> np.ndarray:
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 200, size=(n, 2))
    wh = rng.uniform(10, 80, size=(n, 2))
    return np.hstack([xy, xy + wh])


def test_perfect_tracker_scores_one() -> None:
    gt = _gt()
    r = evaluate_sequence(gt, gt)
    assert r.success_auc == pytest.approx(1.0 - 1.0 / 21.0)  # IoU 1 is not > 1
    assert evaluate_sequence(gt, gt, strict=False).success_auc == pytest.approx(1.0)
    assert r.precision_20px == 1.0
    assert np.all(r.precision == 1.0)
    assert r.norm_precision_auc == 1.0
    assert r.frames == len(gt)


def test_constant_offset_gives_computable_curves() -> None:
    # 10x10 boxes shifted by 5 px horizontally: IoU = 50 / 150 = 1/3, centre error 5.
    gt = np.tile([0.0, 0.0, 10.0, 10.0], (20, 1)) + np.arange(20)[:, None] * 3.0
    pred = gt + np.array([5.0, 0.0, 5.0, 0.0])
    np.testing.assert_allclose(overlaps(pred, gt), 1.0 / 3.0)
    np.testing.assert_allclose(center_errors(pred, gt), 5.0)
    r = evaluate_sequence(pred, gt)
    np.testing.assert_array_equal(r.success, (SUCCESS_THRESHOLDS < 1.0 / 3.0).astype(float))
    assert r.success_auc == pytest.approx(7.0 / 21.0)  # thresholds 0 .. 0.30
    np.testing.assert_array_equal(r.precision, (PRECISION_THRESHOLDS >= 5.0).astype(float))
    assert r.precision_20px == 1.0
    # Normalised error 5 / 10 = 0.5 -> only the last threshold (0.5) counts.
    assert r.norm_precision[-1] == 1.0 and r.norm_precision[-2] == 0.0


def test_empty_and_zero_boxes_are_failures() -> None:
    gt = _gt(10)
    pred = gt.copy()
    pred[2] = np.nan
    pred[3] = [5.0, 5.0, 5.0, 20.0]  # zero width
    pred[4] = [0.0, 0.0, 0.0, 0.0]
    ious = overlaps(pred, gt)
    assert ious[2] == 0.0 and ious[3] == 0.0 and ious[4] == 0.0
    assert np.isinf(center_errors(pred, gt)[2:5]).all()
    r = evaluate_sequence(pred, gt)  # IoU > 0 at threshold 0: failures never count
    assert r.success[0] == pytest.approx(0.7)
    assert r.precision[-1] == pytest.approx(0.7)


def test_invalid_ground_truth_is_skipped_or_failed() -> None:
    gt = _gt(10)
    gt[5] = np.nan
    assert evaluate_sequence(gt, gt).frames == 9
    r = evaluate_sequence(gt, gt, skip_invalid_gt=False)
    assert r.frames == 10 and r.success[0] == pytest.approx(0.9)
    assert r.success_auc == pytest.approx(0.9 * 20 / 21)


def test_first_frame_and_pixel_inclusive_options() -> None:
    gt = _gt(10)
    pred = gt.copy()
    pred[0] += 100.0
    assert evaluate_sequence(pred, gt, first_frame=False, strict=False).success_auc == 1.0
    # Pixel-inclusive areas: 1x1 boxes one pixel apart overlap 0 either way, identical 1.
    a = np.array([[0.0, 0.0, 1.0, 1.0]])
    assert overlaps(a, a, pixel_inclusive=True)[0] == 1.0
    b = np.array([[0.0, 0.0, 2.0, 2.0]])
    assert overlaps(a, b)[0] == pytest.approx(0.25)
    assert overlaps(a, b, pixel_inclusive=True)[0] == pytest.approx(4.0 / 9.0)


def test_curves_edge_cases_and_summary() -> None:
    assert np.all(success_curve([]) == 0) and np.all(precision_curve([]) == 0)
    gt = _gt(10)
    r1 = evaluate_sequence(gt, gt, strict=False)
    r2 = evaluate_sequence(gt + 1000.0, gt)
    s = summarize({"a": r1, "b": r2})
    assert s.success_auc == pytest.approx(0.5) and s.sequences == 2
    np.testing.assert_allclose(s.success, (r1.success + r2.success) / 2)
    with pytest.raises(ValueError):
        summarize({})
    with pytest.raises(ValueError):
        evaluate_sequence(gt[:3], gt)


MUSTER = {  # name: (success AUC, precision@20) from the issue (independent computation)
    "Car4": (0.8769, 1.0),
    "Couple": (0.6194, 0.8429),
    "Crossing": (0.7825, 1.0),
    "Jogging-1": (0.6924, 0.9544),
    "Jogging-2": (0.7337, 0.9805),
}


def test_muster_reference_results_known_answers(shared: Path) -> None:
    otb = shared / "data" / "otb"
    seqs = {
        s.name: s
        for d in ("Car4", "Couple", "Crossing", "Jogging")
        for s in load_otb_sequences(otb / d)
    }
    assert set(seqs) == set(MUSTER)
    results = {}
    for name, (auc, p20) in MUSTER.items():
        pred = read_reference_results(otb / "reference_results" / "MUSTer" / f"{name}.json")
        r = evaluate_sequence(pred, seqs[name].boxes)
        assert r.success_auc == pytest.approx(auc, abs=5e-5), name
        assert r.precision_20px == pytest.approx(p20, abs=5e-5), name
        results[name] = r
    assert summarize(results).success_auc == pytest.approx(0.741, abs=5e-4)
