"""The tracks of one online tracker as a struct of arrays, and their shared life cycle.

Life cycle (states in :class:`TrackState`), the same for every Kalman tracker:

- a detection no track claims starts a **tentative** track with a new id;
- a tentative track is **confirmed** after ``min_hits`` consecutive matches (or at once when
  the tracker says so at birth); trackers that say so drop a tentative track the first time it
  goes unmatched;
- a confirmed track that goes unmatched is **lost**: it is still predicted and can be matched
  again with its id, until it has been unmatched for more than ``max_age`` frames and is
  **removed** (:meth:`TrackStore.prune`).

Fields are reached by name only: ``store.state``, ``store.mean`` ... for the common fields
(typed properties) and ``store.NAME`` for a tracker's extra fields. Every per-frame idiom that
buys speed (0-d constants, boolean arithmetic on masks, whole-block gathers) lives here.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trackkit.core.tracks import Tracks

__all__ = ["CONFIRMED", "LOST", "TENTATIVE", "FieldSpec", "TrackState", "TrackStore", "const"]

IntArray = NDArray[np.int64]

#: A :class:`TrackStore` field: ``(shape, dtype)`` or ``(shape, dtype, "last")``.
FieldSpec = tuple[Any, ...]


def const(value: Any) -> NDArray[Any]:
    """A read-only 0-d array for the per-frame hot paths: numpy 2 compares an array with a
    0-d array about twice as fast as with a Python scalar (no scalar conversion per call),
    with the same result."""
    out = np.array(value)
    out.setflags(write=False)
    return out


class TrackState(IntEnum):
    """Life-cycle state of a track (stored as a plain int in :class:`TrackStore`)."""

    TENTATIVE = 0
    CONFIRMED = 1
    LOST = 2


# 0-d int64 arrays for the hot paths (attribute access on an enum class is slow).
TENTATIVE, CONFIRMED, LOST = const(0), const(1), const(2)
_ZERO, _ONE, _TWO = const(0), const(1), const(2)
#: ``since_update`` value that marks a track for removal at the next :meth:`TrackStore.prune`.
_REMOVED = np.iinfo(np.int64).max // 2


class _Column:
    """A named, writable view of one column of a :class:`TrackStore` block (``"i"``: int64,
    ``"f"``: float64), ``(N,)``."""

    def __init__(self, name: str, block: str) -> None:
        self.name = name
        self.block = block

    def __get__(self, store: TrackStore, owner: type | None = None) -> NDArray[Any]:
        return getattr(store, self.block)[:, store.col[self.name][1]]  # type: ignore[no-any-return]


_CONSTS: dict[int, NDArray[Any]] = {}


def _int_const(value: int | NDArray[Any]) -> NDArray[Any]:
    """``value`` as a 0-d array (:func:`const`), cached by value; 0-d arrays pass through."""
    if type(value) is not int:
        return np.asarray(value)
    c = _CONSTS.get(value)
    if c is None:
        c = _CONSTS[value] = const(value)
    return c


class TrackStore:
    """All tracks of one tracker as a struct of arrays (one entry per track).

    For speed the scalar fields live in two 2-D blocks, one int64 and one float64 (one row
    per track), and each array-valued field in its own array, so that removing or adding
    tracks is a few array operations. Every field is a named, writable view: ``store.state``
    (a column of its block), ``store.mean`` ... ``extra`` maps further field names to
    ``(shape, dtype)`` or ``(shape, dtype, "last")`` with dtype ``float``, ``int`` or
    ``object`` (object fields hold any Python value, e.g. feature galleries); they are read as
    ``store.NAME`` too. An array field is track-major, ``(N, *shape)``, unless marked
    ``"last"``: then it is coordinate-major, ``(*shape, N)``, the layout of the Kalman filter
    (:mod:`trackkit.motion.kalman`).

    Common fields: ``track_id``, ``state`` (:class:`TrackState`), ``hits`` and ``streak``
    (total and consecutive matches), ``since_update`` (frames since the last match),
    ``start`` (frame of birth), ``class_id`` (set at birth only) (all int64); ``score``
    (last matched detection score), ``mean`` ``(8, N)`` and ``cov`` ``(3, 4, N)`` (the Kalman
    state, coordinate-major), float64.
    """

    COMMON: dict[str, FieldSpec] = {
        "track_id": ((), int),
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
        #: column of each scalar field in its block ("f" float64 or "i" int64)
        self.col: dict[str, tuple[str, int]] = {}
        counts = {"f": 0, "i": 0}
        #: names of the array fields (each an attribute of the store)
        self.array_names: tuple[str, ...] = tuple(
            name for name, (shape, dtype, *_) in spec.items() if shape or dtype is object
        )
        #: array fields stored coordinate-major (track axis last)
        self.last: frozenset[str] = frozenset(
            name for name, field in spec.items() if len(field) > 2 and field[2] == "last"
        )
        for name, (shape, dtype, *_) in spec.items():
            if shape or dtype is object:
                dims = (*shape, 0) if name in self.last else (0, *shape)
                setattr(self, name, np.zeros(dims, dtype))
                continue
            block = "f" if dtype is float else "i"
            self.col[name] = (block, counts[block])
            counts[block] += 1
        self.f = np.zeros((0, counts["f"]), np.float64)
        self.i = np.zeros((0, counts["i"]), np.int64)
        c = {name: k for name, (_, k) in self.col.items()}
        self._id, self._state, self._hits = c["track_id"], c["state"], c["hits"]
        self._streak, self._since, self._start = c["streak"], c["since_update"], c["start"]
        self._class, self._score = c["class_id"], c["score"]
        #: how many tracks have a negative (unknown) ``class_id`` (:meth:`output`)
        self._n_unknown_class = 0

    def __len__(self) -> int:
        return len(self.i)

    # -- named views ------------------------------------------------------------------------
    track_id = _Column("track_id", "i")
    state = _Column("state", "i")
    hits = _Column("hits", "i")
    streak = _Column("streak", "i")
    since_update = _Column("since_update", "i")
    start = _Column("start", "i")
    class_id = _Column("class_id", "i")
    score = _Column("score", "f")
    #: Kalman states ``(8, N)`` and block covariances ``(3, 4, N)`` (coordinate-major),
    #: replaced whole by the filter's steps
    mean: NDArray[np.float64]
    cov: NDArray[np.float64]

    def __getattr__(self, name: str) -> NDArray[Any]:
        """A scalar extra field, by name: a column view of its block. (Array fields are
        plain attributes.)"""
        d = self.__dict__
        if "col" in d and name in d["col"]:
            block, k = d["col"][name]
            return (d["f"] if block == "f" else d["i"])[:, k]  # type: ignore[no-any-return]
        raise AttributeError(f"TrackStore has no field {name!r}")

    # -- rows -------------------------------------------------------------------------------
    def keep(self, index: NDArray[Any]) -> None:
        """Keep only the rows selected by a boolean mask or an index array, in that order."""
        # one conversion of a mask to indices, then ``take``: several times faster than
        # boolean indexing of each field (the same rows)
        rows = index.nonzero()[0] if index.dtype == np.bool_ else index
        self.f = self.f.take(rows, 0)
        self.i = self.i.take(rows, 0)
        if self._n_unknown_class:
            self._n_unknown_class = int(np.count_nonzero(self.i[:, self._class] < _ZERO))
        last = self.last
        d = self.__dict__
        for k in self.array_names:
            d[k] = d[k].take(rows, -1 if k in last else 0)

    def append(self, rows: Mapping[str, Any]) -> None:
        """Append ``n = len(rows["track_id"])`` tracks; missing fields are 0 (None for objects).

        Array values are laid out like their field: ``(n, *shape)``, or ``(*shape, n)`` for a
        coordinate-major field."""
        n = len(rows["track_id"])
        if n == 0:
            return
        f = np.zeros((n, self.f.shape[1]))
        i = np.zeros((n, self.i.shape[1]), np.int64)
        for name, value in rows.items():
            if name in self.col:
                block, c = self.col[name]
                (f if block == "f" else i)[:, c] = value
        self.f = np.concatenate([self.f, f])
        self.i = np.concatenate([self.i, i])
        self._n_unknown_class += int(np.count_nonzero(i[:, self._class] < _ZERO))
        d = self.__dict__
        for k in self.array_names:
            v = d[k]
            if v.dtype == object:
                new = np.empty(n, object)
                if k in rows:
                    new[:] = list(rows[k])
                d[k] = np.concatenate([v, new])
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
            d[k] = np.concatenate([v, new], axis=-1 if at_end else 0)

    def add_born(
        self,
        ids: IntArray,
        frame_id: int,
        mean: NDArray[np.float64],
        cov: NDArray[np.float64],
        scores: NDArray[np.float64],
        class_ids: IntArray,
        confirm: bool,
    ) -> None:
        """Append new tracks: one hit, tentative unless ``confirm``; ``mean (8, n)`` and
        ``cov (3, 4, n)`` from :meth:`KalmanFilter.initiate`."""
        self.append(
            {
                "track_id": ids,
                "state": CONFIRMED if confirm else TENTATIVE,
                "hits": 1,
                "streak": 1,
                "start": frame_id,
                "score": scores,
                "class_id": class_ids,
                "mean": mean,
                "cov": cov,
            }
        )

    def set_scores(self, rows: IntArray, scores: NDArray[np.float64]) -> None:
        """Record the scores of the detections matched to tracks ``rows``."""
        self.f[rows, self._score] = scores

    # -- selections -------------------------------------------------------------------------
    def rows_not(self, state: NDArray[Any]) -> IntArray:
        """Rows of the tracks whose state is not ``state`` (ascending)."""
        return (self.i[:, self._state] != state).nonzero()[0]

    def rows_in(self, state: NDArray[Any], unmatched: NDArray[np.int64] | None = None) -> IntArray:
        """Rows of the tracks in ``state``; with ``unmatched`` (the per-track detection
        index of this frame, -1 for none) only those still unmatched."""
        mask = self.i[:, self._state] == state
        if unmatched is not None:
            mask &= unmatched < _ZERO
        return mask.nonzero()[0]

    def not_lost(self) -> NDArray[np.bool_]:
        """``(N,)`` bool: tracks that were tracked in the previous frame (or are tentative)."""
        return self.i[:, self._state] != LOST

    # -- life cycle -------------------------------------------------------------------------
    def age(self) -> None:
        """Count one more frame since every track's last match (at predict)."""
        self.i[:, self._since] += _ONE

    def advance_life(
        self, matched: NDArray[np.bool_], min_hits: int | NDArray[Any], drop_tentative: bool
    ) -> None:
        """One frame of the life cycle for every track, as whole-array operations.

        Args:
            matched: ``(N,)`` bool, tracks matched to a detection this frame.
            min_hits: consecutive matches that confirm a tentative track.
            drop_tentative: remove tentative tracks that went unmatched (DeepSORT,
                ByteTrack); otherwise they only lose their streak.

        ``since_update`` already counts this frame (:meth:`age`). Matched tracks count a hit,
        extend their streak and reset ``since_update``; lost ones become confirmed again,
        tentative ones once their streak reaches ``min_hits``. Unmatched confirmed tracks
        become lost and their streak restarts.
        """
        if len(self.i) == 0:
            return
        ints = self.i
        # one cast to int64: the int64 operations below then need no per-call casting
        hit = matched.astype(np.int64)
        ints[:, self._hits] += hit
        streak = ints[:, self._streak]
        streak += _ONE
        streak *= hit  # 0 for unmatched tracks, so ``streak >= min_hits`` implies matched
        since = ints[:, self._since]
        unmatched = ~matched
        since *= unmatched
        state = ints[:, self._state]
        known = state != TENTATIVE
        known |= streak >= min_hits
        if drop_tentative:  # unmatched and not known (``a > b`` on booleans is ``a & ~b``)
            since[unmatched > known] = _REMOVED
        # confirmed (1) when matched, lost (2) when not; tentative (0) stays tentative
        np.multiply(_TWO - hit, known, out=state)

    def first_misses(self, matched: NDArray[np.bool_]) -> IntArray:
        """Rows of the tracks unmatched for the first time this frame (after
        :meth:`advance_life`)."""
        return ((self.i[:, self._since] == _ONE) > matched).nonzero()[0]

    def lost_within(self, max_age: int | NDArray[Any]) -> IntArray:
        """Rows of the lost tracks unmatched for at most ``max_age`` frames."""
        ints = self.i
        return ((ints[:, self._state] == LOST) & (ints[:, self._since] <= max_age)).nonzero()[0]

    def prune(self, max_age: int | NDArray[Any]) -> NDArray[np.bool_] | None:
        """Remove tracks unmatched for more than ``max_age`` frames (or flagged for removal).

        Returns:
            The boolean mask of kept rows (before removal), or ``None`` when nothing was removed.
        """
        if len(self.i):
            alive = self.i[:, self._since] <= max_age
            if np.count_nonzero(alive) < len(alive):
                self.keep(alive)
                return alive
        return None

    # -- output -----------------------------------------------------------------------------
    def reported(self, lost_for: int | NDArray[Any], min_streak: int | NDArray[Any]) -> IntArray:
        """Rows to report: confirmed tracks (after :meth:`advance_life`: those matched or
        born confirmed this frame), also lost ones unmatched for at most ``lost_for`` frames
        when it is > 0, and only those whose streak reaches ``min_streak`` when it is > 1.

        ``lost_for`` and ``min_streak`` are best given as Python ints (the per-frame hot path:
        testing a 0-d array against a Python number costs as much as an array operation)."""
        ints = self.i
        state = ints[:, self._state]
        if lost_for:
            report = state != TENTATIVE
            report &= ints[:, self._since] <= _int_const(lost_for)
        else:
            report = state == CONFIRMED
        if min_streak > 1:
            report &= ints[:, self._streak] >= _int_const(min_streak)
        return report.nonzero()[0]

    def output(self, rows: IntArray, xyxy: NDArray[np.float64], det_of_track: IntArray) -> Tracks:
        """:class:`Tracks` of tracks ``rows`` with boxes ``xyxy`` ``(len(rows), 4)`` and each
        track's detection index (``det_of_track``, ``(N,)``, -1 for none)."""
        sel = self.i.take(rows, 0)
        classes: IntArray = sel[:, self._class]
        # class ids only when every reported track has one (>= 0); ``class_id`` is set at
        # birth only, so the count of unknown ones decides without a look at the rows when
        # none or all tracks are unknown
        unknown = self._n_unknown_class
        cls: IntArray | None = classes
        if not len(rows) or unknown == len(self.i):
            cls = None
        elif unknown and np.minimum.reduce(classes) < 0:
            cls = None
        return Tracks.from_trusted(
            xyxy,
            sel[:, self._id],
            self.f.take(rows, 0)[:, self._score],
            det_of_track.take(rows),
            cls,
        )
