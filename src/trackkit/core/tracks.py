"""The output of a multi-object tracker for one frame."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trackkit.core.boxes import as_boxes
from trackkit.errors import TrackkitError

__all__ = ["IdCompactor", "Tracks"]


@dataclass(frozen=True, eq=False)
class Tracks:
    """Tracks reported for one frame, as parallel read-only arrays.

    Attributes:
        xyxy: ``(N, 4)`` float64 boxes, continuous pixels.
        track_ids: ``(N,)`` int64 identities (>= 1, unique within the frame).
        scores: ``(N,)`` float64 confidences.
        det_index: ``(N,)`` int64 index of the input detection row this track was matched to
            in this frame, ``-1`` when the box comes from the motion model only. This is how
            rows align with the tracker's input without re-matching boxes after the fact.
        class_ids: ``(N,)`` int64 or ``None``.
    """

    xyxy: NDArray[np.float64]
    track_ids: NDArray[np.int64]
    scores: NDArray[np.float64]
    det_index: NDArray[np.int64]
    class_ids: NDArray[np.int64] | None = None

    def __init__(
        self,
        xyxy: ArrayLike,
        track_ids: ArrayLike,
        scores: ArrayLike | None = None,
        det_index: ArrayLike | None = None,
        class_ids: ArrayLike | None = None,
    ) -> None:
        boxes = np.array(as_boxes(xyxy), dtype=np.float64, copy=True)
        n = len(boxes)
        ids = np.array(track_ids, dtype=np.int64, copy=True).reshape(-1)
        sc = np.ones(n) if scores is None else np.array(scores, dtype=np.float64).reshape(-1)
        di = (
            np.full(n, -1, np.int64)
            if det_index is None
            else np.array(det_index, dtype=np.int64).reshape(-1)
        )
        cls = None if class_ids is None else np.array(class_ids, dtype=np.int64).reshape(-1)
        for name, arr in (
            ("track_ids", ids),
            ("scores", sc),
            ("det_index", di),
            ("class_ids", cls),
        ):
            if arr is not None and len(arr) != n:
                raise TrackkitError(f"Tracks: {n} boxes but {len(arr)} {name}")
        if len(np.unique(ids)) != n:
            raise TrackkitError("Tracks: duplicate track ids in one frame")
        arrays: list[NDArray[Any] | None] = [boxes, ids, sc, di, cls]
        for arr in arrays:
            if arr is not None:
                arr.setflags(write=False)
        object.__setattr__(self, "xyxy", boxes)
        object.__setattr__(self, "track_ids", ids)
        object.__setattr__(self, "scores", sc)
        object.__setattr__(self, "det_index", di)
        object.__setattr__(self, "class_ids", cls)

    @classmethod
    def empty(cls) -> Tracks:
        """No tracks."""
        return cls(np.zeros((0, 4)), np.zeros(0, np.int64))

    @classmethod
    def from_trusted(
        cls,
        xyxy: NDArray[np.float64],
        track_ids: NDArray[np.int64],
        scores: NDArray[np.float64],
        det_index: NDArray[np.int64],
        class_ids: NDArray[np.int64] | None = None,
    ) -> Tracks:
        """Wrap arrays a tracker built itself, skipping validation (a per-frame hot path).

        The caller guarantees what ``__init__`` checks: fresh arrays (not shared with anyone)
        of dtypes float64 ``(N, 4)``, int64 ``(N,)``, float64 ``(N,)``, int64 ``(N,)``
        (and int64 ``(N,)`` or ``None``), with unique ids. They are made read-only here.
        """
        obj = object.__new__(cls)
        xyxy.setflags(write=False)
        track_ids.setflags(write=False)
        scores.setflags(write=False)
        det_index.setflags(write=False)
        if class_ids is not None:
            class_ids.setflags(write=False)
        # a frozen dataclass: fill its fields without the per-attribute __setattr__ guard
        obj.__dict__.update(
            xyxy=xyxy,
            track_ids=track_ids,
            scores=scores,
            det_index=det_index,
            class_ids=class_ids,
        )
        return obj

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: int | slice | ArrayLike) -> Tracks:
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        idx: Any = index if isinstance(index, slice) else np.asarray(index)
        return Tracks(
            self.xyxy[idx],
            self.track_ids[idx],
            self.scores[idx],
            self.det_index[idx],
            None if self.class_ids is None else self.class_ids[idx],
        )

    def __repr__(self) -> str:
        extra = "" if self.class_ids is None else f", class_ids={self.class_ids.tolist()}"
        return f"Tracks(n={len(self)}, track_ids={self.track_ids.tolist()}{extra})"

    def with_ids(self, track_ids: ArrayLike) -> Tracks:
        """The same tracks under other identities (``(N,)``, unique)."""
        return Tracks(self.xyxy, track_ids, self.scores, self.det_index, self.class_ids)


class IdCompactor:
    """Renumber track ids 1, 2, 3, ... in the order they are first *reported*.

    A tracker draws an id for every tentative track, most of which are never confirmed, so
    its ids are sparse (16 tracks numbered up to 42); results written through this read
    1..16. The mapping is kept for the whole video (:meth:`reset` for the next).
    """

    def __init__(self) -> None:
        self.mapping: dict[int, int] = {}

    def reset(self) -> None:
        """Start a new video."""
        self.mapping.clear()

    def __call__(self, tracks: Tracks) -> Tracks:
        """``tracks`` with their ids renumbered."""
        m = self.mapping
        ids = [m.setdefault(int(t), len(m) + 1) for t in tracks.track_ids.tolist()]
        return tracks.with_ids(np.asarray(ids, np.int64))
