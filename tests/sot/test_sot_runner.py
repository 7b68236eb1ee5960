"""The sequence runner: one-pass and VOT reset-based runs, discovery, reports."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from trackkit.errors import DataNotFoundError
from trackkit.io.images import SOTSequence
from trackkit.sot.base import SOTResult, SOTTracker
from trackkit.sot.runner import (
    evaluate,
    evaluate_reference,
    find_sequences,
    report,
    run_sequence,
    run_supervised,
)


class Scripted(SOTTracker):
    """Returns pre-scripted boxes (frame index -> xyxy), for protocol tests."""

    def __init__(self, boxes: np.ndarray) -> None:
        super().__init__()
        self.boxes = boxes
        self.t = 0
        self.inits: list[int] = []

    def _init(self, frame: np.ndarray, box: np.ndarray) -> None:
        self.t = int(frame[0, 0])  # frames carry their index in pixel (0, 0)
        self.inits.append(self.t)

    def _update(self, frame: np.ndarray) -> SOTResult:
        self.t = int(frame[0, 0])
        return SOTResult(self.boxes[self.t].copy(), 0.5)


def _sequence(tmp_path: Path, n: int) -> SOTSequence:
    tmp_path.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(n):
        img = np.zeros((40, 40), np.uint8)
        img[0, 0] = i
        f = tmp_path / f"{i:04d}.png"
        cv2.imwrite(str(f), img)
        files.append(f)
    boxes = np.tile([10.0, 10.0, 20.0, 20.0], (n, 1))
    return SOTSequence("toy", tuple(files), boxes)


def test_run_sequence_outputs(tmp_path: Path) -> None:
    seq = _sequence(tmp_path, 6)
    tracker = Scripted(seq.boxes + 1.0)
    seen: list[int] = []
    run = run_sequence(
        tracker, seq.iter_frames(gray=True), seq.init_box, lambda i, r: seen.append(i)
    )
    np.testing.assert_array_equal(run.boxes[0], seq.init_box)
    np.testing.assert_array_equal(run.boxes[1:], seq.boxes[1:] + 1.0)
    assert run.scores[0] == 1.0 and np.all(run.scores[1:] == 0.5)
    assert seen == list(range(6)) and run.fps > 0 and run.cpu_seconds >= 0


def test_run_supervised_reinitialises_five_frames_after_failure(tmp_path: Path) -> None:
    seq = _sequence(tmp_path, 14)
    script = seq.boxes.copy()
    script[3] = [30.0, 30.0, 35.0, 35.0]  # no overlap: failure at frame 3
    tracker = Scripted(script)
    run, sup = run_supervised(tracker, seq, skip=5, gray=True)
    assert sup.failure_frames == (3,)
    assert sup.init_frames == (0, 8) == tuple(tracker.inits)
    assert np.isnan(sup.overlaps[4:8]).all() and sup.overlaps[3] == 0.0
    assert np.isnan(run.boxes[4:8]).all()
    res = evaluate(lambda: Scripted(script), [seq], protocol="vot", gray=True)
    rep = report(res)
    assert rep["sequences"]["toy"]["failures"] == 1
    assert rep["mean"]["failures"] == 1 and 0 <= rep["mean"]["eao"] <= 1


def test_report_and_discovery(tmp_path: Path) -> None:
    seq = _sequence(tmp_path / "toy" / "img", 4)
    gt = "\n".join("11,11,10,10" for _ in range(4))
    (tmp_path / "toy" / "groundtruth_rect.txt").write_text(gt)
    [found] = find_sequences(tmp_path)
    assert found.name == "toy" and len(found) == 4
    np.testing.assert_allclose(found.boxes, seq.boxes)
    res = evaluate(lambda: Scripted(found.boxes), [found], gray=True)
    rep = report(res)
    assert rep["sequences"]["toy"]["success_auc"] == pytest.approx(20 / 21)
    assert rep["sequences"]["toy"]["precision_20px"] == 1.0
    assert set(rep["mean"]) >= {"success_auc", "precision_20px", "fps", "frames"}
    ref = tmp_path / "refs" / "Perfect"
    ref.mkdir(parents=True)
    (ref / "toy.txt").write_text(gt)
    per = evaluate_reference(tmp_path / "refs", [found])
    assert per["Perfect"]["toy"].success_auc == pytest.approx(20 / 21)
    with pytest.raises(DataNotFoundError):
        find_sequences(tmp_path / "refs")
