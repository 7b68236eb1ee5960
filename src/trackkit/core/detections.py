"""The one detections type: parallel numpy arrays for the boxes of one frame."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trackkit.core.boxes import as_boxes
from trackkit.errors import TrackkitError

__all__ = ["Detections", "InvalidDetectionsError"]


class InvalidDetectionsError(TrackkitError, ValueError):
    """Arrays given to :class:`Detections` are inconsistent or hold invalid values."""


def _readonly(arr: NDArray[Any]) -> NDArray[Any]:
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class Detections:
    """Detections of one frame as parallel arrays (validated, read-only copies).

    Attributes:
        xyxy: ``(N, 4)`` float64 boxes ``(x1, y1, x2, y2)``, continuous pixels, finite,
            ``x2 >= x1`` and ``y2 >= y1``.
        scores: ``(N,)`` float64 confidences (default 1.0), finite.
        class_ids: ``(N,)`` int64 class indices, or ``None``.
        embeddings: ``(N, D)`` float32 appearance features, or ``None``.

    Index with an int, a slice, an integer array or a boolean mask; the result is a new
    ``Detections``. Arrays are copied on construction and made read-only, so trackers cannot
    mutate a caller's input.
    """

    xyxy: NDArray[np.float64]
    scores: NDArray[np.float64]
    class_ids: NDArray[np.int64] | None = None
    embeddings: NDArray[np.float32] | None = None

    def __init__(
        self,
        xyxy: ArrayLike,
        scores: ArrayLike | None = None,
        class_ids: ArrayLike | None = None,
        embeddings: ArrayLike | None = None,
    ) -> None:
        try:
            boxes = np.array(as_boxes(xyxy), dtype=np.float64, copy=True)
        except ValueError as exc:
            raise InvalidDetectionsError(f"Detections.xyxy: {exc}") from None
        n = len(boxes)
        if not np.all(np.isfinite(boxes)):
            raise InvalidDetectionsError("Detections.xyxy contains NaN or infinite values")
        if n and (np.any(boxes[:, 2] < boxes[:, 0]) or np.any(boxes[:, 3] < boxes[:, 1])):
            raise InvalidDetectionsError("Detections.xyxy has boxes with x2 < x1 or y2 < y1")
        if scores is None:
            sc = np.ones(n, dtype=np.float64)
        else:
            sc = np.array(scores, dtype=np.float64, copy=True).reshape(-1)
            if len(sc) != n:
                raise InvalidDetectionsError(f"Detections: {n} boxes but {len(sc)} scores")
            if not np.all(np.isfinite(sc)):
                raise InvalidDetectionsError("Detections.scores contains NaN or infinite values")
        cls = None
        if class_ids is not None:
            cls = np.array(class_ids, dtype=np.int64, copy=True).reshape(-1)
            if len(cls) != n:
                raise InvalidDetectionsError(f"Detections: {n} boxes but {len(cls)} class_ids")
            _readonly(cls)
        emb = None
        if embeddings is not None:
            emb = np.array(embeddings, dtype=np.float32, copy=True)
            if emb.ndim == 1 and n == 0 and emb.size == 0:
                emb = emb.reshape(0, 0)
            if emb.ndim != 2 or len(emb) != n:
                raise InvalidDetectionsError(
                    f"Detections: {n} boxes but embeddings of shape {emb.shape}"
                )
            if not np.all(np.isfinite(emb)):
                raise InvalidDetectionsError("Detections.embeddings contains NaN or inf")
            _readonly(emb)
        object.__setattr__(self, "xyxy", _readonly(boxes))
        object.__setattr__(self, "scores", _readonly(sc))
        object.__setattr__(self, "class_ids", cls)
        object.__setattr__(self, "embeddings", emb)

    @classmethod
    def empty(cls, embedding_dim: int | None = None) -> Detections:
        """No detections (optionally with an ``(0, D)`` embeddings array)."""
        emb = None if embedding_dim is None else np.zeros((0, embedding_dim), np.float32)
        return cls(np.zeros((0, 4)), np.zeros(0), embeddings=emb)

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: int | slice | ArrayLike) -> Detections:
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        idx: Any = index
        if not isinstance(index, slice):
            idx = np.asarray(index)
            if idx.dtype == bool and idx.shape != (len(self),):
                raise IndexError(f"boolean mask of shape {idx.shape} for {len(self)} detections")
        return Detections(
            self.xyxy[idx],
            self.scores[idx],
            None if self.class_ids is None else self.class_ids[idx],
            None if self.embeddings is None else self.embeddings[idx],
        )

    def __repr__(self) -> str:
        extra = ""
        if self.class_ids is not None:
            extra += ", class_ids"
        if self.embeddings is not None:
            extra += f", embeddings dim {self.embeddings.shape[1]}"
        return f"Detections(n={len(self)}{extra})"

    @staticmethod
    def concatenate(parts: list[Detections]) -> Detections:
        """Stack the rows of several ``Detections`` (all with or all without optional arrays)."""
        if not parts:
            return Detections.empty()
        has_cls = [p.class_ids is not None for p in parts]
        has_emb = [p.embeddings is not None for p in parts]
        if len(set(has_cls)) > 1 or len(set(has_emb)) > 1:
            raise InvalidDetectionsError("cannot concatenate Detections with different fields")
        return Detections(
            np.concatenate([p.xyxy for p in parts]),
            np.concatenate([p.scores for p in parts]),
            np.concatenate([p.class_ids for p in parts]) if has_cls[0] else None,  # type: ignore[misc]
            np.concatenate([p.embeddings for p in parts]) if has_emb[0] else None,  # type: ignore[misc]
        )
