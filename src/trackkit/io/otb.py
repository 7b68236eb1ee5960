"""OTB sequences and result files (Wu, Lim, Yang: Object Tracking Benchmark, TPAMI 2015).

Layout of one sequence folder ``<Seq>/``:

- ``img/0001.jpg ...`` — the frames;
- ``groundtruth_rect.txt`` — one ``x,y,w,h`` line per frame, **1-based pixel-index**
  convention (the top-left pixel is ``(1, 1)``); the delimiter may be a comma, a tab or spaces;
- or, for sequences with two targets (Jogging, Skating2), ``groundtruth_rect.1.txt`` and
  ``groundtruth_rect.2.txt``, evaluated as the sequences ``<Seq>-1`` and ``<Seq>-2``.

When a ground-truth file has fewer lines than there are images, the first that-many frames
are the sequence (as the OTB toolkit does for sequences such as ``Tiger1``). Boxes are
converted to trackkit's ``xyxy`` continuous 0-based pixels: ``x1 = x - 1``, ``x2 = x1 + w``.
Zero-size or non-finite rows become NaN rows (no valid annotation).

Tracker results are written in the same ``x,y,w,h`` 1-based convention
(:func:`write_otb_boxes`), so they are comparable with published OTB results.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trackkit.core.boxes import as_boxes, xywh_to_xyxy, xyxy_to_xywh
from trackkit.errors import DataNotFoundError, FormatError
from trackkit.io.atomic import write_text
from trackkit.io.images import SOTSequence, list_images
from trackkit.io.numtext import read_text

__all__ = [
    "is_otb_sequence",
    "load_otb_sequences",
    "parse_box_lines",
    "read_otb_boxes",
    "read_reference_results",
    "write_otb_boxes",
]

_SPLIT = re.compile(r"[,\s;]+")


def parse_box_lines(
    path: str | Path, text: str, ncols: tuple[int, ...] = (4,)
) -> NDArray[np.float64]:
    """Parse lines of numbers separated by commas, tabs or spaces.

    Blank lines at the end are ignored; a blank line before a non-blank one is an error (it
    would shift every later frame). ``nan`` values are accepted.

    Args:
        path: the file name used in error messages.
        text: the file's content.
        ncols: accepted numbers of values per line (all lines must have the same).

    Returns:
        ``(N, C)`` float64.

    Raises:
        FormatError: a line with another number of values, or a value that is not a number.
    """
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    rows: list[list[float]] = []
    width: int | None = None
    for i, line in enumerate(lines, start=1):
        fields = [f for f in _SPLIT.split(line.strip()) if f]
        if not fields:
            raise FormatError(path, "blank line inside the annotations", line=i)
        values: list[float] = []
        for j, f in enumerate(fields, start=1):
            try:
                values.append(float(f))
            except ValueError:
                raise FormatError(path, f"{f!r} is not a number", line=i, column=j) from None
        if len(values) not in ncols:
            want = " or ".join(str(n) for n in ncols)
            raise FormatError(path, f"expected {want} values, got {len(values)}", line=i)
        if width is None:
            width = len(values)
        elif len(values) != width:
            raise FormatError(path, f"expected {width} values like line 1, got {len(values)}", i)
        rows.append(values)
    if not rows:
        raise FormatError(path, "no annotation lines")
    return np.asarray(rows, dtype=np.float64)


def _invalid_to_nan(boxes: NDArray[np.float64]) -> NDArray[np.float64]:
    bad = ~np.all(np.isfinite(boxes), axis=1) | (boxes[:, 2] <= boxes[:, 0])
    bad |= boxes[:, 3] <= boxes[:, 1]
    out = boxes.copy()
    out[bad] = np.nan
    return out


def read_otb_boxes(path: str | Path, one_based: bool = True) -> NDArray[np.float64]:
    """Read an OTB ``x,y,w,h`` file as ``(N, 4)`` ``xyxy`` continuous 0-based boxes.

    Args:
        path: the text file.
        one_based: the file uses OTB's 1-based pixel indices (subtract 1 from x and y).

    Zero-size or non-finite rows become NaN rows.
    """
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"{p}: no such file")
    xywh = parse_box_lines(p, read_text(p))
    if one_based:
        xywh[:, :2] -= 1.0
    return _invalid_to_nan(xywh_to_xyxy(xywh))


def write_otb_boxes(path: str | Path, boxes: ArrayLike, one_based: bool = True) -> None:
    """Write ``(N, 4)`` ``xyxy`` boxes as OTB ``x,y,w,h`` lines (1-based by default),
    atomically (:mod:`trackkit.io.atomic`)."""
    xywh = xyxy_to_xywh(as_boxes(boxes))
    if one_based:
        xywh[:, :2] += 1.0
    write_text(path, "".join(",".join(f"{v:.2f}" for v in row) + "\n" for row in xywh))


def _gt_files(folder: Path) -> list[tuple[str, Path]]:
    single = folder / "groundtruth_rect.txt"
    multi = sorted(folder.glob("groundtruth_rect.*.txt"))
    if multi:
        out = []
        for f in multi:
            idx = f.name[len("groundtruth_rect.") : -len(".txt")]
            out.append((f"{folder.name}-{idx}", f))
        return out
    if single.is_file():
        return [(folder.name, single)]
    return []


def is_otb_sequence(folder: str | Path) -> bool:
    """Whether ``folder`` looks like an OTB sequence (``img/`` + ``groundtruth_rect*.txt``)."""
    p = Path(folder)
    return (p / "img").is_dir() and bool(_gt_files(p))


def load_otb_sequences(folder: str | Path) -> list[SOTSequence]:
    """Load the sequence(s) of one OTB folder (two for two-target sequences).

    Raises:
        DataNotFoundError: no ``img/`` folder or no ground-truth file.
        FormatError: a malformed ground-truth file, more annotations than images, or an
            invalid first-frame box.
    """
    root = Path(folder)
    files = _gt_files(root)
    if not files:
        raise DataNotFoundError(f"{root}: no groundtruth_rect.txt (OTB layout)")
    images = list_images(root / "img")
    out = []
    for name, gt_path in files:
        boxes = read_otb_boxes(gt_path)
        if len(boxes) > len(images):
            raise FormatError(
                gt_path, f"{len(boxes)} annotation lines but only {len(images)} images in img/"
            )
        if not np.all(np.isfinite(boxes[0])):
            raise FormatError(gt_path, "the first frame's box is missing or has zero size", 1)
        out.append(
            SOTSequence(
                name=name,
                frames=tuple(images[: len(boxes)]),
                boxes=boxes,
                source="otb",
                meta={"groundtruth": str(gt_path)},
            )
        )
    return out


def read_reference_results(path: str | Path) -> NDArray[np.float64]:
    """Read a published OTB result: ``.txt`` (``x,y,w,h`` lines) or the OTB toolkit's JSON.

    The JSON form is a list with one dict whose ``res`` is a list of ``[x, y, w, h]``
    (1-based, as the OTB toolkit stores ``results_OPE``). Returns ``(N, 4)`` ``xyxy``
    continuous 0-based boxes; zero-size rows become NaN.
    """
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"{p}: no such file")
    if p.suffix.lower() != ".json":
        return read_otb_boxes(p)
    try:
        data = json.loads(read_text(p))
    except json.JSONDecodeError as exc:
        raise FormatError(
            p, f"invalid JSON: {exc.msg}", line=exc.lineno, column=exc.colno
        ) from None
    entry = data[0] if isinstance(data, list) and data else data
    if not isinstance(entry, dict) or "res" not in entry:
        raise FormatError(p, "expected a list with one dict holding 'res'")
    res = entry["res"]
    try:
        xywh = np.asarray(res, dtype=np.float64) if isinstance(res, list) else None
    except (TypeError, ValueError):
        xywh = None
    if xywh is not None and xywh.shape == (0,):
        xywh = xywh.reshape(0, 4)
    if xywh is None or xywh.ndim != 2 or xywh.shape[1] != 4:
        raise FormatError(p, "'res' is not a list of [x, y, w, h] (4 numbers per frame)")
    xywh[:, :2] -= 1.0
    return _invalid_to_nan(xywh_to_xyxy(xywh))
