"""trackkit's one training framework, shared by the ReID trainer and every SOT trainer.

- :mod:`.task`: the :class:`Task` protocol (set-up, batches of an epoch drawn from that
  epoch's generators, a step returning named losses, an end-of-epoch hook, export);
- :mod:`.fit`: :func:`fit`, the loop: seeding, checkpoint after every epoch and exact resume,
  ``log.csv``, progress bar, wall-clock budget, ``model.pt``;
- :mod:`.weights`: the one weights-file format (:func:`make_weights`) and the one loader
  (:func:`read_weights`) that also reads every older trackkit format;
- :mod:`.io`: atomic saving and ``weights_only`` loading.

Importing this package does not import torch (every module imports it inside functions).
"""

from __future__ import annotations

from trackkit.training.fit import fit, write_log
from trackkit.training.io import atomic_save, load_trusted
from trackkit.training.task import EpochRandom, Task, command_line, epoch_random
from trackkit.training.weights import Weights, make_weights, read_weights, save_weights

__all__ = [
    "EpochRandom",
    "Task",
    "Weights",
    "atomic_save",
    "command_line",
    "epoch_random",
    "fit",
    "load_trusted",
    "make_weights",
    "read_weights",
    "save_weights",
    "write_log",
]
