"""Whole frame + tiles: slicing-aided inference for small objects in large frames.

A network with a small input (320-416 pixels) sees a 1920x1080 frame shrunk four to six times:
a pedestrian 60 pixels tall becomes 12 — too small to find. Running the network also on
overlapping tiles of the frame (slicing-aided hyper inference, Akyon et al., "Slicing Aided
Hyper Inference and Fine-tuning for Small Object Detection", ICIP 2022) gives small objects
more network pixels; :func:`tile_boxes` lays the tiles out and :func:`merge_tiles` merges the
tiles' detections with those of the whole frame, which alone sees large objects whole. Every
ONNX detector of :mod:`trackkit.detectors.onnx_base` uses these.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from trackkit.core.boxes import area
from trackkit.detectors.nms import batched_nms

__all__ = ["CUT_FRACTION", "PART_OVERLAP", "Region", "merge_tiles", "tile_boxes"]

#: Agreement required between a tile box and the part inside the tile of a larger detection
#: for the tile box to count as a truncated view of it (see :func:`merge_tiles`).
PART_OVERLAP = 0.5
#: A detection is cut by a tile border when it extends past it by more than this fraction of
#: its own width (height); less is within box-regression noise: the object fits the tile.
CUT_FRACTION = 0.1

#: ``(boxes (N, 4) xyxy, scores (N,), classes (N,))`` of one region.
Region = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]


def tile_boxes(
    width: int,
    height: int,
    input_size: tuple[int, int],
    tiles: tuple[int, int] = (0, 0),
    tile_factor: float = 1.6,
    tile_overlap: float = 0.2,
) -> list[tuple[int, int, int, int]]:
    """The ``(x1, y1, x2, y2)`` integer tiles of a ``width`` x ``height`` frame.

    Args:
        input_size: the network's input ``(H, W)``.
        tiles: ``(columns, rows)``; ``(0, 0)``: automatic, about one tile per
            ``tile_factor`` input sizes along each axis.
        tile_overlap: overlap of neighbouring tiles as a fraction of the tile size.

    Returns:
        The tiles row by row; empty when one tile would cover the frame (whole frame only).
    """
    cols, rows = tiles
    if cols == 0:
        cols = max(1, round(width / (input_size[1] * tile_factor)))
        rows = max(1, round(height / (input_size[0] * tile_factor)))
    if cols == 1 and rows == 1:
        return []
    ov = tile_overlap
    tw, th = width / (cols - (cols - 1) * ov), height / (rows - (rows - 1) * ov)
    out = []
    for r in range(rows):
        for c in range(cols):
            x0, y0 = round(c * tw * (1 - ov)), round(r * th * (1 - ov))
            out.append((x0, y0, min(round(x0 + tw), width), min(round(y0 + th), height)))
    return out


def _truncated_views(
    boxes: NDArray[np.float64],
    classes: NDArray[np.int64],
    tile_of: NDArray[np.int64],
    tiles: NDArray[np.float64],
    width: int,
    height: int,
    overlap: float = PART_OVERLAP,
) -> NDArray[np.bool_]:
    """Which boxes are tile views of an object that another, larger detection shows whole.

    Args:
        boxes: ``(N, 4)`` ``xyxy`` frame boxes of every region.
        classes: ``(N,)`` class ids.
        tile_of: ``(N,)`` index into ``tiles`` of each box's tile, ``-1`` for whole-frame boxes.
        tiles: ``(T, 4)`` ``xyxy`` tile rectangles.
        width, height: frame size (a tile side on the frame border is not an inner border).
        overlap: agreement threshold (see :func:`merge_tiles`).

    Returns:
        ``(N,)`` bool, True for a box ``b`` of tile ``t`` when some box ``a`` of the same
        class, larger than ``b``, extends past an inner border of ``t`` (by more than
        ``CUT_FRACTION`` of its size) and ``b`` matches the part ``a ∩ t``: 1-D IoU
        ``>= overlap`` along ``x`` and along ``y``, and ``b`` lies inside ``a`` for at least
        ``overlap`` of its area.
    """
    out = np.zeros(len(boxes), bool)
    (i,) = np.nonzero(tile_of >= 0)
    if len(i) == 0:
        return out
    t = tiles[tile_of[i]][:, None, :]  # (n, 1, 4)
    b = boxes[None, :, :]  # (1, N, 4): the candidate fuller boxes
    inner = np.stack([t[..., 0] > 0, t[..., 1] > 0, t[..., 2] < width, t[..., 3] < height], -1)
    ext = (b[..., 2:] - b[..., :2]) * CUT_FRACTION  # (1, N, 2)
    past = np.concatenate([b[..., :2] < t[..., :2] - ext, b[..., 2:] > t[..., 2:] + ext], -1)
    areas = area(boxes)
    cand = (
        np.any(past & inner, axis=-1)
        & (areas[None, :] > areas[i][:, None])
        & (classes[None, :] == classes[i][:, None])
    )
    r, c = np.nonzero(cand)
    if len(r) == 0:
        return out
    part, full, rect = boxes[i[r]], boxes[c], tiles[tile_of[i[r]]]  # (M, 4) pairs
    seen = np.concatenate(  # a ∩ t: what the tile shows of the full box
        [np.maximum(full[:, :2], rect[:, :2]), np.minimum(full[:, 2:], rect[:, 2:])], 1
    )
    # 1-D intersections and unions along x and y, (M, 2)
    inter = np.clip(
        np.minimum(part[:, 2:], seen[:, 2:]) - np.maximum(part[:, :2], seen[:, :2]), 0, None
    )
    union = np.maximum(part[:, 2:], seen[:, 2:]) - np.minimum(part[:, :2], seen[:, :2])
    same_extent = np.all(inter >= overlap * np.maximum(union, 1e-9), axis=1)
    within = np.clip(
        np.minimum(part[:, 2:], full[:, 2:]) - np.maximum(part[:, :2], full[:, :2]), 0, None
    )
    mostly_inside = within.prod(axis=1) >= overlap * np.maximum(area(part), 1e-9)
    hit = same_extent & mostly_inside
    out[i[r[hit]]] = True
    return out


def merge_tiles(
    whole: Region,
    tiles: list[tuple[int, int, int, int]],
    parts: list[Region],
    width: int,
    height: int,
    nms_threshold: float,
    overlap: float = PART_OVERLAP,
) -> Region:
    """Merge whole-frame and tile detections into one set for the frame.

    1. Each region gets its own class-aware NMS; tile boxes are moved to frame pixels.
    2. *Truncated views* are removed. An object crossing a tile's inner border is seen cut
       by that tile: its box stops at the border, or the network shrinks it to the visible
       part (a head and torso above the border). Such a tile box ``b`` is dropped when a
       larger detection ``a`` of the same class (from the whole frame or another tile,
       whatever the scores) extends past that inner border by more than ``CUT_FRACTION`` of
       its size and ``b`` matches ``a``'s part inside the tile: 1-D IoU ``>= overlap`` on
       each axis, and ``b`` lies at least ``overlap`` inside ``a``. The per-axis test
       tolerates the network's shrinking along the cut axis yet requires the same extent
       across it, so a distinct smaller object inside ``a``'s box (a narrower person further
       away) is kept. A cut box whose object no other region shows more completely is kept:
       a partial box beats a missed object.
    3. Class-aware greedy NMS over everything.

    Args:
        whole: ``(boxes (N, 4) xyxy frame pixels, scores (N,), classes (N,))``.
        tiles: ``(x1, y1, x2, y2)`` integer tile rectangles in frame pixels.
        parts: per tile, the same triple with boxes in *tile* pixels.
        width, height: frame size.
        nms_threshold: IoU above which a lower-scoring box of the same class is suppressed.
        overlap: agreement threshold of step 2.

    Returns:
        ``(boxes, scores, classes)`` kept, by decreasing score.
    """
    regions = [(np.zeros(4), whole)] + [
        (np.array([x0, y0, x0, y0], np.float64), p) for (x0, y0, _, _), p in zip(tiles, parts)
    ]
    bl, sl, cl, tl = [], [], [], []
    for k, (offset, (b, s, c)) in enumerate(regions):
        keep = batched_nms(b, s, c, nms_threshold)
        bl.append(np.asarray(b, np.float64).reshape(-1, 4)[keep] + offset)
        sl.append(np.asarray(s, np.float64)[keep])
        cl.append(np.asarray(c, np.int64)[keep])
        tl.append(np.full(len(keep), k - 1, np.int64))
    boxes, scores, classes = np.concatenate(bl), np.concatenate(sl), np.concatenate(cl)
    if tiles:
        rects = np.asarray(tiles, np.float64).reshape(-1, 4)
        drop = _truncated_views(boxes, classes, np.concatenate(tl), rects, width, height, overlap)
        boxes, scores, classes = boxes[~drop], scores[~drop], classes[~drop]
        keep = batched_nms(boxes, scores, classes, nms_threshold)
        boxes, scores, classes = boxes[keep], scores[keep], classes[keep]
    return boxes, scores, classes
