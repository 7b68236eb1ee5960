"""The failure events agree with the CLEAR counts they are read from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trackkit.io.mot_sequence import load_mot_benchmark
from trackkit.metrics.clear import clear_metrics
from trackkit.metrics.mot_data import MOTSequenceData, box_iou
from trackkit.metrics.mot_events import mot_events

pytestmark = pytest.mark.timeout(60)


def random_sequence(seed: int) -> MOTSequenceData:
    """Jittered copies of ground-truth boxes under shuffled, sometimes swapped ids."""
    rng = np.random.default_rng(seed)
    frames, people = int(rng.integers(5, 40)), int(rng.integers(1, 7))
    base = rng.uniform(0, 200, (people, 2))
    g_ids, t_ids, sims = [], [], []
    for f in range(frames):
        present = np.flatnonzero(rng.random(people) < 0.85)
        boxes = np.concatenate([base[present] + f, base[present] + f + 30], axis=1)
        seen = present[rng.random(len(present)) < 0.8]
        tb = np.concatenate([base[seen] + f, base[seen] + f + 30], axis=1)
        tb = tb + rng.normal(0, 4, tb.shape)
        ids = seen * 10 + (rng.random(len(seen)) < 0.15)  # occasional new id
        extra = int(rng.integers(0, 2))
        tb = np.concatenate([tb, np.tile(rng.uniform(0, 250, (extra, 2)), 2) + [0, 0, 20, 20]])
        ids = np.concatenate([ids, 500 + rng.integers(0, 3, extra) * 7 + np.arange(extra)])
        g_ids.append(present)
        t_ids.append(ids)
        sims.append(np.clip(box_iou(boxes, tb), 0, 1))
    return MOTSequenceData.from_frames(f"r{seed}", g_ids, t_ids, sims)


@pytest.mark.parametrize("seed", range(40))
def test_events_add_up_to_clear_counts(seed: int) -> None:
    data = random_sequence(seed)
    clear = clear_metrics(data)
    ev = mot_events(data)
    assert len(ev.id_switches) == clear.IDSW
    assert len(ev.fragmentations) == clear.Frag
    assert sum(t.count for t in ev.false_positive_tracks) == clear.CLR_FP
    matched = sum(int(((r[:, 1] - r[:, 0] + 1) * (r[:, 2] >= 0)).sum()) for r in ev.timelines)
    missed = sum(int(((r[:, 1] - r[:, 0] + 1) * (r[:, 2] < 0)).sum()) for r in ev.timelines)
    assert matched == clear.CLR_TP and missed == clear.CLR_FN
    counts = [t.count for t in ev.false_positive_tracks]
    assert counts == sorted(counts, reverse=True)
    for s in ev.id_switches:
        assert s.from_track != s.to_track and s.prev_frame < s.frame


def test_synthetic_events(mot_data: dict[str, Path]) -> None:
    (data,) = load_mot_benchmark(mot_data["gt"], mot_data["alpha"], "MOT15")
    ev = mot_events(data)
    ((sw,), (fr,)) = ev.id_switches, ev.fragmentations
    assert (sw.frame, sw.prev_frame) == (4, 3)  # 0-based: frame 5 after frame 4
    assert (fr.frame, fr.last_frame) == (8, 5)
    fp = ev.false_positive_tracks[0]
    assert fp.count == fp.boxes == 3 and fp.frames.tolist() == [1, 2, 3]


@pytest.mark.shared
def test_events_on_known_answer_vectors(shared: Path) -> None:
    root = shared / "data" / "metrics"
    for gt, pred, bench in (
        (root / "TUD" / "gt", root / "TUD" / "pred", "MOT15"),
        (shared / "data" / "MOT17" / "train", root / "MOT17-tracker-A" / "data", "MOT17"),
    ):
        for data in load_mot_benchmark(gt, pred, bench):
            clear = clear_metrics(data)
            ev = mot_events(data)
            assert (len(ev.id_switches), len(ev.fragmentations)) == (clear.IDSW, clear.Frag)
            assert sum(t.count for t in ev.false_positive_tracks) == clear.CLR_FP
