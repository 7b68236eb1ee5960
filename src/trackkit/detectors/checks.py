"""Checks that a detector's output fits the video it runs on.

A ``file:det.txt`` of another video runs "fine" and tracks nonsense; these checks turn that
into one line: detections past the video's last frame (:func:`check_detection_file`) or
boxes wholly outside the image (:func:`check_inside`).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trackkit.core.detections import Detections
from trackkit.errors import ConfigError

__all__ = ["check_detection_file", "check_inside", "unwrap"]

logger = logging.getLogger(__name__)


def unwrap(detector: Any) -> Any:
    """The innermost detector under :class:`ClassFilter` / ``EmbeddingDetector`` wrappers."""
    while hasattr(detector, "detector"):
        detector = detector.detector
    return detector


def check_detection_file(det: Any, name: str, num_frames: int | None, own: bool) -> None:
    """A ``file:`` detector must not run past the frames of the video it is used on.

    Args:
        det: the detector (wrappers are looked through).
        name: the video's name, for the message.
        num_frames: its number of frames (``None``: unknown, nothing checked).
        own: the file is the source's own (a MOTChallenge sequence's ``det/det.txt``).

    Raises:
        ConfigError: the detections run to a frame the video does not have.
    """
    from trackkit.detectors.from_file import FileDetector

    inner = unwrap(det)
    if not isinstance(inner, FileDetector) or own or not num_frames:
        return
    if inner.num_frames > num_frames + 1:
        raise ConfigError(
            f"file:{inner.config.path}: detections run to frame {inner.num_frames}, but "
            f"{name or 'the video'} has {num_frames} frames: the detections of "
            "another video? (a MOTChallenge sequence reads its own det/det.txt)"
        )
    if inner.num_frames < num_frames // 2:
        logger.warning(
            "file:%s: detections end at frame %d of %d", inner.config.path, inner.num_frames,
            num_frames,
        )  # fmt: skip


def check_inside(dets: Detections, frame: NDArray[np.uint8], frame_id: int, what: str) -> None:
    """Raise :class:`ConfigError` for a box wholly outside ``frame`` (``(H, W, 3)``): the
    detections of another video, or boxes in another convention (``what`` names the
    detector in the message)."""
    if not len(dets):
        return
    h, w = frame.shape[:2]
    b = dets.xyxy
    out = (b[:, 0] >= w) | (b[:, 1] >= h) | (b[:, 2] <= 0) | (b[:, 3] <= 0)
    if out.any():
        x1, y1, x2, y2 = b[int(np.flatnonzero(out)[0])]
        raise ConfigError(
            f"{what}: frame {frame_id} has a box ({x1:.0f}, {y1:.0f}, {x2:.0f}, {y2:.0f}) "
            f"wholly outside the {w}x{h} image: detections of another video, or boxes not "
            "x1, y1, x2, y2 in this frame's pixels?"
        )
