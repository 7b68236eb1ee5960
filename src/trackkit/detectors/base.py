"""The detector protocol, the detector registry and adapters.

A detector turns one frame into :class:`~trackkit.core.detections.Detections`::

    dets = detector.detect(frame)   # frame: (H, W, 3) uint8 BGR; dets.xyxy in frame pixels

Detectors are called on the frames of one video in order; ``reset()`` (optional) starts a new
video. ``class_names`` (optional) maps class ids to names so that users can filter by name.

Built-in detectors register in :data:`DETECTORS` and are made from a *spec* string by
:func:`build_detector`: ``"hog"``, ``"bgsub"``, ``"yolox:PATH.onnx"``, ``"picodet:PATH.onnx"``,
``"fastestdet:PATH.onnx"``, ``"file:PATH/det.txt"``, a model name of :mod:`trackkit.zoo`
(``"picodet-s"``, ``"yolox-nano"``) (a bare ``*.onnx`` or ``*.txt`` path works too). Any
callable ``frame -> Detections`` (or ``frame -> (N, 4|5|6) array`` of
``x1, y1, x2, y2[, score[, class]]``) becomes a detector with :class:`CallableDetector`;
:class:`ClassFilter` keeps chosen classes and :class:`EmbeddingDetector` adds appearance
embeddings from a ReID embedder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from trackkit.core.detections import Detections
from trackkit.errors import ConfigError, TrackkitError
from trackkit.registry import Registry

# the public API is re-exported by trackkit.detectors (its __all__)

Frame = NDArray[np.uint8]


@runtime_checkable
class Detector(Protocol):
    """Anything with ``detect(frame) -> Detections``.

    ``frame`` is ``(H, W, 3)`` uint8 BGR; the returned boxes are ``xyxy`` float64 in the
    frame's continuous pixel coordinates.
    """

    def detect(self, frame: Frame) -> Detections: ...


@runtime_checkable
class Embedder(Protocol):
    """An appearance model: ``embed(frame, boxes_xyxy) -> (N, D)`` float features."""

    def embed(self, frame: Frame, boxes_xyxy: NDArray[np.float64]) -> NDArray[Any]: ...


def _call_detect(self: Any, frame: Frame) -> Detections:
    """``detector(frame)`` is ``detector.detect(frame)``."""
    return self.detect(frame)  # type: ignore[no-any-return]


class _DetectorRegistry(Registry[Detector]):
    """The detector registry: a registered class without ``__call__`` gets one, so every
    built-in detector is also a function ``frame -> Detections`` (as any detector may be)."""

    def register(self, name: str, summary: str | None = None) -> Callable[[Any], Any]:
        deco = super().register(name, summary)

        def wrap(factory: Any) -> Any:
            if isinstance(factory, type) and not any(
                "__call__" in vars(k) for k in factory.__mro__[:-1]
            ):
                factory.__call__ = _call_detect  # type: ignore[method-assign]
            return deco(factory)

        return wrap


#: Every module of :mod:`trackkit.detectors` is imported on first use (no hand-kept list).
DETECTORS: Registry[Detector] = _DetectorRegistry("detector", packages=("trackkit.detectors",))


def reset_detector(detector: Any) -> None:
    """Call ``detector.reset()`` when the detector has one."""
    reset = getattr(detector, "reset", None)
    if callable(reset):
        reset()


def _to_detections(out: Any, where: str) -> Detections:
    if isinstance(out, Detections):
        return out
    try:
        arr = np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TrackkitError(f"{where} returned {type(out).__name__}, not detections") from exc
    if arr.size == 0:
        return Detections.empty()
    if arr.ndim != 2 or arr.shape[1] not in (4, 5, 6):
        raise TrackkitError(
            f"{where} returned an array of shape {arr.shape}; expected (N, 4), (N, 5) or "
            "(N, 6) rows of x1, y1, x2, y2[, score[, class]]"
        )
    scores = arr[:, 4] if arr.shape[1] >= 5 else None
    classes = arr[:, 5].astype(np.int64) if arr.shape[1] == 6 else None
    return Detections(arr[:, :4], scores, classes)


class CallableDetector:
    """Wrap a user function ``frame -> Detections | (N, 4|5|6) array`` as a detector.

    Array rows are ``x1, y1, x2, y2[, score[, class_id]]`` in frame pixels.
    """

    def __init__(
        self, fn: Callable[[Frame], Any], class_names: Sequence[str] | None = None
    ) -> None:
        self.fn = fn
        self.class_names = tuple(class_names) if class_names is not None else None

    def detect(self, frame: Frame) -> Detections:
        name = getattr(self.fn, "__name__", type(self.fn).__name__)
        return _to_detections(self.fn(frame), f"detector function {name}")

    def reset(self) -> None:
        reset_detector(self.fn)


def as_detector(obj: Any) -> Detector:
    """``obj`` if it already is a detector, a spec string built by :func:`build_detector`, or
    a callable wrapped in :class:`CallableDetector`."""
    if isinstance(obj, str):
        return build_detector(obj)
    if isinstance(obj, Detector):
        return obj
    if callable(obj):
        return CallableDetector(obj)
    raise ConfigError(f"not a detector: {obj!r} (needs detect(frame) or to be callable)")


def resolve_classes(names: Sequence[str | int], class_names: Sequence[str] | None) -> list[int]:
    """Class ids for ``names`` (names or integer ids) given a detector's ``class_names``;
    a name may list several, comma-separated (``"person,car"``)."""
    ids: list[int] = []
    lookup = {n.lower(): i for i, n in enumerate(class_names or ())}
    items: list[str | int] = []
    for name in names:
        if isinstance(name, str):
            items.extend(p for p in name.split(",") if p.strip())
        else:
            items.append(name)
    for name in items:
        if isinstance(name, int) or (isinstance(name, str) and name.strip().isdigit()):
            ids.append(int(name))
            continue
        key = str(name).strip().lower()
        if key not in lookup:
            if not class_names:
                raise ConfigError(
                    f"class {name!r}: this detector has no class names (a plain function or "
                    "a one-class detector); give class ids instead (classes=[0], --classes 0) "
                    "or a detector with class_names"
                )
            known = ", ".join(class_names[:12]) + (", ..." if len(class_names) > 12 else "")
            raise ConfigError(f"unknown class {name!r}; this detector's classes: {known}")
        ids.append(lookup[key])
    return ids


class ClassFilter:
    """Keep only the detections of some classes (detections without classes pass through).

    Args:
        detector: the wrapped detector.
        classes: class names (looked up in ``detector.class_names``) or integer ids.

    ``kept`` and ``dropped`` count the detections per class id since the last ``reset()``
    (:meth:`summary` says it in words: what the filter dropped, by class name).
    """

    def __init__(self, detector: Detector, classes: Sequence[str | int]) -> None:
        self.detector = detector
        self.class_names = getattr(detector, "class_names", None)
        self.class_ids = np.asarray(resolve_classes(classes, self.class_names), np.int64)
        self.needs_frames = getattr(detector, "needs_frames", True)
        self.kept: dict[int, int] = {}
        self.dropped: dict[int, int] = {}

    def detect(self, frame: Frame) -> Detections:
        dets = self.detector.detect(frame)
        if dets.class_ids is None:
            return dets
        keep = np.isin(dets.class_ids, self.class_ids)
        cls = dets.class_ids
        for store, ids in ((self.kept, cls[keep]), (self.dropped, cls[~keep])):
            for c, n in zip(*np.unique(ids, return_counts=True), strict=True):
                store[int(c)] = store.get(int(c), 0) + int(n)
        return dets[keep]

    def name(self, class_id: int) -> str:
        """The name of a class id (``class N`` without a name)."""
        names = self.class_names
        return str(names[class_id]) if names and 0 <= class_id < len(names) else f"class {class_id}"

    def summary(self) -> str:
        """``kept 12: 12 person; dropped 230: 200 cell phone, 30 car`` (most first)."""
        kept = sorted(self.kept.items(), key=lambda x: -x[1])
        text = f"kept {sum(self.kept.values())}"
        if kept:
            text += ": " + ", ".join(f"{n} {self.name(c)}" for c, n in kept)
        dropped = sorted(self.dropped.items(), key=lambda x: -x[1])
        if dropped:
            text += (
                f"; dropped {sum(self.dropped.values())}: "
                + ", ".join(f"{n} {self.name(c)}" for c, n in dropped[:8])
                + (", ..." if len(dropped) > 8 else "")
            )
        return text

    def reset(self) -> None:
        self.kept.clear()
        self.dropped.clear()
        reset_detector(self.detector)


class EmbeddingDetector:
    """Add appearance embeddings (for DeepSORT / BoT-SORT) to another detector's output.

    Args:
        detector: the wrapped detector.
        embedder: an object with ``embed(frame, boxes_xyxy) -> (N, D)`` (e.g. the ReID
            embedder of :mod:`trackkit.reid`).
    """

    def __init__(self, detector: Detector, embedder: Embedder) -> None:
        self.detector = detector
        self.embedder = embedder
        self.class_names = getattr(detector, "class_names", None)

    def detect(self, frame: Frame) -> Detections:
        dets = self.detector.detect(frame)
        emb = np.asarray(self.embedder.embed(frame, np.asarray(dets.xyxy)), np.float32)
        if len(dets) == 0 and emb.ndim != 2:
            emb = emb.reshape(0, 0)
        if emb.ndim != 2 or len(emb) != len(dets):
            raise TrackkitError(
                f"embedder returned shape {emb.shape} for {len(dets)} boxes; expected (N, D)"
            )
        return Detections(dets.xyxy, dets.scores, dets.class_ids, emb)

    def reset(self) -> None:
        reset_detector(self.detector)


def onnx_family(path: str) -> str:
    """The detector family of an ``.onnx`` file: the registry's when its size and sha256 are
    those of a registered detector, else ``yolox``."""
    from pathlib import Path

    from trackkit.zoo import MODELS
    from trackkit.zoo.cache import sha256_file

    p = Path(path)
    if p.is_file():
        size = p.stat().st_size
        same = [m for m in MODELS.values() if m.task == "detect" and m.files[0].size == size]
        if same:
            digest = sha256_file(p)
            for m in same:
                if m.files[0].sha256 == digest:
                    return m.kind
    return "yolox"


def build_detector(spec: str, **cfg: Any) -> Detector:
    """Make a registered detector from a spec string.

    Args:
        spec: ``NAME`` or ``NAME:ARGUMENT`` — ``"hog"``, ``"bgsub"``, ``"yolox:model.onnx"``,
            ``"picodet:model.onnx"``, ``"fastestdet:model.onnx"``, ``"file:det.txt"``; a
            model name of the registry (``"yolox-nano"``, ``"picodet-s"``, ``"fastestdet"``:
            :mod:`trackkit.zoo`); a bare path ending in ``.onnx`` means the family of that
            registered model (:func:`onnx_family`, else ``yolox:``), one ending in ``.txt``
            means ``file:``.
        **cfg: options of that detector's configuration.

    Raises:
        ConfigError: unknown name (the message lists the valid ones) or bad options.
    """
    import trackkit.detectors  # noqa: F401  (registers the built-in detectors)
    from trackkit.zoo import get_model, is_model_name

    name, sep, arg = spec.partition(":")
    lowered = spec.lower()
    if not sep and is_model_name(spec):
        info = get_model(spec, "detect")
        name, arg, sep = info.kind, info.name, ":"
    elif not sep or len(name) == 1:  # "C:\\..." is a Windows path, not a spec
        if lowered.endswith(".onnx"):
            name, arg, sep = onnx_family(spec), spec, ":"
        elif lowered.endswith(".txt"):
            name, arg, sep = "file", spec, ":"
    if sep:
        if not arg:
            raise ConfigError(f"detector spec {spec!r}: nothing after ':'")
        return DETECTORS.build(name, path=arg, **cfg)
    if name.lower() not in DETECTORS:
        from trackkit.zoo import model_names

        raise ConfigError(
            f"unknown detector {spec!r}; valid names: {', '.join(DETECTORS.available())}, a "
            f"model name ({', '.join(model_names('detect'))}; trackkit models list) or a file "
            "(MODEL.onnx, det.txt)"
        )
    return DETECTORS.build(name, **cfg)
