"""Appearance (DeepSORT, BoT-SORT ReID) and camera-motion compensation (BoT-SORT)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import trackkit.mot as mot
from trackkit.core.detections import Detections


def _box(cx: float, cy: float = 200.0, w: float = 40.0, h: float = 100.0) -> list[float]:
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def _meet_and_return() -> list[tuple[float, float]]:
    """A and B walk towards each other, stand on the same spot, then walk back."""
    xs = [(100 + 5 * t, 300 - 5 * t) for t in range(20)]
    xs += [(200.0, 200.0)] * 10
    xs += [(200 - 5 * k, 200 + 5 * k) for k in range(1, 21)]
    return xs


@pytest.mark.parametrize("name", ["deepsort", "botsort"])
def test_appearance_keeps_ids_where_motion_is_ambiguous(name: str) -> None:
    rng = np.random.default_rng(0)
    emb = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])
    tracker = mot.build(name)
    ids_a, ids_b = set(), set()
    for t, (xa, xb) in enumerate(_meet_and_return()):
        feats = emb + rng.normal(0, 0.05, emb.shape)
        tr = tracker.update(Detections(np.array([_box(xa), _box(xb)]), [0.9, 0.9], None, feats))
        if t >= 5 and not 20 <= t < 30:  # identical boxes while they stand together
            for row, ids in ((0, ids_a), (1, ids_b)):
                hit = (tr.det_index == row).nonzero()[0]
                ids.update(tr.track_ids[hit].tolist())
    assert len(ids_a) == 1 and len(ids_b) == 1 and ids_a != ids_b


def _frame(pan: float) -> np.ndarray:
    rng = np.random.default_rng(5)
    base = cv2.resize((rng.random((15, 25)) * 255).astype(np.uint8), (500, 300))
    base = cv2.GaussianBlur(base, (0, 0), 3.0)
    m = np.float32([[1, 0, -pan], [0, 1, 0]])
    return cv2.cvtColor(
        cv2.warpAffine(base, m, (500, 300), borderMode=cv2.BORDER_REFLECT), cv2.COLOR_GRAY2BGR
    )


@pytest.mark.parametrize("with_frames", [True, False])
def test_camera_motion_compensation(with_frames: bool) -> None:
    # a standing person; the camera jumps 45 px to the right between frames 9 and 10
    pans = [0.0] * 10 + [45.0] * 10
    tracker = mot.build("botsort")
    ids = set()
    for t, pan in enumerate(pans):
        d = Detections(np.array([_box(250 - pan, 150, 30, 80)]), [0.9])
        tr = tracker.update(d, _frame(pan) if with_frames else None)
        if t >= 3:
            ids.update(tr.track_ids[tr.det_index == 0].tolist())
    assert (len(ids) == 1) is with_frames
