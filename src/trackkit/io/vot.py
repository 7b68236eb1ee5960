"""VOT sequences (Kristan et al., The Visual Object Tracking challenges, 2013-).

Layout of one sequence folder: ``groundtruth.txt`` and the frames, either directly in the
folder (VOT2013-2019: ``00000001.jpg ...``) or in ``color/`` (VOT2020 and later). A
``list.txt`` at a dataset root names its sequences in order.

Each line of ``groundtruth.txt`` is a region in continuous pixel coordinates, either

- a rectangle ``x,y,w,h`` (4 values), or
- a rotated rectangle / quadrilateral ``x1,y1,x2,y2,x3,y3,x4,y4`` (8 values, VOT2014-2019).

Regions become axis-aligned ``xyxy`` boxes (:func:`polygon_to_box`): ``"bbox"`` takes the
bounding box of the corners; ``"area"`` keeps its centre and aspect but scales it to the
polygon's area (the convention of Siamese-tracker code bases, which hugs a rotated target
more tightly). Lines with NaN values (target absent) become NaN rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trackkit.core.boxes import xywh_to_xyxy
from trackkit.errors import ConfigError, DataNotFoundError, FormatError
from trackkit.io.images import IMAGE_SUFFIXES, SOTSequence, list_images
from trackkit.io.numtext import read_text
from trackkit.io.otb import parse_box_lines

__all__ = ["is_vot_sequence", "load_vot_sequence", "polygon_to_box", "read_vot_regions"]

BoxMode = Literal["bbox", "area"]


def polygon_to_box(polygons: ArrayLike, mode: BoxMode = "bbox") -> NDArray[np.float64]:
    """Axis-aligned ``xyxy`` boxes of 4-corner polygons.

    Args:
        polygons: ``(N, 8)`` corners ``x1,y1,...,x4,y4`` in order around the quadrilateral.
        mode: ``"bbox"`` — the corners' bounding box; ``"area"`` — the bounding box scaled
            about the corners' mean by ``sqrt(A_poly / A_bbox)`` so that its area equals
            ``|p1 - p2| * |p2 - p3|`` (the rotated rectangle's area).

    Returns:
        ``(N, 4)`` float64 ``xyxy``.
    """
    p = np.asarray(polygons, dtype=np.float64).reshape(-1, 8)
    xs, ys = p[:, 0::2], p[:, 1::2]
    x1, x2 = xs.min(axis=1), xs.max(axis=1)
    y1, y2 = ys.min(axis=1), ys.max(axis=1)
    if mode == "bbox":
        return np.stack([x1, y1, x2, y2], axis=1)
    if mode != "area":
        raise ConfigError(f"unknown polygon conversion {mode!r}; valid: bbox, area")
    cx, cy = xs.mean(axis=1), ys.mean(axis=1)
    side1 = np.hypot(p[:, 0] - p[:, 2], p[:, 1] - p[:, 3])
    side2 = np.hypot(p[:, 2] - p[:, 4], p[:, 3] - p[:, 5])
    bbox_area = (x2 - x1) * (y2 - y1)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.sqrt(side1 * side2 / bbox_area)
    w, h = s * (x2 - x1), s * (y2 - y1)
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def read_vot_regions(
    path: str | Path, mode: BoxMode = "bbox"
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """Read a VOT ``groundtruth.txt``.

    Returns:
        ``(boxes, polygons)``: ``(N, 4)`` ``xyxy`` boxes (NaN rows where the target is
        absent or the region is degenerate) and ``(N, 8)`` corners, or ``None`` for a
        rectangle file.

    Raises:
        FormatError: mask regions (VOT2020 ``m...`` lines) or malformed lines.
    """
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"{p}: no such file")
    text = read_text(p)
    for i, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("m"):
            raise FormatError(p, "segmentation-mask regions are not supported", line=i)
    values = parse_box_lines(p, text, ncols=(4, 8))
    polygons: NDArray[np.float64] | None
    if values.shape[1] == 4:
        boxes = xywh_to_xyxy(values)
        polygons = None
    else:
        polygons = values
        boxes = polygon_to_box(values, mode)
    bad = ~np.all(np.isfinite(boxes), axis=1)
    bad |= (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])
    boxes[bad] = np.nan
    return boxes, polygons


def _frames_dir(folder: Path) -> Path:
    color = folder / "color"
    return color if color.is_dir() else folder


def is_vot_sequence(folder: str | Path) -> bool:
    """Whether ``folder`` holds ``groundtruth.txt`` and frames (directly or in ``color/``)."""
    p = Path(folder)
    if not (p / "groundtruth.txt").is_file():
        return False
    frames = _frames_dir(p)
    return any(f.suffix.lower() in IMAGE_SUFFIXES for f in frames.iterdir() if f.is_file())


def load_vot_sequence(folder: str | Path, mode: BoxMode = "bbox") -> SOTSequence:
    """Load one VOT sequence folder (see the module docstring for ``mode``).

    Raises:
        DataNotFoundError: no ``groundtruth.txt`` or no frames.
        FormatError: malformed annotations, more annotations than frames, or an invalid
            first-frame region.
    """
    root = Path(folder)
    gt = root / "groundtruth.txt"
    if not gt.is_file():
        raise DataNotFoundError(f"{root}: no groundtruth.txt (VOT layout)")
    images = list_images(_frames_dir(root))
    boxes, polygons = read_vot_regions(gt, mode)
    if len(boxes) > len(images):
        raise FormatError(gt, f"{len(boxes)} annotation lines but only {len(images)} frames")
    if not np.all(np.isfinite(boxes[0])):
        raise FormatError(gt, "the first frame's region is missing or degenerate", line=1)
    return SOTSequence(
        name=root.name,
        frames=tuple(images[: len(boxes)]),
        boxes=boxes,
        polygons=polygons,
        source="vot",
        meta={"groundtruth": str(gt)},
    )
