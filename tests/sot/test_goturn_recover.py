"""GOTURN's failure detection and recovery (``recover``): a target that jumps one box side
between two frames leaves the 2x search region; the plain regression loses it for good, the
recovery's shifted search regions bring the box back (the packaged weights on the shared
pretrained backbone)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from deep_synthetic import iou

from trackkit.sot import build

pytest.importorskip("torch")


def _jumping_target(
    n: int = 16, at: int = 6, jump: float = 1.0
) -> tuple[list[np.ndarray], np.ndarray]:
    """``n`` frames of a 40 x 30 textured target drifting right 2 px a frame that jumps
    ``jump`` box widths to the right at frame ``at``; ``xyxy`` ground truth."""
    rng = np.random.default_rng(0)
    small = rng.integers(90, 150, size=(15, 20, 3), dtype=np.uint8)
    bg = cv2.GaussianBlur(cv2.resize(small, (320, 240), interpolation=cv2.INTER_CUBIC), (9, 9), 0)
    tex = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    tex[:, :, 2] = np.maximum(tex[:, :, 2], 180)
    frames, boxes = [], []
    for t in range(n):
        x = 100 + 2 * t + (jump * 40 if t >= at else 0)
        box = np.array([x, 100, x + 40, 130], dtype=np.float64)
        img = bg.copy()
        img[100:130, int(x) : int(x) + 40] = cv2.resize(tex, (40, 30), cv2.INTER_NEAREST)
        frames.append(img)
        boxes.append(box)
    return frames, np.array(boxes)


def _ious(frames: list[np.ndarray], boxes: np.ndarray, **options: float) -> tuple[list, list]:
    tracker = build("goturn", **options)
    tracker.init(frames[0], boxes[0])
    out = [tracker.update(f) for f in frames[1:]]
    return [iou(r.box, b) for r, b in zip(out, boxes[1:], strict=True)], [r.score for r in out]


@pytest.mark.timeout(60)
def test_recovery_brings_the_box_back_after_a_jump(shared: Path) -> None:
    frames, boxes = _jumping_target()
    plain, plain_scores = _ious(frames, boxes, recover_ratio=0.0)
    kept, scores = _ious(frames, boxes, recover=0.7, recover_ratio=0.0)
    assert min(plain[:5]) > 0.8 and min(kept[:5]) > 0.8  # both follow before the jump
    assert max(plain[5:]) < 0.1  # the plain regression never finds the target again
    assert min(kept[5:]) > 0.5  # the recovery does, from the jump on
    assert plain_scores == [1.0] * len(plain)  # off: no confidence is computed
    assert all(0.7 <= s <= 1.0 for s in scores)  # every frame confident after recovery
    default, _ = _ious(frames, boxes)  # the default: the relative test (recover_ratio 0.9)
    assert min(default[5:]) > 0.5


@pytest.mark.timeout(60)
@pytest.mark.parametrize("test", [{"recover": 0.7}, {"recover_ratio": 0.85}])
def test_hold_keeps_the_last_confident_box_while_the_target_is_gone(
    shared: Path, test: dict[str, float]
) -> None:
    frames, boxes = _jumping_target(jump=0.0)
    gone = [f.copy() for f in frames]
    for f in gone[6:]:
        f[95:135, 90:170] = (40, 200, 40)  # a flat green occluder over the whole path
    held = build("goturn", recover_hold=True, **{"recover_ratio": 0.0, **test})
    held.init(gone[0], boxes[0])
    out = [held.update(f) for f in gone[1:]]
    last_good = out[4].box
    assert all(r.score >= 0.7 for r in out[:5])
    assert all(r.score < 0.7 for r in out[5:])  # an occluder never matches the first crop
    assert held._bar() >= 0.7  # the relative test's bar: 0.85 x the visible target's ~0.9
    for r in out[5:]:
        np.testing.assert_allclose(r.box, last_good)  # the box waits where it was
