"""Single-object tracking, by role.

- :mod:`trackkit.sot.base`: the protocol (``init(frame, box)`` / ``update(frame)``), the
  registry :data:`SOT_TRACKERS`, :func:`build` and :func:`available`;
- :mod:`trackkit.sot.trackers`: one module per tracker (KCF/DSST, DCFNet/UDT, SiamFC,
  SiamRPN, GOTURN, MDNet); each registers itself, and the registry imports every module of
  that package on first use (no hand-kept list);
- :mod:`trackkit.sot.nets`: every network and its loader (torch imported lazily);
- :mod:`trackkit.sot.ops`: crops, hand-crafted features, candidate samples, DCF maths and
  DSST's scale filter (numpy and OpenCV only);
- :mod:`trackkit.sot.train`: one training task per family and the pair/sample generation;
- :mod:`trackkit.sot.runner`: running trackers over sequences and evaluating them.
"""

from trackkit.sot.base import SOT_TRACKERS, SOTResult, SOTTracker, available, build

__all__ = ["SOT_TRACKERS", "SOTResult", "SOTTracker", "available", "build"]
