"""The scalar re-update path (fixed-noise layout) is bit-identical to the array path."""

from __future__ import annotations

import numpy as np

from trackkit.motion.kalman import KalmanFilter
from trackkit.motion.reupdate import reupdate_scalar


def _array_reupdate(
    kf: KalmanFilter, mean: np.ndarray, cov: np.ndarray, virtual: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    m, p = mean, cov
    for i in range(virtual.shape[1]):
        m, p = kf.update_measurement(m, p, virtual[:, i : i + 1])
        if i < virtual.shape[1] - 1:
            m, p = kf.predict(m, p)
    return m, p


def test_scalar_reupdate_matches_array_code_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    kf = KalmanFilter("xysr")
    for _ in range(50):
        xy = rng.uniform(0, 500, 2)
        wh = rng.uniform(5, 80, 2)
        mean, cov = kf.initiate(np.r_[xy, xy + wh][None])
        mean[4:7, 0] = rng.normal(0, 3, 3)
        mean[6] = -mean[2] * rng.uniform(0.5, 1.5)  # sometimes the area would vanish
        mean, cov = kf.predict(mean, cov, steps=int(rng.integers(1, 4)))
        gap = int(rng.integers(1, 12))
        boxes = np.r_[xy, xy + wh][None] + rng.normal(0, 5, (gap, 4))
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1.0)
        virtual = kf.from_xyxy(boxes)
        m_ref, p_ref = _array_reupdate(kf, mean, cov, virtual)
        m, p = reupdate_scalar(kf, mean, cov, virtual)
        assert m.shape == (8, 1) and p.shape == (3, 4, 1)
        assert m.tobytes() == m_ref.tobytes()
        assert p.tobytes() == p_ref.tobytes()
