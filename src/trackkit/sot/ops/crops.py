"""Crop-and-resize helpers shared by the Siamese, GOTURN and MDNet trackers.

All coordinates are trackkit's continuous pixels: the image spans ``[0, W] x [0, H]`` and the
centre of pixel column ``i`` is at ``x = i + 0.5``. A crop is an axis-aligned region given by its
centre and side(s) in image pixels, resampled (bilinear) to a fixed output size; the part of the
region that falls outside the image is filled with a constant colour (the Siamese trackers use the
frame's mean colour, as in SiamFC, Bertinetto et al. 2016).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

#: Border mode of the correlation-filter crops (edge pixels replicated).
REPLICATE = cv2.BORDER_REPLICATE

__all__ = [
    "REPLICATE",
    "as_bgr",
    "context_size",
    "crop_pair_region",
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


def context_size(width: Any, height: Any, context: float = 0.5) -> Any:
    """Side of the square exemplar region of SiamFC: ``sqrt((w + p) (h + p))``, ``p = c (w + h)``.

    Args:
        width, height: target size in pixels (floats, or arrays of the same shape).
        context: context amount ``c`` (0.5 in SiamFC / SiamRPN).

    Returns:
        a float for scalar sizes, else a float64 array of their shape.
    """
    p = context * (width + height)
    side = np.sqrt((width + p) * (height + p))
    return float(side) if np.ndim(side) == 0 else side


def crop_pair_region(box: NDArray[np.float64], context: float) -> tuple[float, float, float, float]:
    """``(cx, cy, w, h)`` of the search region: ``box`` (``xyxy``) enlarged ``context`` times."""
    w = max(box[2] - box[0], 1.0) * context
    h = max(box[3] - box[1], 1.0) * context
    return ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, w, h)


def crop_region(
    frame: NDArray[np.uint8],
    center: tuple[float, float],
    size: tuple[float, float],
    out_size: tuple[int, int],
    fill: tuple[float, float, float] | float = 0.0,
    interpolation: int = cv2.INTER_LINEAR,
    border: int = cv2.BORDER_CONSTANT,
) -> NDArray[np.uint8]:
    """Resample the axis-aligned region ``center`` +- ``size / 2`` to ``out_size``: the one crop
    of every single-object tracker (correlation filters, Siamese, GOTURN, MDNet).

    Args:
        frame: ``(H, W, 3)`` or ``(H, W)`` uint8 image.
        center: region centre ``(cx, cy)`` in continuous pixels.
        size: region ``(width, height)`` in pixels (floored at 1e-3).
        out_size: output ``(width, height)`` in pixels.
        fill: colour of the parts outside the image (``border=cv2.BORDER_CONSTANT``).
        interpolation: OpenCV interpolation flag.
        border: OpenCV border mode outside the image (the correlation filters replicate the
            edge, ``cv2.BORDER_REPLICATE``; the deep trackers fill with a constant colour).

    Returns:
        ``(out_h, out_w[, 3])`` uint8 crop; output pixel ``(u, v)`` samples the image at the
        continuous point ``cx + (u + 0.5 - out_w / 2) * w / out_w`` (same for ``y``).
    """
    ow, oh = int(out_size[0]), int(out_size[1])
    sx = max(float(size[0]), 1e-3) / ow
    sy = max(float(size[1]), 1e-3) / oh
    # Source pixel-index coordinate of output pixel u (pixel i's centre is i + 0.5).
    m = np.array(
        [
            [sx, 0.0, center[0] + (0.5 - ow / 2.0) * sx - 0.5],
            [0.0, sy, center[1] + (0.5 - oh / 2.0) * sy - 0.5],
        ],
        dtype=np.float64,
    )
    value = (float(fill),) * 3 if isinstance(fill, (int, float)) else tuple(map(float, fill))
    out = cv2.warpAffine(
        frame,
        m,
        (ow, oh),
        flags=interpolation | cv2.WARP_INVERSE_MAP,
        borderMode=border,
        borderValue=value,
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
