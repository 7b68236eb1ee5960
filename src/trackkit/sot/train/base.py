"""The single-object tracking trainers as tasks of :func:`trackkit.training.fit`.

``trackkit sot train --model NAME`` looks ``NAME`` up in :data:`SOT_TRAINERS`, builds the
trainer with the shared :class:`TrainOptions` and runs it with :func:`fit`; everything that is
not model-specific (seeding, ``OUT/checkpoint.pt`` after every epoch and exact ``--resume``,
``OUT/log.csv``, ``OUT/model.pt``, the progress bar, the wall-clock budget) is
:mod:`trackkit.training`'s.

A trainer subclasses :class:`SOTTrainer` and implements ``setup`` (model, optimiser with
:meth:`SOTTrainer.make_optimizer`, data), ``make_batch`` (one batch drawn with a numpy
generator), ``loss`` (the scalar loss of a batch) and ``arch_config`` (the network options
recorded in the weights file). SOT trainers draw their batches from one numpy stream seeded
with ``--seed`` (``rng_mode = "stream"``, its state kept in the checkpoint), so the commands of
the committed weights (docs/benchmarks.md) reproduce them bit for bit. torch is imported
inside functions only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from trackkit.config import Config, make_config, require
from trackkit.registry import Registry
from trackkit.sot.train.pairs import FramePairs
from trackkit.training import Task
from trackkit.training import fit as fit_task
from trackkit.training.task import EpochRandom
from trackkit.training.weights import make_weights

__all__ = [
    "SOT_TRAINERS",
    "ConvNetConfig",
    "OptimConfig",
    "SOTTrainer",
    "TrainOptions",
    "build_trainer",
    "fit",
    "train",
]


@dataclass(frozen=True)
class TrainOptions(Config):
    """Options shared by every SOT trainer (the ``trackkit sot train`` flags).

    Attributes:
        data: folders with training sequences (layout depends on the trainer).
        out: output folder (checkpoint.pt, model.pt, log.csv).
        epochs: number of epochs.
        steps_per_epoch: optimiser steps per epoch.
        batch_size: samples per step.
        lr: initial learning rate.
        seed: random seed.
        resume: continue from ``out/checkpoint.pt``.
        max_minutes: stop after the epoch during which this wall-clock budget runs out.
        init_weights: weights to start from (trainer-specific meaning), or ``None``.
        extra: trainer-specific ``key=value`` options.
        command: the command line recorded in the weights file.
    """

    RANGES: ClassVar[str] = (
        "epochs >= 1; steps_per_epoch >= 1; batch_size >= 1; lr > 0; max_minutes > 0"
    )

    data: tuple[Path, ...]
    out: Path
    epochs: int = 10
    steps_per_epoch: int = 100
    batch_size: int = 8
    lr: float = 1e-2
    seed: int = 0
    resume: bool = False
    max_minutes: float | None = None
    init_weights: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    command: str | None = None

    def validate(self) -> None:
        require(len(self.data) >= 1, "at least one data folder is needed")


@dataclass(frozen=True)
class OptimConfig(Config):
    """Optimiser options every SOT trainer's configuration has (``--set key=value``).

    Attributes:
        weight_decay: the optimiser's weight decay.
        final_lr_ratio: the learning rate decays exponentially to ``lr * final_lr_ratio`` at
            the last epoch.
    """

    RANGES: ClassVar[str] = "weight_decay >= 0; final_lr_ratio in (0, 1]"

    weight_decay: float = 5e-4
    final_lr_ratio: float = 0.01


@dataclass(frozen=True)
class ConvNetConfig(OptimConfig):
    """:class:`OptimConfig` and the shape of trackkit's small conv stack (widths ``w``,
    ``2w``, ``3w``, total stride 16), the network of the GOTURN and MDNet trainers.

    Attributes:
        size: input side of the network's crops (a multiple of 16).
        width: channels ``w`` of the first conv layer.
    """

    size: int = 128
    width: int = 32

    def validate(self) -> None:
        require(self.size % 16 == 0, "size must be a multiple of 16")


class SOTTrainer(Task):
    """Model-specific part of a SOT training run (see the module docstring)."""

    kind = "sot"
    rng_mode = "stream"
    resumable = frozenset({"epochs"})
    #: the registered name, recorded as the weights' ``arch``
    arch: str = ""
    #: the trainer's options dataclass, built from ``opts.extra`` (``--set key=value``)
    config_class: type[OptimConfig] = OptimConfig
    #: clip the gradients' total norm to this in :meth:`step` (``None``: no clipping)
    max_grad_norm: float | None = None
    #: set by :meth:`setup`
    model: Any

    def __init__(self, opts: TrainOptions) -> None:
        self.opts = opts
        self.cfg: Any = make_config(self.config_class, **opts.extra)
        #: names of the training sequences (recorded in the weights file), set by setup
        self.sequence_names: list[str] = []
        #: the pretrained file the model started from (``{"backbone", "file", "sha256"}``,
        #: recorded as ``trained_on["pretrained"]``), set by setup
        self.pretrained: dict[str, Any] = {}

    def start_from(self, load: Any, build: Any) -> Any:
        """``load(--init-weights)`` when given, else ``build()``."""
        init = self.opts.init_weights
        return build() if init is None else load(init)

    def load_pairs(self, max_gap: int) -> FramePairs:
        """``self.pairs``: the annotated frames of ``--data`` (and their sequence names)."""
        self.pairs = FramePairs(self.opts.data, max_gap=max_gap)
        self.sequence_names = [s.name for s in self.pairs.sequences]
        return self.pairs

    def make_optimizer(self, adam: bool, cfg: OptimConfig, momentum: float = 0.9) -> None:
        """``self.optimizer``: Adam, or SGD with ``momentum``, at ``--lr`` with
        ``cfg.weight_decay``; ``self.scheduler``: exponential decay to
        ``lr * cfg.final_lr_ratio`` at the last epoch."""
        import torch

        opts = self.opts
        params = [p for p in self.model.parameters() if p.requires_grad]  # frozen: left out
        if adam:
            self.optimizer = torch.optim.Adam(params, lr=opts.lr, weight_decay=cfg.weight_decay)
        else:
            self.optimizer = torch.optim.SGD(
                params, lr=opts.lr, momentum=momentum, weight_decay=cfg.weight_decay
            )
        gamma = cfg.final_lr_ratio ** (1.0 / max(opts.epochs - 1, 1))
        self.scheduler = torch.optim.lr_scheduler.ExponentialLR(self.optimizer, gamma)

    def modules(self) -> dict[str, Any]:
        return {"model": self.model}

    def make_batch(self, rng: np.random.Generator) -> Any:
        """One batch drawn with ``rng``."""
        raise NotImplementedError

    def batches(self, epoch: int, rng: EpochRandom) -> Iterator[Any]:
        """``steps_per_epoch`` batches of :meth:`make_batch`."""
        for _ in range(self.opts.steps_per_epoch):
            yield self.make_batch(rng.numpy)

    def num_batches(self, epoch: int) -> int:
        return self.opts.steps_per_epoch

    def loss(self, batch: Any) -> Any:
        """The scalar loss tensor of ``batch``."""
        raise NotImplementedError

    def step(self, batch: Any, epoch: int = 0, index: int = 0) -> dict[str, float]:
        """One optimiser step on :meth:`loss` (gradients clipped to ``max_grad_norm``)."""
        value = self.descend(self.loss(batch), self.model.parameters(), self.max_grad_norm)
        return {"loss": value}

    def arch_config(self) -> dict[str, Any]:
        """The network's options, recorded as the weights' ``config``."""
        return {}

    def export_state(self) -> dict[str, Any]:
        """The tensors of ``model.pt`` (default: the model's whole state dict)."""
        return dict(self.model.state_dict())

    def export(self) -> dict[str, Any]:
        opts = self.opts
        trained_on: dict[str, Any] = {
            "datasets": [p.name or str(p) for p in opts.data],
            "sequences": list(self.sequence_names),
        }
        if self.pretrained:
            trained_on["pretrained"] = dict(self.pretrained)
        return make_weights(
            self.kind, self.arch, self.arch_config(), self.export_state(), trained_on, opts.command
        )

    def config(self) -> dict[str, Any]:
        opts = self.opts
        return {
            "model": self.arch,
            "steps_per_epoch": opts.steps_per_epoch,
            "batch_size": opts.batch_size,
            "lr": opts.lr,
            "seed": opts.seed,
            "extra": {str(k): v for k, v in sorted(opts.extra.items())},
        }


#: Trainers by model name (``trackkit sot train --model NAME``); factories take ``opts``.
#: Every module of :mod:`trackkit.sot.train` is imported on first lookup.
SOT_TRAINERS: Registry[SOTTrainer] = Registry(
    "single-object tracking trainer", packages=("trackkit.sot.train",)
)


def build_trainer(name: str, opts: TrainOptions) -> SOTTrainer:
    """Build the trainer registered as ``name``."""
    return SOT_TRAINERS.build(name, opts=opts)


def fit(trainer: SOTTrainer, progress: bool = True, stop_after: int | None = None) -> Path:
    """Run (or resume) ``trainer`` with :func:`trackkit.training.fit`; returns ``model.pt``.

    Raises:
        DataNotFoundError: ``resume`` without a checkpoint.
        FormatError: an unreadable checkpoint.
    """
    o = trainer.opts
    return fit_task(
        trainer,
        o.out,
        epochs=o.epochs,
        seed=o.seed,
        resume=o.resume,
        progress=progress,
        max_minutes=o.max_minutes,
        stop_after=stop_after,
    )


def train(
    name: str,
    data: Sequence[str | Path],
    out: str | Path,
    *,
    epochs: int = 10,
    steps: int = 100,
    batch_size: int = 8,
    lr: float = 1e-2,
    seed: int = 0,
    resume: bool = False,
    progress: bool = True,
    **extra: Any,
) -> Path:
    """Python form of ``trackkit sot train --model NAME``: train (or resume) the trainer
    registered as ``name`` on the sequence folders ``data``; ``extra`` are its ``--set``
    options. Returns ``<out>/model.pt``."""
    opts = TrainOptions(
        data=tuple(Path(d) for d in data),
        out=Path(out),
        epochs=epochs,
        steps_per_epoch=steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        resume=resume,
        extra=extra,
    )
    return fit(build_trainer(name, opts), progress=progress)
