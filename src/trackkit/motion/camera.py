"""Camera-motion compensation (CMC): estimate the image motion between two frames and move
the Kalman states of all tracks with it.

A moving camera shifts every object in the image; a constant-velocity model then predicts
boxes in the wrong place. BoT-SORT (Aharon et al., 2022) estimates a 2x3 affine warp
``p' = A p + t`` between consecutive frames from background features and applies it to the
track states before association. Two estimators are offered:

- ``"sparse"``: Shi-Tomasi corners tracked by pyramidal Lucas-Kanade optical flow, a
  similarity (rotation, uniform scale, translation) fitted robustly with RANSAC — BoT-SORT's
  default ("sparseOptFlow");
- ``"ecc"``: enhanced correlation coefficient maximisation (Evangelidis & Psarakis, 2008)
  with a Euclidean motion model, on a downscaled gray image.

Frames are ``(H, W, 3)`` uint8 BGR or ``(H, W)`` uint8 gray; warps are ``(2, 3)`` float64 in
full-resolution pixel coordinates mapping the previous frame onto the current one.
"""

from __future__ import annotations

import logging
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from trackkit.errors import ConfigError
from trackkit.motion.kalman import KalmanFilter

__all__ = ["CameraMotion", "estimate_warp", "warp_states"]

log = logging.getLogger(__name__)
FloatArray = NDArray[np.float64]
Method = Literal["sparse", "ecc"]


def _gray(frame: NDArray[np.uint8], downscale: int) -> NDArray[np.uint8]:
    img = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if downscale > 1:
        h, w = img.shape[:2]
        img = cv2.resize(img, (max(w // downscale, 1), max(h // downscale, 1)))
    return np.ascontiguousarray(img)


def _sparse(prev: NDArray[np.uint8], cur: NDArray[np.uint8]) -> FloatArray | None:
    pts = cv2.goodFeaturesToTrack(
        prev, maxCorners=1000, qualityLevel=0.01, minDistance=1, blockSize=3
    )
    if pts is None or len(pts) < 4:
        return None
    nxt, status, _ = cv2.calcOpticalFlowPyrLK(prev, cur, pts, None)  # type: ignore[call-overload]
    ok = status.reshape(-1) == 1
    if ok.sum() < 4:
        return None
    warp, _ = cv2.estimateAffinePartial2D(pts[ok], nxt[ok], method=cv2.RANSAC)
    return None if warp is None else warp.astype(np.float64)


def _ecc(prev: NDArray[np.uint8], cur: NDArray[np.uint8], levels: int = 3) -> FloatArray | None:
    """Coarse-to-fine ECC over an image pyramid (large shifts converge at the coarse level)."""
    warp = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-5)
    ok = False
    for level in range(levels - 1, -1, -1):
        f = 2**level
        h, w = prev.shape[:2]
        if min(h, w) // f < 16:
            continue
        a = cv2.resize(prev, (w // f, h // f), interpolation=cv2.INTER_AREA) if f > 1 else prev
        b = cv2.resize(cur, (w // f, h // f), interpolation=cv2.INTER_AREA) if f > 1 else cur
        guess = warp.copy()
        guess[:, 2] /= f
        try:
            _, est = cv2.findTransformECC(  # type: ignore[call-overload]
                a, b, guess, cv2.MOTION_EUCLIDEAN, criteria, None, 5
            )
        except cv2.error:
            continue
        warp = est.copy()
        warp[:, 2] *= f
        ok = True
    return warp.astype(np.float64) if ok else None


def estimate_warp(
    prev: NDArray[np.uint8], cur: NDArray[np.uint8], method: Method = "sparse", downscale: int = 2
) -> FloatArray:
    """The ``(2, 3)`` affine warp from frame ``prev`` to frame ``cur`` (identity on failure).

    Args:
        prev, cur: frames of the same size, BGR or gray uint8.
        method: ``"sparse"`` or ``"ecc"``.
        downscale: integer factor the frames are shrunk by before estimation; the returned
            translation is in full-resolution pixels.
    """
    if method not in ("sparse", "ecc"):
        raise ConfigError(f"unknown camera-motion method {method!r}; valid: sparse, ecc")
    if prev.shape[:2] != cur.shape[:2]:
        raise ConfigError(f"frame size changed from {prev.shape[:2]} to {cur.shape[:2]}")
    a, b = _gray(prev, downscale), _gray(cur, downscale)
    warp = _sparse(a, b) if method == "sparse" else _ecc(a, b)
    if warp is None or not np.all(np.isfinite(warp)):
        log.debug("camera motion estimation failed; using the identity")
        return np.eye(2, 3)
    warp[:, 2] *= max(downscale, 1)
    return warp


class CameraMotion:
    """Stateful CMC: call with each new frame, get the warp from the previous frame.

    Args:
        method: ``"sparse"`` (optical flow, default) or ``"ecc"``.
        downscale: shrink factor applied before estimation.
    """

    def __init__(self, method: Method = "sparse", downscale: int = 2) -> None:
        if method not in ("sparse", "ecc"):
            raise ConfigError(f"unknown camera-motion method {method!r}; valid: sparse, ecc")
        if downscale < 1:
            raise ConfigError(f"downscale must be >= 1, got {downscale}")
        self.method: Method = method
        self.downscale = int(downscale)
        self._prev: NDArray[np.uint8] | None = None

    def reset(self) -> None:
        """Forget the previous frame (a new video)."""
        self._prev = None

    def __call__(self, frame: NDArray[np.uint8]) -> FloatArray:
        """The warp from the previous frame to ``frame`` (identity for the first frame)."""
        warp = (
            np.eye(2, 3)
            if self._prev is None or self._prev.shape != frame.shape
            else estimate_warp(self._prev, frame, self.method, self.downscale)
        )
        self._prev = frame
        return warp


def warp_states(
    kf: KalmanFilter, mean: FloatArray, cov: FloatArray, warp: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Move track states ``(8, N)`` / ``(3, 4, N)`` (coordinate-major, as in
    :mod:`trackkit.motion.kalman`) by the image warp ``(2, 3)``.

    Centres move by ``A c + t`` and centre velocities by ``A v``; sizes scale by
    ``k = sqrt(|det A|)`` (areas by ``k^2``; aspect ratios are unchanged). The block
    covariance keeps per-axis variances, ``diag(A Sigma A')`` for the centre: exact for
    translation and scale, and dropping only the small x-y correlation a rotation creates.
    """
    a = np.asarray(warp, dtype=np.float64)[:, :2]
    t = np.asarray(warp, dtype=np.float64)[:, 2]
    if mean.shape[1] == 0 or np.allclose(warp, np.eye(2, 3)):
        return mean.copy(), cov.copy()
    k = float(np.sqrt(abs(np.linalg.det(a))))
    m = mean.copy()
    c = cov.copy()
    m[0:2] = a @ mean[0:2] + t[:, None]
    m[4:6] = a @ mean[4:6]
    a2 = a**2
    for block in range(3):
        c[block, 0:2] = a2 @ cov[block, 0:2]
    size = {"xysr": ((2, k * k),), "xyah": ((3, k),), "xywh": ((2, k), (3, k))}[kf.layout]
    for row, f in size:
        m[row] *= f
        m[row + 4] *= f
        c[:, row] *= f * f
    return m, c
