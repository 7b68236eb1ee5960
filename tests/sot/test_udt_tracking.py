"""udt-own's tracking options (``hold_threshold``: stay put while the target is occluded;
``scale_lr``: damped scale updates) and their defaults, which keep the published ``udt`` /
``dcfnet`` behaviour (``udt-own``'s preset: ``crop_size`` 192, docs/sot-udt.md)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from trackkit.errors import ConfigError  # noqa: E402
from trackkit.sot import build  # noqa: E402
from trackkit.sot.base import SOT_TRACKERS  # noqa: E402
from trackkit.sot.runner import run_sequence  # noqa: E402

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _texture(seed: int = 1, h: int = 240, w: int = 320) -> np.ndarray:
    small = np.random.default_rng(seed).integers(0, 256, size=(h // 8, w // 8, 3), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def test_defaults_keep_the_papers_behaviour() -> None:
    for name in ("dcfnet", "udt"):
        cfg = SOT_TRACKERS.build(name).config
        assert cfg.hold_threshold == 0.0 and cfg.scale_lr == 1.0, name
        assert cfg.crop_size == 128, name
    assert SOT_TRACKERS.build("udt-own").config.crop_size == 192  # nested k-fold choice
    with pytest.raises(ConfigError, match="hold_threshold"):
        build("dcfnet", hold_threshold=1.5)
    with pytest.raises(ConfigError, match="scale_lr"):
        build("dcfnet", scale_lr=0.0)


def test_hold_keeps_the_box_through_an_occlusion(shared: Path) -> None:
    img = _texture()
    shifted = [
        cv2.warpAffine(img, np.array([[1, 0, 2 * t], [0, 1, t]], np.float64), (320, 240))
        for t in range(6)
    ]
    gray = np.full_like(img, 128)  # the target (and everything else) hidden: no response peak
    frames = shifted + [gray] * 4 + [shifted[-1]]
    box = np.array([140.0, 100.0, 180.0, 150.0])
    run = run_sequence(build("udt-own", hold_threshold=0.4), frames, box)
    moved = box + [10, 5, 10, 5]
    np.testing.assert_allclose(run.boxes[5], moved, atol=3.0)
    for i in range(6, 10):  # held: exactly the last confident box, low scores
        np.testing.assert_array_equal(run.boxes[i], run.boxes[5])
        assert run.scores[i] < 0.4 * max(run.scores[1:6])
    np.testing.assert_allclose(run.boxes[10], moved, atol=3.0)  # found again where it was


def test_scale_lr_damps_the_size_change(shared: Path) -> None:
    img = _texture(2)
    zooms = [cv2.getRotationMatrix2D((160, 120), 0, 1.04**t) for t in range(8)]
    zoom = [np.asarray(cv2.warpAffine(img, m, (320, 240)), np.uint8) for m in zooms]
    box = np.array([130.0, 95.0, 190.0, 145.0])
    width = {}
    for lr in (1.0, 0.5):
        run = run_sequence(build("udt-own", scale_lr=lr), zoom, box)
        width[lr] = float(run.boxes[-1][2] - run.boxes[-1][0])
    assert 60.0 < width[0.5] < width[1.0]
