"""The block-covariance Kalman filter equals the textbook dense filter, for every layout.

Arrays are coordinate-major: ``mean (8, N)``, ``cov (3, 4, N)``, measurements ``(4, N)``."""

from __future__ import annotations

import numpy as np
import pytest

from trackkit.errors import ConfigError
from trackkit.motion.kalman import CHI2INV95, KalmanFilter, full_covariance

LAYOUTS = ["xysr", "xyah", "xywh"]


def _boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    xy = rng.uniform(0, 500, (n, 2))
    wh = rng.uniform(20, 120, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


def _dense_step(kf: KalmanFilter, mean, cov_full, z=None, predict=True):
    """Reference: x = F x, P = F P F' + Q; K = P H' (H P H' + R)^-1 with dense matrices."""
    f = np.eye(8)
    f[:4, 4:] = np.eye(4)
    h = np.eye(4, 8)
    out_m, out_p = [], []
    for i in range(mean.shape[1]):
        x, p = mean[:, i].copy(), cov_full[i].copy()
        if predict:
            probe_m, probe_c = kf.predict(mean[:, i : i + 1], np.zeros((3, 4, 1)))
            q = full_covariance(probe_c)[0]  # predict of a zero covariance = Q
            x = probe_m[:, 0]
            p = f @ p @ f.T + q
        else:
            r = np.diag(kf.measurement_noise(mean[:, i : i + 1])[:, 0])
            s = h @ p @ h.T + r
            k = p @ h.T @ np.linalg.inv(s)
            x = x + k @ (z[:, i] - h @ x)
            p = (np.eye(8) - k @ h) @ p
        out_m.append(x)
        out_p.append(p)
    return np.array(out_m).T, np.array(out_p)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_matches_dense_filter(layout: str) -> None:
    rng = np.random.default_rng(0)
    kf = KalmanFilter(layout)
    mean, cov = kf.initiate(_boxes(rng, 5))
    dm, dp = mean.copy(), full_covariance(cov)
    for step in range(12):
        mean, cov = kf.predict(mean, cov)
        dm, dp = _dense_step(kf, dm, dp)
        np.testing.assert_allclose(mean, dm, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(full_covariance(cov), dp, rtol=1e-9, atol=1e-9)
        if step % 3 != 2:  # some frames without a measurement
            z = kf.to_xyxy(mean) + rng.normal(0, 2, (5, 4))
            mean, cov = kf.update(mean, cov, z)
            dm, dp = _dense_step(kf, dm, dp, kf.from_xyxy(z), predict=False)
            np.testing.assert_allclose(mean, dm, rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(full_covariance(cov), dp, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_gating_distance_is_mahalanobis(layout: str) -> None:
    rng = np.random.default_rng(1)
    kf = KalmanFilter(layout)
    mean, cov = kf.predict(*kf.initiate(_boxes(rng, 3)))
    boxes = _boxes(rng, 4)
    d = kf.gating_distance(mean, cov, boxes)
    z = kf.from_xyxy(boxes)
    proj, var = kf.project(mean, cov)
    assert z.shape == (4, 4) and proj.shape == var.shape == (4, 3)
    for i in range(3):
        noise = kf.measurement_noise(mean[:, i : i + 1])[:, 0]
        s = full_covariance(cov)[i][:4, :4] + np.diag(noise)
        for j in range(4):
            diff = z[:, j] - proj[:, i]
            assert d[i, j] == pytest.approx(diff @ np.linalg.solve(s, diff), rel=1e-9)
    assert kf.gating_distance(mean, cov, boxes, only_position=True).shape == (3, 4)
    # a track's own predicted box is at distance 0 and inside the gate
    own = kf.gating_distance(mean, cov, kf.to_xyxy(mean))
    assert np.allclose(np.diag(own), 0.0) and (np.diag(own) < CHI2INV95[4]).all()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_box_round_trip_and_constant_velocity(layout: str) -> None:
    kf = KalmanFilter(layout)
    boxes = np.array([[10.0, 20.0, 60.0, 120.0], [0.0, 0.0, 5.0, 7.0]])
    np.testing.assert_allclose(kf.to_xyxy(kf.from_xyxy(boxes)), boxes, atol=1e-9)
    mean, cov = kf.initiate(boxes[:1])
    for k in range(1, 30):  # a box moving 4 px/frame to the right
        mean, cov = kf.predict(mean, cov)
        mean, cov = kf.update(mean, cov, boxes[:1] + [4.0 * k, 0, 4.0 * k, 0])
    pred = kf.to_xyxy(kf.predict(mean, cov)[0])[0]
    np.testing.assert_allclose(pred, boxes[0] + [120.0, 0, 120.0, 0], atol=1.0)


def test_inputs_not_mutated_and_size_never_negative() -> None:
    kf = KalmanFilter("xysr")
    mean, cov = kf.initiate(np.array([[0.0, 0.0, 10.0, 10.0]]))
    mean[6, 0] = -500.0  # area shrinking faster than it exists
    m0, c0 = mean.copy(), cov.copy()
    pm, pc = kf.predict(mean, cov)
    np.testing.assert_array_equal(mean, m0)
    np.testing.assert_array_equal(cov, c0)
    assert pm[2, 0] > 0 and pm[6, 0] == 0.0
    kf.update(pm, pc, np.array([[1.0, 1.0, 11.0, 11.0]]))
    assert np.isfinite(pm).all()


def test_bad_layout() -> None:
    with pytest.raises(ConfigError, match="layout"):
        KalmanFilter("xyz")  # type: ignore[arg-type]


@pytest.mark.parametrize("layout", ["xyah", "xywh"])
def test_process_noise_is_the_papers(layout: str) -> None:
    """Q of the size-proportional layouts: std = size / 20 (position), size / 160 (velocity),
    with DeepSORT's fixed 1e-2 / 1e-5 for the aspect ratio."""
    rng = np.random.default_rng(3)
    kf = KalmanFilter(layout)
    mean, _ = kf.initiate(_boxes(rng, 4))
    _, q = kf.predict(mean, np.zeros((3, 4, 4)))
    w, h = kf.to_xyxy(mean)[:, 2:].T - kf.to_xyxy(mean)[:, :2].T
    if layout == "xyah":
        size = np.stack([h, h, np.zeros(4), h])
        const_p, const_v = np.array([0, 0, 1e-2, 0]), np.array([0, 0, 1e-5, 0])
    else:
        size = np.stack([w, h, w, h])
        const_p = const_v = np.zeros(4)
    # the prediction of a zero covariance is Q itself (F 0 F' + Q), which has no pv term
    np.testing.assert_allclose(q[0], (size / 20 + const_p[:, None]) ** 2, rtol=1e-12)
    np.testing.assert_array_equal(q[1], 0.0)
    np.testing.assert_allclose(q[2], (size / 160 + const_v[:, None]) ** 2, rtol=1e-12)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_masked_update_ignores_other_rows(layout: str) -> None:
    """With ``mask``, unselected rows come back bit-identical whatever their (finite) z, and
    selected rows equal an update of those rows alone."""
    rng = np.random.default_rng(4)
    kf = KalmanFilter(layout)
    mean, cov = kf.predict(*kf.initiate(_boxes(rng, 6)))
    z = kf.from_xyxy(_boxes(rng, 6))
    mask = np.array([True, False, True, True, False, False])
    m, c = kf.update_measurement(mean, cov, z, mask=mask)
    np.testing.assert_array_equal(m[:, ~mask], mean[:, ~mask])
    np.testing.assert_array_equal(c[..., ~mask], cov[..., ~mask])
    m1, c1 = kf.update_measurement(mean[:, mask], cov[..., mask], z[:, mask])
    np.testing.assert_array_equal(m[:, mask], m1)
    np.testing.assert_array_equal(c[..., mask], c1)


def test_arrays_are_coordinate_major_and_boxes_exact() -> None:
    """Shapes of every array, and box conversions that are exact in floating point (centre
    ``0.5 x1 + 0.5 x2``, corners ``c -+ 0.5 w``), as the trackers' identical outputs need."""
    rng = np.random.default_rng(5)
    boxes = _boxes(rng, 7)
    for layout in LAYOUTS:
        kf = KalmanFilter(layout)
        z = kf.from_xyxy(boxes)
        assert z.shape == (4, 7)
        np.testing.assert_array_equal(z[0], 0.5 * boxes[:, 0] + 0.5 * boxes[:, 2])
        mean, cov = kf.initiate(boxes)
        assert mean.shape == (8, 7) and cov.shape == (3, 4, 7)
        mean, cov = kf.predict(mean, cov)
        assert mean.shape == (8, 7) and cov.shape == (3, 4, 7)
        out = kf.to_xyxy(mean)
        assert out.shape == (7, 4)
        if layout == "xywh":
            np.testing.assert_array_equal(out[:, 0], mean[0] - 0.5 * mean[2])
            np.testing.assert_array_equal(out[:, 3], mean[1] + 0.5 * mean[3])
        assert kf.gating_distance(mean, cov, boxes[:3]).shape == (7, 3)


def test_size_cols_hold_size_and_correct() -> None:
    for layout, cols in (("xysr", (2,)), ("xyah", (3,)), ("xywh", (2, 3))):
        kf = KalmanFilter(layout)  # type: ignore[arg-type]
        assert kf.size_cols == cols
        mean = np.ones((8, 2))
        kf.hold_size(mean, np.array([True, False]))
        for k in cols:
            assert mean[k + 4].tolist() == [1.0, 0.0]
    kf = KalmanFilter("xyah")
    mean, cov = kf.initiate(np.array([[0, 0, 10, 20], [50, 50, 60, 80]], float))
    boxes = np.array([[1, 1, 11, 21], [100, 100, 110, 110]], float)
    m, c = kf.correct(mean, cov, boxes, np.array([0, -1]), np.array([True, False]))
    m1, c1 = kf.update(mean[:, :1], cov[..., :1], boxes[:1])
    np.testing.assert_array_equal(m[:, :1], m1)
    np.testing.assert_array_equal(c[..., :1], c1)
    np.testing.assert_array_equal(m[:, 1], mean[:, 1])
    np.testing.assert_array_equal(c[..., 1], cov[..., 1])
