"""What every ONNX detector shares: model loading, input images, class filter, threshold, NMS,
whole frame + tiles.

A family (:mod:`~trackkit.detectors.yolox`, :mod:`~trackkit.detectors.picodet`,
:mod:`~trackkit.detectors.fastestdet`) subclasses :class:`OnnxDetector` and writes three
things only: ``_check_model`` (the input/output layout it expects, a clear
:class:`~trackkit.errors.FormatError` otherwise), ``_preprocess`` (its input convention:
letterbox or plain resize, channel order, scaling) and ``_decode`` (raw outputs -> per-class
scores of every candidate box, and the boxes of the candidates kept). The rest is here, once:

1. the image (or each tile) is turned into the network's input by ``_preprocess``, which also
   returns the scale from image to input pixels (``(sx, sy)``);
2. ``_decode`` gives ``(A, C)`` class scores; the configured classes are kept, each candidate
   takes its best class, candidates under ``score_threshold`` are dropped, the boxes of the
   others are decoded and brought back to image pixels (divided by the scale, clipped);
3. whole frame and tiles are merged (:func:`trackkit.detectors.tiles.merge_tiles`: per-region
   class-aware NMS, truncated tile views removed, NMS again); at most ``max_detections``
   boxes, by decreasing score.

``path`` may be a file or a model name of the registry (``yolox-nano``, ``picodet-s``,
``fastestdet``: :func:`trackkit.zoo.resolve`); ``classes`` may be ids or COCO names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
from numpy.typing import NDArray

from trackkit.config import Config, require
from trackkit.core.boxes import clip_boxes
from trackkit.core.detections import Detections
from trackkit.detectors.base import resolve_classes
from trackkit.detectors.coco import COCO_CLASSES
from trackkit.detectors.tiles import Region, merge_tiles, tile_boxes
from trackkit.errors import ConfigError, FormatError

__all__ = ["Decoded", "OnnxDetector", "OnnxDetectorConfig", "letterbox", "resize_plain"]

#: ``(scores (A, C) float32, boxes(sel) -> (len(sel), 4) xyxy float64 in input pixels)``
Decoded = tuple[NDArray[np.float32], Callable[[NDArray[np.int64]], NDArray[np.float64]]]
Blob = NDArray[np.float32]


@dataclass(frozen=True)
class OnnxDetectorConfig(Config):
    """Options every ONNX detector has.

    Attributes:
        path: the ONNX model file, or a model name of the registry.
        score_threshold: keep detections whose score (the family's) is ``>=`` it.
        nms_threshold: IoU above which a lower-scoring box of the same class is suppressed.
        classes: class ids to keep (``None``: all); names are turned into ids on the way in.
        input_size: ``(height, width)`` of the network input when the model's is dynamic.
        num_threads: onnxruntime intra-op threads (0: onnxruntime's default, one per core).
            One thread is the default: these networks are small, and on a busy machine extra
            spinning threads slow them down several times.
        max_detections: at most this many boxes per frame (best scores first).
        class_names: names of the model's classes (default: the 80 COCO classes).
        tiles: ``(columns, rows)`` of overlapping tiles to run the network on besides the
            whole frame; ``(1, 1)``: whole frame only; ``(0, 0)``: automatic
            (:func:`trackkit.detectors.tiles.tile_boxes`).
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
    class_names: tuple[str, ...] = COCO_CLASSES
    tiles: tuple[int, int] = (0, 0)
    tile_factor: float = 1.6
    tile_overlap: float = 0.2

    def validate(self) -> None:
        require(
            len(self.input_size) == 2 and all(s >= 32 for s in self.input_size),
            "input_size must be (height, width), at least 32",
        )
        require(
            len(self.tiles) == 2
            and min(self.tiles) >= 0
            and (min(self.tiles) > 0) == (max(self.tiles) > 0),
            "tiles must be (columns, rows) >= 1, or (0, 0) for automatic",
        )


def letterbox(
    frame: NDArray[np.uint8], size: tuple[int, int], pad_value: int = 114
) -> tuple[Blob, float]:
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


def resize_plain(
    frame: NDArray[np.uint8],
    size: tuple[int, int],
    rgb: bool = False,
    mean: Sequence[float] = (0.0, 0.0, 0.0),
    std: Sequence[float] = (1.0, 1.0, 1.0),
) -> tuple[Blob, tuple[float, float]]:
    """Resize to exactly ``size`` (aspect ratio not kept) and normalise; ``[1, 3, H, W]``.

    Args:
        frame: ``(h, w, 3)`` uint8 BGR image.
        size: network input ``(H, W)``.
        rgb: swap to RGB order before normalising.
        mean, std: per channel (in the order fed), on 0–255 values: ``(x - mean) / std``.

    Returns:
        ``(blob, (sx, sy))``: float32 ``[1, 3, H, W]`` and the input pixels per frame pixel
        along x and y.
    """
    h, w = frame.shape[:2]
    img = cv2.resize(frame, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    if rgb:
        img = img[..., ::-1]
    x = (img.astype(np.float32) - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    blob = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
    return blob, (size[1] / w, size[0] / h)


def _session(path: Path, num_threads: int) -> Any:
    try:
        import onnxruntime as ort
    except ImportError:
        raise ConfigError("ONNX detectors need onnxruntime: pip install 'trackkit[onnx]'") from None
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
        raise FormatError(str(path), f"not a loadable ONNX model ({first})") from None


class OnnxDetector:
    """Base of the ONNX detectors (see the module docstring); ``detect(frame) -> Detections``.

    Subclasses set ``config_class`` and ``family`` and implement ``_check_model``,
    ``_preprocess`` and ``_decode``.
    """

    config_class: ClassVar[type[OnnxDetectorConfig]] = OnnxDetectorConfig
    family: ClassVar[str] = "onnx"

    def __init__(self, path: str | Path, **options: Any) -> None:
        from trackkit.zoo import resolve

        names = tuple(options.get("class_names") or COCO_CLASSES)
        if options.get("classes") is not None:
            wanted = options["classes"]
            wanted = [wanted] if isinstance(wanted, (str, int)) else list(wanted)
            options["classes"] = tuple(resolve_classes(wanted, names))
        if "input_size" in options:
            options["input_size"] = tuple(int(s) for s in options["input_size"])
        if "tiles" in options:
            options["tiles"] = tuple(int(s) for s in options["tiles"])
        try:
            self.config = self.config_class(str(path), **options)
        except TypeError as exc:
            raise ConfigError(f"{self.family} detector: {exc}") from None
        self.model_path = resolve(self.config.path, "detect")
        if not self.model_path.is_file():
            raise FormatError(str(self.model_path), "expected an .onnx file, got a folder")
        self._sess = _session(self.model_path, self.config.num_threads)
        inputs, outputs = self._sess.get_inputs(), self._sess.get_outputs()
        if len(inputs) != 1:
            raise FormatError(
                str(self.model_path), f"expected 1 input, the model has {len(inputs)}"
            )
        shape = list(inputs[0].shape)
        if len(shape) != 4 or shape[1] not in (3, "3"):
            raise FormatError(str(self.model_path), f"expected an input [1, 3, H, W], got {shape}")
        self._input_name: str = inputs[0].name
        self.input_size: tuple[int, int] = (
            (int(shape[2]), int(shape[3]))
            if isinstance(shape[2], int) and isinstance(shape[3], int)
            else self.config.input_size
        )
        if not outputs:
            raise FormatError(str(self.model_path), "the model has no output")
        self.class_names: tuple[str, ...] = self.config.class_names
        self._check_model([list(o.shape) for o in outputs])

    # -- what a family writes ------------------------------------------------------------
    def _check_model(self, output_shapes: list[list[Any]]) -> None:
        """Raise :class:`FormatError` unless the outputs are the family's layout."""
        raise NotImplementedError

    def _preprocess(self, img: NDArray[np.uint8]) -> tuple[Blob, tuple[float, float]]:
        """The network input for ``img`` and the scale ``(sx, sy)`` (input px per image px)."""
        raise NotImplementedError

    def _decode(self, outputs: list[NDArray[Any]]) -> Decoded:
        """Raw outputs -> ``(scores (A, C), boxes(sel))`` (see :data:`Decoded`)."""
        raise NotImplementedError

    # -- shared ----------------------------------------------------------------------------
    def _fail(self, problem: str) -> FormatError:
        return FormatError(str(self.model_path), problem)

    def tile_boxes(self, width: int, height: int) -> list[tuple[int, int, int, int]]:
        """The ``(x1, y1, x2, y2)`` integer tiles used for a frame (empty: whole frame only)."""
        cfg = self.config
        return tile_boxes(width, height, self.input_size, cfg.tiles, cfg.tile_factor,
                          cfg.tile_overlap)  # fmt: skip

    def _detect_region(self, img: NDArray[np.uint8]) -> Region:
        """Scored, class-filtered boxes (``xyxy`` in ``img`` pixels) before NMS."""
        cfg = self.config
        blob, (sx, sy) = self._preprocess(img)
        outputs = [np.asarray(o) for o in self._sess.run(None, {self._input_name: blob})]
        scores, boxes_of = self._decode(outputs)
        if cfg.classes is not None:
            keep_cls = np.asarray([c for c in cfg.classes if 0 <= c < scores.shape[1]], np.int64)
            if keep_cls.size == 0:
                return np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64)
            sub = scores[:, keep_cls]
            best = sub.argmax(axis=1)
            cls = keep_cls[best]
            score = sub[np.arange(len(sub)), best]
        else:
            cls = scores.argmax(axis=1).astype(np.int64)
            score = scores[np.arange(len(scores)), cls]
        sel = np.flatnonzero(score >= cfg.score_threshold).astype(np.int64)
        boxes = boxes_of(sel) / np.array([sx, sy, sx, sy])
        boxes = clip_boxes(boxes, img.shape[1], img.shape[0])
        return boxes, score[sel].astype(np.float64), cls[sel]

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
