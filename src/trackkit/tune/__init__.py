"""Parameter search for MOT trackers (``trackkit tune``): search spaces declared next to the
config dataclasses (:mod:`~trackkit.tune.space`), fast in-process trials
(:mod:`~trackkit.tune.trial`), leave-one-sequence-out selection (:mod:`~trackkit.tune.cv`),
the recorded, resumable search (:mod:`~trackkit.tune.search`) and the best-config file
(:mod:`~trackkit.tune.best`)."""
