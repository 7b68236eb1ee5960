"""The multi-object tracking protocol, the tracker registry and the shared configuration.

A MOT tracker follows all objects of a video from per-frame detections:
``update(detections, frame=None) -> Tracks`` once per frame, in order; ``reset()`` starts a
new video. ``Tracks.det_index`` tells which input row each reported track was matched to.
Ids count from 1 in each tracker instance and are never reused until ``reset()``.

Every tracker class has a ``config_class``: a frozen, validated dataclass whose fields are
its options (so :func:`takes_frame_rate` can tell whether it takes ``frame_rate``). The
Kalman trackers share :class:`LifeCycleConfig` (``max_age``, ``min_hits``, ``report_streak``,
``report_lost``, ``frame_rate``) and the per-frame template of
:mod:`trackkit.mot.kalman_tracker`; the life cycle itself is in :mod:`trackkit.mot.store`.

Registering a tracker (e.g. in a new module ``trackkit/mot/mytracker.py``)::

    from trackkit.mot.base import MOT_TRACKERS, MOTTracker

    @MOT_TRACKERS.register("mytracker")
    class MyTracker(MOTTracker):
        '''One line shown by ``trackkit track --list``.'''
        config_class = MyTrackerConfig
        ...

:func:`build` and :func:`available` import every module of :mod:`trackkit.mot` on first use
(keep heavy imports such as torch inside functions).
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from trackkit.config import Config, make_config
from trackkit.core.detections import Detections, InvalidDetectionsError
from trackkit.core.tracks import Tracks
from trackkit.errors import ConfigError, TrackkitError
from trackkit.registry import Registry

__all__ = [
    "LifeCycleConfig",
    "MOT_TRACKERS",
    "MOTTracker",
    "available",
    "build",
    "check_detections",
    "make_tracker_config",
    "scaled_age",
    "takes_frame_rate",
]

#: Registry of online MOT trackers (name -> class taking keyword configuration). Every module
#: of :mod:`trackkit.mot` is imported on first use (no hand-kept list).
MOT_TRACKERS: Registry[MOTTracker] = Registry("MOT tracker", packages=("trackkit.mot",))


def build(name: str, **cfg: Any) -> MOTTracker:
    """Build the tracker registered as ``name`` with keyword configuration overrides.

    Unknown names and options raise :class:`~trackkit.errors.ConfigError` listing valid ones.
    """
    return MOT_TRACKERS.build(name, **cfg)


def available() -> list[str]:
    """Names of the registered trackers, sorted."""
    return MOT_TRACKERS.available()


def takes_frame_rate(name: str) -> bool:
    """Whether the tracker registered as ``name`` (a preset: its base) has a ``frame_rate``
    option, read from the fields of its ``config_class`` (a frozen dataclass).

    Unknown names raise :class:`~trackkit.errors.ConfigError` listing the valid ones.
    """
    cls = MOT_TRACKERS.get(name)
    config_class = getattr(cls, "config_class", None)
    if config_class is None or not dataclasses.is_dataclass(config_class):
        return False
    return any(f.name == "frame_rate" for f in dataclasses.fields(config_class))


def scaled_age(max_age: int, frame_rate: float) -> int:
    """A track buffer given in frames at 30 fps, for a video at ``frame_rate`` (ByteTrack)."""
    return max(1, int(round(max_age * frame_rate / 30.0)))


#: Most detections one frame may hold: association builds ``(tracks, detections)`` cost
#: matrices, so 5,000 against 5,000 tracks is about 0.4 GB and a few seconds a frame; more
#: (100,000 is 150 GB) is refused with a clear error instead of exhausting the memory.
MAX_DETECTIONS_PER_FRAME = 5000


def check_detections(detections: object, frame_id: int) -> Detections:
    """Validate a tracker's input; boxes must have positive width and height, and a frame
    holds at most :data:`MAX_DETECTIONS_PER_FRAME` detections.

    Raises:
        InvalidDetectionsError: naming the frame and the detection row.
    """
    if not isinstance(detections, Detections):
        raise TrackkitError(
            f"frame {frame_id}: expected trackkit.core.Detections, got {type(detections).__name__}"
        )
    if len(detections) > MAX_DETECTIONS_PER_FRAME:
        raise InvalidDetectionsError(
            f"frame {frame_id}: {len(detections)} detections, more than the "
            f"{MAX_DETECTIONS_PER_FRAME} a frame may hold (raise the detector's score "
            "threshold or apply non-maximum suppression)"
        )
    b = detections.xyxy
    # x2 <= x1 is width <= 0 for the finite boxes Detections holds (one array op per frame)
    if len(b) and np.count_nonzero(b[:, 2:] <= b[:, :2]):
        wh = b[:, 2:] - b[:, :2]
        if (wh <= 0).any():
            i = int((wh <= 0).any(axis=1).nonzero()[0][0])
            raise InvalidDetectionsError(
                f"frame {frame_id}: detection {i} has width {wh[i, 0]:g} and height "
                f"{wh[i, 1]:g}; both must be > 0"
            )
    return detections


@dataclass(frozen=True)
class LifeCycleConfig(Config):
    """Life-cycle options every Kalman tracker has (base of their configs; each tracker
    sets its own defaults).

    Attributes:
        max_age: frames a track survives unmatched, at 30 fps (scaled by ``frame_rate``).
        min_hits: consecutive matches, the birth detection included, that confirm a track.
        report_streak: a track is reported only once its current run of consecutive matches
            reaches this (after the first ``min_hits`` frames of the video); 1 reports every
            matched confirmed track at once.
        report_lost: also report a lost track, with its predicted box and ``det_index`` -1,
            during its first ``report_lost`` unmatched frames (at 30 fps; 0: never; at most
            ``max_age`` of them, so lowering ``max_age`` alone is enough).
        frame_rate: frames per second of the video.

    ``ALIASES`` maps the names a tracker's paper uses to these fields (e.g. ByteTrack's
    ``track_buffer`` for ``max_age``): :func:`make_tracker_config` and ``build`` accept them;
    giving an alias and its field together is a :class:`~trackkit.errors.ConfigError`.
    """

    ALIASES: ClassVar[Mapping[str, str]] = {}
    #: numeric rules of :func:`~trackkit.config.check_ranges` (subclasses add theirs)
    RANGES: ClassVar[str] = (
        "max_age >= 0; min_hits >= 1; report_streak >= 1; frame_rate > 0; report_lost >= 0"
    )

    #: what ``trackkit tune`` searches (:mod:`trackkit.tune.space`); subclasses add theirs
    SEARCH_SPACE: ClassVar[str] = (
        "max_age int [10, 240] log; min_hits int [1, 5]; report_streak int [1, 4]; "
        "report_lost int [0, 12]"
    )

    max_age: int = 60
    min_hits: int = 3
    report_streak: int = 1
    report_lost: int = 0
    frame_rate: float = 30.0


def make_tracker_config(cls: type[Any], **overrides: Any) -> Any:
    """Build config dataclass ``cls`` from keyword options, resolving its ``ALIASES``.

    Raises:
        ConfigError: for an unknown option (listing the valid ones and the aliases), an
            alias given together with its field, or an invalid value.
    """
    aliases: Mapping[str, str] = getattr(cls, "ALIASES", {})
    opts = dict(overrides)
    for alias, name in aliases.items():
        if alias in opts:
            if name in opts:
                raise ConfigError(
                    f"{cls.__name__}: {alias!r} is another name for {name!r}; give one of "
                    f"them, not both"
                )
            opts[name] = opts.pop(alias)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(opts) - set(names))
    if unknown:
        also = "".join(f"; {a} = {n}" for a, n in aliases.items())
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} for {cls.__name__}; "
            f"valid options: {', '.join(names)}" + (f" (aliases{also})" if also else "")
        )
    return make_config(cls, **opts)


class MOTTracker(abc.ABC):
    """Base class of online trackers: configuration, frame counting, input checks, ids.

    Subclasses set ``config_class`` (a frozen dataclass) and implement
    :meth:`_reset_state` and :meth:`_step`. The constructor only stores the configuration
    (given whole, or as keyword options of ``config_class``) and calls :meth:`reset`.
    """

    #: the frozen configuration dataclass of the tracker (its fields are the options)
    config_class: ClassVar[type[Any]]
    config: Any

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        if config is None:
            config = make_tracker_config(self.config_class, **overrides)
        elif overrides:
            raise ConfigError("give a config object or keyword options, not both")
        self.config = config
        self.reset()

    @property
    def needs_frames(self) -> bool:
        """Whether :meth:`update` needs the frame image (else it may be ``None``)."""
        return False

    def reset(self) -> None:
        """Forget every track and restart ids at 1 (a new video)."""
        self.frame_id = 0
        self._next_id = 1
        self._reset_state()

    @abc.abstractmethod
    def _reset_state(self) -> None:
        """Create empty per-video state (the track store, motion models, ...)."""

    @abc.abstractmethod
    def _step(self, dets: Detections, frame: NDArray[np.uint8] | None) -> Tracks:
        """Process one frame (``self.frame_id`` already counts it)."""

    def update(self, detections: Detections, frame: NDArray[np.uint8] | None = None) -> Tracks:
        """Track one frame.

        Args:
            detections: this frame's detections (``xyxy`` continuous pixels, scores in
                ``[0, 1]``; ``embeddings`` for appearance-based trackers).
            frame: the image, ``(H, W, 3)`` uint8 BGR, for trackers that use it (camera
                motion compensation); ignored by motion-only trackers.

        Returns:
            The tracks reported for this frame; ``det_index`` gives each one's input row.
        """
        self.frame_id += 1
        dets = check_detections(detections, self.frame_id)
        return self._step(dets, frame)

    def _new_ids(self, n: int) -> NDArray[np.int64]:
        ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n
        return ids

    @staticmethod
    def _class_of(dets: Detections, index: NDArray[np.int64]) -> NDArray[np.int64]:
        if dets.class_ids is None:
            return np.full(len(index), -1, np.int64)
        return dets.class_ids[index]

    @staticmethod
    def _make_tracks(
        xyxy: NDArray[np.float64],
        ids: NDArray[np.int64],
        scores: NDArray[np.float64],
        det_index: NDArray[np.int64],
        class_ids: NDArray[np.int64],
    ) -> Tracks:
        """Wrap fresh arrays as :class:`Tracks` (class ids dropped when any is unknown, -1)."""
        cls = class_ids if len(class_ids) and np.minimum.reduce(class_ids) >= 0 else None
        return Tracks.from_trusted(xyxy, ids, scores, det_index, cls)
