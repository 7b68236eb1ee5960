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

__all__ = [
    "draw_boxes",
    "draw_dashed_box",
    "draw_label",
    "draw_line_counter",
    "draw_trail",
    "draw_zone",
    "id_color",
    "scale_for",
]

_GOLDEN = 0.618033988749895


def id_color(track_id: int) -> tuple[int, int, int]:
    """A bright BGR colour for an identity; the same id always gets the same colour.

    Hues follow the golden-ratio sequence, so consecutive ids get well-separated colours.
    """
    h = (int(track_id) * _GOLDEN) % 1.0
    s = 0.65 + 0.35 * ((int(track_id) * 7) % 3) / 2.0
    r, g, b = colorsys.hsv_to_rgb(h, s, 1.0)
    return int(b * 255), int(g * 255), int(r * 255)


def scale_for(height: int) -> tuple[float, int]:
    """``(font scale, line thickness)`` that read the same on any frame height: 0.5 and 2
    at 720 pixels and below, growing with the height (0.75 and 3 at 1080p, 1.5 and 6 at 4K)."""
    k = max(1.0, height / 720.0)
    return 0.5 * k, max(2, int(round(2 * k)))


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


def draw_dashed_box(
    img: NDArray[np.uint8],
    box: ArrayLike,
    color: tuple[int, int, int],
    thickness: int = 1,
    dash: int = 8,
) -> NDArray[np.uint8]:
    """Draw one ``xyxy`` box as a dashed rectangle (ground truth beside results)."""
    x1, y1, x2, y2 = (float(v) for v in np.asarray(box, np.float64).reshape(4))
    corners = [(x1, y1), (x2 - 1, y1), (x2 - 1, y2 - 1), (x1, y2 - 1), (x1, y1)]
    for (ax, ay), (bx, by) in zip(corners[:-1], corners[1:], strict=True):
        length = max(abs(bx - ax), abs(by - ay))
        steps = max(1, int(length // dash))
        for k in range(0, steps, 2):
            t0, t1 = k / steps, min(1.0, (k + 1) / steps)
            p = _pt(ax + (bx - ax) * t0, ay + (by - ay) * t0)
            q = _pt(ax + (bx - ax) * t1, ay + (by - ay) * t1)
            cv2.line(img, p, q, color, thickness, cv2.LINE_8)
    return img


def draw_line_counter(
    img: NDArray[np.uint8],
    p1: tuple[float, float],
    p2: tuple[float, float],
    text: str,
    color: tuple[int, int, int] = (0, 220, 255),
    thickness: int = 2,
    font_scale: float = 0.5,
) -> NDArray[np.uint8]:
    """Draw a counting line with an arrow on its ``in`` side and ``text`` (its counts)."""
    a, b = _pt(*p1), _pt(*p2)
    cv2.line(img, a, b, color, thickness, cv2.LINE_AA)
    mx, my = (p1[0] + p2[0]) / 2.0, (p1[1] + p2[1]) / 2.0
    dx, dy = p2[0] - p1[0], p2[1] - p1[1]
    norm = max(float(np.hypot(dx, dy)), 1e-9)
    size = 12.0 * max(1.0, font_scale / 0.5)
    tip = (mx - dy / norm * size, my + dx / norm * size)  # the right-hand side: "in"
    cv2.arrowedLine(img, _pt(mx, my), _pt(*tip), color, thickness, cv2.LINE_AA, tipLength=0.4)
    draw_label(img, text, min(p1[0], p2[0]), min(p1[1], p2[1]) - 2, color, font_scale)
    return img


def draw_zone(
    img: NDArray[np.uint8],
    polygon: ArrayLike,
    text: str,
    color: tuple[int, int, int] = (255, 160, 0),
    thickness: int = 2,
    font_scale: float = 0.5,
) -> NDArray[np.uint8]:
    """Draw a counting zone's outline and ``text`` (its counts) at its top-left vertex."""
    pts = np.round(np.asarray(polygon, np.float64).reshape(-1, 2)).astype(np.int32)
    cv2.polylines(img, [pts.reshape(-1, 1, 2)], True, color, thickness, cv2.LINE_AA)
    top = pts[np.lexsort((pts[:, 0], pts[:, 1]))[0]]
    draw_label(img, text, float(top[0]), float(top[1]) - 2, color, font_scale)
    return img
