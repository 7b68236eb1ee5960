"""Line and zone counting on scripted trajectories, with exact expected counts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from trackkit.analytics import CountReport, LineCounter, ZoneCounter, parse_points
from trackkit.core.tracks import Tracks
from trackkit.errors import ConfigError

pytestmark = pytest.mark.timeout(30)


def _box(x: float, y: float) -> list[float]:
    """A 20x40 box whose bottom centre (the default anchor) is at (x, y)."""
    return [x - 10, y - 40, x + 10, y]


def _run(counter: LineCounter | ZoneCounter, path: list[tuple[float, float]], tid: int = 1,
         cls: int | None = None) -> None:  # fmt: skip
    for k, (x, y) in enumerate(path, start=1):
        classes = None if cls is None else [cls]
        counter.update(k, Tracks([_box(x, y)], [tid], class_ids=classes), ["person", "car"])


def _counts(counter: LineCounter | ZoneCounter) -> tuple[int, int]:
    return counter.total("in"), counter.total("out")


def _line() -> LineCounter:
    # horizontal, drawn left to right: "in" is moving down (to its right-hand side)
    return LineCounter((0, 100), (200, 100), name="door")


@pytest.mark.parametrize(
    ("ys", "expected"),
    [
        ([60, 80, 95, 105, 120, 140], (1, 0)),  # crossing once, downwards
        ([140, 120, 105, 95, 80], (0, 1)),  # once, upwards
        ([60, 90, 110, 140, 110, 90, 60], (1, 1)),  # down then back up
        ([60, 140, 60, 140, 60, 140], (1, 1)),  # back and forth: once per direction
        ([60, 90, 99, 101, 99, 90, 60], (0, 0)),  # grazing: into the dead band, back
        ([60, 98, 100, 102, 100, 98, 60], (0, 0)),  # on the line, never past the band
        ([80, 99, 101, 99, 101, 99, 101, 99], (0, 0)),  # jitter inside the band
        ([80, 99, 101, 99, 101, 99, 101, 140], (1, 0)),  # jitter, then across: once
        ([80, 97, 103, 97, 103, 97], (1, 1)),  # jitter wider than the band: once each way
        ([60], (0, 0)),  # seen once
        ([140, 150, 160], (0, 0)),  # first seen beyond the line: not a crossing
    ],
)
def test_line_counts_exactly(ys: list[float], expected: tuple[int, int]) -> None:
    line = _line()
    _run(line, [(100, y) for y in ys])
    assert _counts(line) == expected


def test_line_segment_not_its_extension() -> None:
    line = _line()
    _run(line, [(300, y) for y in (60, 80, 120, 140)])  # beside the end of the segment
    assert _counts(line) == (0, 0)
    line = _line()
    # round the end: above inside the segment's span, then beside it, then below
    _run(line, [(150, 60), (300, 80), (300, 120), (150, 140)], tid=2)
    assert _counts(line) == (0, 0)
    line = _line()
    _run(line, [(199, 60), (199, 140)], tid=3)  # a big jump across, inside the span
    assert _counts(line) == (1, 0)


def test_direction_follows_the_line_orientation() -> None:
    line = LineCounter((200, 100), (0, 100))  # drawn right to left: "in" is moving up
    _run(line, [(100, y) for y in (60, 140)])
    assert _counts(line) == (0, 1)
    vertical = LineCounter((100, 0), (100, 200))  # drawn downwards: "in" is moving left
    _run(vertical, [(x, 50) for x in (150, 120, 80, 50)])
    assert _counts(vertical) == (1, 0)


def test_counts_per_class_and_per_track() -> None:
    line = _line()
    _run(line, [(50, 60), (50, 140)], tid=1, cls=0)
    _run(line, [(80, 60), (80, 140)], tid=2, cls=0)
    _run(line, [(120, 140), (120, 60)], tid=3, cls=1)
    _run(line, [(160, 60), (160, 140)], tid=4)  # no class
    assert line.counts["person"] == {"in": 2, "out": 0}
    assert line.counts["car"] == {"in": 0, "out": 1}
    assert line.counts["object"] == {"in": 1, "out": 0}
    assert _counts(line) == (3, 1)


def test_anchor_choice_matters() -> None:
    # the box's bottom crosses y=100 but its centre stays above
    line = LineCounter((0, 100), (200, 100), anchor="center")
    _run(line, [(100, 90), (100, 115)])
    assert _counts(line) == (0, 0)
    line = LineCounter((0, 100), (200, 100))
    _run(line, [(100, 90), (100, 115)])
    assert _counts(line) == (1, 0)


@pytest.mark.parametrize(
    ("path", "expected", "inside_after"),
    [
        ([(20, 100), (40, 100), (100, 100), (120, 100)], (1, 0), 1),  # enters and stays
        ([(20, 100), (100, 100), (180, 100)], (1, 1), 0),  # passes through
        ([(100, 100), (180, 100)], (0, 1), 0),  # first seen inside, leaves
        ([(20, 100), (100, 100), (20, 100), (100, 100), (20, 100)], (1, 1), 0),  # once each way
        ([(20, 100), (49, 100), (51, 100), (49, 100), (20, 100)], (0, 0), 0),  # grazes the edge
        ([(20, 20), (180, 20), (180, 180)], (0, 0), 0),  # goes round it
    ],
)
def test_zone_counts_exactly(
    path: list[tuple[float, float]], expected: tuple[int, int], inside_after: int
) -> None:
    zone = ZoneCounter([(50, 50), (150, 50), (150, 150), (50, 150)], name="room")
    _run(zone, path)
    assert _counts(zone) == expected
    assert sum(zone.inside.values()) == inside_after


def test_report_writes_json_and_csv(tmp_path: Path) -> None:
    report = CountReport([_line(), ZoneCounter([(0, 0), (60, 0), (60, 60)], name="z")],
                         ["person", "car"])  # fmt: skip
    for k, y in enumerate((60, 140, 60), start=1):
        report.update(k, Tracks([_box(100, y)], [7], class_ids=[1]))
    doc = json.loads(report.write(tmp_path / "c.json").read_text())
    door = doc["counters"][0]
    assert (door["in"], door["out"], doc["frames"]) == ({"car": 1}, {"car": 1}, 3)
    assert [(e["frame"], e["direction"], e["class"]) for e in doc["events"]] == [
        (2, "in", "car"), (3, "out", "car")]  # fmt: skip
    rows = (tmp_path / "c.csv").read_text() if report.write(tmp_path / "c.csv") else ""
    assert rows.splitlines() == [
        "counter,kind,class,in,out", "door,line,car,1,1", "door,line,all,1,1", "z,zone,all,0,0"
    ]  # fmt: skip
    assert report.summary()[0] == "door: in 1 (car 1), out 1 (car 1)"
    with pytest.raises(ConfigError, match="json or .csv"):
        report.write(tmp_path / "c.txt")


def test_bad_geometry_is_one_clear_error() -> None:
    assert parse_points("0,1,2,3", "--count-line", 2, 2) == [(0, 1), (2, 3)]
    for text in ("0,1,2", "a,b,c,d", "0,1,2,3,4,5"):
        with pytest.raises(ConfigError, match="--count-line"):
            parse_points(text, "--count-line", 2, 2)
    with pytest.raises(ConfigError, match="same"):
        LineCounter((1, 1), (1, 1))
    with pytest.raises(ConfigError, match="no area"):
        ZoneCounter([(0, 0), (1, 1), (2, 2)])
    with pytest.raises(ConfigError, match="anchor"):
        LineCounter((0, 0), (1, 1), anchor="nose")
    assert np.isfinite(_line().signed_distance([[0, 0]])).all()
