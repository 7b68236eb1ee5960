"""Building blocks shared by the correlation-filter trackers (numpy, no torch).

- :func:`gaussian_label` — the desired response: a Gaussian peak at the origin of a
  circular grid (Bolme et al., MOSSE, CVPR 2010; Henriques et al., KCF, TPAMI 2015);
- :func:`hann2d` — the cosine window that tapers the periodic patch;
- :func:`subpixel_peak` — the response maximum refined by a parabola on each axis, as a
  circular displacement from the origin;
- :class:`DCFGeometry` — the crop and filter options of the learned-feature DCF, shared by
  its tracker's and its trainer's configurations.

Coordinates are trackkit's continuous pixels: pixel column ``i`` spans ``[i, i + 1)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from trackkit.config import Config

__all__ = ["DCFGeometry", "gaussian_label", "hann2d", "subpixel_peak"]


@dataclass(frozen=True)
class DCFGeometry(Config):
    """Crop and filter options of the learned-feature DCF (DCFNet/UDT), the same in tracking
    (:class:`~trackkit.sot.trackers.dcfnet.DCFNetConfig`) and in training
    (:class:`~trackkit.sot.train.dcfnet.DCFNetTrainConfig`); defaults of DCFNet.

    Attributes:
        crop_size: side (px) the padded window is resampled to.
        padding: the window is ``(1 + padding)`` times the target size.
        reg: ridge regularisation ``lambda`` of the filter.
        output_sigma_factor: label width as a fraction of the target's side in the crop.
    """

    RANGES: ClassVar[str] = "crop_size >= 16; padding >= 0"

    crop_size: int = 125
    padding: float = 2.0
    reg: float = 1e-4
    output_sigma_factor: float = 0.1


def gaussian_label(shape: tuple[int, int], sigma: float) -> NDArray[np.float32]:
    """Gaussian ``exp(-(dy^2 + dx^2) / (2 sigma^2))`` with its peak at ``[0, 0]``, wrapping
    around (circular distances), shape ``(H, W)`` float32."""
    h, w = shape
    dy = np.minimum(np.arange(h), h - np.arange(h)).astype(np.float64)
    dx = np.minimum(np.arange(w), w - np.arange(w)).astype(np.float64)
    g = np.exp(-0.5 * (dy[:, None] ** 2 + dx[None, :] ** 2) / (sigma * sigma))
    return g.astype(np.float32)


def hann2d(shape: tuple[int, int]) -> NDArray[np.float32]:
    """Outer product of two Hann windows, ``(H, W)`` float32 (zero at the borders)."""
    return np.outer(np.hanning(shape[0]), np.hanning(shape[1])).astype(np.float32)


def subpixel_peak(response: NDArray[np.floating]) -> tuple[float, float, float]:
    """Location of the maximum of a circular response map.

    Returns:
        ``(dy, dx, value)``: the peak's displacement from index ``(0, 0)`` in cells, wrapped
        to ``[-H/2, H/2)`` x ``[-W/2, W/2)`` and refined by a 1-D parabola through the peak
        and its two circular neighbours on each axis; ``value`` is the maximum.
    """
    h, w = response.shape
    idx = int(np.argmax(response))
    r, c = divmod(idx, w)
    v = float(response[r, c])

    def refine(m1: float, p1: float) -> float:
        den = m1 - 2.0 * v + p1
        if den >= 0.0:
            return 0.0
        return float(np.clip(0.5 * (m1 - p1) / den, -0.5, 0.5))

    dy = r + refine(float(response[(r - 1) % h, c]), float(response[(r + 1) % h, c]))
    dx = c + refine(float(response[r, (c - 1) % w]), float(response[r, (c + 1) % w]))
    if dy >= h / 2.0:
        dy -= h
    if dx >= w / 2.0:
        dx -= w
    return dy, dx, v
