"""Training the single-object trackers' networks: one task per family (:mod:`.dcfnet`,
:mod:`.siamfc`, :mod:`.goturn`, :mod:`.mdnet`), registered in :data:`.base.SOT_TRAINERS`
(every module here is imported on first lookup), and the frame-pair sampling they share
(:mod:`.pairs`). Trainers import networks from :mod:`trackkit.sot.nets`, never trackers.
"""
