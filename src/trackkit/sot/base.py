"""The single-object tracking protocol.

A single-object tracker follows one target through a video: ``init(frame, box)`` with the
target's box in the first frame, then ``update(frame) -> SOTResult`` for every next frame.

- Frames are ``(H, W, 3)`` uint8 BGR (OpenCV order) or ``(H, W)`` uint8 gray.
- Boxes are ``xyxy`` float64, continuous pixels (see :mod:`trackkit.core.boxes`).
- A tracker instance owns its state; ``init`` (or ``reset``) starts a new video.
- Configuration is a frozen, validated dataclass stored by ``__init__`` and nothing else.

Trackers register in :data:`SOT_TRACKERS`; :func:`build` makes one by name.
"""

from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trackkit.config import Config, make_config
from trackkit.core.boxes import as_boxes
from trackkit.errors import TrackkitError
from trackkit.registry import Registry

__all__ = [
    "LOST_THRESHOLD_DOC",
    "SOT_TRACKERS",
    "NetTrackerConfig",
    "SOTResult",
    "SOTTracker",
    "available",
    "build",
    "check_box",
    "check_frame",
]


@dataclass(frozen=True)
class NetTrackerConfig(Config):
    """Options every deep-network SOT tracker's configuration has (SiamFC, GOTURN, MDNet,
    SiamRPN); the subclasses add their own.

    Attributes:
        weights: the network's weights (a file or folder, see the subclass); ``None`` takes
            the tracker's default weights.
        threads: CPU threads for the network.
        lost_threshold: a frame whose score is below it is reported as lost
            (:attr:`SOTResult.lost`); ``None`` never reports lost. Each tracker sets its own
            default (see :data:`LOST_THRESHOLD_DOC`).
    """

    RANGES: ClassVar[str] = "threads >= 1"

    weights: str | None = None
    threads: int = 1
    lost_threshold: float | None = None


@dataclass(frozen=True)
class SOTResult:
    """A tracker's answer for one frame.

    Attributes:
        box: ``(4,)`` float64 ``xyxy`` box, continuous pixels. When ``lost``, it is the
            tracker's last estimate (kept so that OTB-style result files have a box on every
            frame), not a detection of the target.
        score: confidence of the tracker in this box (scale is tracker-specific; higher is
            more confident).
        lost: the tracker considers the target lost on this frame (out of view, occluded or
            lost track): ``score`` fell below the tracker's ``lost_threshold`` (or, for
            SiamRPN's long-term mode, the target is being searched for).
    """

    box: NDArray[np.float64]
    score: float
    lost: bool = False


def check_frame(frame: Any) -> NDArray[np.uint8]:
    """Validate a frame: ``(H, W, 3)`` or ``(H, W)`` uint8 with H, W >= 1."""
    if not isinstance(frame, np.ndarray):
        raise TrackkitError(f"a frame must be a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise TrackkitError(f"a frame must be uint8, got {frame.dtype}")
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] != 3):
        raise TrackkitError(f"a frame must be HxWx3 (BGR) or HxW (gray), got shape {frame.shape}")
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        raise TrackkitError(f"empty frame of shape {frame.shape}")
    return frame


def check_box(box: ArrayLike) -> NDArray[np.float64]:
    """Validate an initial ``xyxy`` box: finite, positive width and height; returns ``(4,)``."""
    try:
        b = as_boxes(box)
    except ValueError as exc:
        raise TrackkitError(f"bad box {box!r}: {exc}") from None
    if len(b) != 1:
        raise TrackkitError(f"expected one box, got {len(b)}")
    b = b[0]
    if not np.all(np.isfinite(b)) or b[2] <= b[0] or b[3] <= b[1]:
        raise TrackkitError(f"bad box {b.tolist()}: needs finite x1 < x2 and y1 < y2")
    return b


class SOTTracker(abc.ABC):
    """Base class of single-object trackers.

    Subclasses name their frozen config dataclass in :attr:`config_class` and implement
    :meth:`_init` and :meth:`_update`; the public methods validate input and keep the
    ``initialized`` flag.

    Args:
        config: a ready config (``config_class`` instance), or ``None`` to build one from
            ``overrides`` (unknown keys raise :class:`~trackkit.errors.ConfigError` naming the
            valid ones).
    """

    #: The tracker's frozen, validated configuration dataclass.
    config_class: ClassVar[type[Any]]
    #: a deep tracker's network, loaded on first use (:meth:`_network`)
    _net: Any = None

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        if config is None and hasattr(self, "config_class"):
            config = make_config(self.config_class, **overrides)
        elif overrides:
            config = dataclasses.replace(config, **overrides)
        self.config = config
        self._initialized = False

    @property
    def initialized(self) -> bool:
        """Whether :meth:`init` has been called since the last :meth:`reset`."""
        return self._initialized

    def init(self, frame: NDArray[np.uint8], box: ArrayLike) -> None:
        """Start tracking the target at ``box`` (``xyxy``) in ``frame``.

        Raises:
            TrackkitError: a bad frame, a box of zero size, or a box outside the frame.
        """
        frame = check_frame(frame)
        b = check_box(box)
        h, w = frame.shape[:2]
        if b[2] <= 0 or b[3] <= 0 or b[0] >= w or b[1] >= h:
            raise TrackkitError(
                f"initial box {[round(float(v), 2) for v in b]} (xyxy) lies outside the "
                f"{w}x{h} frame"
            )
        self._init(frame, b)
        self._initialized = True

    def update(self, frame: NDArray[np.uint8]) -> SOTResult:
        """Locate the target in the next ``frame``; ``lost`` is set when the score is below
        the configuration's ``lost_threshold``."""
        if not self._initialized:
            raise TrackkitError(f"{type(self).__name__}.update() called before init()")
        res = self._update(check_frame(frame))
        thr = getattr(self.config, "lost_threshold", None)
        if thr is not None and not res.lost and res.score < thr:
            res = dataclasses.replace(res, lost=True)
        return res

    def reset(self) -> None:
        """Forget the target; the next call must be :meth:`init`."""
        self._initialized = False

    def _network(self) -> Any:
        """The tracker's network: :meth:`_load_network`'s, loaded once and kept."""
        if self._net is None:
            self._net = self._load_network()
        return self._net

    def _load_network(self) -> Any:
        """Load the network of a deep tracker (its weights resolved from the config)."""
        raise NotImplementedError(f"{type(self).__name__} has no network")

    @abc.abstractmethod
    def _init(self, frame: NDArray[np.uint8], box: NDArray[np.float64]) -> None: ...

    @abc.abstractmethod
    def _update(self, frame: NDArray[np.uint8]) -> SOTResult: ...


#: How each tracker's ``lost_threshold`` default was chosen (shown by ``trackkit sot --help``).
LOST_THRESHOLD_DOC = """\
A frame is reported as lost when the tracker's score is below its lost_threshold
(--set lost_threshold=X; None never reports lost). The defaults separate frames where the
target is in view from frames where it is absent on the shared sequences
(benchmarks/sot_lost.py; docs/benchmarks.md). GOTURN's score is its
appearance check (cosine similarity to the first frame's crop); its lost_threshold is None."""

#: Every module of :mod:`trackkit.sot.trackers` registers its trackers here (lazily imported).
SOT_TRACKERS: Registry[SOTTracker] = Registry(
    "single-object tracker", packages=("trackkit.sot.trackers",)
)


def build(name: str, **cfg: Any) -> SOTTracker:
    """Build the single-object tracker registered as ``name`` with configuration ``cfg``."""
    return SOT_TRACKERS.build(name, **cfg)


def available() -> list[str]:
    """Names of the registered single-object trackers."""
    return SOT_TRACKERS.available()
