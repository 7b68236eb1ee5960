"""Annotated videos of tracking results: boxes, ids with stable colours and short trails.

:class:`TrackAnnotator` keeps, per identity, the last ``trail_length`` box bottom-centres
(the "foot points") and forgets identities unseen for ``trail_length`` frames, so memory stays
bounded on videos of any length. :class:`AnnotatedVideoWriter` draws and writes each frame to
an mp4 file (:class:`trackkit.io.video.VideoWriter`).
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from trackkit.core.tracks import Tracks
from trackkit.io.closing import Closing
from trackkit.io.video import VideoWriter
from trackkit.viz.draw import draw_boxes, draw_label, draw_trail, id_color

__all__ = ["AnnotatedVideoWriter", "TrackAnnotator"]


class TrackAnnotator:
    """Draw tracks with trails on successive frames of one video.

    Args:
        trail_length: number of past positions drawn per track (0: no trails).
        thickness: line thickness in pixels.
        font_scale: OpenCV font scale of the id labels.
        show_scores: append the score to each label.
        header: draw the frame number and the number of tracks in the top-left corner.
    """

    def __init__(
        self,
        trail_length: int = 30,
        thickness: int = 2,
        font_scale: float = 0.5,
        show_scores: bool = False,
        header: bool = True,
    ) -> None:
        self.trail_length = int(trail_length)
        self.thickness = int(thickness)
        self.font_scale = float(font_scale)
        self.show_scores = show_scores
        self.header = header
        self._trails: dict[int, deque[tuple[float, float]]] = {}
        self._last_seen: dict[int, int] = {}
        self._frame = 0

    def reset(self) -> None:
        """Forget all trails (new video)."""
        self._trails.clear()
        self._last_seen.clear()
        self._frame = 0

    def annotate(
        self, frame: NDArray[np.uint8], tracks: Tracks, frame_id: int | None = None
    ) -> NDArray[np.uint8]:
        """Return a copy of ``frame`` (``(H, W, 3)`` uint8 BGR) with ``tracks`` drawn on it."""
        self._frame = self._frame + 1 if frame_id is None else int(frame_id)
        img = np.ascontiguousarray(frame.copy())
        ids = [int(i) for i in tracks.track_ids]
        if self.trail_length > 0:
            for tid, b in zip(ids, tracks.xyxy, strict=True):
                trail = self._trails.setdefault(tid, deque(maxlen=self.trail_length))
                trail.append(((b[0] + b[2]) / 2.0, float(b[3])))
                self._last_seen[tid] = self._frame
            stale = [t for t, f in self._last_seen.items() if self._frame - f > self.trail_length]
            for tid in stale:
                del self._trails[tid], self._last_seen[tid]
            for tid, trail in self._trails.items():
                if len(trail) > 1:
                    draw_trail(img, np.asarray(trail), id_color(tid), self.thickness)
        labels = [
            f"{tid} {s:.2f}" if self.show_scores else str(tid)
            for tid, s in zip(ids, tracks.scores, strict=True)
        ]
        draw_boxes(img, tracks.xyxy, ids, labels, None, self.thickness, self.font_scale)
        if self.header:
            text = f"frame {self._frame}  tracks {len(tracks)}"
            draw_label(img, text, 4, 4 + 20 * self.font_scale * 2, (40, 40, 40), self.font_scale)
        return img


class AnnotatedVideoWriter(Closing):
    """Write annotated frames of a tracking run to an mp4 file.

    Args:
        path: the output ``.mp4``.
        fps: frame rate of the output.
        annotator: how to draw (default :class:`TrackAnnotator`).
        codec: see :class:`trackkit.io.video.VideoWriter`.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float,
        annotator: TrackAnnotator | None = None,
        codec: str = "auto",
    ) -> None:
        self.annotator = annotator or TrackAnnotator()
        self.writer = VideoWriter(path, fps, codec=codec)
        self.last_frame: NDArray[np.uint8] | None = None

    @property
    def path(self) -> Path:
        return self.writer.path

    def write(
        self, frame: NDArray[np.uint8], tracks: Tracks, frame_id: int | None = None
    ) -> NDArray[np.uint8]:
        """Draw ``tracks`` on ``frame``, append it to the video and return the drawing."""
        img = self.annotator.annotate(frame, tracks, frame_id)
        self.writer.write(img)
        self.last_frame = img
        return img

    def close(self) -> None:
        """Finish the file."""
        self.writer.close()
