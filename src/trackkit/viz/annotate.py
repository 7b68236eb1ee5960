"""Annotated videos of tracking results: boxes, ids with stable colours and short trails.

:class:`TrackAnnotator` keeps, per identity, the last ``trail_length`` box bottom-centres
(the "foot points") and forgets identities unseen for ``trail_length`` frames, so memory stays
bounded on videos of any length. :class:`AnnotatedVideoWriter` draws and writes each frame to
an mp4 file (:class:`trackkit.io.video.VideoWriter`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trackkit.core.tracks import Tracks
from trackkit.io.closing import Closing
from trackkit.io.video import VideoWriter
from trackkit.viz.draw import (
    draw_boxes,
    draw_dashed_box,
    draw_label,
    draw_line_counter,
    draw_trail,
    draw_zone,
    id_color,
    scale_for,
)

__all__ = ["AnnotatedVideoWriter", "TrackAnnotator"]


class TrackAnnotator:
    """Draw tracks with trails on successive frames of one video.

    Args:
        trail_length: number of past positions drawn per track (0: no trails).
        thickness: line thickness in pixels (default: 2 up to 720p, growing with the frame
            height, :func:`~trackkit.viz.draw.scale_for`).
        font_scale: OpenCV font scale of the labels (default: 0.5 up to 720p, growing
            with the frame height).
        show_scores: append the score to each label.
        header: draw the frame number and the number of tracks in the top-left corner.
        class_names: class id -> name; labels then read ``"3 person"``.
        counters: line / zone counters (:mod:`trackkit.analytics`) drawn with their counts.
    """

    def __init__(
        self,
        trail_length: int = 30,
        thickness: int | None = None,
        font_scale: float | None = None,
        show_scores: bool = False,
        header: bool = True,
        class_names: Sequence[str] | None = None,
        counters: Sequence[Any] = (),
    ) -> None:
        self.trail_length = int(trail_length)
        self._thickness = None if thickness is None else int(thickness)
        self._font_scale = None if font_scale is None else float(font_scale)
        self.thickness = 2 if thickness is None else int(thickness)
        self.font_scale = 0.5 if font_scale is None else float(font_scale)
        self.show_scores = show_scores
        self.header = header
        self.class_names = list(class_names) if class_names is not None else None
        self.counters = list(counters)
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
        auto_scale, auto_thick = scale_for(img.shape[0])
        self.font_scale = auto_scale if self._font_scale is None else self._font_scale
        self.thickness = auto_thick if self._thickness is None else self._thickness
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
        names = self._names(tracks)
        labels = [
            f"{tid}{name} {s:.2f}" if self.show_scores else f"{tid}{name}"
            for tid, s, name in zip(ids, tracks.scores, names, strict=True)
        ]
        draw_boxes(img, tracks.xyxy, ids, labels, None, self.thickness, self.font_scale)
        self._draw_counters(img)
        if self.header:
            text = f"frame {self._frame}  tracks {len(tracks)}"
            draw_label(img, text, 4, 4 + 20 * self.font_scale * 2, (40, 40, 40), self.font_scale)
        return img

    def _names(self, tracks: Tracks) -> list[str]:
        """`` name`` per track (empty without class names or class ids)."""
        if self.class_names is None or tracks.class_ids is None:
            return [""] * len(tracks)
        n = len(self.class_names)
        return [f" {self.class_names[c]}" if 0 <= c < n else "" for c in tracks.class_ids.tolist()]

    def _draw_counters(self, img: NDArray[np.uint8]) -> None:
        for c in self.counters:
            text = f"{c.name}: in {c.total('in')}  out {c.total('out')}"
            if c.kind == "line":
                draw_line_counter(img, c.p1, c.p2, text, thickness=self.thickness,
                                  font_scale=self.font_scale)  # fmt: skip
            else:
                text += f"  inside {sum(c.inside.values())}"
                draw_zone(img, c.polygon, text, thickness=self.thickness,
                          font_scale=self.font_scale)  # fmt: skip

    def annotate_truth(
        self, img: NDArray[np.uint8], xyxy: NDArray[np.float64], ids: Sequence[int]
    ) -> NDArray[np.uint8]:
        """Draw ground-truth boxes on ``img`` (in place): dashed white, ``gt ID`` under the
        box, so that they read apart from the results' solid coloured boxes."""
        white = (255, 255, 255)
        thick = max(1, self.thickness // 2)
        for b, tid in zip(np.asarray(xyxy, np.float64).reshape(-1, 4), ids, strict=True):
            draw_dashed_box(img, b, white, thick)
            below = float(b[3]) + 28 * self.font_scale
            draw_label(img, f"gt {int(tid)}", float(b[0]), below, white, self.font_scale * 0.8)
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


def render_results(
    results: Any,
    frames: Any,
    path: str | Path,
    fps: float,
    truth: Any = None,
    annotator: TrackAnnotator | None = None,
    codec: str = "auto",
    max_frames: int | None = None,
) -> tuple[int, Path]:
    """Draw existing tracking results (and ground truth) on frames, without tracking.

    Args:
        results: a :class:`trackkit.io.export.TrackResults` (any results format, read back).
        frames: iterable of ``(frame_id, (H, W, 3) uint8 BGR image or None)``, 1-based.
        path: the output mp4.
        fps: its frame rate.
        truth: ground truth as a ``TrackResults``-like table (``frames``, ``ids``, ``xyxy``),
            drawn dashed white with ``gt ID`` labels; ``None``: none.
        annotator: how to draw the results (default: a :class:`TrackAnnotator` with the class
            names the results file holds); its counters, if any, count as it draws.
        max_frames: stop after this many frames.

    Returns:
        ``(frames written, path)``.
    """
    names = getattr(results, "class_names", {}) or {}
    if annotator is None:
        listed = [names.get(k, f"class {k}") for k in range(max(names, default=-1) + 1)]
        annotator = TrackAnnotator(class_names=listed or None)
    by_frame = results.by_frame()
    gt_rows: dict[int, NDArray[np.int64]] = {}
    if truth is not None:
        order = np.argsort(truth.frames, kind="stable")
        uniq, first = np.unique(truth.frames[order], return_index=True)
        ends = np.append(first[1:], len(order))
        for f, a, b in zip(uniq.tolist(), first.tolist(), ends.tolist(), strict=True):
            gt_rows[int(f)] = order[a:b]
    written = 0
    with AnnotatedVideoWriter(path, fps, annotator, codec) as out:
        for frame_id, img in frames:
            if max_frames is not None and written >= max_frames:
                break
            if img is None:
                continue
            tracks = by_frame.get(int(frame_id), Tracks.empty())
            for c in annotator.counters:
                c.update(int(frame_id), tracks, annotator.class_names)
            drawn = annotator.annotate(img, tracks, int(frame_id))
            rows = gt_rows.get(int(frame_id))
            if rows is not None and len(rows):
                annotator.annotate_truth(drawn, truth.xyxy[rows], truth.ids[rows].tolist())
            out.writer.write(drawn)
            written += 1
        path_out = out.path
    return written, path_out
