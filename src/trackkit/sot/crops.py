"""Crop-and-resize helpers shared by the Siamese, GOTURN and MDNet trackers.

All coordinates are trackkit's continuous pixels: the image spans ``[0, W] x [0, H]`` and the
centre of pixel column ``i`` is at ``x = i + 0.5``. A crop is an axis-aligned region given by its
centre and side(s) in image pixels, resampled (bilinear) to a fixed output size; the part of the
region that falls outside the image is filled with a constant colour (the Siamese trackers use the
frame's mean colour, as in SiamFC, Bertinetto et al. 2016).
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = [
    "as_bgr",
    "context_size",
    "crop_region",
    "crop_square",
    "mean_color",
]


def as_bgr(frame: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """``(H, W, 3)`` uint8 BGR view of ``frame``; gray ``(H, W)`` frames are replicated."""
    if frame.ndim == 2:
        return np.asarray(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    return frame


def mean_color(frame: NDArray[np.uint8]) -> tuple[float, float, float]:
    """Per-channel mean of a BGR frame (used as the padding colour of crops)."""
    m = cv2.mean(frame)
    return (float(m[0]), float(m[1]), float(m[2]))


def context_size(width: float, height: float, context: float = 0.5) -> float:
    """Side of the square exemplar region of SiamFC: ``sqrt((w + p) (h + p))``, ``p = c (w + h)``.

    Args:
        width, height: target size in pixels.
        context: context amount ``c`` (0.5 in SiamFC / SiamRPN).
    """
    p = context * (width + height)
    return float(np.sqrt((width + p) * (height + p)))


def crop_region(
    frame: NDArray[np.uint8],
    center: tuple[float, float],
    size: tuple[float, float],
    out_size: tuple[int, int],
    fill: tuple[float, float, float] | float = 0.0,
    interpolation: int = cv2.INTER_LINEAR,
) -> NDArray[np.uint8]:
    """Resample the axis-aligned region ``center`` +- ``size / 2`` to ``out_size``.

    Args:
        frame: ``(H, W, 3)`` or ``(H, W)`` uint8 image.
        center: region centre ``(cx, cy)`` in continuous pixels.
        size: region ``(width, height)`` in pixels, both > 0.
        out_size: output ``(width, height)`` in pixels.
        fill: colour of the parts outside the image.
        interpolation: OpenCV interpolation flag.

    Returns:
        ``(out_h, out_w[, 3])`` uint8 crop; output pixel ``(u, v)`` samples the image at the
        continuous point ``x1 + (u + 0.5) * size_w / out_w`` (same for ``y``).
    """
    out_w, out_h = int(out_size[0]), int(out_size[1])
    sx = out_w / max(float(size[0]), 1e-6)
    sy = out_h / max(float(size[1]), 1e-6)
    x0 = float(center[0]) - float(size[0]) / 2.0
    y0 = float(center[1]) - float(size[1]) / 2.0
    # Source pixel index x (centre at x + 0.5) maps to output index u = sx (x + 0.5 - x0) - 0.5.
    m = np.array(
        [[sx, 0.0, sx * (0.5 - x0) - 0.5], [0.0, sy, sy * (0.5 - y0) - 0.5]], dtype=np.float64
    )
    if isinstance(fill, (int, float)):
        border: tuple[float, ...] = (float(fill),) * 3
    else:
        border = tuple(float(c) for c in fill)
    out = cv2.warpAffine(
        frame,
        m,
        (out_w, out_h),
        flags=interpolation,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=border,
    )
    return np.asarray(out, dtype=np.uint8)


def crop_square(
    frame: NDArray[np.uint8],
    center: tuple[float, float],
    side: float,
    out_side: int,
    fill: tuple[float, float, float] | float = 0.0,
) -> NDArray[np.uint8]:
    """Square crop of side ``side`` pixels centred at ``center``, resized to ``out_side``.

    See :func:`crop_region`; this is the exemplar / search-region crop of the Siamese trackers.
    """
    return crop_region(frame, center, (side, side), (out_side, out_side), fill)
