"""Scripted scenes every tracker must get right (issue 3's acceptance list)."""

from __future__ import annotations

import numpy as np
import pytest

import trackkit.mot as mot
from trackkit.core.detections import Detections, InvalidDetectionsError
from trackkit.core.tracks import Tracks
from trackkit.errors import ConfigError, TrackkitError

NAMES = ["sort", "deepsort", "bytetrack", "ocsort", "botsort"]
#: each tracker's "max age" option, set to 10 frames for the occlusion tests
AGE_KEY = {
    "sort": "max_age",
    "deepsort": "max_age",
    "bytetrack": "track_buffer",
    "ocsort": "max_age",
    "botsort": "track_buffer",
}


def _box(cx: float, cy: float, w: float = 40.0, h: float = 100.0) -> list[float]:
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def _dets(boxes: list[list[float]], score: float = 0.9) -> Detections:
    if not boxes:
        return Detections.empty()
    return Detections(np.array(boxes), np.full(len(boxes), score))


def _run(tracker: mot.MOTTracker, frames: list[Detections]) -> list[Tracks]:
    return [tracker.update(d) for d in frames]


def _id_of_row(tr: Tracks, row: int) -> int | None:
    hit = (tr.det_index == row).nonzero()[0]
    return int(tr.track_ids[hit[0]]) if len(hit) else None


def test_registry_lists_and_errors() -> None:
    assert set(NAMES) <= set(mot.available())
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
    ids_a = {_id_of_row(tr, 0) for tr in out[5:]}
    ids_b = {_id_of_row(tr, 1) for tr in out[5:]}
    assert len(ids_a) == 1 and len(ids_b) == 1 and None not in ids_a | ids_b
    assert ids_a != ids_b
    # output boxes are near the detections they report
    for tr, d in zip(out[5:], frames[5:]):
        assert np.abs(tr.xyxy - d.xyxy[tr.det_index]).max() < 6.0


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("gap", "same_id"), [(6, True), (20, False)])
def test_occlusion_gap_vs_max_age(name: str, gap: int, same_id: bool) -> None:
    tracker = mot.build(name, **{AGE_KEY[name]: 10})
    frames = [_dets([_box(100 + 2 * t, 200)]) for t in range(15)]
    frames += [_dets([]) for _ in range(gap)]
    frames += [_dets([_box(100 + 2 * t, 200)]) for t in range(15 + gap, 40 + gap)]
    out = _run(tracker, frames)
    before = _id_of_row(out[14], 0)
    after = {_id_of_row(tr, 0) for tr in out[-10:]}
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
    before = _id_of_row(out[14], 0)
    assert before is not None
    back = [_id_of_row(tr, 0) for tr in out[18:24]]
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
    ids = {_id_of_row(tr, 0) for tr in out[5:-1]}
    assert len(ids) == 1 and None not in ids
    assert out[10].xyxy[0, 0] < 0  # boxes are not clipped to the image
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
    out_a = [a.update(d) for d in frames[:20]]
    out_b = [b.update(d) for d in frames]
    out_a += [a.update(d) for d in frames[20:]]
    for x, y in zip(out_a, out_b):  # interleaving instances changes nothing
        np.testing.assert_array_equal(x.track_ids, y.track_ids)
        np.testing.assert_array_equal(x.xyxy, y.xyxy)
        np.testing.assert_array_equal(x.det_index, y.det_index)
    assert min(int(t.track_ids.min()) for t in out_a if len(t)) == 1
    a.reset()
    again = [a.update(d) for d in frames]
    for x, y in zip(again, out_b):
        np.testing.assert_array_equal(x.track_ids, y.track_ids)
    for tr, d in zip(out_b, frames):  # det_index points at the input rows
        assert tr.det_index.max(initial=-1) < len(d)


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_names_the_frame(name: str) -> None:
    tracker = mot.build(name)
    tracker.update(_dets([_box(100, 100)]))
    with pytest.raises(InvalidDetectionsError, match="frame 2: detection 1 has width 0"):
        tracker.update(_dets([_box(100, 100), [50.0, 50.0, 50.0, 80.0]]))
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
