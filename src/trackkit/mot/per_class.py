"""Class-aware tracking: association never matches a detection to a track of another class.

:class:`PerClassTracker` runs one tracker of the same kind per class (built on first sight of
the class) on that class's detections, every frame (a class without detections in a frame
still ages its tracks), and reports their tracks under ids unique across classes (given in
order of first report). A person's track can then never continue as a bicycle's, and two
overlapping objects of different classes never steal each other's identity. Detections without
class ids form one class.

    tracker = PerClassTracker(lambda: trackkit.mot.build("bytetrack"))
    tracks = tracker.update(detections, frame)   # tracks.class_ids: each track's class
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trackkit.core.detections import Detections
from trackkit.core.tracks import Tracks

__all__ = ["PerClassTracker"]


class PerClassTracker:
    """One tracker per class; ``update(detections, frame) -> Tracks`` like any MOT tracker.

    Args:
        factory: builds a fresh tracker (``update(detections, frame=None) -> Tracks``).
    """

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory
        self.trackers: dict[int, Any] = {}
        self._ids: dict[tuple[int, int], int] = {}
        probe = factory()
        self.config = getattr(probe, "config", None)
        self._probe: Any = probe

    def reset(self) -> None:
        """Start a new video: forget every class's tracker and the id mapping."""
        self.trackers.clear()
        self._ids.clear()

    def _tracker(self, cls: int) -> Any:
        trk = self.trackers.get(cls)
        if trk is None:
            trk = self._probe if self._probe is not None else self.factory()
            self._probe = None
            if hasattr(trk, "reset"):
                trk.reset()
            self.trackers[cls] = trk
        return trk

    def update(self, detections: Detections, frame: NDArray[np.uint8] | None = None) -> Tracks:
        """Track one frame: ``(N,)`` detections in, the reported tracks out (``class_ids``
        set, ``det_index`` into ``detections``)."""
        n = len(detections)
        classes = (
            detections.class_ids if detections.class_ids is not None else np.full(n, -1, np.int64)
        )
        for c in np.unique(classes).tolist():
            self._tracker(int(c))
        parts: list[tuple[Tracks, int, NDArray[np.int64]]] = []
        for c, trk in self.trackers.items():
            rows = np.flatnonzero(classes == c)
            parts.append((trk.update(detections[rows], frame), c, rows))
        boxes, ids, scores, index, cls = [], [], [], [], []
        for tracks, c, rows in parts:
            for k, local in enumerate(tracks.track_ids.tolist()):
                key = (c, int(local))
                ids.append(self._ids.setdefault(key, len(self._ids) + 1))
                di = int(tracks.det_index[k])
                index.append(int(rows[di]) if di >= 0 else -1)
                cls.append(c)
            boxes.append(tracks.xyxy)
            scores.append(tracks.scores)
        if not ids:
            return (
                Tracks.empty()
                if detections.class_ids is None
                else Tracks(
                    np.zeros((0, 4)), np.zeros(0, np.int64), class_ids=np.zeros(0, np.int64)
                )
            )
        return Tracks(np.concatenate(boxes), ids, np.concatenate(scores), index, cls)
