"""Counting tracks that cross a line or enter and leave a zone, per class.

The behaviour follows supervision's ``LineZone`` / ``PolygonZone`` (Roboflow) as users of
counting tools know it: each track is placed by one *anchor point* of its box (default the
bottom centre, where a person touches the ground), and a crossing is a change of the side the
anchor is on. Details that decide exact counts:

- **Once per direction**: a track counts at most once ``in`` and once ``out`` per counter,
  however often it goes back and forth (a person loitering on a line is one person).
- **Dead band**: an anchor closer than ``margin`` pixels to the line (or the zone's border)
  leaves the track's side unchanged, so jitter of a box around the line does not count;
  grazing the line without going past the band does not count either.
- **Line segment**: a line counts only when the anchor's path (from its last position on a
  decided side to the first position on the other side) passes through the segment between
  the two end points, not its extension: walking round the end of the line does not count.
- **First sight**: a track first seen on one side (or inside a zone) is not counted until it
  changes side; tracks unseen for a while keep their last side.

Directions: for a line from ``(x1, y1)`` to ``(x2, y2)``, ``in`` is crossing to the
right-hand side as seen walking from the first end point to the second in the image (``y``
down: for a line drawn left to right, ``in`` is moving down); ``out`` is the other way. For
a zone, ``in`` is entering it and ``out`` leaving it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from trackkit.core.tracks import Tracks
from trackkit.errors import ConfigError

__all__ = [
    "ANCHORS",
    "CountEvent",
    "Counter",
    "LineCounter",
    "ZoneCounter",
    "anchor_points",
    "class_label",
    "parse_points",
]

#: Anchor points of a box: (fraction of the width, fraction of the height) from (x1, y1).
ANCHORS: dict[str, tuple[float, float]] = {
    "bottom_center": (0.5, 1.0),
    "center": (0.5, 0.5),
    "top_center": (0.5, 0.0),
    "bottom_left": (0.0, 1.0),
    "bottom_right": (1.0, 1.0),
}


def anchor_points(xyxy: ArrayLike, anchor: str = "bottom_center") -> NDArray[np.float64]:
    """``(N, 2)`` anchor points of ``(N, 4)`` ``xyxy`` boxes."""
    if anchor not in ANCHORS:
        raise ConfigError(f"unknown anchor {anchor!r}; valid: {', '.join(ANCHORS)}")
    fx, fy = ANCHORS[anchor]
    b = np.asarray(xyxy, np.float64).reshape(-1, 4)
    return np.stack([b[:, 0] + fx * (b[:, 2] - b[:, 0]), b[:, 1] + fy * (b[:, 3] - b[:, 1])], 1)


def parse_points(
    text: str, what: str, min_points: int, max_points: int | None = None
) -> list[tuple[float, float]]:
    """``"x1,y1,x2,y2,..."`` -> points; a :class:`ConfigError` naming ``what`` otherwise."""
    parts = [p for p in text.replace(" ", ",").split(",") if p]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ConfigError(f"{what} {text!r}: expected numbers x1,y1,x2,y2,... in pixels") from None
    n = len(values) // 2
    if len(values) % 2 or n < min_points or (max_points is not None and n > max_points):
        want = f"{min_points} points" if max_points == min_points else f">= {min_points} points"
        raise ConfigError(
            f"{what} {text!r}: expected {want} as x,y pairs, got {len(values)} numbers"
        )
    if not np.all(np.isfinite(values)):
        raise ConfigError(f"{what} {text!r}: values must be finite")
    return [(values[2 * k], values[2 * k + 1]) for k in range(n)]


def class_label(class_id: int, class_names: Sequence[str] | None) -> str:
    """The name counts are kept under: the class name, ``class N`` or ``object``."""
    if class_id < 0:
        return "object"
    if class_names is not None and class_id < len(class_names):
        return str(class_names[class_id])
    return f"class {class_id}"


@dataclass(frozen=True)
class CountEvent:
    """A track counted by a counter: ``direction`` is ``"in"`` or ``"out"``."""

    frame: int
    track_id: int
    counter: str
    direction: str
    class_id: int
    label: str


class Counter:
    """Base of :class:`LineCounter` and :class:`ZoneCounter`: per-track side, events, counts.

    Subclasses implement :meth:`_sides` (``+1``, ``-1`` or ``0`` = undecided, per point) and
    :meth:`_crossed` (whether a move between two decided points counts).
    """

    kind = ""
    #: side -> direction when a track arrives on it
    directions = {1: "in", -1: "out"}

    def __init__(self, name: str, margin: float = 2.0, anchor: str = "bottom_center") -> None:
        if not margin >= 0:
            raise ConfigError(f"{name}: margin must be >= 0, got {margin}")
        anchor_points(np.zeros((0, 4)), anchor)  # checks the name
        self.name = name
        self.margin = float(margin)
        self.anchor = anchor
        self.counts: dict[str, dict[str, int]] = defaultdict(lambda: {"in": 0, "out": 0})
        self.inside: dict[str, int] = {}
        self._side: dict[int, int] = {}
        self._point: dict[int, tuple[float, float]] = {}
        self._done: set[tuple[int, str]] = set()

    def reset(self) -> None:
        """Forget every track and count (new video)."""
        self.counts.clear()
        self.inside = {}
        self._side.clear()
        self._point.clear()
        self._done.clear()

    def total(self, direction: str) -> int:
        """All classes together."""
        return sum(c[direction] for c in self.counts.values())

    def _sides(self, points: NDArray[np.float64]) -> NDArray[np.int64]:
        raise NotImplementedError

    def _crossed(self, a: tuple[float, float], b: tuple[float, float]) -> bool:
        return True

    def update(
        self, frame: int, tracks: Tracks, class_names: Sequence[str] | None = None
    ) -> list[CountEvent]:
        """Count the tracks of one frame; returns the new events (also added to
        :attr:`counts`)."""
        points = anchor_points(tracks.xyxy, self.anchor)
        sides = self._sides(points)
        classes = tracks.class_ids.tolist() if tracks.class_ids is not None else [-1] * len(tracks)
        events: list[CountEvent] = []
        inside: dict[str, int] = defaultdict(int)
        for tid, p, side, cid in zip(
            tracks.track_ids.tolist(), points.tolist(), sides.tolist(), classes, strict=True
        ):
            label = class_label(int(cid), class_names)
            if side == 0:
                continue
            if side == 1:
                inside[label] += 1
            pt = (float(p[0]), float(p[1]))
            before = self._side.get(tid)
            if before is not None and before != side and self._crossed(self._point[tid], pt):
                direction = self.directions[side]
                if (tid, direction) not in self._done:
                    self._done.add((tid, direction))
                    self.counts[label][direction] += 1
                    events.append(CountEvent(frame, tid, self.name, direction, int(cid), label))
            self._side[tid] = side
            self._point[tid] = pt
        self.inside = dict(inside)
        return events

    def as_dict(self) -> dict[str, object]:
        """``{"name", "kind", "points", "anchor", "in": {class: n}, "out": {...}}``."""
        return {
            "name": self.name,
            "kind": self.kind,
            "points": [list(p) for p in self.points],
            "anchor": self.anchor,
            "in": {k: v["in"] for k, v in sorted(self.counts.items())},
            "out": {k: v["out"] for k, v in sorted(self.counts.items())},
            "in_total": self.total("in"),
            "out_total": self.total("out"),
        }

    @property
    def points(self) -> list[tuple[float, float]]:
        raise NotImplementedError


def _segments_cross(
    a: tuple[float, float], b: tuple[float, float], c: tuple[float, float], d: tuple[float, float]
) -> bool:
    """Whether segment ``ab`` meets segment ``cd`` (end points included)."""

    def orient(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    d1, d2 = orient(c, d, a), orient(c, d, b)
    d3, d4 = orient(a, b, c), orient(a, b, d)
    return d1 * d2 <= 0 and d3 * d4 <= 0


class LineCounter(Counter):
    """Count tracks whose anchor crosses the segment ``p1 -> p2`` (pixels).

    Args:
        p1, p2: the end points; ``in`` = crossing to the right-hand side of ``p1 -> p2``.
        name: the counter's name in outputs.
        margin: dead band, pixels on each side of the line.
        anchor: the box point that must cross (:data:`ANCHORS`).
    """

    kind = "line"

    def __init__(
        self,
        p1: tuple[float, float],
        p2: tuple[float, float],
        name: str = "line",
        margin: float = 2.0,
        anchor: str = "bottom_center",
    ) -> None:
        super().__init__(name, margin, anchor)
        self.p1 = (float(p1[0]), float(p1[1]))
        self.p2 = (float(p2[0]), float(p2[1]))
        self._length = float(np.hypot(self.p2[0] - self.p1[0], self.p2[1] - self.p1[1]))
        if self._length == 0:
            raise ConfigError(f"{name}: the two end points of the line are the same")

    @property
    def points(self) -> list[tuple[float, float]]:
        return [self.p1, self.p2]

    def signed_distance(self, points: ArrayLike) -> NDArray[np.float64]:
        """Distance of each ``(x, y)`` to the line, positive on the ``in`` side."""
        p = np.asarray(points, np.float64).reshape(-1, 2)
        (x1, y1), (x2, y2) = self.p1, self.p2
        return ((x2 - x1) * (p[:, 1] - y1) - (y2 - y1) * (p[:, 0] - x1)) / self._length

    def _sides(self, points: NDArray[np.float64]) -> NDArray[np.int64]:
        d = self.signed_distance(points)
        return np.where(d > self.margin, 1, np.where(d < -self.margin, -1, 0)).astype(np.int64)

    def _crossed(self, a: tuple[float, float], b: tuple[float, float]) -> bool:
        return _segments_cross(a, b, self.p1, self.p2)


class ZoneCounter(Counter):
    """Count tracks whose anchor enters (``in``) or leaves (``out``) a polygon (pixels).

    :attr:`inside` holds, per class, the tracks inside the zone in the last frame.

    Args:
        polygon: ``>= 3`` vertices ``(x, y)``.
        name: the counter's name in outputs.
        margin: dead band, pixels on each side of the border.
        anchor: the box point that must enter (:data:`ANCHORS`).
    """

    kind = "zone"

    def __init__(
        self,
        polygon: Sequence[tuple[float, float]],
        name: str = "zone",
        margin: float = 2.0,
        anchor: str = "bottom_center",
    ) -> None:
        super().__init__(name, margin, anchor)
        poly = np.asarray(polygon, np.float64).reshape(-1, 2)
        if len(poly) < 3:
            raise ConfigError(f"{name}: a zone needs at least 3 points, got {len(poly)}")
        if abs(cv2.contourArea(poly.astype(np.float32))) == 0:
            raise ConfigError(f"{name}: the zone's polygon has no area")
        self.polygon = poly
        self._contour = poly.astype(np.float32).reshape(-1, 1, 2)

    @property
    def points(self) -> list[tuple[float, float]]:
        return [(float(x), float(y)) for x, y in self.polygon]

    def _sides(self, points: NDArray[np.float64]) -> NDArray[np.int64]:
        out = np.zeros(len(points), np.int64)
        for k, (x, y) in enumerate(points.tolist()):
            d = cv2.pointPolygonTest(self._contour, (float(x), float(y)), True)
            out[k] = 1 if d > self.margin else -1 if d < -self.margin else 0
        return out
