"""Drawing tracks on frames: boxes, identity labels with stable colours, short trails.

All functions draw in place on ``(H, W, 3)`` uint8 BGR images and take ``xyxy`` float boxes
(continuous pixels; a box ``[x1, y1, x2, y2]`` covers pixel columns ``x1 .. x2 - 1``).
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from trackkit.core.boxes import as_boxes

__all__ = ["draw_boxes", "draw_label", "draw_trail", "id_color"]

_GOLDEN = 0.618033988749895


def id_color(track_id: int) -> tuple[int, int, int]:
    """A bright BGR colour for an identity; the same id always gets the same colour.

    Hues follow the golden-ratio sequence, so consecutive ids get well-separated colours.
    """
    h = (int(track_id) * _GOLDEN) % 1.0
    s = 0.65 + 0.35 * ((int(track_id) * 7) % 3) / 2.0
    r, g, b = colorsys.hsv_to_rgb(h, s, 1.0)
    return int(b * 255), int(g * 255), int(r * 255)


def _pt(x: float, y: float) -> tuple[int, int]:
    return int(round(x)), int(round(y))


def draw_label(
    img: NDArray[np.uint8],
    text: str,
    x: float,
    y: float,
    color: tuple[int, int, int],
    scale: float = 0.5,
) -> None:
    """Draw ``text`` on a filled ``color`` tag whose bottom-left corner is at ``(x, y)``.

    The tag is moved inside the image when it would leave it; the text is black or white,
    whichever reads better on ``color``.
    """
    font = cv2.FONT_HERSHEY_SIMPLEX
    thick = max(1, int(round(scale * 2)))
    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    h, w = img.shape[:2]
    x0 = int(min(max(x, 0), max(w - tw - 4, 0)))
    y0 = int(min(max(y, th + base + 2), h))
    cv2.rectangle(img, (x0, y0 - th - base - 2), (x0 + tw + 4, y0), color, -1)
    luminance = 0.114 * color[0] + 0.587 * color[1] + 0.299 * color[2]
    ink = (0, 0, 0) if luminance > 140 else (255, 255, 255)
    cv2.putText(img, text, (x0 + 2, y0 - base - 1), font, scale, ink, thick, cv2.LINE_AA)


def draw_boxes(
    img: NDArray[np.uint8],
    xyxy: ArrayLike,
    ids: Sequence[int] | NDArray[np.int64] | None = None,
    labels: Sequence[str] | None = None,
    color: tuple[int, int, int] | None = None,
    thickness: int = 2,
    font_scale: float = 0.5,
) -> NDArray[np.uint8]:
    """Draw ``(N, 4)`` ``xyxy`` boxes on ``img`` (in place; also returned).

    Args:
        ids: identities; each box is drawn in :func:`id_color` of its id and labelled with it.
        labels: text per box (default: the id, or nothing without ids).
        color: one colour for every box (overrides the id colours).
    """
    boxes = as_boxes(xyxy)
    for k, b in enumerate(boxes):
        c = (
            color
            if color is not None
            else id_color(int(ids[k]))
            if ids is not None
            else (0, 255, 0)
        )
        p1, p2 = _pt(b[0], b[1]), _pt(b[2] - 1, b[3] - 1)
        cv2.rectangle(img, p1, p2, c, thickness, cv2.LINE_8)
        text = labels[k] if labels is not None else (str(int(ids[k])) if ids is not None else "")
        if text:
            draw_label(img, text, b[0], b[1], c, font_scale)
    return img


def draw_trail(
    img: NDArray[np.uint8],
    points: ArrayLike,
    color: tuple[int, int, int],
    thickness: int = 2,
) -> NDArray[np.uint8]:
    """Draw a polyline through ``(K, 2)`` points (oldest first), fading towards the oldest."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    n = len(pts)
    for k in range(1, n):
        fade = 0.35 + 0.65 * k / max(n - 1, 1)
        c = (int(color[0] * fade), int(color[1] * fade), int(color[2] * fade))
        cv2.line(img, _pt(*pts[k - 1]), _pt(*pts[k]), c, thickness, cv2.LINE_AA)
    return img
