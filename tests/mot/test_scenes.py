"""Scripted scenes every registered tracker must get right (issue 3's acceptance list).

Trackers that need the image (:attr:`MOTTracker.needs_frames`, e.g. Tracktor with a
single-object regressor) get frames in which every detection is painted with a texture of
its own (the object's row in the script).
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

import trackkit.mot as mot
from trackkit.core.boxes import iou_matrix
from trackkit.core.detections import Detections, InvalidDetectionsError
from trackkit.core.tracks import Tracks
from trackkit.errors import ConfigError, TrackkitError

NAMES = mot.available()
#: the option that bounds how long an unmatched track keeps its id (Kalman trackers:
#: ``max_age``; Tracktor: ``inactive_patience``)
AGE_OPTIONS = ("max_age", "inactive_patience")


def _age_key(name: str) -> str:
    fields = {f.name for f in dataclasses.fields(mot.MOT_TRACKERS.get(name).config_class)}
    return next(k for k in AGE_OPTIONS if k in fields)


def _frame(d: Detections, size: tuple[int, int] = (480, 640)) -> np.ndarray:
    """A grey frame with detection ``k`` painted with texture ``k`` (clipped to the image)."""
    img = np.full((*size, 3), 90, np.uint8)
    for k, box in enumerate(d.xyxy):
        x1, y1, x2, y2 = np.round(box).astype(int)
        cx1, cy1, cx2, cy2 = max(x1, 0), max(y1, 0), min(x2, size[1]), min(y2, size[0])
        if cx2 <= cx1 or cy2 <= cy1:
            continue
        cells = np.random.default_rng(k + 1).integers(0, 256, (6, 3, 3)).astype(np.uint8)
        tex = cv2.resize(cells, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST)
        img[cy1:cy2, cx1:cx2] = tex[cy1 - y1 : cy2 - y1, cx1 - x1 : cx2 - x1]
    return img


def _box(cx: float, cy: float, w: float = 40.0, h: float = 100.0) -> list[float]:
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def _dets(boxes: list[list[float]], score: float = 0.9) -> Detections:
    if not boxes:
        return Detections.empty()
    return Detections(np.array(boxes), np.full(len(boxes), score))


def _run(tracker: mot.MOTTracker, frames: list[Detections]) -> list[Tracks]:
    if tracker.needs_frames:
        return [tracker.update(d, _frame(d)) for d in frames]
    return [tracker.update(d) for d in frames]


def _id_of_row(tr: Tracks, row: int, d: Detections) -> int | None:
    """The id of the track reported for detection ``row``: the one whose ``det_index`` names
    it, else (a tracker that regresses boxes, e.g. Tracktor) the one covering it best
    (IoU >= 0.5)."""
    hit = (tr.det_index == row).nonzero()[0]
    if len(hit):
        return int(tr.track_ids[hit[0]])
    if len(tr) == 0:
        return None
    iou = iou_matrix(tr.xyxy, d.xyxy[row : row + 1])[:, 0]
    return int(tr.track_ids[iou.argmax()]) if iou.max() >= 0.5 else None


def test_registry_lists_and_errors() -> None:
    assert {"sort", "deepsort", "bytetrack", "ocsort", "botsort", "tracktor"} <= set(NAMES)
    with pytest.raises(ConfigError, match="valid names: .*bytetrack"):
        mot.build("nope")
    with pytest.raises(ConfigError, match="valid options"):
        mot.build("sort", bogus=1)
    with pytest.raises(ConfigError):
        mot.build("bytetrack", match_thresh=2.0)


@pytest.mark.parametrize("name", NAMES)
def test_crossing_objects_keep_ids(name: str) -> None:
    frames = []
    for t in range(60):  # A moves right, B moves left, crossing at t = 30 with a y offset
        frames.append(_dets([_box(100 + 5 * t, 200), _box(400 - 5 * t, 230)]))
    out = _run(mot.build(name), frames)
    ids_a = {_id_of_row(tr, 0, d) for tr, d in zip(out[5:], frames[5:])}
    ids_b = {_id_of_row(tr, 1, d) for tr, d in zip(out[5:], frames[5:])}
    assert len(ids_a) == 1 and len(ids_b) == 1 and None not in ids_a | ids_b
    assert ids_a != ids_b
    # output boxes are near the detections they report
    for tr, d in zip(out[5:], frames[5:]):
        det = tr.det_index >= 0
        assert np.abs(tr.xyxy[det] - d.xyxy[tr.det_index[det]]).max(initial=0.0) < 6.0


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("gap", "same_id"), [(6, True), (20, False)])
def test_occlusion_gap_vs_max_age(name: str, gap: int, same_id: bool) -> None:
    tracker = mot.build(name, **{_age_key(name): 10})
    frames = [_dets([_box(100 + 2 * t, 200)]) for t in range(15)]
    frames += [_dets([]) for _ in range(gap)]
    frames += [_dets([_box(100 + 2 * t, 200)]) for t in range(15 + gap, 40 + gap)]
    out = _run(tracker, frames)
    before = _id_of_row(out[14], 0, frames[14])
    after = {_id_of_row(tr, 0, d) for tr, d in zip(out[-10:], frames[-10:])}
    assert before is not None and len(after) == 1
    assert (after == {before}) is same_id
    for k, tr in enumerate(out[15 : 15 + gap]):  # while unseen: at most a brief prediction
        assert (tr.det_index == -1).all() and (len(tr) == 0 or k < 3)


@pytest.mark.parametrize(("name", "default"), [("sort", 2), ("ocsort", 3)])
@pytest.mark.parametrize("streak", [1, 2, 3])
def test_report_streak_withholds_a_refound_track(name: str, default: int, streak: int) -> None:
    """A track found again after a miss is reported from its ``report_streak``-th
    consecutive match on, with its old id; while withheld it is not reported at all."""
    assert mot.build(name).config.report_streak == default
    tracker = mot.build(name, report_streak=streak)
    frames = [_dets([_box(100 + 2 * t, 200)]) for t in range(15)]
    frames += [_dets([]) for _ in range(3)]
    frames += [_dets([_box(100 + 2 * t, 200)]) for t in range(18, 30)]
    out = _run(tracker, frames)
    before = _id_of_row(out[14], 0, frames[14])
    assert before is not None
    back = [_id_of_row(tr, 0, d) for tr, d in zip(out[18:24], frames[18:24])]
    assert back[: streak - 1] == [None] * (streak - 1)
    assert back[streak - 1 :] == [before] * (len(back) - streak + 1)
    with pytest.raises(ConfigError, match="report_streak"):
        mot.build(name, report_streak=0)


@pytest.mark.parametrize("name", NAMES)
def test_partly_outside_image_and_empty_frames(name: str) -> None:
    tracker = mot.build(name)
    frames = [_dets([])] + [_dets([_box(-5 + t, 300)]) for t in range(20)] + [_dets([])]
    out = _run(tracker, frames)
    assert len(out[0]) == 0 and (out[-1].det_index == -1).all()  # at most a prediction
    # (from frame 7 on, even a box clipped to the image covers half the detection)
    ids = {_id_of_row(tr, 0, d) for tr, d in zip(out[7:-1], frames[7:-1])}
    assert len(ids) == 1 and None not in ids
    # a box reported for a detection is not clipped to the image (Tracktor, which reports
    # regressed boxes with ``det_index`` -1, clips them as its paper does)
    matched = out[10].det_index >= 0
    assert (out[10].xyxy[matched, 0] < 0).all()
    assert isinstance(out[0], Tracks) and out[0].xyxy.shape == (0, 4)


@pytest.mark.parametrize("name", NAMES)
def test_independent_instances_deterministic_and_reset(name: str) -> None:
    rng = np.random.default_rng(7)
    frames = []
    for t in range(40):
        boxes = [_box(60 * k + 50 + t, 200 + 3 * k) for k in range(5)]
        keep = rng.random(5) > 0.15
        jitter = rng.normal(0, 1.5, (5, 4))
        frames.append(
            Detections(np.array(boxes)[keep] + jitter[keep], rng.uniform(0.3, 1, keep.sum()))
        )
    a, b = mot.build(name), mot.build(name)
    out_a = _run(a, frames[:20])
    out_b = _run(b, frames)
    out_a += _run(a, frames[20:])
    for x, y in zip(out_a, out_b):  # interleaving instances changes nothing
        np.testing.assert_array_equal(x.track_ids, y.track_ids)
        np.testing.assert_array_equal(x.xyxy, y.xyxy)
        np.testing.assert_array_equal(x.det_index, y.det_index)
    assert min(int(t.track_ids.min()) for t in out_a if len(t)) == 1
    a.reset()
    again = _run(a, frames)
    for x, y in zip(again, out_b):
        np.testing.assert_array_equal(x.track_ids, y.track_ids)
    for tr, d in zip(out_b, frames):  # det_index points at the input rows
        assert tr.det_index.max(initial=-1) < len(d)


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_names_the_frame(name: str) -> None:
    tracker = mot.build(name)
    _run(tracker, [_dets([_box(100, 100)])])
    with pytest.raises(InvalidDetectionsError, match="frame 2: detection 1 has width 0"):
        _run(tracker, [_dets([_box(100, 100), [50.0, 50.0, 50.0, 80.0]])])
    with pytest.raises(TrackkitError, match="frame 3"):
        tracker.update(np.zeros((1, 4)))  # type: ignore[arg-type]
    with pytest.raises(InvalidDetectionsError):
        Detections(np.array([[0.0, 0.0, np.nan, 1.0]]))
    with pytest.raises(InvalidDetectionsError):
        Detections(np.array([[0.0, 0.0, np.inf, 1.0]]))


def test_inputs_not_mutated() -> None:
    d = _dets([_box(100, 100), _box(300, 100)])
    xy = d.xyxy.copy()
    tracker = mot.build("bytetrack")
    for _ in range(3):
        tracker.update(d)
    np.testing.assert_array_equal(d.xyxy, xy)
