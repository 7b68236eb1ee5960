"""The single-object trackers, one module each; every module here registers its trackers in
:data:`trackkit.sot.base.SOT_TRACKERS` (imported on first lookup). A new tracker is a new
module with ``@SOT_TRACKERS.register("name")`` on a :class:`~trackkit.sot.base.SOTTracker`
subclass and its frozen config dataclass; presets go beside it with
``SOT_TRACKERS.register_preset``.
"""
