"""Offline pass: links tracklets across a long gap, interpolates, keeps time consistency."""

from __future__ import annotations

import numpy as np
import pytest

import trackkit.mot as mot
from trackkit.core.detections import Detections
from trackkit.core.tracks import Tracks
from trackkit.errors import ConfigError
from trackkit.mot.offline import OfflineLinker, collect_tracklets, fill_test, track_offline


def _box(cx: float, cy: float = 200.0) -> list[float]:
    return [cx - 20, cy - 50, cx + 20, cy + 50]


def _walker(gap: range, n: int = 80, speed: float = 3.0) -> list[Detections]:
    return [
        Detections.empty() if t in gap else Detections(np.array([_box(100 + speed * t)]), [0.9])
        for t in range(n)
    ]


@pytest.mark.parametrize("name", ["sort", "bytetrack", "ocsort"])
def test_long_occlusion_is_linked_and_filled(name: str) -> None:
    frames = _walker(range(30, 50))  # 20 frames unseen, longer than max age 10
    key = "track_buffer" if name == "bytetrack" else "max_age"
    tracker = mot.build(name, **{key: 10})
    online = [tracker.update(d) for d in frames]
    ids_online = {int(i) for tr in online for i in tr.track_ids}
    assert len(ids_online) == 2
    out = track_offline(mot.build(name, **{key: 10}), frames)
    ids = {int(i) for tr in out for i in tr.track_ids}
    assert len(ids) == 1
    for t in range(35, 45):  # the gap is filled on the straight line
        assert len(out[t]) == 1 and out[t].det_index[0] == -1
        np.testing.assert_allclose(out[t].xyxy[0], _box(100 + 3.0 * t), atol=1.0)


def test_not_linked_when_motion_disagrees_or_gap_too_long() -> None:
    def tracks(frames_boxes: dict[int, tuple[int, list[float]]], n: int) -> list[Tracks]:
        out = []
        for t in range(n):
            if t in frames_boxes:
                tid, b = frames_boxes[t]
                out.append(Tracks(np.array([b]), [tid], [0.9], [0]))
            else:
                out.append(Tracks.empty())
        return out

    seq = {t: (1, _box(100 + 3 * t)) for t in range(20)}
    seq.update({t: (2, _box(900 - 3 * t)) for t in range(30, 50)})  # far away, other way
    out = OfflineLinker().run(tracks(seq, 50))
    assert {int(i) for tr in out for i in tr.track_ids} == {1, 2}
    seq2 = {t: (1, _box(100 + 3 * t)) for t in range(20)}
    seq2.update({t: (2, _box(100 + 3 * t)) for t in range(200, 220)})  # gap > max_gap
    out2 = OfflineLinker(max_gap=60).run(tracks(seq2, 220))
    assert {int(i) for tr in out2 for i in tr.track_ids} == {1, 2}
    assert len(out2[100]) == 0


def test_overlapping_tracklets_never_merge_and_min_length() -> None:
    frames = []
    for t in range(30):
        ids = [1] if t < 20 else [1, 2] if t < 25 else [2]
        boxes = [_box(100 + 3 * t)] if t < 20 else [_box(100 + 3 * t), _box(160 + 3 * t)]
        boxes = boxes[: len(ids)] if t < 25 else [_box(160 + 3 * t)]
        frames.append(Tracks(np.array(boxes), ids, np.ones(len(ids)), np.arange(len(ids))))
    out = OfflineLinker().run(frames)
    assert {int(i) for tr in out for i in tr.track_ids} == {1, 2}
    assert len(collect_tracklets(frames)) == 2
    short = OfflineLinker(min_length=11).run(frames)
    assert {int(i) for tr in short for i in tr.track_ids} == {1}
    with pytest.raises(ConfigError):
        OfflineLinker(max_gap=0)
    assert OfflineLinker().run([Tracks.empty(), Tracks.empty()])[1].xyxy.shape == (0, 4)


def _track(
    boxes: dict[int, list[float]], n: int, tid: int = 1, pred: frozenset[int] = frozenset()
) -> list[Tracks]:
    """One track over ``n`` frames; frames in ``pred`` carry det_index -1 (predictions)."""
    out = []
    for t in range(n):
        if t in boxes:
            d = -1 if t in pred else 0
            out.append(Tracks(np.array([boxes[t]]), [tid], [0.9], [d]))
        else:
            out.append(Tracks.empty())
    return out


def test_refill_drops_unconfirmed_predictions_and_refills_gaps() -> None:
    # a walker seen in 0..39, then 3 predicted boxes at the end (the track never comes back)
    seq = {t: _box(100 + 3 * t) for t in range(43)}
    online = _track(seq, 60, pred=frozenset({40, 41, 42}))
    out = OfflineLinker().run(online)
    assert all(len(out[t]) == 1 for t in range(40)) and all(len(out[t]) == 0 for t in (40, 41, 42))
    kept = OfflineLinker(refill=False).run(online)
    assert all(len(kept[t]) == 1 for t in (40, 41, 42))  # the old behaviour keeps them
    # predictions inside a gap the tracker bridged itself are replaced by interpolation
    online2 = _track(
        {t: _box(100 + 3 * t) if t not in range(20, 25) else _box(0) for t in range(50)},
        50,
        pred=frozenset(range(20, 25)),
    )
    out2 = OfflineLinker().run(online2)
    for t in range(20, 25):
        np.testing.assert_allclose(out2[t].xyxy[0], _box(100 + 3 * t), atol=1e-6)


def test_fill_test_adapts_to_how_predictable_the_video_is() -> None:
    rng = np.random.default_rng(0)
    straight = collect_tracklets(_track({t: _box(100 + 3 * t) for t in range(80)}, 80))
    assert (fill_test(straight, 20, 0.6) == 1.0).all()
    # a box jumping by half its width every frame (erratic motion / moving camera)
    walk = 300 + 20 * np.cumsum(rng.choice([-1, 1], 80))
    jumpy = {t: _box(float(walk[t])) for t in range(80)}
    rate = fill_test(collect_tracklets(_track(jumpy, 80)), 20, 0.6)
    assert rate[0] > rate[9] and rate[9] < 0.85
    # the gap in the jumpy track is left open; the straight one is filled
    gap = {t: b for t, b in jumpy.items() if t not in range(40, 50)}
    out = OfflineLinker().run(_track(gap, 80))
    assert all(len(out[t]) == 0 for t in range(40, 50))
    ok = OfflineLinker().run(
        _track({t: _box(100 + 3 * t) for t in range(80) if t not in range(40, 50)}, 80)
    )
    assert all(len(ok[t]) == 1 for t in range(40, 50))


def test_fill_length_is_in_seconds() -> None:
    walker = {t: _box(100 + 3 * t) for t in range(80) if t not in range(30, 42)}  # 12 frames
    at30 = OfflineLinker(max_fill=15, frame_rate=30).run(_track(walker, 80))
    at10 = OfflineLinker(max_fill=15, frame_rate=10).run(_track(walker, 80))  # 15/30 s = 5 frames
    assert len(at30[35]) == 1 and len(at10[35]) == 0
