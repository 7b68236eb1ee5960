"""Detections read from a MOTChallenge ``det.txt`` file (public detections).

Each line is ``frame, id, x, y, w, h, score[, ...]`` with a 1-based frame number, ``id`` -1
and an ``xywh`` box in pixels (converted here to ``xyxy``). Comma-, space- or tab-separated
values are accepted; blank lines are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from trackkit.config import require
from trackkit.core.boxes import xywh_to_xyxy
from trackkit.core.detections import Detections
from trackkit.detectors.base import DETECTORS
from trackkit.errors import DataNotFoundError, FormatError

__all__ = ["FileDetector", "FileDetectorConfig", "read_det_file"]

_SPLIT = re.compile(r"[,\s]+")


def read_det_file(path: str | Path) -> NDArray[np.float64]:
    """Read a MOTChallenge detection file.

    Returns:
        ``(N, 6)`` float64 rows ``frame, x1, y1, x2, y2, score`` (``xyxy``), file order.

    Raises:
        DataNotFoundError: the file does not exist.
        FormatError: a line has fewer than 7 values, a non-number, a frame < 1 or a negative
            width/height (the message gives the line).
    """
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"{p}: detection file not found")
    rows: list[list[float]] = []
    with open(p, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            text = line.strip()
            if not text:
                continue
            parts = _SPLIT.split(text)
            if len(parts) < 7:
                raise FormatError(p, f"expected >= 7 values, got {len(parts)}", lineno)
            try:
                vals = [float(v) for v in parts[:7]]
            except ValueError:
                bad = next(i for i, v in enumerate(parts[:7]) if not _is_float(v))
                raise FormatError(p, f"not a number: {parts[bad]!r}", lineno, bad + 1) from None
            if not all(np.isfinite(vals)):
                raise FormatError(p, "NaN or infinite value", lineno)
            if vals[0] < 1 or vals[0] != int(vals[0]):
                raise FormatError(p, f"frame must be an integer >= 1, got {parts[0]}", lineno, 1)
            if vals[4] < 0 or vals[5] < 0:
                raise FormatError(p, "negative box width or height", lineno)
            rows.append([vals[0], vals[2], vals[3], vals[4], vals[5], vals[6]])
    if not rows:
        return np.zeros((0, 6))
    arr = np.asarray(rows, np.float64)
    arr[:, 1:5] = xywh_to_xyxy(arr[:, 1:5])
    return arr


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class FileDetectorConfig:
    """Configuration of :class:`FileDetector`.

    Attributes:
        path: the ``det.txt`` file.
        min_score: detections scoring below it are dropped.
    """

    path: str
    min_score: float = float("-inf")

    def __post_init__(self) -> None:
        require(bool(self.path), "file detector needs a path")


@DETECTORS.register("file")
class FileDetector:
    """Precomputed detections from a MOTChallenge ``det.txt`` (``file:PATH``).

    ``detect(frame)`` returns the rows of the next frame number (1, 2, ...); use
    :meth:`detect_frame` to ask for a frame number directly. The image is not looked at.
    """

    class_names = None

    def __init__(self, path: str | Path, min_score: float = float("-inf")) -> None:
        self.config = FileDetectorConfig(str(path), float(min_score))
        rows = read_det_file(self.config.path)
        rows = rows[rows[:, 5] >= self.config.min_score]
        order = np.argsort(rows[:, 0], kind="stable")
        self._rows = rows[order]
        frames = self._rows[:, 0].astype(np.int64)
        uniq, first = np.unique(frames, return_index=True)
        ends = np.append(first[1:], len(frames))
        self._index = {int(f): (int(a), int(b)) for f, a, b in zip(uniq, first, ends, strict=True)}
        self._next = 1

    @property
    def num_frames(self) -> int:
        """The largest frame number in the file (0 when empty)."""
        return max(self._index, default=0)

    def detect_frame(self, frame_id: int) -> Detections:
        """The detections of frame ``frame_id`` (1-based)."""
        a, b = self._index.get(int(frame_id), (0, 0))
        rows = self._rows[a:b]
        return Detections(rows[:, 1:5], rows[:, 5])

    def detect(self, frame: NDArray[np.uint8] | None = None) -> Detections:
        """The detections of the next frame (the image is ignored)."""
        dets = self.detect_frame(self._next)
        self._next += 1
        return dets

    def reset(self) -> None:
        """Start again from frame 1."""
        self._next = 1
