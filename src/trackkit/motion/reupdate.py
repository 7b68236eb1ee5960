"""Observation-centric re-update (ORU) of a Kalman track (OC-SORT: Cao, Pang, Weng,
Khirodkar, Kitani; CVPR 2023).

A track that went unobserved drifts with its constant-velocity prediction. When it is found
again ``gap`` frames after its last observation, ORU rolls its filter back to the state it had
at its first miss and re-runs it along a *virtual trajectory* interpolated linearly (centre
and size) between the last and the new observation, ending with the real one. Boxes are
``xyxy`` float64, continuous pixels; states ``(8, 1)`` and block covariances ``(3, 4, 1)`` as
in :mod:`trackkit.motion.kalman`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trackkit.motion.kalman import KalmanFilter

__all__ = ["reupdate", "reupdate_scalar"]

FloatArray = NDArray[np.float64]


def reupdate(
    kf: KalmanFilter,
    mean: FloatArray,
    cov: FloatArray,
    last_xyxy: ArrayLike,
    new_xyxy: ArrayLike,
    gap: int,
) -> tuple[FloatArray, FloatArray]:
    """Observation-centric re-update (ORU, OC-SORT, Cao et al. 2023) of one track.

    A track last observed at ``last_xyxy`` and found again ``gap`` frames later at
    ``new_xyxy`` is rolled back to ``mean, cov`` — its state ``(8, 1)``, ``(3, 4, 1)``
    predicted for the first frame it was missed — and re-run along a virtual trajectory
    interpolated linearly (centre and size) between the two observations, ending with the
    real one. This replaces the drift accumulated while unobserved.

    Returns:
        The corrected ``(8, 1)`` state and ``(3, 4, 1)`` covariance at the new frame.
    """
    last = np.asarray(last_xyxy, dtype=np.float64).reshape(4)
    new = np.asarray(new_xyxy, dtype=np.float64).reshape(4)
    c0, s0 = (last[:2] + last[2:]) / 2.0, last[2:] - last[:2]
    c1, s1 = (new[:2] + new[2:]) / 2.0, new[2:] - new[:2]
    frac = np.arange(1, gap + 1, dtype=np.float64)[:, None] / max(gap, 1)
    c = c0 + frac * (c1 - c0)
    size = s0 + frac * (s1 - s0)
    virtual = kf.from_xyxy(np.concatenate([c - size / 2.0, c + size / 2.0], axis=1))
    if kf.fixed_noise is not None and mean.shape[1] == 1:
        return reupdate_scalar(kf, mean, cov, virtual)
    m, p = mean, cov
    for i in range(gap):
        m, p = kf.update_measurement(m, p, virtual[:, i : i + 1])
        if i < gap - 1:
            m, p = kf.predict(m, p)
    return m, p


def reupdate_scalar(
    kf: KalmanFilter, mean: FloatArray, cov: FloatArray, virtual: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """:func:`reupdate` of one track with fixed noise (``xysr``) in Python floats, along the
    virtual measurements ``virtual`` ``(4, gap)``.

    The same IEEE operations, in the same order, as :meth:`KalmanFilter.update_measurement`
    and :meth:`KalmanFilter.predict` on a single track (so bit-identical results), without
    the per-call cost of numpy on arrays of four numbers.
    """
    noise = kf.fixed_noise
    assert noise is not None
    x = mean[:, 0].tolist()
    pp, pv, vv = cov[:, :, 0].tolist()
    q0, q1, q2 = noise[0][:, :, 0].tolist()
    r = noise[1][:, 0].tolist()
    size_cols = kf.size_cols
    obs = virtual.T.tolist()
    last = len(obs) - 1
    for i, z in enumerate(obs):
        for j in range(4):  # update
            s = pp[j] + r[j]
            kp = pp[j] / s
            kv = pv[j] / s
            innov = z[j] - x[j]
            x[j] = x[j] + kp * innov
            x[j + 4] = x[j + 4] + kv * innov
            pp[j] = pp[j] - kp * pp[j]
            vv[j] = vv[j] - kv * pv[j]
            pv[j] = pv[j] - kp * pv[j]
        if i == last:
            break
        for k in size_cols:  # predict
            if x[k] + x[k + 4] <= 0:
                x[k + 4] = 0.0
        for j in range(4):
            x[j] = x[j] + x[j + 4]
            c1 = (pv[j] + q1[j]) + vv[j]
            pp[j] = (pp[j] + q0[j]) + (pv[j] + c1)
            pv[j] = c1
            vv[j] = vv[j] + q2[j]
    return np.array(x)[:, None], np.array([pp, pv, vv])[:, :, None]
