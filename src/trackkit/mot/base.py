"""The multi-object tracking protocol, the tracker registry and the shared track life cycle.

A MOT tracker follows all objects of a video from per-frame detections:
``update(detections, frame=None) -> Tracks`` once per frame, in order; ``reset()`` starts a
new video. ``Tracks.det_index`` tells which input row each reported track was matched to.

Life cycle, shared by every tracker (states in :class:`TrackState`):

- a detection no track claims starts a **tentative** track with a new id (ids count from 1 in
  each tracker instance and are never reused until ``reset()``);
- a tentative track is **confirmed** after ``min_hits`` consecutive matches (or at once when
  it is born in the first ``confirm_frames`` frames of the video); trackers that say so drop a
  tentative track the first time it goes unmatched;
- a confirmed track that goes unmatched is **lost**: it is still predicted and can be matched
  again with its id, until it has been unmatched for more than ``max_age`` frames and is
  **removed**.

Registering a tracker (e.g. in a new module ``trackkit/mot/mytracker.py``)::

    from trackkit.mot.base import MOT_TRACKERS, MOTTracker

    @MOT_TRACKERS.register("mytracker")
    class MyTracker(MOTTracker):
        '''One line shown by ``trackkit track --list``.'''
        ...

and add the module's name to :data:`TRACKER_MODULES` below, so that :func:`build` and
:func:`available` import it (modules are imported lazily; keep heavy imports such as torch
inside functions).
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Mapping
from enum import IntEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trackkit.core.detections import Detections, InvalidDetectionsError
from trackkit.core.tracks import Tracks
from trackkit.errors import TrackkitError
from trackkit.registry import Registry

__all__ = [
    "advance_life",
    "MOT_TRACKERS",
    "TRACKER_MODULES",
    "MOTTracker",
    "CONFIRMED",
    "FieldSpec",
    "LOST",
    "TENTATIVE",
    "TrackState",
    "TrackStore",
    "available",
    "build",
    "check_detections",
    "const",
    "mark_matched",
    "mark_missed",
    "new_track_rows",
    "prune",
    "scaled_age",
]

#: Registry of online MOT trackers (name -> class taking keyword configuration).
MOT_TRACKERS: Registry[MOTTracker] = Registry("MOT tracker")

#: Modules that register trackers in :data:`MOT_TRACKERS`; imported on first use.
TRACKER_MODULES: tuple[str, ...] = (
    "trackkit.mot.sort",
    "trackkit.mot.deepsort",
    "trackkit.mot.bytetrack",
    "trackkit.mot.ocsort",
    "trackkit.mot.botsort",
    "trackkit.mot.tracktor",
)


def _load_modules() -> None:
    for name in TRACKER_MODULES:
        importlib.import_module(name)


def build(name: str, **cfg: Any) -> MOTTracker:
    """Build the tracker registered as ``name`` with keyword configuration overrides.

    Unknown names and options raise :class:`~trackkit.errors.ConfigError` listing valid ones.
    """
    _load_modules()
    return MOT_TRACKERS.build(name, **cfg)


def available() -> list[str]:
    """Names of the registered trackers, sorted."""
    _load_modules()
    return MOT_TRACKERS.available()


def scaled_age(max_age: int, frame_rate: float) -> int:
    """A track buffer given in frames at 30 fps, for a video at ``frame_rate`` (ByteTrack)."""
    return max(1, int(round(max_age * frame_rate / 30.0)))


#: ``since_update`` value that marks a track for removal at the next :func:`prune`.
_REMOVED = np.iinfo(np.int64).max // 2


class TrackState(IntEnum):
    """Life-cycle state of a track (stored as a plain int in :class:`TrackStore`)."""

    TENTATIVE = 0
    CONFIRMED = 1
    LOST = 2


#: A :class:`TrackStore` field: ``(shape, dtype)`` or ``(shape, dtype, "last")``.
FieldSpec = tuple[Any, ...]


def const(value: Any) -> NDArray[Any]:
    """A read-only 0-d array for the per-frame hot paths: numpy 2 compares an array with a
    0-d array about twice as fast as with a Python scalar (no scalar conversion per call),
    with the same result."""
    out = np.array(value)
    out.setflags(write=False)
    return out


# 0-d int64 arrays for the hot paths (attribute access on an enum class is slow).
TENTATIVE, CONFIRMED, LOST = const(0), const(1), const(2)
_ONE, _TWO = const(1), const(2)


class TrackStore:
    """All tracks of one tracker as a struct of arrays (one entry per track).

    For speed the scalar fields live in two 2-D blocks, one int64 and one float64 (one row
    per track), and each array-valued field (``mean``, ``cov``, extras) in its own array, so
    that removing or adding tracks is a few array operations. ``store[name]`` returns the
    field's array or a writable column view of its block; ``store[name] = value`` assigns
    into it. ``extra`` maps further field names to ``(shape, dtype)`` or ``(shape, dtype,
    "last")`` with dtype ``float``, ``int`` or ``object`` (object fields hold any Python
    value, e.g. feature galleries). An array field is track-major, ``(N, *shape)``, unless
    marked ``"last"``: then it is coordinate-major, ``(*shape, N)``, the layout of the Kalman
    filter (:mod:`trackkit.motion.kalman`).

    Common fields: ``id``, ``state`` (:class:`TrackState`), ``hits`` and ``streak`` (total and
    consecutive matches), ``since_update`` (frames since the last match), ``start`` (frame of
    birth), ``class_id`` (all int64); ``score`` (last matched detection score), ``mean``
    ``(8, N)`` and ``cov`` ``(3, 4, N)`` (the Kalman state, coordinate-major), float64.
    """

    COMMON: dict[str, FieldSpec] = {
        "id": ((), int),
        "state": ((), int),
        "hits": ((), int),
        "streak": ((), int),
        "since_update": ((), int),
        "start": ((), int),
        "class_id": ((), int),
        "score": ((), float),
        "mean": ((8,), float, "last"),
        "cov": ((3, 4), float, "last"),
    }

    def __init__(self, extra: Mapping[str, FieldSpec] | None = None) -> None:
        spec = dict(self.COMMON)
        spec.update(extra or {})
        self.spec = spec
        #: column of each scalar field in its block
        self.col: dict[str, int] = {}
        self._block: dict[str, str] = {}
        counts = {"f": 0, "i": 0}
        self.arrays: dict[str, NDArray[Any]] = {}
        #: array fields stored coordinate-major (track axis last)
        self.last: frozenset[str] = frozenset(
            name for name, field in spec.items() if len(field) > 2 and field[2] == "last"
        )
        for name, (shape, dtype, *_) in spec.items():
            if shape or dtype is object:
                dims = (*shape, 0) if name in self.last else (0, *shape)
                self.arrays[name] = np.zeros(dims, dtype)
                continue
            block = "f" if dtype is float else "i"
            self.col[name] = counts[block]
            self._block[name] = block
            counts[block] += 1
        self.f = np.zeros((0, counts["f"]), np.float64)
        self.i = np.zeros((0, counts["i"]), np.int64)

    def __len__(self) -> int:
        return len(self.i)

    def __getitem__(self, name: str) -> NDArray[Any]:
        arr = self.arrays.get(name)
        if arr is not None:
            return arr
        block = self.f if self._block[name] == "f" else self.i
        return block[:, self.col[name]]

    def __setitem__(self, name: str, value: Any) -> None:
        if name in self.arrays:
            arr = self.arrays[name]
            if isinstance(value, np.ndarray) and value.shape == arr.shape:
                self.arrays[name] = value.astype(arr.dtype, copy=False)
            else:
                arr[...] = value
            return
        block = self.f if self._block[name] == "f" else self.i
        block[:, self.col[name]] = value

    def keep(self, index: NDArray[Any]) -> None:
        """Keep only the rows selected by a boolean mask or an index array, in that order."""
        self.f = self.f[index]
        self.i = self.i[index]
        last = self.last
        for k, v in self.arrays.items():
            self.arrays[k] = v[..., index] if k in last else v[index]

    def append(self, rows: Mapping[str, Any]) -> None:
        """Append ``n = len(rows["id"])`` tracks; missing fields are 0 (None for objects).

        Array values are laid out like their field: ``(n, *shape)``, or ``(*shape, n)`` for a
        coordinate-major field."""
        n = len(rows["id"])
        if n == 0:
            return
        f = np.zeros((n, self.f.shape[1]))
        i = np.zeros((n, self.i.shape[1]), np.int64)
        for name, value in rows.items():
            if name in self.col:
                (f if self._block[name] == "f" else i)[:, self.col[name]] = value
        self.f = np.concatenate([self.f, f])
        self.i = np.concatenate([self.i, i])
        for k, v in self.arrays.items():
            if v.dtype == object:
                new = np.empty(n, object)
                if k in rows:
                    new[:] = list(rows[k])
                self.arrays[k] = np.concatenate([v, new])
                continue
            at_end = k in self.last
            shape = (*v.shape[:-1], n) if at_end else (n, *v.shape[1:])
            value = rows.get(k)
            if type(value) is np.ndarray and value.dtype == v.dtype and value.shape == shape:
                new = value  # already the rows (concatenate copies it)
            else:
                new = np.zeros(shape, v.dtype)
                if value is not None:
                    new[...] = value
            self.arrays[k] = np.concatenate([v, new], axis=-1 if at_end else 0)


def check_detections(detections: object, frame_id: int) -> Detections:
    """Validate a tracker's input; boxes must have positive width and height.

    Raises:
        InvalidDetectionsError: naming the frame and the detection row.
    """
    if not isinstance(detections, Detections):
        raise TrackkitError(
            f"frame {frame_id}: expected trackkit.core.Detections, got {type(detections).__name__}"
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


class MOTTracker(abc.ABC):
    """Base class of online trackers: frame counting, input checks, ids and output.

    Subclasses set ``config`` in ``__init__`` (a frozen dataclass) and implement
    :meth:`_reset_state` and :meth:`_step`.
    """

    config: Any

    def __init__(self) -> None:
        self.reset()

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
        cls = class_ids if len(class_ids) and np.minimum.reduce(class_ids) >= 0 else None
        return Tracks.from_trusted(xyxy, ids, scores, det_index, cls)


def advance_life(
    store: TrackStore, matched: NDArray[np.bool_], min_hits: int, drop_tentative: bool
) -> None:
    """One frame of the life cycle for every track, as whole-array operations.

    Args:
        store: the tracks; ``since_update`` already counts this frame (incremented at predict).
        matched: ``(N,)`` bool, tracks matched to a detection this frame.
        min_hits: consecutive matches that confirm a tentative track.
        drop_tentative: remove tentative tracks that went unmatched (DeepSORT, ByteTrack);
            otherwise they only lose their streak.

    Matched tracks count a hit, extend their streak and reset ``since_update``; lost ones
    become confirmed again, tentative ones once their streak reaches ``min_hits``. Unmatched
    confirmed tracks become lost and their streak restarts.
    """
    if len(store) == 0:
        return
    ints = store.i
    col = store.col
    ints[:, col["hits"]] += matched
    streak = ints[:, col["streak"]]
    streak += _ONE
    streak *= matched  # 0 for unmatched tracks, so ``streak >= min_hits`` implies matched
    since = ints[:, col["since_update"]]
    unmatched = ~matched
    since *= unmatched
    state = ints[:, col["state"]]
    known = state != TENTATIVE
    known |= streak >= min_hits
    if drop_tentative:  # unmatched and not known (``a > b`` on booleans is ``a & ~b``)
        since[unmatched > known] = _REMOVED
    # confirmed (1) when matched, lost (2) when not; tentative (0) stays tentative
    np.multiply(_TWO - matched, known, out=state)


def mark_matched(
    store: TrackStore,
    idx: NDArray[np.int64],
    scores: NDArray[np.float64],
    min_hits: int,
) -> None:
    """Life cycle of tracks ``idx`` matched this frame (``scores``: their detections' scores).

    Counts the hit, resets ``since_update``, revives lost tracks and confirms tentative ones
    that reached ``min_hits`` consecutive matches. (Row-wise version of :func:`advance_life`.)
    """
    if len(idx) == 0:
        return
    ints = store.i
    col = store.col
    c_streak, c_state = col["streak"], col["state"]
    ints[idx, col["hits"]] += 1
    streak = ints[idx, c_streak] + 1
    ints[idx, c_streak] = streak
    ints[idx, col["since_update"]] = 0
    store.f[idx, col["score"]] = scores
    state = ints[idx, c_state]
    promote = (state == LOST) | ((state == TENTATIVE) & (streak >= min_hits))
    if promote.any():
        ints[idx[promote], c_state] = CONFIRMED


def mark_missed(store: TrackStore, idx: NDArray[np.int64], drop_tentative: bool) -> None:
    """Life cycle of tracks ``idx`` left unmatched this frame (row-wise version).

    Confirmed tracks become lost; tentative ones are flagged for removal when
    ``drop_tentative`` (DeepSORT, ByteTrack) and otherwise just lose their streak.
    """
    if len(idx) == 0:
        return
    ints = store.i
    c_state = store.col["state"]
    ints[idx, store.col["streak"]] = 0
    state = ints[idx, c_state]
    ints[idx[state == CONFIRMED], c_state] = LOST
    if drop_tentative:
        ints[idx[state == TENTATIVE], store.col["since_update"]] = _REMOVED


def prune(store: TrackStore, max_age: int) -> NDArray[np.bool_] | None:
    """Remove tracks unmatched for more than ``max_age`` frames (or flagged for removal).

    Returns:
        The boolean mask of kept rows (before removal), or ``None`` when nothing was removed.
    """
    if len(store):
        alive = store.i[:, store.col["since_update"]] <= max_age
        if np.count_nonzero(alive) < len(alive):
            store.keep(alive)
            return alive
    return None


def new_track_rows(
    tracker: MOTTracker,
    mean: NDArray[np.float64],
    cov: NDArray[np.float64],
    scores: NDArray[np.float64],
    class_ids: NDArray[np.int64],
    confirm: bool,
) -> dict[str, Any]:
    """Rows for :meth:`TrackStore.append`: new ids, one hit, tentative unless ``confirm``;
    ``mean (8, n)`` and ``cov (3, 4, n)`` from :meth:`KalmanFilter.initiate`."""
    n = mean.shape[1]
    return {
        "id": tracker._new_ids(n),
        "state": CONFIRMED if confirm else TENTATIVE,
        "hits": 1,
        "streak": 1,
        "start": tracker.frame_id,
        "score": scores,
        "class_id": class_ids,
        "mean": mean,
        "cov": cov,
    }
