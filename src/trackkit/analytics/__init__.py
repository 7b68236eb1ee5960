"""Analytics over tracks: counting line crossings and zone entries per class."""

from trackkit.analytics.counting import (
    ANCHORS,
    Counter,
    CountEvent,
    LineCounter,
    ZoneCounter,
    anchor_points,
    class_label,
    parse_points,
)
from trackkit.analytics.report import CountReport

__all__ = [
    "ANCHORS",
    "CountEvent",
    "CountReport",
    "Counter",
    "LineCounter",
    "ZoneCounter",
    "anchor_points",
    "class_label",
    "parse_points",
]
