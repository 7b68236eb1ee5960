"""The counts of a run: several counters, their events, and the CSV / JSON files.

JSON (``counts.json``)::

    {"frames": 300,
     "counters": [{"name": "line 1", "kind": "line", "points": [[x1, y1], [x2, y2]],
                   "anchor": "bottom_center", "in": {"person": 3}, "out": {"person": 1},
                   "in_total": 3, "out_total": 1}],
     "events": [{"frame": 41, "track_id": 2, "counter": "line 1", "direction": "in",
                 "class_id": 0, "class": "person"}]}

CSV (``counts.csv``): ``counter,kind,class,in,out``, one row per counter and class, then a
row per counter with class ``all``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

from trackkit.analytics.counting import Counter, CountEvent
from trackkit.core.tracks import Tracks
from trackkit.errors import ConfigError
from trackkit.io.atomic import write_text

__all__ = ["CountReport"]


class CountReport:
    """Run every counter on every frame and keep the events.

    Args:
        counters: the line and zone counters.
        class_names: class id -> name (counts are kept per name).
    """

    def __init__(self, counters: Sequence[Counter], class_names: Sequence[str] | None = None):
        names = [c.name for c in counters]
        if len(set(names)) != len(names):
            raise ConfigError(f"counters need distinct names, got {names}")
        self.counters = list(counters)
        self.class_names = list(class_names) if class_names is not None else None
        self.events: list[CountEvent] = []
        self.frames = 0

    def reset(self) -> None:
        """Start a new video."""
        for c in self.counters:
            c.reset()
        self.events.clear()
        self.frames = 0

    def update(self, frame: int, tracks: Tracks) -> list[CountEvent]:
        """Count one frame's tracks; returns its events."""
        new: list[CountEvent] = []
        for c in self.counters:
            new.extend(c.update(frame, tracks, self.class_names))
        self.events.extend(new)
        self.frames += 1
        return new

    def as_dict(self) -> dict[str, object]:
        """The JSON document (see the module docstring)."""
        return {
            "frames": self.frames,
            "counters": [c.as_dict() for c in self.counters],
            "events": [
                {
                    "frame": e.frame,
                    "track_id": e.track_id,
                    "counter": e.counter,
                    "direction": e.direction,
                    "class_id": e.class_id,
                    "class": e.label,
                }
                for e in self.events
            ],  # fmt: skip
        }

    def rows(self) -> list[list[object]]:
        """``[counter, kind, class, in, out]`` rows of the CSV (without the header)."""
        out: list[list[object]] = []
        for c in self.counters:
            for label, n in sorted(c.counts.items()):
                out.append([c.name, c.kind, label, n["in"], n["out"]])
            out.append([c.name, c.kind, "all", c.total("in"), c.total("out")])
        return out

    def write(self, path: str | Path) -> Path:
        """Write ``.json`` or ``.csv`` (by the suffix) atomically: a temporary file beside
        ``path`` renamed into place (:func:`trackkit.io.atomic.write_text`; folders created)."""
        p = Path(path)
        suffix = p.suffix.lower()
        if suffix not in (".json", ".csv"):
            raise ConfigError(f"--counts {p}: give a .json or .csv file")
        if suffix == ".json":
            return write_text(p, json.dumps(self.as_dict(), indent=1) + "\n")
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["counter", "kind", "class", "in", "out"])
        writer.writerows(self.rows())
        return write_text(p, buf.getvalue())

    def summary(self) -> list[str]:
        """One line per counter: ``line 1: in 3 (person 3), out 1 (person 1)``."""
        lines = []
        for c in self.counters:
            parts = []
            for direction in ("in", "out"):
                per = ", ".join(
                    f"{k} {v[direction]}" for k, v in sorted(c.counts.items()) if v[direction]
                )
                parts.append(f"{direction} {c.total(direction)}" + (f" ({per})" if per else ""))
            lines.append(f"{c.name}: {', '.join(parts)}")
        return lines
