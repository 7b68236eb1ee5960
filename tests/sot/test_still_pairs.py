"""GOTURN-style still-image training pairs (trackkit.sot.train.still_pairs): the motion model's
distribution and clipping, crops checked pixel by pixel on a tiny image, determinism by seed,
and the sources (MOT17 pedestrians, pasted crops, the weighted mixture)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from trackkit.errors import ConfigError, DataNotFoundError
from trackkit.sot.train.still_pairs import (
    ImageBoxes,
    MotionModel,
    PastedCrops,
    StillImages,
    crop_pair,
    still_pair,
)


def _tiny() -> tuple[np.ndarray, np.ndarray]:
    """A 40x60 black image with a white 10x8 box at x 20..30, y 12..20."""
    img = np.zeros((40, 60, 3), np.uint8)
    img[12:20, 20:30] = 255
    return img, np.array([20.0, 12.0, 30.0, 20.0])


@pytest.mark.timeout(10)
def test_motion_model_distribution_and_clipping() -> None:
    m = MotionModel()
    d = np.array([m.sample(np.random.default_rng(i)) for i in range(4000)])
    shifts, scales = d[:, :2], d[:, 2:]
    assert np.all(np.abs(shifts) <= 0.45) and np.all((scales >= 0.6) & (scales <= 1.4))
    # Laplace(0, b): median |x| = b ln 2 (b = 1/5 -> 0.139; b = 1/15 -> 0.046)
    assert np.median(np.abs(shifts)) == pytest.approx(0.2 * np.log(2), rel=0.08)
    assert np.median(np.abs(scales - 1)) == pytest.approx(np.log(2) / 15, rel=0.08)
    assert abs(np.mean(shifts)) < 0.02
    # a small clip is reached and respected on both sides
    tight = MotionModel(max_shift=0.1, min_scale=0.95, max_scale=1.05)
    t = np.array([tight.sample(np.random.default_rng(i)) for i in range(500)])
    assert t[:, :2].max() == 0.1 and t[:, :2].min() == -0.1
    assert t[:, 2:].max() == 1.05 and t[:, 2:].min() == 0.95
    with pytest.raises(ConfigError):
        MotionModel(max_shift=1.5)


@pytest.mark.timeout(10)
def test_moved_box_follows_the_drawn_motion() -> None:
    m = MotionModel()
    box = np.array([10.0, 20.0, 30.0, 60.0])  # w 20, h 40, centre (20, 40)
    dx, dy, gw, gh = m.sample(np.random.default_rng(3))
    moved = m.move(box, np.random.default_rng(3))
    assert (moved[0] + moved[2]) / 2 == pytest.approx(20 + 20 * dx)
    assert (moved[1] + moved[3]) / 2 == pytest.approx(40 + 40 * dy)
    assert moved[2] - moved[0] == pytest.approx(20 * gw)
    assert moved[3] - moved[1] == pytest.approx(40 * gh)


@pytest.mark.timeout(10)
def test_crops_by_hand_on_a_tiny_image() -> None:
    img, box = _tiny()
    # no motion: both crops are the box enlarged twice (20 x 16 pixels -> 16 x 16), the
    # white box fills the middle half of each axis exactly
    prev, search, target = crop_pair(img, box, img, box, box, size=16, context=2.0)
    np.testing.assert_array_equal(prev, search)
    np.testing.assert_allclose(target, [0.25, 0.25, 0.75, 0.75])
    assert np.all(prev[5:11, 5:11] == 255) and np.all(prev[:3] < 255) and np.all(prev[13:] < 255)
    # a known shift: the search region centred 5 px right of the box (half its width)
    moved = box + np.array([5.0, 0.0, 5.0, 0.0])
    _, search, target = crop_pair(img, box, img, box, moved, size=16, context=2.0)
    np.testing.assert_allclose(target, [0.0, 0.25, 0.5, 0.75])
    assert np.all(search[5:11, 0:7] == 255) and np.all(search[:, 9:] < 255)


@pytest.mark.timeout(10)
def test_still_pairs_keep_the_box_inside_and_are_deterministic() -> None:
    img, box = _tiny()
    targets = []
    for seed in range(300):
        prev, search, target = still_pair(img, box, np.random.default_rng(seed), size=32)
        assert prev.shape == search.shape == (32, 32, 3) and prev.dtype == np.uint8
        targets.append(target)
        # the box's pixels are white where the target says the box is, and only there
        # (margins: half an image pixel for the bilinear edges, plus rounding)
        x1, y1, x2, y2 = np.clip(np.round(target * 32).astype(int), 0, 32)
        mx = int(np.ceil(0.5 * 32 * (target[2] - target[0]) / 10)) + 1  # box: 10 px wide
        my = int(np.ceil(0.5 * 32 * (target[3] - target[1]) / 8)) + 1  # and 8 px tall
        assert search[y1 + my : y2 - my, x1 + mx : x2 - mx].min() >= 250
        outside = search.copy()
        outside[max(y1 - my, 0) : y2 + my, max(x1 - mx, 0) : x2 + mx] = 0
        assert outside.max() < 5
    t = np.array(targets)
    centre = (t[:, :2] + t[:, 2:]) / 2
    # max_shift 0.45 box sides, scales >= 0.6, context 2: centre within 0.5 +- 0.375
    assert np.all(np.abs(centre - 0.5) <= 0.375 + 1e-6)
    again = still_pair(img, box, np.random.default_rng(7), size=32)
    first = still_pair(img, box, np.random.default_rng(7), size=32)
    for a, b in zip(again, first, strict=True):
        np.testing.assert_array_equal(a, b)


class _Background:
    def __init__(self) -> None:
        self.img = np.full((60, 80, 3), 40, np.uint8)

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return self.img, np.array([0.0, 0.0, 1.0, 1.0])


@pytest.mark.timeout(10)
def test_pasted_crops_and_mixture(tmp_path: Path) -> None:
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i:04d}_c1.png"), np.full((16, 8, 3), 200 + 10 * i, np.uint8))
    paste = PastedCrops.from_folder(tmp_path, _Background(), heights=(0.2, 0.5))
    rng = np.random.default_rng(0)
    for _ in range(30):
        img, box = paste.sample(rng)
        x1, y1, x2, y2 = box.astype(int)
        assert 0 <= x1 < x2 <= 80 and 0 <= y1 < y2 <= 60
        assert 12 <= y2 - y1 <= 30 and (y2 - y1) / (x2 - x1) == pytest.approx(2, abs=0.35)
        assert img[y1:y2, x1:x2].min() > 40 * 1.2 + 100  # the crop (gains 0.8-1.2) is there
        outside = img.copy()
        outside[y1:y2, x1:x2] = 40
        assert np.all(outside == 40)  # and nothing else changed
    assert np.all(paste.background.img == 40)  # the background image itself is untouched
    mix = StillImages([(paste, 1.0), (_Background(), 0.0)])
    assert len(mix.sources) == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataNotFoundError):
        PastedCrops.from_folder(empty, _Background())


@pytest.mark.timeout(30)
def test_mot17_pedestrians(shared: Path) -> None:
    root = shared / "data" / "MOT17" / "train"
    pool = ImageBoxes.from_mot17(root, min_visibility=0.5, min_height=50, shrink=0.5)
    assert len(pool.items) >= 30 and pool.num_boxes >= 300
    rng = np.random.default_rng(0)
    for _ in range(10):
        img, box = pool.sample(rng)
        h, w = img.shape[:2]
        assert w in (960, 320)  # 1920 and 640 wide frames at half size
        assert box[3] - box[1] >= 25 and box[2] > box[0]
        assert -5 <= box[0] and box[2] <= w + 5 and box[3] <= h + 5
    with pytest.raises(DataNotFoundError):
        ImageBoxes.from_mot17(shared / "data" / "otb")
