"""Association stages (trackkit.association.stages): pools, gating, cascade, bands."""

from __future__ import annotations

from typing import Any

import numpy as np

from trackkit.association.stages import (
    CascadeStage,
    Frame,
    Stage,
    fused_iou_distance,
    iou_distance,
    score_bands,
)


def _started(*args: Any) -> Frame:
    frame = Frame()
    frame.reset(*args)
    return frame


def _frame() -> Frame:
    pred = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]], float)
    boxes = np.array([[21, 0, 31, 10], [0, 1, 10, 11], [100, 0, 110, 10]], float)
    scores = np.array([0.9, 0.3, 0.8])
    high, low = score_bands(scores, np.array(0.5), np.array(0.1))
    return _started(boxes, scores, pred, {"high": high, "low": low})


def test_score_bands() -> None:
    s = np.array([0.9, 0.5, 0.3, 0.05, 0.6])
    high, low = score_bands(s, np.array(0.5), np.array(0.1))
    assert high.tolist() == [0, 1, 4] and low.tolist() == [2]
    high, low = score_bands(s, np.array(0.5), np.array(0.1), strict=True)
    assert high.tolist() == [0, 4] and low.tolist() == [1, 2]
    assert score_bands(s, np.array(0.5))[1].tolist() == []


def test_stages_in_order_use_free_detections_only() -> None:
    f = _frame()
    everyone = lambda fr: np.arange(3)  # noqa: E731
    Stage(everyone, "high", iou_distance, 0.5).run(f)
    assert f.det_of_track.tolist() == [-1, 0, -1]  # track 1 with detection 0 (IoU 0.82)
    assert f.free("high").tolist() == [2]
    Stage(Frame.unmatched, "low", iou_distance, 0.5).run(f)
    assert f.det_of_track.tolist() == [1, 0, -1]
    assert f.matched().tolist() == [True, True, False] and f.unmatched().tolist() == [2]


def test_costs() -> None:
    f = _frame()
    rows, cols = np.array([1]), np.array([0, 2])
    np.testing.assert_allclose(iou_distance(f, rows, cols), 1.0 - f.iou[1:2][:, [0, 2]])
    np.testing.assert_allclose(
        fused_iou_distance(f, rows, cols), 1.0 - f.iou[1:2][:, [0, 2]] * f.scores[[0, 2]]
    )


def test_cascade_matches_recent_tracks_first() -> None:
    # two tracks want the same detection; the one seen more recently (level 1) gets it
    f = _started(
        np.array([[0, 0, 10, 10]], float),
        np.ones(1),
        np.array([[0, 0, 10, 10], [0, 0, 10, 10]], float),
        {"all": np.array([0])},
    )
    levels = np.array([3, 1])
    stage = CascadeStage(
        lambda fr: np.arange(2),
        "all",
        lambda fr, r, c: (iou_distance(fr, r, c) + np.array([[0.0], [0.1]]), 0.5),
        lambda rows: levels[rows],
    )
    stage.run(f)
    assert f.det_of_track.tolist() == [-1, 0]
