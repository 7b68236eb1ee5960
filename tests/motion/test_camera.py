"""Camera-motion estimation recovers a known image shift; states move with the warp."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from trackkit.errors import ConfigError
from trackkit.motion.camera import CameraMotion, estimate_warp, warp_states
from trackkit.motion.kalman import KalmanFilter


def _scene(shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    rng = np.random.default_rng(3)
    base = (rng.random((60, 80)) * 255).astype(np.uint8)
    base = cv2.resize(base, (320, 240), interpolation=cv2.INTER_CUBIC)
    base = cv2.GaussianBlur(base, (5, 5), 1.0)
    m = np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])
    img = cv2.warpAffine(base, m, (320, 240), borderMode=cv2.BORDER_REFLECT)
    return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)


@pytest.mark.parametrize("method", ["sparse", "ecc"])
def test_recovers_translation(method: str) -> None:
    warp = estimate_warp(_scene(), _scene((6.0, -4.0)), method=method, downscale=1)
    np.testing.assert_allclose(warp[:, :2], np.eye(2), atol=0.02)
    np.testing.assert_allclose(warp[:, 2], [6.0, -4.0], atol=0.5)


def test_stateful_first_frame_identity_and_reset() -> None:
    cmc = CameraMotion("sparse", downscale=2)
    np.testing.assert_array_equal(cmc(_scene()), np.eye(2, 3))
    assert abs(cmc(_scene((8.0, 0.0)))[0, 2] - 8.0) < 1.0
    cmc.reset()
    np.testing.assert_array_equal(cmc(_scene()), np.eye(2, 3))
    with pytest.raises(ConfigError):
        CameraMotion("orb")  # type: ignore[arg-type]


@pytest.mark.parametrize("layout", ["xysr", "xyah", "xywh"])
def test_warp_states_moves_and_scales_boxes(layout: str) -> None:
    kf = KalmanFilter(layout)
    boxes = np.array([[10.0, 20.0, 50.0, 100.0]])
    mean, cov = kf.initiate(boxes)
    shift = np.array([[1.0, 0.0, 5.0], [0.0, 1.0, -3.0]])
    m2, c2 = warp_states(kf, mean, cov, shift)
    np.testing.assert_allclose(kf.to_xyxy(m2), boxes + [5, -3, 5, -3], atol=1e-9)
    np.testing.assert_allclose(c2, cov)
    zoom = np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    m3, c3 = warp_states(kf, mean, cov, zoom)
    np.testing.assert_allclose(kf.to_xyxy(m3), boxes * 2, atol=1e-9)
    assert (c3 >= cov).all()
    m4, _ = warp_states(kf, mean, cov, np.eye(2, 3))
    np.testing.assert_array_equal(m4, mean)
