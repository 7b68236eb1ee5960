"""Offline pass: links tracklets across a long gap, interpolates, keeps time consistency."""

from __future__ import annotations

import numpy as np
import pytest

import trackkit.mot as mot
from trackkit.core.detections import Detections
from trackkit.core.tracks import Tracks
from trackkit.errors import ConfigError
from trackkit.mot.offline import OfflineLinker, collect_tracklets, track_offline


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
