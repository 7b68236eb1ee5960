"""Single-object tracking: the protocol, the trackers and their runner.

Importing this package registers every tracker in :data:`SOT_TRACKERS`: the modules named in
:data:`TRACKER_MODULES` are imported here (modules that need torch import it lazily, so
``import trackkit.sot`` works without it). A new tracker module adds its name to that tuple.
"""

import importlib

from trackkit.sot.base import SOT_TRACKERS, SOTResult, SOTTracker, available, build

#: Modules whose import registers trackers in :data:`SOT_TRACKERS`.
TRACKER_MODULES: tuple[str, ...] = (
    "trackkit.sot.kcf",
    "trackkit.sot.dcf_net",
    "trackkit.sot.siamrpn",
    "trackkit.sot.siamfc",
    "trackkit.sot.goturn",
    "trackkit.sot.mdnet",
)

for _module in TRACKER_MODULES:
    importlib.import_module(_module)

__all__ = ["SOT_TRACKERS", "TRACKER_MODULES", "SOTResult", "SOTTracker", "available", "build"]
