"""One constant-velocity Kalman filter for box tracking, vectorised over N tracks.

The state of a track is 8 numbers: four measured box coordinates ``z = (z0, z1, z2, z3)``
followed by their velocities (per frame), ``x = (z, dz/dt)``. The motion model is
``x_{t+1} = F x_t + w`` with ``F = [[I, I], [0, I]]`` and the measurement is ``z = H x + v`` with
``H = [I, 0]``. Three box layouts are supported, each with the noise model of the paper that
introduced it:

- ``"xysr"`` — SORT (Bewley et al., ICIP 2016) and OC-SORT: centre ``(cx, cy)``, area ``s``,
  aspect ratio ``r = w / h``; fixed noise ``P0 = diag(10, 10, 10, 10, 1e4, 1e4, 1e4, 0)``,
  ``Q = diag(1, 1, 1, 1, 1e-2, 1e-2, 1e-4, 0)``, ``R = diag(1, 1, 10, 10)``. The aspect ratio
  has no velocity (its variance stays 0), which is SORT's 7-dimensional state.
- ``"xyah"`` — DeepSORT (Wojke et al., ICIP 2017) and ByteTrack: centre, aspect ratio
  ``a = w / h``, height ``h``; standard deviations proportional to the height
  (``std_weight_position = 1/20``, ``std_weight_velocity = 1/160``).
- ``"xywh"`` — BoT-SORT (Aharon et al., 2022): centre, width, height; standard deviations
  proportional to the width (x, w) and height (y, h).

All noise matrices are diagonal and the measurement picks positions only, so the covariance
never couples two different coordinates: it is four independent 2x2 blocks
``[[var_pos, cov_pv], [cov_pv, var_vel]]``. The filter stores exactly those blocks — ``cov`` is
a ``(3, 4, N)`` array ``(var_pos, cov_pos_vel, var_vel)`` per coordinate — so predict, update
and the Mahalanobis distance are a handful of element-wise array operations for all tracks at
once. :func:`full_covariance` expands it to the usual ``(N, 8, 8)`` matrices.

**Arrays are coordinate-major**: the track is the *last* axis — states ``mean`` ``(8, N)``,
covariances ``cov`` ``(3, 4, N)``, measurements ``(4, N)`` — so that every operation on one
coordinate of all tracks reads a contiguous row (numpy's fastest path; with ``N`` of a few
dozen tracks the per-call overhead, not the arithmetic, is what costs).
Boxes going in and out are ``xyxy`` ``(N, 4)`` float64 in continuous pixels
(:mod:`trackkit.core.boxes`). No method mutates its arguments.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trackkit.errors import ConfigError

__all__ = ["CHI2INV95", "KalmanFilter", "Layout", "full_covariance"]

FloatArray = NDArray[np.float64]
Layout = Literal["xysr", "xyah", "xywh"]

# Read-only 0-d arrays for the per-call hot paths: numpy 2 runs a comparison or ``maximum``
# with a 0-d array operand about twice as fast as with a Python scalar (same result).
_ZERO, _HALF, _TINY9, _TINY12 = np.array(0.0), np.array(0.5), np.array(1e-9), np.array(1e-12)
for _c in (_ZERO, _HALF, _TINY9, _TINY12):
    _c.setflags(write=False)

#: 0.95 quantile of the chi-square distribution with 1..4 degrees of freedom (gating).
CHI2INV95: dict[int, float] = {1: 3.8415, 2: 5.9915, 3: 7.8147, 4: 9.4877}


def full_covariance(cov: ArrayLike) -> FloatArray:
    """Expand block covariances ``(3, 4, N)`` to full ``(N, 8, 8)`` matrices."""
    c = np.asarray(cov, dtype=np.float64)
    n = c.shape[2]
    out = np.zeros((n, 8, 8))
    idx = np.arange(4)
    out[:, idx, idx] = c[0].T
    out[:, idx, idx + 4] = c[1].T
    out[:, idx + 4, idx] = c[1].T
    out[:, idx + 4, idx + 4] = c[2].T
    return out


def _column(values: ArrayLike) -> FloatArray:
    """``(k,)`` -> a read-only ``(k, 1)`` column (broadcasts over the track axis)."""
    out = np.asarray(values, dtype=np.float64).reshape(-1, 1).copy()
    out.setflags(write=False)
    return out


class KalmanFilter:
    """Constant-velocity Kalman filter over boxes, for N tracks at once.

    Args:
        layout: ``"xysr"`` (SORT), ``"xyah"`` (DeepSORT/ByteTrack) or ``"xywh"`` (BoT-SORT).
        std_weight_position: for ``xyah``/``xywh``, position noise std per unit of box size.
        std_weight_velocity: for ``xyah``/``xywh``, velocity noise std per unit of box size.

    Arrays (coordinate-major, the track is the last axis): ``mean`` ``(8, N)`` float64
    states; ``cov`` ``(3, 4, N)`` float64 block covariances (see the module docstring);
    measurements ``(4, N)`` in the layout; ``xyxy`` boxes ``(N, 4)`` where a method says so.
    """

    def __init__(
        self,
        layout: Layout = "xyah",
        std_weight_position: float = 1.0 / 20,
        std_weight_velocity: float = 1.0 / 160,
    ) -> None:
        if layout not in ("xysr", "xyah", "xywh"):
            raise ConfigError(f"unknown Kalman layout {layout!r}; valid: xysr, xyah, xywh")
        if not (std_weight_position > 0 and std_weight_velocity > 0):
            raise ConfigError("Kalman std weights must be > 0")
        self.layout: Layout = layout
        wp, wv = float(std_weight_position), float(std_weight_velocity)
        zero = np.zeros(4)
        # Standard deviations are ``mult * scale(state) + const`` per coordinate, with
        # ``scale`` the box size the paper's noise is proportional to (none for fixed noise).
        self._scale_idx: NDArray[np.intp] | None
        init_pos: tuple[float, ArrayLike]
        if layout == "xysr":
            self._scale_idx = None
            mask = np.ones(4)
            init_pos = (0.0, np.sqrt(np.full(4, 10.0)))
            init_vel: tuple[float, ArrayLike] = (0.0, np.sqrt(np.array([1e4, 1e4, 1e4, 0.0])))
            q_pos: tuple[float, ArrayLike] = (0.0, np.ones(4))
            q_vel: tuple[float, ArrayLike] = (0.0, np.sqrt(np.array([1e-2, 1e-2, 1e-4, 0.0])))
            r: tuple[float, ArrayLike] = (0.0, np.sqrt(np.array([1.0, 1.0, 10.0, 10.0])))
            self._size_cols: tuple[int, ...] = (2,)
        elif layout == "xyah":
            self._scale_idx = np.array([3, 3, 3, 3])
            mask = np.array([1.0, 1.0, 0.0, 1.0])
            init_pos = (2 * wp, np.array([0, 0, 1e-2, 0]))
            init_vel = (10 * wv, np.array([0, 0, 1e-5, 0]))
            q_pos = (wp, np.array([0, 0, 1e-2, 0]))
            q_vel = (wv, np.array([0, 0, 1e-5, 0]))
            r = (wp, np.array([0, 0, 1e-1, 0]))
            self._size_cols = (3,)
        else:  # xywh
            self._scale_idx = np.array([2, 3, 2, 3])
            mask = np.ones(4)
            init_pos = (2 * wp, zero)
            init_vel = (10 * wv, zero)
            q_pos = (wp, zero)
            q_vel = (wv, zero)
            r = (wp, zero)
            self._size_cols = (2, 3)
        self._scale_mask = _column(mask)
        # ``(mult, const)`` pairs with ``const`` a (4, 1) column
        self._init_pos = (init_pos[0], _column(init_pos[1]))
        self._init_vel = (init_vel[0], _column(init_vel[1]))
        self._r = (r[0], _column(r[1]))
        self._q_fixed: FloatArray | None = None
        self._r_fixed: FloatArray | None = None
        if self._scale_idx is None:
            self._r_fixed = self._var(None, self._r)  # (4, 1)
            q = np.zeros((3, 4, 1))
            q[0] = self._var(None, (0.0, _column(q_pos[1])))
            q[2] = self._var(None, (0.0, _column(q_vel[1])))
            q.setflags(write=False)
            self._q_fixed = q
        # Noise rows ``(std_pos, 0, std_vel)`` per coordinate as (12, 1) columns, so that the
        # process noise of N tracks is ``(scale * mult + const) ** 2`` on one (12, N) array;
        # ``mult`` already holds the xyah mask (``(h * 1) * w == h * w`` and ``(h * 0) * w ==
        # h * 0``: the same doubles as scaling first). Measurement noise likewise on (4, N).
        self._q_mult12 = _column(np.concatenate([q_pos[0] * mask, zero, q_vel[0] * mask]))
        self._q_const12 = _column(np.concatenate([np.asarray(q_pos[1]), zero, q_vel[1]]))
        self._r_mult4 = _column(r[0] * mask)
        self._r_const4 = self._r[1]
        self._scale_idx12 = np.tile(self._scale_idx, 3) if self._scale_idx is not None else None
        # the size rows (contiguous) and their velocities as slices: one operation on all
        a, b = self._size_cols[0], self._size_cols[-1] + 1
        assert self._size_cols == tuple(range(a, b))
        self._sizes, self._size_vels = slice(a, b), slice(a + 4, b + 4)

    @property
    def size_cols(self) -> tuple[int, ...]:
        """Measurement rows that are box sizes (``s`` for xysr, ``h`` for xyah, ``w, h`` for
        xywh); their velocities are rows ``k + 4`` of a state."""
        return self._size_cols

    @property
    def fixed_noise(self) -> tuple[FloatArray, FloatArray] | None:
        """Process and measurement noise ``(3, 4, 1)`` and ``(4, 1)`` block variances of the
        fixed-noise layout (``xysr``); ``None`` for the size-proportional ones."""
        if self._q_fixed is None or self._r_fixed is None:
            return None
        return self._q_fixed, self._r_fixed

    def hold_size(self, mean: FloatArray, moving: NDArray[np.bool_]) -> None:
        """Zero the size velocities of the tracks not ``moving`` (``(N,)`` bool), in place:
        a lost track keeps its size while it is predicted (ByteTrack)."""
        mean[self._size_vels] *= moving

    # ----------------------------------------------------------------- conversions
    def from_xyxy(self, xyxy: ArrayLike) -> FloatArray:
        """``xyxy`` boxes ``(N, 4)`` -> measurements ``(4, N)`` in this layout."""
        b = (
            xyxy
            if type(xyxy) is np.ndarray and xyxy.dtype == np.float64
            else np.asarray(xyxy, np.float64)
        )
        bt = b.reshape(-1, 4).T.copy()  # (4, N) contiguous rows x1, y1, x2, y2
        z = np.empty_like(bt)
        np.add(bt[:2], bt[2:], out=z[:2])
        z[:2] *= _HALF  # centre (exactly 0.5 x1 + 0.5 x2)
        np.subtract(bt[2:], bt[:2], out=z[2:])  # width, height
        if self.layout == "xysr":
            w = z[2].copy()
            z[2] *= z[3]
            np.divide(w, np.maximum(z[3], _TINY9), out=z[3])
        elif self.layout == "xyah":
            z[2] /= np.maximum(z[3], _TINY9)
        return z

    def to_xyxy(self, z: ArrayLike) -> FloatArray:
        """Measurements or states ``(>=4, N)`` in this layout -> ``xyxy`` boxes ``(N, 4)``.

        Sizes that became negative (a shrinking prediction) are clamped to 0. The result is
        the transpose of a contiguous ``(4, N)`` array (rows x1, y1, x2, y2).
        """
        m = z if type(z) is np.ndarray and z.dtype == np.float64 else np.asarray(z, np.float64)
        if m.ndim != 2:
            m = m.reshape(4, -1)
        half = np.empty((2, m.shape[1]))  # half width, half height
        if self.layout == "xysr":
            s = np.maximum(m[2], _ZERO)
            w = np.multiply(s, np.maximum(m[3], _ZERO), out=half[0])
            np.sqrt(w, out=w)
            # w and h are already >= 0 (or NaN): no clamp needed
            np.divide(s, np.maximum(w, _TINY12), out=half[1])
        else:
            if self.layout == "xyah":
                np.multiply(m[2], m[3], out=half[0])
                half[1] = m[3]
            else:
                half[...] = m[2:4]
            np.maximum(half, _ZERO, out=half)
        half *= _HALF
        out = np.empty((4, m.shape[1]))
        np.subtract(m[:2], half, out=out[:2])
        np.add(m[:2], half, out=out[2:])
        return out.T

    def _scale(self, mean4: FloatArray) -> FloatArray | None:
        """Per-coordinate box size ``(4, N)`` the noise is proportional to (None: fixed)."""
        if self._scale_idx is None:
            return None
        if self.layout == "xyah":  # the height, for every coordinate but the aspect ratio
            return mean4[3] * self._scale_mask
        return mean4[self._scale_idx]

    @staticmethod
    def _var(scale: FloatArray | None, spec: tuple[float, FloatArray]) -> FloatArray:
        """Variances ``(mult * scale + const) ** 2``; ``(4, 1)`` when the noise is fixed."""
        mult, const = spec
        if scale is None:
            return const * const
        std = mult * scale + const
        return std * std

    # ----------------------------------------------------------------- filter steps
    def initiate(self, xyxy: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """New tracks from ``xyxy`` boxes ``(M, 4)``: ``mean (8, M)`` (zero velocity) and
        ``cov (3, 4, M)``."""
        z = self.from_xyxy(xyxy)
        n = z.shape[1]
        mean = np.zeros((8, n))
        mean[:4] = z
        cov = np.zeros((3, 4, n))
        scale = self._scale(z)
        cov[0] = self._var(scale, self._init_pos)
        cov[2] = self._var(scale, self._init_vel)
        return mean, cov

    def predict(
        self, mean: FloatArray, cov: FloatArray, steps: int = 1
    ) -> tuple[FloatArray, FloatArray]:
        """Propagate ``steps`` frames ahead (``x <- F x``, ``P <- F P F' + Q``).

        A size coordinate (``s`` for xysr, ``h`` for xyah, ``w, h`` for xywh) whose velocity
        would drive it to zero or below gets its velocity zeroed first (SORT's rule).
        """
        m = mean.copy()
        c = cov
        for _ in range(steps):
            vel = m[self._size_vels]  # every size row at once (each row on its own)
            bad = m[self._sizes] + vel <= _ZERO
            if np.count_nonzero(bad):
                vel[bad] = 0.0
            prev = c
            noise = self._process_noise(m)
            m[:4] += m[4:]
            if noise.shape[2] == 1:  # fixed (3, 4, 1)
                c = prev + noise
            else:  # a fresh (3, 4, N): add in place
                noise += prev
                c = noise
            c[1] += prev[2]  # pv + vv
            c[0] += prev[1] + c[1]  # pp + 2 pv + vv + q_pos (noise has no pv term)
        return m, c

    def _process_noise(self, mean: FloatArray) -> FloatArray:
        """``Q`` as block variances: ``(3, 4, 1)`` (fixed noise) or a new ``(3, 4, N)``."""
        if self._q_fixed is not None:
            return self._q_fixed
        assert self._scale_idx12 is not None
        var = self._proportional_var(mean, self._q_mult12, self._q_const12, self._scale_idx12)
        return var.reshape(3, 4, -1)

    def measurement_noise(
        self, mean: FloatArray, confidences: ArrayLike | None = None
    ) -> FloatArray:
        """Diagonal measurement noise variances ``(4, N)`` at the predicted states.

        With ``confidences`` (``(N,)`` in [0, 1]) the noise is scaled by ``1 - confidence``
        (NSA Kalman, Du et al., GIAOTracker 2021): confident detections are trusted more.
        """
        if self._r_fixed is not None:
            r = np.repeat(self._r_fixed, mean.shape[1], axis=1)
        else:
            r = self._measurement_var(mean)
        if confidences is not None:
            conf = np.clip(np.asarray(confidences, dtype=np.float64), 0.0, 1.0)
            r = r * (1.0 - conf) + 1e-9
        return r

    def project(
        self, mean: FloatArray, cov: FloatArray, confidences: ArrayLike | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """Predicted measurements ``(4, N)`` and their diagonal innovation variances ``(4, N)``."""
        return mean[:4].copy(), cov[0] + self.measurement_noise(mean, confidences)

    def update(
        self,
        mean: FloatArray,
        cov: FloatArray,
        xyxy: ArrayLike,
        confidences: ArrayLike | None = None,
        mask: NDArray[np.bool_] | None = None,
    ) -> tuple[FloatArray, FloatArray]:
        """Correct each track with its measured ``xyxy`` box (row ``i`` of ``(N, 4)`` with
        track ``i``); with ``mask``, only the selected tracks (see :meth:`update_measurement`)."""
        return self.update_measurement(mean, cov, self.from_xyxy(xyxy), confidences, mask)

    def update_measurement(
        self,
        mean: FloatArray,
        cov: FloatArray,
        z: FloatArray,
        confidences: ArrayLike | None = None,
        mask: NDArray[np.bool_] | None = None,
    ) -> tuple[FloatArray, FloatArray]:
        """Like :meth:`update` with measurements ``(4, N)`` already in this layout.

        With ``mask`` (``(N,)`` bool) only those tracks are corrected; the others come back
        unchanged whatever their (finite) ``z`` (this avoids gathering and scattering).
        """
        if confidences is None:  # fast path: (4, 1) or (4, N) variances
            if self._r_fixed is not None:
                s = cov[0] + self._r_fixed
            else:
                s = self._measurement_var(mean)
                s += cov[0]
        else:
            s = cov[0] + self.measurement_noise(mean, confidences)
        gain = cov[:2] / s  # (2, 4, N): position and velocity gains
        if mask is not None:
            gain *= mask
        innov = z - mean[:4]
        m = gain * innov
        n = mean.shape[1]
        m += mean.reshape(2, 4, n)
        out = np.empty_like(cov)
        np.multiply(gain[:1], cov[:2], out=out[:2])  # kp * (pp, pv)
        np.multiply(gain[1], cov[1], out=out[2])  # kv * pv
        np.subtract(cov, out, out=out)
        return m.reshape(8, n), out

    def correct(
        self,
        mean: FloatArray,
        cov: FloatArray,
        xyxy: FloatArray,
        det_of_track: NDArray[np.int64],
        matched: NDArray[np.bool_],
    ) -> tuple[FloatArray, FloatArray]:
        """Correct the ``matched`` tracks with their detections: track ``i`` with box
        ``xyxy[det_of_track[i]]`` (``xyxy`` ``(M, 4)``, ``det_of_track`` ``(N,)`` int64, -1
        for the unmatched tracks, which come back unchanged)."""
        # unmatched tracks (-1) get the last detection's measurement, a finite value that
        # ``mask`` ignores (no gather and scatter of the matched columns)
        z = self.from_xyxy(xyxy).take(det_of_track, 1, mode="wrap")
        return self.update_measurement(mean, cov, z, mask=matched)

    def _measurement_var(self, mean: FloatArray) -> FloatArray:
        """Measurement noise variances ``(4, N)`` of the size-proportional layouts (new)."""
        assert self._scale_idx is not None
        return self._proportional_var(mean, self._r_mult4, self._r_const4, self._scale_idx)

    def _proportional_var(
        self, mean: FloatArray, mult: FloatArray, const: FloatArray, idx: NDArray[np.intp]
    ) -> FloatArray:
        """``(size * mult + const) ** 2`` as a new ``(k, N)`` array for the size-proportional
        layouts: ``size`` is the height (xyah; ``mult`` holds the aspect-ratio mask) or the
        state rows ``idx`` (xywh); ``mult`` and ``const`` are ``(k, 1)`` columns."""
        if self.layout == "xyah":
            std = mean[3] * mult
        else:
            std = mean.take(idx, 0)
            std *= mult
        std += const
        std *= std
        return std

    def gating_distance(
        self,
        mean: FloatArray,
        cov: FloatArray,
        xyxy: ArrayLike,
        only_position: bool = False,
    ) -> FloatArray:
        """Squared Mahalanobis distance of every box to every track's predicted measurement.

        Args:
            mean, cov: ``(8, N)`` and ``(3, 4, N)`` track states.
            xyxy: ``(M, 4)`` boxes.
            only_position: use the centre only (2 degrees of freedom instead of 4).

        Returns:
            ``(N, M)`` float64; compare with :data:`CHI2INV95` ``[4]`` (or ``[2]``).
        """
        z = self.from_xyxy(xyxy)
        proj, var = self.project(mean, cov)
        d = z[:, None, :] - proj[:, :, None]  # (4, N, M)
        if only_position:
            return np.sum(d[:2] ** 2 / var[:2, :, None], axis=0)
        return np.sum(d**2 / var[:, :, None], axis=0)
