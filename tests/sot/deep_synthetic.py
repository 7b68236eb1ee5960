"""A synthetic moving target for the deep single-object trackers' tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray


def moving_target(
    n: int = 30,
    size: tuple[int, int] = (320, 240),
    box: tuple[float, float] = (48.0, 36.0),
    seed: int = 0,
    hide: tuple[int, int] | None = None,
    flat: bool = False,
) -> tuple[list[NDArray[np.uint8]], NDArray[np.float64]]:
    """``n`` BGR frames of a textured rectangle moving smoothly over a textured background.

    Returns the frames and the ``(n, 4)`` ``xyxy`` ground-truth boxes. Frames ``hide[0]`` to
    ``hide[1] - 1`` do not show the target (its box is still the path position); ``flat``
    makes the background a uniform gray.
    """
    rng = np.random.default_rng(seed)
    w, h = size
    small = rng.integers(90, 150, size=(h // 16, w // 16, 3), dtype=np.uint8)
    bg = cv2.GaussianBlur(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC), (9, 9), 0)
    if flat:
        bg[:] = 120
    tw, th = box
    tex = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    tex[:, :, 2] = np.maximum(tex[:, :, 2], 180)  # reddish, unlike the background
    frames, boxes = [], []
    for t in range(n):
        a = 2 * np.pi * t / max(n, 1)
        cx = w / 2 + 0.28 * w * np.sin(a)
        cy = h / 2 + 0.22 * h * np.sin(2 * a)
        s = 1.0 + 0.15 * np.sin(a)
        bw, bh = tw * s, th * s
        b = np.array([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2])
        img = bg.copy()
        if hide is None or not hide[0] <= t < hide[1]:
            x1, y1, x2, y2 = (int(round(v)) for v in b)
            img[y1:y2, x1:x2] = cv2.resize(tex, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST)
            b = np.array([x1, y1, x2, y2], dtype=np.float64)
        frames.append(img)
        boxes.append(b)
    return frames, np.array(boxes)


def iou(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """IoU of two ``xyxy`` boxes."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def follow(
    tracker: object, frames: list[NDArray[np.uint8]], boxes: NDArray[np.float64]
) -> list[float]:
    """Run ``tracker`` (init on the first box) and return the IoU of every later frame."""
    tracker.init(frames[0], boxes[0])  # type: ignore[attr-defined]
    return [iou(tracker.update(f).box, b) for f, b in zip(frames[1:], boxes[1:], strict=True)]  # type: ignore[attr-defined]


def write_otb(folder: Path, frames: list[NDArray[np.uint8]], boxes: NDArray[np.float64]) -> Path:
    """Write ``frames`` and ``boxes`` as an OTB sequence folder (``img/`` + 1-based x,y,w,h)."""
    (folder / "img").mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / "img" / f"{i + 1:04d}.jpg"), f)
    lines = [f"{b[0] + 1:.2f},{b[1] + 1:.2f},{b[2] - b[0]:.2f},{b[3] - b[1]:.2f}" for b in boxes]
    (folder / "groundtruth_rect.txt").write_text("\n".join(lines) + "\n")
    return folder
