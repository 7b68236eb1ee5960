"""YOLOX detectors exported to ONNX, run with onnxruntime (``yolox:PATH``).

YOLOX (Ge et al., "YOLOX: Exceeding YOLO Series in 2021", arXiv:2107.08430) is an
anchor-free one-stage detector. Its usual ONNX export takes a ``[1, 3, S_h, S_w]`` float
image — BGR, values 0–255, no mean/std — *letterboxed*: resized by
``r = min(S_h / h, S_w / w)`` keeping the aspect ratio, placed at the top-left corner and padded
with grey 114. It returns ``[1, A, 5 + C]`` raw grid predictions for the ``A`` cells of three
feature maps with strides 8, 16 and 32 (row-major, ``y`` then ``x``): per cell
``(tx, ty, tw, th, objectness, class_1..class_C)``, decoded as

    cx = (tx + grid_x) * stride,   cy = (ty + grid_y) * stride,
    w = exp(tw) * stride,          h = exp(th) * stride,
    score = objectness * max_c class_c, class = argmax_c class_c

(objectness and class scores are already sigmoid outputs). Boxes are divided by ``r`` to
return to frame pixels, filtered by score, then class-aware greedy NMS is applied
(:mod:`trackkit.detectors.nms`; no torchvision). Models exported with the decoding inside
(boxes already in pixels) are read with ``decoded=True``.

Large frames are also searched tile by tile (slicing-aided inference: overlapping tiles give
small objects more network pixels); :func:`merge_tiles` merges the tiles' detections with
those of the whole frame.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
from numpy.typing import NDArray

from trackkit.config import Config, require
from trackkit.core.boxes import area, clip_boxes, cxcywh_to_xyxy
from trackkit.core.detections import Detections
from trackkit.detectors.base import DETECTORS
from trackkit.detectors.coco import COCO_CLASSES
from trackkit.detectors.nms import batched_nms
from trackkit.errors import ConfigError, DataNotFoundError, FormatError

__all__ = ["YoloxConfig", "YoloxDetector", "letterbox", "merge_tiles", "yolox_grids"]

logger = logging.getLogger(__name__)
STRIDES = (8, 16, 32)
#: Agreement required between a tile box and the part inside the tile of a larger detection
#: for the tile box to count as a truncated view of it (see :func:`merge_tiles`).
PART_OVERLAP = 0.5
#: A detection is cut by a tile border when it extends past it by more than this fraction of
#: its own width (height); less is within box-regression noise: the object fits the tile.
CUT_FRACTION = 0.1

Region = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]


@dataclass(frozen=True)
class YoloxConfig(Config):
    """Configuration of :class:`YoloxDetector`.

    Attributes:
        path: the ONNX model file.
        score_threshold: keep detections with ``objectness * class score >=`` it.
        nms_threshold: IoU above which a lower-scoring box of the same class is suppressed.
        classes: class ids to keep (``None``: all).
        input_size: ``(height, width)`` of the network input when the model's is dynamic.
        num_threads: onnxruntime intra-op threads (0: onnxruntime's default, one per core).
            One thread is the default: YOLOX-Nano is small, and on a busy machine extra
            spinning threads slow it down several times.
        max_detections: at most this many boxes per frame (best scores first).
        decoded: the model already outputs decoded ``cx, cy, w, h`` in input pixels.
        class_names: names of the model's classes (default: the 80 COCO classes).
        tiles: ``(columns, rows)`` of overlapping tiles to run the network on besides the
            whole frame, for small objects in large frames; ``(1, 1)``: whole frame only;
            ``(0, 0)``: automatic, about one tile per ``tile_factor`` input sizes. Tile and
            whole-frame detections are merged by :func:`merge_tiles`.
        tile_factor: frame pixels per network pixel aimed at by automatic tiling.
        tile_overlap: overlap of neighbouring tiles as a fraction of the tile size.
    """

    RANGES: ClassVar[str] = (
        "score_threshold in [0, 1]; nms_threshold in (0, 1]; num_threads >= 0; "
        "max_detections >= 1; tile_factor >= 1; tile_overlap in [0, 0.5)"
    )

    path: str
    score_threshold: float = 0.4
    nms_threshold: float = 0.45
    classes: tuple[int, ...] | None = None
    input_size: tuple[int, int] = (416, 416)
    num_threads: int = 1
    max_detections: int = 300
    decoded: bool = False
    class_names: tuple[str, ...] = COCO_CLASSES
    tiles: tuple[int, int] = (0, 0)
    tile_factor: float = 1.6
    tile_overlap: float = 0.2

    def validate(self) -> None:
        require(
            len(self.input_size) == 2 and all(s >= 32 and s % 32 == 0 for s in self.input_size),
            "input_size must be (height, width), multiples of 32",
        )
        require(
            len(self.tiles) == 2
            and min(self.tiles) >= 0
            and (min(self.tiles) > 0) == (max(self.tiles) > 0),
            "tiles must be (columns, rows) >= 1, or (0, 0) for automatic",
        )


def letterbox(
    frame: NDArray[np.uint8], size: tuple[int, int], pad_value: int = 114
) -> tuple[NDArray[np.float32], float]:
    """Resize keeping the aspect ratio, place top-left, pad; return a ``[1, 3, H, W]`` input.

    Args:
        frame: ``(h, w, 3)`` uint8 BGR image.
        size: network input ``(H, W)``.
        pad_value: grey level of the padding.

    Returns:
        ``(blob, r)``: float32 ``[1, 3, H, W]`` BGR 0–255 and the scale ``r`` (input pixels
        per frame pixel).
    """
    h, w = frame.shape[:2]
    r = min(size[0] / h, size[1] / w)
    nw, nh = max(int(w * r), 1), max(int(h * r), 1)
    resized = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((size[0], size[1], 3), pad_value, np.uint8)
    canvas[:nh, :nw] = resized
    blob = canvas.transpose(2, 0, 1)[None].astype(np.float32)
    return np.ascontiguousarray(blob), r


def yolox_grids(size: tuple[int, int]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Grid cell offsets and strides of the three YOLOX heads for input ``(H, W)``.

    Returns:
        ``(grid, stride)``: ``(A, 2)`` float32 cell ``(x, y)`` indices and ``(A, 1)`` float32
        strides, in the row-major order of the model's output.
    """
    grids, strides = [], []
    for s in STRIDES:
        gh, gw = size[0] // s, size[1] // s
        ys, xs = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
        grids.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        strides.append(np.full((gh * gw, 1), s))
    return (
        np.concatenate(grids).astype(np.float32),
        np.concatenate(strides).astype(np.float32),
    )


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


def _session(path: Path, num_threads: int) -> Any:
    try:
        import onnxruntime as ort
    except ImportError:
        raise ConfigError(
            "the yolox detector needs onnxruntime: pip install 'trackkit[onnx]'"
        ) from None
    opts = ort.SessionOptions()
    if num_threads:
        opts.intra_op_num_threads = num_threads
        opts.inter_op_num_threads = 1
    # Busy-waiting worker threads steal the CPU from everything else on a shared machine.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FormatError(path, f"not a loadable ONNX model ({first})") from None


@DETECTORS.register("yolox")
class YoloxDetector:
    """YOLOX ONNX detector (``yolox:PATH``); default classes are COCO's (0 = person)."""

    def __init__(self, path: str | Path, **options: Any) -> None:
        if "classes" in options and options["classes"] is not None:
            options["classes"] = tuple(int(c) for c in options["classes"])
        if "input_size" in options:
            options["input_size"] = tuple(int(s) for s in options["input_size"])
        try:
            self.config = YoloxConfig(str(path), **options)
        except TypeError as exc:
            raise ConfigError(f"yolox detector: {exc}") from None
        model = Path(self.config.path)
        if not model.is_file():
            raise DataNotFoundError(f"{model}: ONNX model not found")
        self._sess = _session(model, self.config.num_threads)
        self._check_model(model)
        self.class_names: tuple[str, ...] = self.config.class_names
        self._grid, self._strides = yolox_grids(self.input_size)

    def _check_model(self, model: Path) -> None:
        inputs, outputs = self._sess.get_inputs(), self._sess.get_outputs()
        if len(inputs) != 1:
            raise FormatError(model, f"expected 1 input, the model has {len(inputs)}")
        shape = list(inputs[0].shape)
        if len(shape) != 4 or shape[1] not in (3, "3"):
            raise FormatError(model, f"expected an input [1, 3, H, W], got {shape}")
        if isinstance(shape[2], int) and isinstance(shape[3], int):
            self.input_size = (int(shape[2]), int(shape[3]))
            if shape[2] % 32 or shape[3] % 32:
                raise FormatError(model, f"input size {shape[2:]} is not a multiple of 32")
        else:
            self.input_size = self.config.input_size
        self._input_name = inputs[0].name
        if not outputs:
            raise FormatError(model, "the model has no output")
        out = list(outputs[0].shape)
        num_cells = sum((self.input_size[0] // s) * (self.input_size[1] // s) for s in STRIDES)
        ok = len(out) == 3 and (not isinstance(out[2], int) or out[2] >= 6)
        if ok and isinstance(out[1], int) and out[1] != num_cells:
            ok = False
        if not ok:
            raise FormatError(
                model,
                f"output shape {out} is not YOLOX's [1, {num_cells}, 5 + classes] for an "
                f"input of {self.input_size[0]}x{self.input_size[1]}",
            )

    def raw(self, frame: NDArray[np.uint8]) -> tuple[NDArray[np.float32], float]:
        """The model's output ``(A, 5 + C)`` for ``frame`` and the letterbox scale."""
        blob, r = letterbox(frame, self.input_size)
        out = self._sess.run(None, {self._input_name: blob})[0]
        pred = np.asarray(out, np.float32)
        if pred.ndim != 3 or pred.shape[0] != 1 or pred.shape[2] < 6:
            raise FormatError(self.config.path, f"unexpected output shape {pred.shape}")
        if pred.shape[1] != len(self._grid):
            raise FormatError(
                self.config.path,
                f"output has {pred.shape[1]} rows, expected {len(self._grid)} grid cells",
            )
        return pred[0], r

    def tile_boxes(self, width: int, height: int) -> list[tuple[int, int, int, int]]:
        """The ``(x1, y1, x2, y2)`` integer tiles used for a frame (empty: whole frame only)."""
        cfg = self.config
        cols, rows = cfg.tiles
        if cols == 0:
            cols = max(1, round(width / (self.input_size[1] * cfg.tile_factor)))
            rows = max(1, round(height / (self.input_size[0] * cfg.tile_factor)))
        if cols == 1 and rows == 1:
            return []
        ov = cfg.tile_overlap
        tw, th = width / (cols - (cols - 1) * ov), height / (rows - (rows - 1) * ov)
        out = []
        for r in range(rows):
            for c in range(cols):
                x0, y0 = round(c * tw * (1 - ov)), round(r * th * (1 - ov))
                out.append((x0, y0, min(round(x0 + tw), width), min(round(y0 + th), height)))
        return out

    def _detect_region(
        self, img: NDArray[np.uint8]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
        """Scored, class-filtered boxes (``xyxy`` in ``img`` pixels) before NMS."""
        cfg = self.config
        pred, r = self.raw(img)
        cls_scores = pred[:, 5:]
        if cfg.classes is not None:
            keep_cls = np.asarray([c for c in cfg.classes if 0 <= c < cls_scores.shape[1]])
            if keep_cls.size == 0:
                return np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64)
            sub = cls_scores[:, keep_cls]
            best = sub.argmax(axis=1)
            cls = keep_cls[best].astype(np.int64)
            cls_score = sub[np.arange(len(pred)), best]
        else:
            cls = cls_scores.argmax(axis=1).astype(np.int64)
            cls_score = cls_scores[np.arange(len(pred)), cls]
        scores = pred[:, 4] * cls_score
        sel = np.flatnonzero(scores >= cfg.score_threshold)
        p = pred[sel].astype(np.float64)
        if cfg.decoded:
            cxcywh = p[:, :4]
        else:
            cxcywh = np.empty((len(sel), 4))
            cxcywh[:, :2] = (p[:, :2] + self._grid[sel]) * self._strides[sel]
            cxcywh[:, 2:4] = np.exp(np.clip(p[:, 2:4], -20, 20)) * self._strides[sel]
        boxes = clip_boxes(cxcywh_to_xyxy(cxcywh) / r, img.shape[1], img.shape[0])
        return boxes, scores[sel].astype(np.float64), cls[sel]

    def detect(self, frame: NDArray[np.uint8]) -> Detections:
        """Detect objects in a ``(H, W, 3)`` uint8 BGR frame; boxes ``xyxy`` in frame pixels.

        The whole frame is always searched (it alone sees large objects whole); with tiling,
        each tile is searched too and everything is merged by :func:`merge_tiles`.
        """
        if frame.ndim == 2:
            frame = np.asarray(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR), np.uint8)
        h, w = frame.shape[:2]
        tiles = self.tile_boxes(w, h)
        whole = self._detect_region(frame)
        parts = [self._detect_region(frame[y0:y1, x0:x1]) for x0, y0, x1, y1 in tiles]
        boxes, scores, classes = merge_tiles(whole, tiles, parts, w, h, self.config.nms_threshold)
        n = self.config.max_detections
        return Detections(boxes[:n], scores[:n], classes[:n])
