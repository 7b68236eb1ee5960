"""Read and write MOTChallenge text files.

Formats (one box per line, 1-based frame numbers, comma- or whitespace-delimited):

- ground truth, 9 columns (MOT16/17/20): ``frame, id, x, y, w, h, flag, class, visibility``,
  or 10 (MOT15): ``frame, id, x, y, w, h, flag, wx, wy, wz`` (world coordinates, no class);
  ``flag`` 0 means "ignore";
- detections, 7 or 10 columns: ``frame, -1, x, y, w, h, score[, x, y, z]``;
- tracker results, 10 columns (6 to 9 accepted): ``frame, id, x, y, w, h, conf, x, y, z``.

``x, y, w, h`` are the box's top-left corner and size in pixels; inside trackkit boxes are
``xyxy`` float64 (see :mod:`trackkit.core.boxes`) and converted here, at the edge.

Malformed input raises :class:`~trackkit.errors.FormatError` naming the file, the line, the
column and the problem. An empty results file is valid: a tracker that output nothing.
"""

from __future__ import annotations

import configparser
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trackkit.core.boxes import as_boxes, xywh_to_xyxy
from trackkit.core.detections import Detections
from trackkit.errors import DataNotFoundError, FormatError
from trackkit.io.atomic import LineStream, write_text
from trackkit.io.closing import Closing
from trackkit.io.numtext import parse_numeric_table

__all__ = [
    "MOTKind",
    "MOTResultWriter",
    "MOTTable",
    "SeqInfo",
    "read_detections",
    "read_mot_txt",
    "read_seqinfo",
    "write_mot_results",
]

MOTKind = Literal["gt", "det", "result"]

#: Accepted column counts per kind.
_COLUMNS: dict[str, tuple[int, ...]] = {
    "gt": (9, 10),
    "det": (7, 10),
    "result": (6, 7, 8, 9, 10),
}
_MAX_ID = 2**53
_MAX_FRAME = 10**9


@dataclass(frozen=True, eq=False)
class MOTTable:
    """The rows of one MOTChallenge file as parallel arrays, in file order.

    Attributes:
        path: the file read.
        kind: ``"gt"``, ``"det"`` or ``"result"``.
        frames: ``(N,)`` int64 1-based frame numbers.
        ids: ``(N,)`` int64 identities (``-1`` in detection files).
        xyxy: ``(N, 4)`` float64 boxes, continuous pixels.
        conf: ``(N,)`` float64 — ground truth: the ``flag`` column (0 = ignore);
            detections / results: the score (1.0 when the column is absent).
        classes: ``(N,)`` int64 — ground truth: the class column; otherwise ``-1``
            (results: column 8 when present, as the official kit reads it).
        visibility: ``(N,)`` float64 — ground truth: the visibility column; otherwise ``-1``.
        lines: ``(N,)`` int64 1-based line number of each row in the file.
    """

    path: str
    kind: str
    frames: NDArray[np.int64]
    ids: NDArray[np.int64]
    xyxy: NDArray[np.float64]
    conf: NDArray[np.float64]
    classes: NDArray[np.int64]
    visibility: NDArray[np.float64]
    lines: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.frames)

    @classmethod
    def from_rows(
        cls,
        kind: MOTKind,
        frames: ArrayLike,
        ids: ArrayLike,
        xyxy: ArrayLike,
        conf: ArrayLike | None = None,
        classes: ArrayLike | None = None,
        path: str = "<rows>",
    ) -> MOTTable:
        """A table from arrays (tests, synthetic data): ``conf`` defaults to 1 (for ground
        truth: the flag), ``classes`` to -1; line numbers are the row numbers."""
        f = np.asarray(frames, np.int64).reshape(-1)
        n = len(f)
        return cls(
            path=path,
            kind=kind,
            frames=f,
            ids=np.asarray(ids, np.int64).reshape(-1),
            xyxy=as_boxes(np.asarray(xyxy, np.float64).reshape(-1, 4)),
            conf=np.ones(n) if conf is None else np.asarray(conf, np.float64).reshape(-1),
            classes=(
                np.full(n, -1, np.int64)
                if classes is None
                else np.asarray(classes, np.int64).reshape(-1)
            ),
            visibility=np.full(n, -1.0),
            lines=np.arange(1, n + 1, dtype=np.int64),
        )

    @property
    def num_frames(self) -> int:
        """The largest frame number in the file (0 when empty)."""
        return int(self.frames.max()) if len(self.frames) else 0

    def frame_index(self, num_frames: int | None = None) -> list[NDArray[np.int64]]:
        """Row indices of each frame ``1..num_frames`` (file order kept within a frame).

        Returns:
            A list whose element ``t`` holds the rows of frame ``t + 1``.
        """
        n = self.num_frames if num_frames is None else num_frames
        order = np.argsort(self.frames, kind="stable")
        bounds = np.searchsorted(self.frames[order], np.arange(1, n + 2))
        return [order[bounds[t] : bounds[t + 1]] for t in range(n)]

    def iter_frames(self, num_frames: int | None = None) -> Iterator[tuple[int, NDArray[np.int64]]]:
        """Yield ``(frame, row_indices)`` for every frame ``1..num_frames``."""
        for t, rows in enumerate(self.frame_index(num_frames)):
            yield t + 1, rows


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise DataNotFoundError(f"{path}: file not found")
    if path.is_dir():
        raise FormatError(path, "is a folder, expected a MOTChallenge text file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise FormatError(path, f"cannot be read: {exc.strerror or exc}") from None


def _check_integer(
    path: Path,
    values: NDArray[np.float64],
    lines: NDArray[np.int64],
    column: int,
    what: str,
    low: float,
    high: float,
) -> NDArray[np.int64]:
    bad = (values != np.round(values)) | (values < low) | (values > high)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        v = values[i]
        if v != np.round(v):
            problem = f"{what} must be an integer, got {v!r}"
        else:
            problem = f"{what} {v:.0f} is out of range [{low:.0f}, {high:.0f}]"
        raise FormatError(path, problem, int(lines[i]), column)
    return values.astype(np.int64)


def read_mot_txt(path: str | Path, kind: MOTKind) -> MOTTable:
    """Read a MOTChallenge ground-truth, detection or results file.

    Args:
        path: the text file.
        kind: ``"gt"`` (9 or 10 columns), ``"det"`` (7 or 10), ``"result"`` (6 to 10).

    Returns:
        A :class:`MOTTable`, rows in file order.

    Raises:
        DataNotFoundError: the file does not exist.
        FormatError: malformed content (names file, line, column and problem): wrong column
            count, text that is not a number, NaN or infinite values, a non-integer or
            out-of-range frame or id, a negative width or height.
    """
    if kind not in _COLUMNS:
        raise ValueError(f"kind must be one of {sorted(_COLUMNS)}, got {kind!r}")
    p = Path(path)
    table = parse_numeric_table(_read_bytes(p), p, _COLUMNS[kind])
    data, lines = table.values, table.lines
    ncol = data.shape[1] if data.ndim == 2 else 0
    if len(data) == 0:
        data = np.zeros((0, max(_COLUMNS[kind])))
    bad = ~np.isfinite(data)
    if np.any(bad):
        r, c = (int(x[0]) for x in np.nonzero(bad))
        raise FormatError(p, f"value {data[r, c]!r} is not a finite number", int(lines[r]), c + 1)
    frames = _check_integer(p, data[:, 0], lines, 1, "frame", 1, _MAX_FRAME)
    ids = _check_integer(p, data[:, 1], lines, 2, "id", -1 if kind == "det" else 0, _MAX_ID)
    for col, name in ((4, "width"), (5, "height")):
        neg = data[:, col] < 0
        if np.any(neg):
            i = int(np.flatnonzero(neg)[0])
            raise FormatError(p, f"negative {name} {data[i, col]!r}", int(lines[i]), col + 1)
    n = len(data)
    if kind == "gt" and ncol == 9:
        conf = data[:, 6].copy()
        classes = _check_integer(p, data[:, 7], lines, 8, "class", -1, 2**31)
        visibility = data[:, 8].copy()
    elif kind == "gt":
        # MOT15 layout: frame, id, x, y, w, h, flag, world x, world y, world z (no classes).
        conf = data[:, 6].copy()
        classes = np.full(n, -1, np.int64)
        visibility = np.full(n, -1.0)
    else:
        conf = data[:, 6].copy() if ncol >= 7 else np.ones(n)
        if kind == "result" and ncol >= 8:
            classes = np.trunc(data[:, 7]).astype(np.int64)
        else:
            classes = np.full(n, -1, np.int64)
        visibility = np.full(n, -1.0)
    return MOTTable(
        path=str(p),
        kind=kind,
        frames=frames,
        ids=ids,
        xyxy=xywh_to_xyxy(data[:, 2:6]),
        conf=conf,
        classes=classes,
        visibility=visibility,
        lines=lines,
    )


def read_detections(path: str | Path, num_frames: int | None = None) -> list[Detections]:
    """Read a detections file (``det/det.txt``) into one :class:`Detections` per frame.

    Frames out of order in the file are handled; frames without rows give ``empty()``.

    Returns:
        ``num_frames`` items (default: the last frame in the file); item ``t`` is frame ``t+1``.
    """
    table = read_mot_txt(path, "det")
    return [
        Detections(table.xyxy[rows], table.conf[rows]) for _, rows in table.iter_frames(num_frames)
    ]


@dataclass(frozen=True)
class SeqInfo:
    """The ``[Sequence]`` section of a MOTChallenge ``seqinfo.ini``."""

    name: str
    frame_rate: float
    seq_length: int
    im_width: int
    im_height: int
    im_dir: str = "img1"
    im_ext: str = ".jpg"


#: The largest frame count, size or rate ``seqinfo.ini`` may state (larger is a typo).
_MAX_SEQINFO_NUMBER = 10**9


def read_seqinfo(path: str | Path, need_length: bool = True) -> SeqInfo:
    """Read ``seqinfo.ini``; a missing key or a bad value raises :class:`FormatError`.

    ``need_length=False`` (reading frames, which are counted from the image folder) accepts a
    file without ``seqLength`` and reports ``seq_length=-1``."""
    p = Path(path)
    text = _read_bytes(p).decode("utf-8", errors="replace")
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=str(p))
    except configparser.Error as exc:
        raise FormatError(p, f"not a valid ini file: {str(exc).splitlines()[0]}") from None
    if not parser.has_section("Sequence"):
        raise FormatError(p, "no [Sequence] section")
    sec = parser["Sequence"]

    def get(key: str, conv: type, default: object = None) -> object:
        if key not in sec:
            if default is not None:
                return default
            raise FormatError(p, f"missing key {key!r} in [Sequence]")
        raw = sec[key]
        if conv is str:
            return raw
        try:
            number = float(raw)
        except ValueError:
            raise FormatError(p, f"bad value {raw!r} for {key!r}: not a number") from None
        if not (np.isfinite(number) and 0 <= number <= _MAX_SEQINFO_NUMBER):
            raise FormatError(
                p, f"bad value {raw!r} for {key!r}: need a number from 0 to {_MAX_SEQINFO_NUMBER}"
            )
        if conv is int and number != int(number):
            raise FormatError(p, f"bad value {raw!r} for {key!r}: need a whole number")
        value = int(number) if conv is int else number
        if key == "frameRate" and value == 0:
            raise FormatError(p, "frameRate must be > 0, got 0")
        return value

    return SeqInfo(
        name=str(get("name", str, p.parent.name)),
        frame_rate=float(get("frameRate", float, 30.0)),  # type: ignore[arg-type]
        seq_length=int(get("seqLength", int, None if need_length else -1)),  # type: ignore[call-overload]
        im_width=int(get("imWidth", int, -1)),  # type: ignore[call-overload]
        im_height=int(get("imHeight", int, -1)),  # type: ignore[call-overload]
        im_dir=str(get("imDir", str, "img1")),
        im_ext=str(get("imExt", str, ".jpg")),
    )


def _format_rows(
    frames: NDArray[np.int64],
    ids: NDArray[np.int64],
    xyxy: NDArray[np.float64],
    scores: NDArray[np.float64],
) -> str:
    out = []
    for f, i, b, s in zip(frames.tolist(), ids.tolist(), xyxy.tolist(), scores.tolist()):
        out.append(
            f"{f},{i},{b[0]:.3f},{b[1]:.3f},{b[2] - b[0]:.3f},{b[3] - b[1]:.3f},{s:.5g},-1,-1,-1\n"
        )
    return "".join(out)


def write_mot_results(
    path: str | Path,
    frames: ArrayLike,
    ids: ArrayLike,
    xyxy: ArrayLike,
    scores: ArrayLike | None = None,
) -> None:
    """Write tracker results (10 columns) for all frames at once, atomically (a temporary
    file renamed into place: :mod:`trackkit.io.atomic`).

    Args:
        frames: ``(N,)`` 1-based frame numbers.
        ids: ``(N,)`` track identities.
        xyxy: ``(N, 4)`` boxes, converted to ``x, y, w, h``.
        scores: ``(N,)`` confidences (default 1).
    """
    b = as_boxes(xyxy)
    f = np.asarray(frames, np.int64).reshape(-1)
    i = np.asarray(ids, np.int64).reshape(-1)
    s = np.ones(len(b)) if scores is None else np.asarray(scores, np.float64).reshape(-1)
    write_text(path, _format_rows(f, i, b, s))


class MOTResultWriter(Closing):
    """Stream tracker results to a MOTChallenge file, one frame at a time.

    The file is created by the first :meth:`write` (a run that fails before its first frame
    leaves no file that would look like a result without tracks). Each :meth:`write` appends
    the frame's lines with one ``write`` system call (:func:`trackkit.io.atomic.append_whole`),
    so an interrupted or killed run keeps every finished frame and never a broken line.
    Use as a context manager::

        with MOTResultWriter("out/MOT17-04.txt") as w:
            for frame, tracks in enumerate(results, start=1):
                w.write(frame, tracks.track_ids, tracks.xyxy, tracks.scores)
    """

    def __init__(self, path: str | Path) -> None:
        self._stream = LineStream(path)
        self.path = self._stream.path

    def write(
        self, frame: int, ids: ArrayLike, xyxy: ArrayLike, scores: ArrayLike | None = None
    ) -> None:
        """Append the tracks of one (1-based) ``frame``."""
        b = as_boxes(xyxy)
        i = np.asarray(ids, np.int64).reshape(-1)
        s = np.ones(len(b)) if scores is None else np.asarray(scores, np.float64).reshape(-1)
        self._stream.write(_format_rows(np.full(len(b), frame, np.int64), i, b, s))

    @property
    def started(self) -> bool:
        """Whether the file exists (a frame was written)."""
        return self._stream.started

    def close(self) -> None:
        """Close the file (safe to call more than once)."""
        self._stream.close()
