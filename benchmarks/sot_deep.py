"""Alias of ``benchmarks/sot_otb.py`` restricted to the deep trackers and their anchors.

All single-object trackers — correlation filters, deep trackers, OpenCV's (TrackerNano and
TrackerVit included) — live in one script and one table, ``benchmarks/sot_otb.py``; this file
only changes the default ``--trackers`` list (any other argument is passed through):

    python benchmarks/sot_deep.py                      # = sot_otb.py --trackers <DEEP>
    python benchmarks/sot_deep.py --seqs Car4,bag
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

DEEP = [
    "static",
    "cv-kcf",
    "cv-nano",
    "cv-vit",
    "siamrpn-v2",
    "siamrpn-v2-plain",
    "siamrpn-v2-torch",
    "siamrpn-v3",
    "siamrpn-v3-plain",
    "siamrpn-v3-torch",
    "siamfc",
    "goturn",
    "goturn-1pass",
    "goturn-uncalibrated",
    "mdnet",
]

if __name__ == "__main__":
    if "--trackers" not in sys.argv:
        sys.argv[1:1] = ["--trackers", *DEEP]
    sys.argv[0] = str(Path(__file__).with_name("sot_otb.py"))
    runpy.run_path(sys.argv[0], run_name="__main__")
