"""Tracking results read back from any of the formats of :mod:`trackkit.io.export`.

:func:`read_results` reads MOTChallenge text, JSON lines, CSV and COCO video annotations
(the format from the file suffix, else from the content) into one :class:`TrackResults`
(parallel arrays, ``xyxy`` boxes, 1-based frames); :func:`box_format_problem` says when the
boxes of a results file do not fit the image (corners written where sizes belong).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trackkit.core.boxes import xywh_to_xyxy
from trackkit.core.tracks import Tracks
from trackkit.errors import ConfigError, DataNotFoundError, FormatError

__all__ = [
    "CSV_HEADER",
    "FORMATS",
    "SUFFIXES",
    "TrackResults",
    "box_format_problem",
    "format_from_path",
    "read_results",
]

#: The formats and their file suffixes.
SUFFIXES: dict[str, str] = {"mot": ".txt", "jsonl": ".jsonl", "csv": ".csv", "coco": ".json"}
FORMATS: tuple[str, ...] = tuple(SUFFIXES)
CSV_HEADER = ["frame", "id", "x", "y", "w", "h", "score", "class_id", "class"]


def format_from_path(path: str | Path) -> str | None:
    """The format a file suffix stands for (``.txt`` mot, ``.jsonl``, ``.csv``, ``.json``
    coco), ``None`` for another suffix."""
    suffix = Path(path).suffix.lower()
    return next((f for f, s in SUFFIXES.items() if s == suffix), None)


@dataclass(frozen=True, eq=False)
class TrackResults:
    """Tracking results of one video as parallel arrays (file order).

    Attributes:
        frames: ``(N,)`` int64 1-based frame numbers.
        ids: ``(N,)`` int64 track ids.
        xyxy: ``(N, 4)`` float64 boxes, continuous pixels.
        scores: ``(N,)`` float64.
        class_ids: ``(N,)`` int64, ``-1`` where unknown.
        class_names: class id -> name, for the ids the file names.
        num_frames: frames the file covers (the last frame; JSON lines and COCO also count
            frames without tracks).
    """

    frames: NDArray[np.int64]
    ids: NDArray[np.int64]
    xyxy: NDArray[np.float64]
    scores: NDArray[np.float64]
    class_ids: NDArray[np.int64]
    class_names: dict[int, str] = field(default_factory=dict)
    num_frames: int = 0

    def __len__(self) -> int:
        return len(self.frames)

    def tracks(self, frame: int) -> Tracks:
        """The tracks of one (1-based) frame."""
        rows = np.flatnonzero(self.frames == frame)
        cls = self.class_ids[rows]
        return Tracks(self.xyxy[rows], self.ids[rows], self.scores[rows], None, cls)

    def by_frame(self) -> dict[int, Tracks]:
        """Frame -> its tracks, for the frames that have any."""
        order = np.argsort(self.frames, kind="stable")
        frames = self.frames[order]
        uniq, first = np.unique(frames, return_index=True)
        ends = np.append(first[1:], len(frames))
        out: dict[int, Tracks] = {}
        for f, a, b in zip(uniq.tolist(), first.tolist(), ends.tolist(), strict=True):
            rows = order[a:b]
            out[int(f)] = Tracks(
                self.xyxy[rows], self.ids[rows], self.scores[rows], None, self.class_ids[rows]
            )
        return out


def _sniff(path: Path, text: str) -> str:
    fmt = format_from_path(path)
    if fmt is not None:
        return fmt
    head = text.lstrip()[:1]
    if head == "{":
        first = text.lstrip().split("\n", 1)[0]
        try:
            return "jsonl" if "frame" in json.loads(first) else "coco"
        except json.JSONDecodeError:
            return "coco"
    return "csv" if text.lstrip().lower().startswith("frame,") else "mot"


def _table(
    rows: list[tuple[int, int, float, float, float, float, float, int]],
    names: dict[int, str],
    num_frames: int,
) -> TrackResults:
    arr = np.asarray(rows, np.float64).reshape(-1, 8)
    frames = arr[:, 0].astype(np.int64)
    return TrackResults(
        frames=frames,
        ids=arr[:, 1].astype(np.int64),
        xyxy=xywh_to_xyxy(arr[:, 2:6]),
        scores=arr[:, 6].copy(),
        class_ids=arr[:, 7].astype(np.int64),
        class_names=names,
        num_frames=max(num_frames, int(frames.max()) if len(frames) else 0),
    )


def _read_mot(path: Path) -> TrackResults:
    from trackkit.io.mot_txt import read_mot_txt

    t = read_mot_txt(path, "result")
    return TrackResults(t.frames, t.ids, t.xyxy, t.conf, t.classes, {}, t.num_frames)


def _number(value: Any, path: Path, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FormatError(path, f"{where}: expected a number, got {value!r}")
    if not np.isfinite(value):
        raise FormatError(path, f"{where}: {value!r} is not a finite number")
    return float(value)


def _box(value: Any, path: Path, where: str) -> list[float]:
    if not isinstance(value, list) or len(value) != 4:
        raise FormatError(path, f"{where}: bbox must be [x, y, w, h], got {value!r}")
    box = [_number(v, path, where) for v in value]
    if box[2] < 0 or box[3] < 0:
        raise FormatError(path, f"{where}: negative width or height in {value!r}")
    return box


def _read_jsonl(path: Path, text: str) -> TrackResults:
    rows: list[tuple[int, int, float, float, float, float, float, int]] = []
    names: dict[int, str] = {}
    last = 0
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            frame = int(_number(obj["frame"], path, f"line {lineno}"))
            items = obj["tracks"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise FormatError(
                path, f"not a JSON object with frame and tracks ({exc})", lineno
            ) from None
        last = max(last, frame)
        for item in items:
            try:
                box = _box(item["bbox"], path, f"line {lineno}")
                cid = int(item.get("class_id", -1))
                tid = int(item["id"])
                score = _number(item.get("score", 1.0), path, f"line {lineno}")
            except (KeyError, TypeError, ValueError) as exc:
                raise FormatError(path, f"a track needs id and bbox ({exc})", lineno) from None
            if item.get("class"):
                names[cid] = str(item["class"])
            rows.append((frame, tid, *box, score, cid))  # type: ignore[arg-type]
    return _table(rows, names, last)


def _read_csv(path: Path, text: str) -> TrackResults:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header[:7]] != CSV_HEADER[:7]:
        raise FormatError(path, f"header must start with {','.join(CSV_HEADER[:7])}", 1)
    rows: list[tuple[int, int, float, float, float, float, float, int]] = []
    names: dict[int, str] = {}
    for lineno, rec in enumerate(reader, start=2):
        if not rec:
            continue
        try:
            vals = [float(v) for v in rec[:7]]
            cid = int(rec[7]) if len(rec) > 7 and rec[7].strip() else -1
        except ValueError as exc:
            raise FormatError(path, f"not a number ({exc})", lineno) from None
        if not np.all(np.isfinite(vals)) or len(vals) < 7:
            raise FormatError(path, "expected 7 finite numbers", lineno)
        if vals[4] < 0 or vals[5] < 0:
            raise FormatError(path, "negative width or height", lineno)
        if len(rec) > 8 and rec[8]:
            names[cid] = rec[8]
        rows.append((int(vals[0]), int(vals[1]), *vals[2:7], cid))  # type: ignore[arg-type]
    return _table(rows, names, 0)


def _read_coco(path: Path, text: str) -> TrackResults:
    try:
        doc = json.loads(text)
        images = {int(im["id"]): int(im.get("frame_id", int(im["id"]) - 1)) + 1
                  for im in doc["images"]}  # fmt: skip
        cats = {int(c["id"]): str(c["name"]) for c in doc.get("categories", [])}
        anns = doc["annotations"]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise FormatError(
            path, f"not COCO video annotations (images, annotations): {exc}"
        ) from None
    rows: list[tuple[int, int, float, float, float, float, float, int]] = []
    for k, ann in enumerate(anns):
        where = f"annotation {k + 1}"
        try:
            frame = images[int(ann["image_id"])]
            tid = int(ann.get("instance_id", ann.get("track_id", -1)))
            cid = int(ann.get("category_id", 0)) - 1
        except (KeyError, TypeError, ValueError) as exc:
            raise FormatError(path, f"{where}: unknown image or bad id ({exc})") from None
        box = _box(ann.get("bbox"), path, where)
        rows.append((frame, tid, *box, _number(ann.get("score", 1.0), path, where), cid))  # type: ignore[arg-type]
    names = {k - 1: v for k, v in cats.items() if k > 0}
    return _table(rows, names, max(images.values(), default=0))


def read_results(path: str | Path, fmt: str | None = None) -> TrackResults:
    """Read results written in any of :data:`FORMATS` (default: by suffix, else content).

    Raises:
        DataNotFoundError: no such file.
        FormatError: malformed content (the message names the file and line).
    """
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"{p}: results file not found")
    if fmt is not None and fmt not in FORMATS:
        raise ConfigError(f"--format {fmt}: unknown results format; valid: {', '.join(FORMATS)}")
    if (fmt or format_from_path(p)) == "mot":
        return _read_mot(p)
    text = p.read_text(encoding="utf-8", errors="replace")
    kind = fmt or _sniff(p, text)
    if kind == "jsonl":
        return _read_jsonl(p, text)
    if kind == "csv":
        return _read_csv(p, text)
    if kind == "coco":
        return _read_coco(p, text)
    return _read_mot(p)


def box_format_problem(
    xyxy: NDArray[np.float64], width: int, height: int, tolerance: float = 0.1
) -> str | None:
    """Why results boxes (read as ``x, y, w, h`` into ``(N, 4)`` ``xyxy``) do not fit a
    ``width`` x ``height`` image, or ``None`` when they do.

    Boxes may leave the image a little (people cut by the frame's edge: 15 % of MOT17-05's
    ground-truth boxes end more than ``tolerance`` beyond its 640x480 image), so two
    patterns are reported: more than 5 % of the boxes beyond the image by over ``tolerance``
    when the columns read as ``x1, y1, x2, y2`` would make almost every box fit (corners
    written instead of sizes: scored as it stands, it gives meaningless numbers such as MOTA
    -53 %), and more than half of them beyond it otherwise (results of another sequence or
    image size).
    """
    b = np.asarray(xyxy, np.float64).reshape(-1, 4)
    if len(b) == 0 or width <= 0 or height <= 0:
        return None
    beyond = (b[:, 2] > width * (1 + tolerance)) | (b[:, 3] > height * (1 + tolerance))
    share = float(beyond.mean())
    if share <= 0.05:
        return None
    text = (
        f"{100 * share:.0f}% of the boxes end beyond the {width}x{height} image "
        "(x + w > width or y + h > height)"
    )
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]  # the 5th and 6th columns as written
    corners = (w > b[:, 0]) & (h > b[:, 1]) & (w <= width * (1 + tolerance))
    if float(corners.mean()) > 0.95 and float((h <= height * (1 + tolerance)).mean()) > 0.95:
        return text + (
            "; columns 3-6 must be x, y, width, height, and these look like x1, y1, x2, y2: "
            "convert them (width = x2 - x1, height = y2 - y1)"
        )
    if share <= 0.5:
        return None
    return text + "; results of another sequence, or another image size?"
