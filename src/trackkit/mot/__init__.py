"""Multi-object tracking by detection: SORT, DeepSORT, ByteTrack, OC-SORT, BoT-SORT and an
offline linking pass over any of them.

Build a tracker by name with :func:`build` (``available()`` lists the names); see
:mod:`trackkit.mot.base` for the protocol, the life cycle and how to register a tracker.
"""

from trackkit.mot.base import MOT_TRACKERS, MOTTracker, available, build, takes_frame_rate

__all__ = ["MOT_TRACKERS", "MOTTracker", "available", "build", "takes_frame_rate"]
