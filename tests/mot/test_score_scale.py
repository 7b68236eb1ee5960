"""Detection scores that are not probabilities (``score_scale``, :mod:`trackkit.mot.score_scale`)
and the cost functions' clipping of scores to [0, 1]."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trackkit.association.costs import confidence, fuse_score, iou_cost
from trackkit.association.stages import Frame, fused_iou_distance
from trackkit.core.detections import Detections
from trackkit.detectors.from_file import FileDetector, read_det_file
from trackkit.errors import TrackkitError
from trackkit.mot import build
from trackkit.mot.score_scale import (
    REFERENCE_QUANTILES,
    match_scores,
    normalize_frames,
    normalize_scores,
)

pytestmark = pytest.mark.timeout(60)


def test_auto_leaves_unit_scores_untouched_and_match_is_monotone() -> None:
    rng = np.random.default_rng(0)
    unit = rng.random(500)
    unit[:50] = 1.0
    unit[50:60] = 0.0
    out = normalize_scores(unit, "auto")
    assert out.tobytes() == unit.tobytes()
    raw = np.concatenate([rng.lognormal(1.0, 1.5, 400), rng.normal(-1.0, 1.0, 100)])
    raw[:20] = raw[20]  # ties stay tied
    for scores in (raw, 30.0 * unit, unit):
        mapped = normalize_scores(scores, "match")
        order = np.argsort(scores, kind="stable")
        assert np.all(np.diff(mapped[order]) >= 0.0)  # never reorders two detections
        assert mapped.min() >= REFERENCE_QUANTILES[0] and mapped.max() <= 1.0
    assert len(set(normalize_scores(raw, "auto")[:21].tolist())) == 1
    # outside [0, 1], auto is the histogram matching
    assert np.array_equal(normalize_scores(raw, "auto"), match_scores(raw))
    assert normalize_scores(raw, "none").tobytes() == raw.tobytes()


def test_quantile_mapping_by_hand() -> None:
    # mid-rank ECDF of 10, 20, 30, 40: 1/8, 3/8, 5/8, 7/8; quantile function through
    # (0, 0), (0.5, 0.2), (1, 1): 0.05, 0.15, 0.2 + 0.25 * 0.8, 0.2 + 0.75 * 0.8
    out = match_scores([40.0, 10.0, 30.0, 20.0], [0.0, 0.2, 1.0])
    np.testing.assert_allclose(out, [0.8, 0.05, 0.4, 0.15], atol=1e-12)
    # ties: 5, 5 share the mid-rank (0 + 2) / 6; 7 gets (2 + 3) / 6
    np.testing.assert_allclose(match_scores([5, 7, 5], [0.0, 1.0]), [1 / 3, 5 / 6, 1 / 3])
    assert match_scores([], [0.0, 1.0]).shape == (0,)


def test_fused_costs_never_negative_for_scores_above_one() -> None:
    tracks = np.array([[0.0, 0.0, 10.0, 10.0]])
    dets = np.array([[9.0, 9.0, 19.0, 19.0], [0.0, 0.0, 10.0, 10.0], [50, 50, 60, 60]], float)
    scores = np.array([67.5, 2.3, -1.2])
    iou = 1.0 - iou_cost(tracks, dets)
    fused = fuse_score(iou_cost(tracks, dets), scores)
    assert fused.min() >= 0.0 and fused.max() <= 1.0
    # a score above 1 counts as fully confident: the plain IoU cost (was 1 - 67.5 * IoU < 0)
    np.testing.assert_allclose(fused[0, :2], 1.0 - iou[0, :2])
    assert fused[0, 2] == 1.0
    frame = Frame()
    frame.reset(dets, scores, tracks, {"high": np.arange(3)})
    stage = fused_iou_distance(frame, np.arange(1), np.arange(3))
    assert stage.min() >= 0.0
    np.testing.assert_allclose(stage, fused)
    unit = np.array([0.0, 0.3, 1.0])
    assert confidence(unit).tobytes() == unit.tobytes()


@pytest.mark.parametrize("name", ["bytetrack", "botsort", "ocsort"])
def test_big_scores_do_not_match_barely_overlapping_boxes(name: str) -> None:
    """A track and a detection overlapping by IoU ~0.04: with raw score 67.5 the old fused cost
    was 1 - 67.5 * 0.04 < 0 and they matched (ByteTrack, BoT-SORT; OC-SORT's IoU gate
    refused the pair, but its momentum term scaled with the score); now a score above 1 acts
    as 1: the same tracks as the same detections scored 1.0."""
    runs = []
    for score in (67.5, 1.0):
        tracker = build(name, min_hits=1)
        out = []
        for t in range(6):
            boxes = [[100.0 + 2 * t, 100.0, 140.0 + 2 * t, 200.0]]
            if t == 5:  # the object is gone; a detection that barely overlaps its box
                boxes = [[137.0 + 2 * t, 100.0, 177.0 + 2 * t, 200.0]]
            out.append(tracker.update(Detections(np.array(boxes), [score])))
        runs.append(
            [(tr.track_ids.tolist(), tr.xyxy.round(6).tolist(), tr.det_index) for tr in out]
        )
        last = out[5]
        # track 1 is not matched to the barely overlapping detection
        assert 0 not in last.det_index[last.track_ids == 1].tolist()
    assert [r[:2] for r in runs[0]] == [r[:2] for r in runs[1]]


def _write(path: Path, rows: np.ndarray, scores: np.ndarray) -> None:
    with open(path, "w") as fh:
        for (f, x, y, w, h), s in zip(rows.tolist(), scores.tolist(), strict=True):
            fh.write(f"{int(f)},-1,{x!r},{y!r},{w!r},{h!r},{s!r},-1,-1,-1\n")


def _scene() -> tuple[np.ndarray, np.ndarray]:
    """Five people walking for 30 frames, ACF-like scores (0.27 to 67.5), some missed; the
    fifth always scores 0.5 (raw: below ``track_thresh``, never tracked; mapped: ~0.997)."""
    rng = np.random.default_rng(3)
    rows, scores = [], []
    for k in range(5):
        x0, vx = 50.0 + 150 * k, rng.uniform(-3, 3)
        for f in range(1, 31):
            if rng.random() < 0.1:
                continue
            rows.append([f, x0 + vx * f + rng.normal(0, 1), 100.0 + 10 * k, 40.0, 100.0])
            scores.append(0.5 if k == 4 else float(rng.choice([67.5, 29.4, 12.0, 2.3, 0.27])))
    return np.array(rows), np.array(scores)


def _tracks(path: Path, **options: object) -> list[tuple[list[int], list[list[float]]]]:
    det = FileDetector(path, **options)
    tracker = build("bytetrack", frame_rate=30.0)
    out = []
    for f in range(1, det.num_frames + 1):
        tr = tracker.update(det.detect_frame(f))
        out.append((tr.track_ids.tolist(), tr.xyxy.round(6).tolist()))
    return out


def test_det_file_with_big_scores_tracks_as_its_rank_mapped_copy(tmp_path: Path) -> None:
    rows, scores = _scene()
    raw, mapped = tmp_path / "raw.txt", tmp_path / "mapped.txt"
    _write(raw, rows, scores)
    # by hand: mid-rank ECDF of the whole file, then the reference quantile function
    n = len(scores)
    u = np.array([(np.sum(scores < s) + np.sum(scores <= s)) / (2.0 * n) for s in scores])
    by_hand = np.interp(u, np.linspace(0, 1, len(REFERENCE_QUANTILES)), REFERENCE_QUANTILES)
    assert 0.0 < by_hand.min() and by_hand.max() <= 1.0
    _write(mapped, rows, by_hand)
    order = np.argsort(rows[:, 0], kind="stable")  # the detector's frame order
    np.testing.assert_allclose(FileDetector(raw)._rows[:, 5], by_hand[order], atol=1e-12)
    assert _tracks(raw) == _tracks(mapped)
    assert _tracks(raw) != _tracks(raw, score_scale="none")  # the mapping matters here
    # a frame's detections through normalize_frames: the same scores as the file detector
    det = FileDetector(raw, score_scale="none")
    frames = [det.detect_frame(f) for f in range(1, det.num_frames + 1)]
    again = np.concatenate([d.scores for d in normalize_frames(frames)])
    np.testing.assert_array_equal(again, FileDetector(raw)._rows[:, 5])


def test_bad_score_scale_is_one_line_naming_the_choices(tmp_path: Path) -> None:
    rows, scores = _scene()
    path = tmp_path / "det.txt"
    _write(path, rows, scores)
    with pytest.raises(TrackkitError) as err:
        FileDetector(path, score_scale="rank")
    msg = str(err.value)
    assert "\n" not in msg and "score_scale" in msg and "auto, none, match" in msg
    # ``det.score_scale=none`` parses to None: the raw scores
    assert FileDetector(path, score_scale=None)._rows[:, 5].max() == 67.5


def test_track_help_documents_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    from trackkit.cli.main import main

    with pytest.raises(SystemExit):
        main(["track", "--help"])
    assert "--score-scale {auto,none,match}" in capsys.readouterr().out


def test_mot17_frcnn_scores_unchanged(shared: Path) -> None:
    path = shared / "data/MOT17/train/MOT17-02-FRCNN/det/det.txt"
    rows = read_det_file(path)
    det = FileDetector(path)
    order = np.argsort(rows[:, 0], kind="stable")
    assert det._rows.tobytes() == rows[order].tobytes()
