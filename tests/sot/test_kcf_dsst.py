"""Features, DSST and KCF: known behaviour on constructed images and a shared sequence."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from trackkit.errors import ConfigError, TrackkitError
from trackkit.io.otb import load_otb_sequences
from trackkit.metrics.otb import evaluate_sequence
from trackkit.sot import available, build
from trackkit.sot.ops.crops import REPLICATE, crop_region
from trackkit.sot.ops.dcf import gaussian_label, subpixel_peak
from trackkit.sot.ops.dsst import DSSTConfig, ScaleFilter
from trackkit.sot.ops.features import color_names, fhog
from trackkit.sot.runner import run_sequence
from trackkit.sot.trackers.kcf import KCFTracker


def _texture(h: int = 240, w: int = 320, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(h // 8, w // 8, 3), dtype=np.uint8)
    return cv2.GaussianBlur(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC), (3, 3), 0)


def _shift(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    m = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), borderMode=cv2.BORDER_REFLECT)


def test_fhog_shapes_batch_and_orientation() -> None:
    img = _texture(64, 48)
    f = fhog(img, 4)
    assert f.shape == (16, 12, 31) and f.dtype == np.float32
    batch = fhog(np.stack([img, img[::-1]]), 4)
    np.testing.assert_allclose(batch[0], f, atol=1e-5)
    np.testing.assert_allclose(fhog(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), 4), f, atol=1e-4)
    # A vertical edge has horizontal gradients: the 0-degree insensitive bin dominates.
    edge = np.zeros((32, 32), np.uint8)
    edge[:, 16:] = 255
    g = fhog(edge, 4)
    assert np.argmax(g[4, 3:5, 18:27].sum(axis=0)) == 0
    assert g[:, :2].max() == 0.0  # flat region: no energy
    with pytest.raises(ValueError):
        fhog(np.zeros((2, 2), np.uint8), 4)


def test_color_names_pick_the_right_term() -> None:
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 2] = 230
    cn = color_names(red, 4)
    assert cn.shape == (2, 2, 11)
    assert int(np.argmax(cn[0, 0])) == 8  # red
    assert cn.sum(axis=-1) == pytest.approx(np.zeros((2, 2)), abs=1e-5)  # centred


def test_label_crop_and_peak() -> None:
    g = gaussian_label((8, 10), 1.5)
    assert g[0, 0] == 1.0 and g[1, 0] == pytest.approx(g[-1, 0])
    resp = np.roll(gaussian_label((16, 16), 2.0), (3, -2), axis=(0, 1))
    dy, dx, v = subpixel_peak(resp)
    assert (dy, dx, v) == (pytest.approx(3.0), pytest.approx(-2.0), 1.0)
    img = np.arange(100, dtype=np.uint8).reshape(10, 10)
    # A 4x4 region at pixel-exact position resampled 1:1 returns the pixels themselves.
    np.testing.assert_array_equal(
        crop_region(img, (4.0, 6.0), (4, 4), (4, 4), border=REPLICATE), img[4:8, 2:6]
    )


def test_dsst_recovers_a_scale_change() -> None:
    img = _texture()
    center, size = (160.0, 120.0), (60.0, 40.0)
    sf = ScaleFilter(DSSTConfig(), size, (320, 240))
    sf.update(img, center, 1.0, 1.0)
    zoom = cv2.warpAffine(img, cv2.getRotationMatrix2D(center, 0.0, 1.1), (320, 240))
    assert sf.estimate(zoom, center, 1.0) == pytest.approx(1.1, abs=0.025)
    assert sf.estimate(img, center, 1.0) == pytest.approx(1.0)


@pytest.mark.parametrize("gray", [False, True])
def test_kcf_follows_a_translating_texture(gray: bool) -> None:
    img = _texture()
    if gray:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    frames = [_shift(img, 3.0 * t, -2.0 * t) for t in range(12)]
    box = np.array([130.0, 100.0, 170.0, 140.0])
    run = run_sequence(build("kcf"), frames, box)
    expected = box + np.array([33.0, -22.0, 33.0, -22.0])
    np.testing.assert_allclose(run.boxes[-1], expected, atol=2.0)


@pytest.mark.parametrize(
    "box",
    [[150.0, 110.0, 157.0, 118.0], [10.0, 10.0, 310.0, 230.0]],
    ids=["tiny-7px", "whole-frame"],
)
def test_kcf_small_and_large_targets(box: list[float]) -> None:
    img = _texture()
    frames = [_shift(img, 1.0 * t, 0.0) for t in range(6)]
    run = run_sequence(build("kcf"), frames, box)
    assert np.isfinite(run.boxes).all()
    assert abs(run.boxes[-1, 0] - (box[0] + 5.0)) < 3.0


def test_kcf_target_leaving_the_image_keeps_working() -> None:
    img = _texture()
    frames = [_shift(img, 12.0 * t, 0.0) for t in range(15)]
    run = run_sequence(build("kcf"), frames, [250.0, 100.0, 290.0, 140.0])
    assert np.isfinite(run.boxes).all()
    cx = (run.boxes[:, 0] + run.boxes[:, 2]) / 2
    assert cx.max() <= 320.0  # the centre is clamped to the frame


def test_bad_init_and_config() -> None:
    img = _texture()
    t = build("kcf")
    with pytest.raises(TrackkitError, match="x1 < x2"):
        t.init(img, [10, 10, 10, 30])
    with pytest.raises(TrackkitError, match="outside"):
        t.init(img, [400, 10, 420, 30])
    with pytest.raises(TrackkitError, match="before init"):
        t.update(img)
    with pytest.raises(TrackkitError, match="uint8"):
        t.init(img.astype(np.float32), [10, 10, 20, 20])
    with pytest.raises(ConfigError, match="valid options"):
        build("kcf", nonsense=1)
    with pytest.raises(ConfigError, match="features"):
        KCFTracker(features=("sift",))
    with pytest.raises(ConfigError, match="valid names"):
        build("no-such-tracker")
    assert {"kcf", "dcfnet", "udt"} <= set(available())


@pytest.mark.slow
def test_kcf_on_crossing(shared: Path) -> None:
    [seq] = load_otb_sequences(shared / "data" / "otb" / "Crossing")
    run = run_sequence(build("kcf"), seq.iter_frames(), seq.init_box)
    r = evaluate_sequence(run.boxes, seq.boxes)
    assert r.success_auc > 0.65 and r.precision_20px > 0.95
