"""What a training task implements for :func:`trackkit.training.fit`.

A :class:`Task` owns its modules (a network, and for ReID also a classifier head, the loss
terms' learnable modules and a mutual-learning peer), its optimiser and optional scheduler,
and its data. :func:`~trackkit.training.fit` owns the rest (seeding, the epoch loop, the
checkpoint and resume, ``log.csv``, the progress bar, ``model.pt``, the time budget) and calls:

1. :meth:`Task.setup` once, after seeding Python's and torch's generators with the run's seed;
2. for every epoch: :meth:`Task.start_epoch`, then :meth:`Task.step` on each batch of
   :meth:`Task.batches` (drawn with the epoch's :class:`EpochRandom`), then
   :meth:`Task.summary` (the epoch's log columns) and :meth:`Task.end_epoch` (scheduler step,
   validation columns);
3. :meth:`Task.export` for ``model.pt`` (:func:`trackkit.training.weights.make_weights`).

torch is imported inside the functions.
"""

from __future__ import annotations

import abc
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["EpochRandom", "Task", "command_line", "epoch_random"]


@dataclass
class EpochRandom:
    """The random generators of one epoch.

    Attributes:
        numpy: a numpy generator; seeded by ``(seed, epoch)`` for ``rng_mode == "epoch"``,
            one stream for the whole run (state kept in the checkpoint) for ``"stream"``.
        seed, epoch: what the generators derive from.
    """

    numpy: np.random.Generator
    seed: int
    epoch: int
    _torch: Any = None

    @property
    def torch(self) -> Any:
        """A ``torch.Generator`` seeded with ``seed * 1_000_003 + epoch``."""
        if self._torch is None:
            import torch

            self._torch = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return self._torch


def epoch_random(seed: int, epoch: int) -> EpochRandom:
    """The generators of epoch ``epoch`` under the per-``(seed, epoch)`` rule."""
    return EpochRandom(np.random.default_rng([seed, epoch]), seed, epoch)


class Task(abc.ABC):
    """The model-specific part of a training run (see the module docstring).

    Class attributes:
        kind: what the weights are for (``"reid"``, ``"sot"``): the weights file's ``task``.
        rng_mode: ``"epoch"`` (each epoch's batches come from a generator seeded by
            ``(seed, epoch)``) or ``"stream"`` (one numpy stream for the run, its state saved
            in the checkpoint; kept by the SOT trainers so their published weights stay
            reproducible).
        resumable: configuration keys that may change between a run and its resumption.
    """

    kind: str = ""
    rng_mode: str = "epoch"
    resumable: frozenset[str] = frozenset({"epochs"})
    #: set by :meth:`setup`
    optimizer: Any = None
    scheduler: Any = None

    @abc.abstractmethod
    def setup(self) -> None:
        """Build the modules, the optimiser (and scheduler) and the data."""

    @abc.abstractmethod
    def modules(self) -> dict[str, Any]:
        """Every ``torch.nn.Module`` whose state goes into the checkpoint, by name."""

    @abc.abstractmethod
    def batches(self, epoch: int, rng: EpochRandom) -> Iterable[Any]:
        """The batches of epoch ``epoch`` (0-based), drawn with ``rng``."""

    @abc.abstractmethod
    def step(self, batch: Any, epoch: int, index: int) -> dict[str, float]:
        """One optimiser step on batch ``index`` of ``epoch``; returns named losses."""

    @abc.abstractmethod
    def export(self) -> dict[str, Any]:
        """The weights-file dict of ``model.pt`` (:func:`~.weights.make_weights`)."""

    def config(self) -> dict[str, Any]:
        """The run's settings (plain types), stored in the checkpoint and compared on resume
        (except the :attr:`resumable` keys)."""
        return {}

    def num_batches(self, epoch: int) -> int | None:
        """Number of batches of ``epoch`` for the progress bar (``None``: unknown)."""
        return None

    def start_epoch(self, epoch: int) -> None:
        """Called before an epoch's first batch; default: every module in training mode."""
        for module in self.modules().values():
            module.train()

    def summary(self, epoch: int, means: dict[str, float], steps: int) -> dict[str, float]:
        """The epoch's ``log.csv`` columns after ``epoch`` (default: ``steps`` and the mean
        of every loss)."""
        return {"steps": steps, **means}

    def end_epoch(self, epoch: int) -> dict[str, float]:
        """Called after an epoch (before the checkpoint); default: step the scheduler.
        Returns extra ``log.csv`` columns (e.g. a validation score)."""
        if self.scheduler is not None:
            self.scheduler.step()
        return {}

    def descend(
        self, loss: Any, parameters: Iterable[Any] = (), max_grad_norm: float | None = None
    ) -> float:
        """One optimiser step on the scalar ``loss``: zero the gradients, back-propagate,
        clip the total norm of ``parameters``' gradients to ``max_grad_norm`` (``None``: no
        clipping), step. Returns the loss value."""
        self.optimizer.zero_grad()
        loss.backward()
        if max_grad_norm is not None:
            import torch

            torch.nn.utils.clip_grad_norm_(list(parameters), max_grad_norm)
        self.optimizer.step()
        return float(loss.detach())


def command_line(prog: str, parser: Any, args: Any, skip: Sequence[str] = ()) -> str:
    """The full command line of a parsed ``args`` (every option spelled out, defaults
    included), e.g. ``"trackkit reid train --dataset cuhk03 ... --epochs 60"``: what a
    weights file records as the command that produced it.

    Args:
        prog: the command's words (``"trackkit sot train"``).
        parser: the ``argparse.ArgumentParser`` that parsed ``args``.
        skip: option ``dest`` names to leave out (``resume``, ``quiet``, ...).
    """
    words: list[str] = []
    for action in parser._actions:  # noqa: SLF001 - argparse has no public list of actions
        if not action.option_strings or action.dest in ("help", *skip):
            continue
        value = getattr(args, action.dest, None)
        if value is None or value is False or action.nargs == 0 and value is not True:
            continue
        flag = max(action.option_strings, key=len)
        if value is True:
            words.append(flag)
        elif isinstance(value, (list, tuple)):
            if value:
                words += [flag, *map(str, value)]
        else:
            words += [flag, str(value)]
    return " ".join([prog, *(shlex.quote(w) for w in words)])
