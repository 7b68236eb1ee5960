"""The synthetic scene generator (trackkit.datasets.synthetic)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trackkit.datasets import SceneConfig, SyntheticScene
from trackkit.errors import ConfigError
from trackkit.io.video import open_video

SMALL = SceneConfig(width=320, height=240, num_frames=120, num_objects=5, seed=3,
                    min_height=30, max_height=80, min_speed=2, max_speed=4)  # fmt: skip


def test_deterministic_and_random_access() -> None:
    a, b = SyntheticScene(SMALL), SyntheticScene(SMALL)
    frames = dict(iter(a))
    assert len(frames) == 120
    for t in (1, 37, 120):
        assert np.array_equal(frames[t], b.frame(t))
        ta, tb = a.truth(t), b.truth(t)
        assert np.array_equal(ta.ids, tb.ids) and np.array_equal(ta.xyxy, tb.xyxy)
    other = SyntheticScene(SceneConfig(**{**SMALL.__dict__, "seed": 4}))
    assert not np.array_equal(other.frame(60), frames[60])
    with pytest.raises(IndexError):
        a.frame(121)


def test_ground_truth_is_consistent_with_pixels() -> None:
    scene = SyntheticScene(SceneConfig(**{**SMALL.__dict__, "noise": 0.0}))
    assert len(scene.truth(1)) == 0  # the first frame is background only
    bg = scene.frame(1).astype(int)
    seen_ids: set[int] = set()
    sizes: dict[int, list[float]] = {}
    partial = 0
    for t, img, truth in scene.iter_with_truth():
        assert img.shape == (240, 320, 3) and img.dtype == np.uint8
        assert len(np.unique(truth.ids)) == len(truth)
        assert np.all((truth.visibility >= 0) & (truth.visibility <= 1))
        b = truth.xyxy
        assert np.all(b[:, 0] >= 0) and np.all(b[:, 2] <= 320) and np.all(b[:, 3] <= 240)
        assert np.all(b[:, 2] > b[:, 0]) and np.all(b[:, 3] > b[:, 1])
        changed = np.any(img.astype(int) != bg, axis=2)
        for tid, box, vis in zip(truth.ids, b, truth.visibility, strict=True):
            x1, y1, x2, y2 = (int(v) for v in box)
            inside = changed[y1:y2, x1:x2].mean()
            # every visible part of an object is painted over the background
            assert inside >= 0.9 * vis - 1e-9
            sizes.setdefault(int(tid), []).append(box[3] - box[1])
            partial += vis < 0.7
        seen_ids.update(int(i) for i in truth.ids)
        # nothing is painted outside the union of the ground-truth boxes
        mask = np.zeros_like(changed)
        for x1, y1, x2, y2 in b.astype(int):
            mask[y1:y2, x1:x2] = True
        assert not np.any(changed & ~mask), t
    assert len(seen_ids) >= 5
    assert partial > 0  # objects occlude each other or leave the image
    assert any(max(s) - min(s) > 10 for s in sizes.values())  # sizes change


def test_objects_keep_coming_on_long_scenes() -> None:
    scene = SyntheticScene(SceneConfig(num_frames=3000, num_objects=3, seed=1))
    counts = [len(scene.truth(t)) for t in (1000, 1500, 2000, 2500, 3000)]
    assert sum(counts) >= 5
    assert len(scene.truth(3000).ids) == 0 or scene.truth(3000).ids.max() > 3


def test_write_mot_sequence_roundtrip(tmp_path: Path) -> None:
    from trackkit.io.mot_txt import read_mot_txt, read_seqinfo

    cfg = SceneConfig(**{**SMALL.__dict__, "num_frames": 15})
    scene = SyntheticScene(cfg)
    seq = scene.write_mot_sequence(tmp_path, "SYN-1")
    info = read_seqinfo(seq / "seqinfo.ini")
    assert (info.seq_length, info.im_width, info.im_height) == (15, 320, 240)
    gt = read_mot_txt(seq / "gt" / "gt.txt", "gt")
    for t in (5, 15):
        truth = scene.truth(t)
        rows = gt.frames == t
        assert np.array_equal(np.sort(gt.ids[rows]), np.sort(truth.ids))
    reader = open_video(seq)
    assert reader.info.fps == cfg.fps and len(reader) == 15


def test_bad_config() -> None:
    with pytest.raises(ConfigError):
        SceneConfig(num_frames=0)
    with pytest.raises(ConfigError):
        SceneConfig(min_height=100, max_height=50)
