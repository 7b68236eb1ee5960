"""Detections read from a MOTChallenge ``det.txt`` file (public detections).

Each line is ``frame, id, x, y, w, h, score[, ...]`` with a 1-based frame number, ``id`` -1
and an ``xywh`` box in pixels (converted here to ``xyxy``). Comma-, space- or tab-separated
values are accepted; blank lines are skipped.

Scores need not be probabilities (2DMOT2015's ACF detections score e.g. 67.5, DPM's are
unbounded margins): :class:`FileDetector` brings the whole file's scores onto the trackers'
scale once (``score_scale``, :mod:`trackkit.mot.score_scale`); files already scoring in
``[0, 1]`` are left exactly as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trackkit.config import make_config, require
from trackkit.core.boxes import xywh_to_xyxy
from trackkit.core.detections import Detections
from trackkit.detectors.base import DETECTORS
from trackkit.errors import DataNotFoundError, FormatError
from trackkit.mot.score_scale import check_score_scale, normalize_scores

__all__ = ["FileDetector", "FileDetectorConfig", "read_det_file"]

_SPLIT = re.compile(r"[,\s]+")


def read_det_file(path: str | Path) -> NDArray[np.float64]:
    """Read a MOTChallenge detection file (the one reader of ``det.txt`` files).

    Returns:
        ``(N, 6)`` float64 rows ``frame, x1, y1, x2, y2, score`` (``xyxy``), file order.

    Raises:
        DataNotFoundError: the file does not exist.
        FormatError: a line has fewer than 7 values, a non-number, a NaN or infinite value,
            a frame that is not an integer >= 1, or a box of negative or zero width/height;
            the message gives the line, the column and (when it can be read) the frame.
    """
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"{p}: detection file not found")
    rows: list[list[float]] = []
    with open(p, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            text = line.strip()
            if text:
                rows.append(_parse_row(p, _SPLIT.split(text), lineno))
    if not rows:
        return np.zeros((0, 6))
    arr = np.asarray(rows, np.float64)
    arr[:, 1:5] = xywh_to_xyxy(arr[:, 1:5])
    return arr


def _parse_row(path: Path, parts: list[str], lineno: int) -> list[float]:
    """``[frame, x, y, w, h, score]`` of one line, or a :class:`FormatError` naming it."""
    if len(parts) < 7:
        raise FormatError(path, f"expected >= 7 values, got {len(parts)}", lineno)
    frame = f"frame {parts[0]}: " if _is_float(parts[0]) else ""
    vals = []
    for col, text in enumerate(parts[:7], start=1):
        if not _is_float(text):
            raise FormatError(path, f"{frame}not a number: {text!r}", lineno, col)
        vals.append(float(text))
        if not np.isfinite(vals[-1]):
            raise FormatError(path, f"{frame}value {text!r} is not a finite number", lineno, col)
    if vals[0] < 1 or vals[0] != int(vals[0]):
        raise FormatError(path, f"frame must be an integer >= 1, got {parts[0]}", lineno, 1)
    for col, what in ((5, "width"), (6, "height")):
        if vals[col - 1] < 0:
            raise FormatError(path, f"{frame}negative {what} {parts[col - 1]}", lineno, col)
        if vals[col - 1] == 0:
            raise FormatError(path, f"{frame}zero {what}", lineno, col)
    return [vals[0], vals[2], vals[3], vals[4], vals[5], vals[6]]


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
        min_score: detections scoring below it are dropped (in the file's own units,
            before ``score_scale``).
        score_scale: how the file's scores are brought onto the trackers' [0, 1] scale,
            over the whole file at once (:mod:`trackkit.mot.score_scale`): ``auto`` (scores
            inside [0, 1] unchanged, others histogram-matched onto MOT17 FRCNN's score
            distribution), ``match`` (always matched) or ``none`` (raw).
    """

    path: str
    min_score: float = float("-inf")
    score_scale: str = "auto"

    def __post_init__(self) -> None:
        require(bool(self.path), "file detector needs a path")
        require(
            isinstance(self.min_score, (int, float)) and not isinstance(self.min_score, bool),
            f"min_score must be a number, got {self.min_score!r}",
        )
        object.__setattr__(self, "score_scale", check_score_scale(self.score_scale))


@DETECTORS.register("file")
class FileDetector:
    """Precomputed detections from a MOTChallenge ``det.txt`` (``file:PATH``).

    ``detect(frame)`` returns the rows of the next frame number (1, 2, ...); use
    :meth:`detect_frame` to ask for a frame number directly. The image is not looked at.
    """

    class_names = None
    config_class = FileDetectorConfig
    #: The pipeline need not decode images for this detector (motion-only tracking).
    needs_frames = False

    def __init__(self, path: str | Path, **options: Any) -> None:
        self.config = make_config(FileDetectorConfig, path=str(path), **options)
        rows = read_det_file(self.config.path)
        rows = rows[rows[:, 5] >= self.config.min_score]
        # the same values where ``auto`` leaves [0, 1] scores alone
        rows[:, 5] = normalize_scores(rows[:, 5], self.config.score_scale)
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
