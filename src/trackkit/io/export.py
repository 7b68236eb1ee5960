"""Tracking results in four formats, written frame by frame and read back.

``--format`` of ``trackkit track`` (and :func:`trackkit.pipeline.track_video`):

- ``mot``: MOTChallenge text, ``frame,id,x,y,w,h,score,class,-1,-1`` (``class`` = the
  detector's class id, ``-1`` when unknown; the evaluation ignores it);
- ``jsonl``: JSON lines, one object per frame:
  ``{"frame": 1, "tracks": [{"id": 3, "bbox": [x, y, w, h], "score": 0.9, "class_id": 0,
  "class": "person"}]}`` (frames without tracks included, ``"tracks": []``);
- ``csv``: a header ``frame,id,x,y,w,h,score,class_id,class`` then one row per box;
- ``coco``: COCO-style video annotations (the CocoVID layout of video detection and
  tracking toolkits): ``videos``, ``images`` (one per frame, ``frame_id`` 0-based),
  ``annotations`` (``instance_id`` = track id, ``bbox`` ``[x, y, w, h]``, ``score``,
  ``category_id`` = class id + 1, 0 when unknown) and ``categories``.

Boxes are ``x, y, w, h`` in pixels in every file (``xyxy`` inside trackkit, converted here);
frames are 1-based (``frame_id`` of ``coco`` is ``frame - 1``). ``mot``, ``jsonl`` and ``csv``
are flushed every frame (an interrupted run keeps every finished frame); ``coco`` is one JSON
document, written when the writer is closed. :func:`~trackkit.io.results.read_results` reads
all four back into a :class:`~trackkit.io.results.TrackResults` (re-exported here).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trackkit.core.tracks import Tracks
from trackkit.errors import ConfigError
from trackkit.io.atomic import LineStream, write_text
from trackkit.io.closing import Closing
from trackkit.io.results import (
    CSV_HEADER,
    FORMATS,
    SUFFIXES,
    TrackResults,
    box_format_problem,
    format_from_path,
    read_results,
)

__all__ = [
    "FORMATS",
    "SUFFIXES",
    "ResultsWriter",
    "TrackResults",
    "box_format_problem",
    "format_from_path",
    "open_writer",
    "read_results",
]


def _class_name(names: Sequence[str] | None, cid: int) -> str:
    return names[cid] if names is not None and 0 <= cid < len(names) else ""


def _rows(tracks: Tracks) -> list[tuple[int, list[float], float, int]]:
    """``(id, [x, y, w, h], score, class_id)`` per track, values rounded for text."""
    b = tracks.xyxy
    cls = tracks.class_ids if tracks.class_ids is not None else np.full(len(tracks), -1)
    out = []
    for tid, box, score, c in zip(
        tracks.track_ids.tolist(), b.tolist(), tracks.scores.tolist(), cls.tolist(), strict=True
    ):
        xywh = [round(box[0], 3), round(box[1], 3), round(box[2] - box[0], 3),
                round(box[3] - box[1], 3)]  # fmt: skip
        out.append((int(tid), xywh, float(f"{score:.5g}"), int(c)))
    return out


class ResultsWriter(Closing):
    """Write the tracks of one video, frame after frame, in one of :data:`FORMATS`.

    Args:
        path: the output file (parent folders are created).
        class_names: class id -> name (``jsonl``, ``csv``, ``coco`` write the names).
        video: ``{"name", "width", "height", "fps"}`` of the video (``coco`` only).
    """

    format = ""

    def __init__(
        self,
        path: str | Path,
        class_names: Sequence[str] | None = None,
        video: dict[str, Any] | None = None,
    ) -> None:
        self.path = Path(path)
        self.class_names = list(class_names) if class_names is not None else None
        self.video = dict(video or {})
        self._stream = LineStream(self.path)
        self._closed = False
        self._start()

    def _start(self) -> None:
        """Set up (override)."""

    def _header(self) -> str:
        """Text before the first frame (override)."""
        return ""

    def write(self, frame: int, tracks: Tracks) -> None:
        """Append the tracks of one (1-based) ``frame``."""
        raise NotImplementedError

    @property
    def started(self) -> bool:
        """Whether the file exists (a frame was written)."""
        return self._stream.started

    def _flush(self, text: str) -> None:
        """Append ``text`` (:class:`~trackkit.io.atomic.LineStream`: the file is created by
        the first frame, with :meth:`_header` in front; one system call a frame)."""
        if not self._stream.started:
            self._stream.header = self._header()
        self._stream.write(text)

    def close(self) -> None:
        """Finish the file; safe to call more than once."""
        self._closed = True
        self._stream.close()


class MOTTextWriter(ResultsWriter):
    """MOTChallenge text: ``frame,id,x,y,w,h,score,class,-1,-1``."""

    format = "mot"

    def write(self, frame: int, tracks: Tracks) -> None:
        b = tracks.xyxy
        cls = tracks.class_ids if tracks.class_ids is not None else np.full(len(b), -1)
        rows = zip(tracks.track_ids.tolist(), b[:, :2].tolist(), (b[:, 2:] - b[:, :2]).tolist(),
                   tracks.scores.tolist(), cls.tolist())  # fmt: skip
        self._flush("".join(
            f"{frame},{i},{x:.3f},{y:.3f},{w:.3f},{h:.3f},{s:.5g},{c},-1,-1\n"
            for i, (x, y), (w, h), s, c in rows
        ))  # fmt: skip


class JSONLinesWriter(ResultsWriter):
    """One JSON object per frame: ``{"frame": k, "tracks": [...]}``."""

    format = "jsonl"

    def write(self, frame: int, tracks: Tracks) -> None:
        items = [
            {"id": tid, "bbox": b, "score": s, "class_id": c,
             "class": _class_name(self.class_names, c)}
            for tid, b, s, c in _rows(tracks)
        ]  # fmt: skip
        self._flush(json.dumps({"frame": int(frame), "tracks": items}) + "\n")


class CSVWriter(ResultsWriter):
    """A header, then ``frame,id,x,y,w,h,score,class_id,class`` per box."""

    format = "csv"

    def _header(self) -> str:
        return ",".join(CSV_HEADER) + "\n"

    def write(self, frame: int, tracks: Tracks) -> None:
        buf = io.StringIO()
        out = csv.writer(buf, lineterminator="\n")
        for tid, b, s, c in _rows(tracks):
            out.writerow([frame, tid, *b, s, c, _class_name(self.class_names, c)])
        self._flush(buf.getvalue())


class COCOVideoWriter(ResultsWriter):
    """COCO-style video annotations (``videos``, ``images``, ``annotations``,
    ``categories``), written as one document on :meth:`close`."""

    format = "coco"

    def _start(self) -> None:
        self._images: list[dict[str, Any]] = []
        self._annotations: list[dict[str, Any]] = []
        self._categories: dict[int, str] = {}

    def write(self, frame: int, tracks: Tracks) -> None:
        name = str(self.video.get("name", "video"))
        image: dict[str, Any] = {"id": int(frame), "video_id": 1, "frame_id": int(frame) - 1,
                                 "file_name": f"{name}/{int(frame):06d}.jpg"}  # fmt: skip
        for key in ("width", "height"):
            if self.video.get(key):
                image[key] = int(self.video[key])
        if self._closed:
            raise ValueError(f"{self.path}: writer is closed")
        self._images.append(image)
        for tid, b, s, c in _rows(tracks):
            self._categories[c + 1] = _class_name(self.class_names, c) or (
                "object" if c < 0 else f"class {c}"
            )
            self._annotations.append(
                {"id": len(self._annotations) + 1, "image_id": int(frame), "video_id": 1,
                 "instance_id": tid, "category_id": c + 1, "bbox": b,
                 "area": round(b[2] * b[3], 3), "score": s, "iscrowd": 0}
            )  # fmt: skip

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self._images:
            return
        video = {"id": 1, **{k: v for k, v in self.video.items() if v is not None}}
        video.setdefault("name", "video")
        doc = {
            "info": {"description": "trackkit tracking results", "box": "x, y, w, h pixels"},
            "videos": [video],
            "images": self._images,
            "annotations": self._annotations,
            "categories": [{"id": k, "name": v} for k, v in sorted(self._categories.items())],
        }
        write_text(self.path, json.dumps(doc) + "\n")


_WRITERS: dict[str, type[ResultsWriter]] = {
    "mot": MOTTextWriter,
    "jsonl": JSONLinesWriter,
    "csv": CSVWriter,
    "coco": COCOVideoWriter,
}


def open_writer(
    path: str | Path,
    fmt: str | None = None,
    class_names: Sequence[str] | None = None,
    video: dict[str, Any] | None = None,
) -> ResultsWriter:
    """A :class:`ResultsWriter` for ``path`` in format ``fmt`` (default: from the suffix,
    else ``mot``).

    Raises:
        ConfigError: an unknown format.
    """
    name = fmt or format_from_path(path) or "mot"
    if name not in _WRITERS:
        raise ConfigError(f"--format {name}: unknown results format; valid: {', '.join(FORMATS)}")
    return _WRITERS[name](path, class_names, video)
