"""Velocity noise that follows what the video shows: innovation-based adaptation of a
tracker's Kalman process noise.

A constant-velocity Kalman filter with a fixed velocity noise per frame suits one kind of
video: at 30 fps with a static camera (MOT17-04) the velocity barely changes between frames,
but at a few frames per second, or from a camera on a turning bus (MOT17-13), it changes a
lot, the prediction lags, IoU with the next detection drops and tracks break. How much it
changes is visible online in the *innovations*: the differences between each matched
detection and its track's prediction. Following the innovation-based adaptive filters
(Mehra, "On the identification of variances and adaptive Kalman filtering", IEEE TAC 1970),
:class:`InnovationMonitor` compares them, frame by frame, with the variances the filter
predicted and scales the velocity noise:

- per matched track, the normalized innovation of the box centre
  ``q = mean over x, y of (z - z_pred)^2 / (P_pred + R)`` (its median is ``ln 2 ~= 0.69``
  when the filter's variances are right);
- per frame, ``m <- clip(m * (median(q) / target) ** rate, 1, max_scale)``: the velocity
  noise std is multiplied by ``m`` (it never falls below the filter's own noise).

``target`` below ``ln 2`` keeps the predicted variance a few times larger than the squared
innovations actually seen (wide enough for the association gate). For a static camera at
30 fps the median stays under the target and ``m`` stays 1: the filter is the tracker's
usual one; for fast or erratic motion ``m`` rises within tens of frames. Nothing here
depends on the frame rate or the dataset: only on the innovations of this video.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from trackkit.motion.kalman import KalmanFilter, Layout

__all__ = ["AdaptiveKalmanFilter", "InnovationMonitor"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class AdaptiveKalmanFilter(KalmanFilter):
    """:class:`~trackkit.motion.kalman.KalmanFilter` whose velocity process-noise std is
    multiplied by ``velocity_scale`` (>= 1; 1: the plain filter)."""

    def __init__(self, layout: Layout = "xyah") -> None:
        super().__init__(layout)
        self.velocity_scale = 1.0

    def _process_noise(self, mean: FloatArray) -> FloatArray:
        var = super()._process_noise(mean)
        s = self.velocity_scale
        if s == 1.0:
            return var
        if not var.flags.writeable:  # the fixed-noise layout's shared array
            var = var.copy()
        var[2] *= s * s
        return var


class InnovationMonitor:
    """Adapts an :class:`AdaptiveKalmanFilter`'s velocity noise to the innovations of the
    matched tracks (see the module docstring).

    Args:
        kf: the filter to adapt (its ``velocity_scale`` is set).
        target: the median normalized innovation the adaptation aims at (``> 0``).
        max_scale: the largest velocity-noise multiplier (``>= 1``).
        rate: exponent of each frame's multiplicative step (0.05: tens of frames to adapt).
    """

    def __init__(
        self, kf: AdaptiveKalmanFilter, target: float, max_scale: float, rate: float = 0.05
    ) -> None:
        self.kf = kf
        self.target = float(target)
        self.max_scale = float(max_scale)
        self.rate = float(rate)
        self._centre: FloatArray | None = None
        self._var: FloatArray | None = None

    def before(self, mean: FloatArray, cov: FloatArray) -> None:
        """Keep the predicted box centres and their innovation variances (call after the
        prediction, before the association; ``mean`` ``(8, N)``, ``cov`` ``(3, 4, N)``)."""
        self._centre = mean[:2].copy()
        var = self.kf.measurement_noise(mean)[:2]
        var += cov[0, :2]
        self._var = var

    def observe(self, rows: IntArray, det_xyxy: FloatArray) -> None:
        """One frame's matches: tracks ``rows`` (columns of the states given to
        :meth:`before`) matched with the detections ``det_xyxy`` ``(M, 4)`` (one per row);
        updates ``kf.velocity_scale``."""
        var, c = self._var, self._centre
        if var is None or c is None or len(rows) == 0:
            return
        n = var.shape[1]
        if int(rows.max()) >= n:  # tracks born after the prediction have no innovation
            keep = rows < n
            rows, det_xyxy = rows[keep], det_xyxy[keep]
            if len(rows) == 0:
                return
        dx = (det_xyxy[:, 0] + det_xyxy[:, 2]) * 0.5 - c[0].take(rows)
        dy = (det_xyxy[:, 1] + det_xyxy[:, 3]) * 0.5 - c[1].take(rows)
        q = (dx * dx / var[0].take(rows) + dy * dy / var[1].take(rows)) * 0.5
        q.sort()
        k = len(q)
        med = float(q[k // 2]) if k % 2 else 0.5 * float(q[k // 2 - 1] + q[k // 2])
        step = math.log(max(med, 1e-12) / self.target) * self.rate
        kf = self.kf
        kf.velocity_scale = min(max(kf.velocity_scale * math.exp(step), 1.0), self.max_scale)
