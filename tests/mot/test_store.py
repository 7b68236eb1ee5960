"""TrackStore (trackkit.mot.store): named views and the life cycle."""

from __future__ import annotations

import numpy as np
import pytest

from trackkit.mot.store import CONFIRMED, LOST, TENTATIVE, TrackState, TrackStore, const


def _store() -> TrackStore:
    t = TrackStore({"last_obs": ((4,), float), "tag": ((), int)})
    t.add_born(np.array([1, 2, 3]), 1, np.zeros((8, 3)), np.ones((3, 4, 3)),
               np.array([0.9, 0.8, 0.7]), np.array([-1, -1, -1]), confirm=False)  # fmt: skip
    return t


def test_named_views_are_writable() -> None:
    t = _store()
    assert t.track_id.tolist() == [1, 2, 3] and t.state.tolist() == [TrackState.TENTATIVE] * 3
    t.score[1] = 0.5
    t.tag[2] = 7
    t.last_obs[0] = [1, 2, 3, 4]
    assert t.score.tolist() == [0.9, 0.5, 0.7] and t.tag.tolist() == [0, 0, 7]
    assert t.mean.shape == (8, 3) and t.cov.shape == (3, 4, 3)
    with pytest.raises(AttributeError, match="nope"):
        t.nope  # noqa: B018


def test_life_cycle() -> None:
    t = _store()
    t.age()
    t.advance_life(np.array([True, True, False]), min_hits=2, drop_tentative=True)
    assert t.state.tolist() == [CONFIRMED, CONFIRMED, TENTATIVE]
    assert t.prune(5) is not None and t.track_id.tolist() == [1, 2]  # tentative miss dropped
    t.age()
    t.advance_life(np.array([False, True]), min_hits=2, drop_tentative=True)
    assert t.state.tolist() == [LOST, CONFIRMED] and t.since_update.tolist() == [1, 0]
    assert t.first_misses(np.array([False, True])).tolist() == [0]
    assert t.lost_within(const(1)).tolist() == [0]
    assert t.reported(const(0), 1).tolist() == [1]
    assert t.reported(const(1), 1).tolist() == [0, 1]
    out = t.output(t.reported(const(1), 1), np.zeros((2, 4)), np.array([-1, 4]))
    assert out.track_ids.tolist() == [1, 2] and out.det_index.tolist() == [-1, 4]
    assert out.class_ids is None


def test_output_class_ids_only_when_all_reported_known() -> None:
    t = TrackStore()
    t.add_born(np.array([1, 2, 3]), 1, np.zeros((8, 3)), np.ones((3, 4, 3)),
               np.array([0.9, 0.8, 0.7]), np.array([4, -1, 2]), confirm=True)  # fmt: skip
    boxes, det = np.zeros((2, 4)), np.array([-1, -1, -1])
    assert t.output(np.array([0, 2]), boxes, det).class_ids.tolist() == [4, 2]
    assert t.output(np.array([0, 1]), boxes, det).class_ids is None
    assert t.output(np.zeros(0, np.int64), boxes[:0], det).class_ids is None
    t.keep(np.array([True, False, True]))  # the unknown one goes
    assert t.output(np.array([0, 1]), boxes, det[:2]).class_ids.tolist() == [4, 2]
    t.add_born(np.array([5]), 2, np.zeros((8, 1)), np.ones((3, 4, 1)),
               np.array([0.5]), np.array([-1]), confirm=True)  # fmt: skip
    assert t.output(np.array([0, 1]), boxes, det).class_ids.tolist() == [4, 2]
    assert t.output(np.array([2]), boxes[:1], det).class_ids is None
