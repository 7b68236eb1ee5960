"""Shared training infrastructure of the single-object tracking models.

``trackkit sot train --model NAME`` looks ``NAME`` up in :data:`SOT_TRAINERS` and hands the
trainer to :func:`fit`, which owns everything that is not model-specific:

- seeding (Python, numpy, torch) and a per-epoch numpy generator that survives ``--resume``;
- ``OUT/checkpoint.pt`` after every epoch (model, optimiser, scheduler, epoch, generator
  state) and ``--resume`` from it;
- a tqdm progress bar with the running losses;
- ``OUT/log.csv`` (one row per epoch: epoch, step count, mean of every loss, seconds);
- ``OUT/model.pt``: the final weights (what ``--weights`` of the tracker loads);
- an optional wall-clock budget (``max_minutes``) that ends training after the current epoch.

A trainer subclasses :class:`SOTTrainer` and implements ``setup`` (model, optimiser, data),
``batches`` (one epoch of batches, drawn with the given generator), ``step`` (one optimiser
step returning named losses) and ``export`` (what goes into ``model.pt``). torch is imported
inside functions only.
"""

from __future__ import annotations

import abc
import csv
import logging
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trackkit.config import require
from trackkit.errors import DataNotFoundError, FormatError
from trackkit.registry import Registry

__all__ = ["SOT_TRAINERS", "TRAINER_MODULES", "SOTTrainer", "TrainOptions", "build_trainer", "fit"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOptions:
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
    """

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

    def __post_init__(self) -> None:
        require(len(self.data) >= 1, "at least one data folder is needed")
        require(self.epochs >= 1, "epochs must be >= 1")
        require(self.steps_per_epoch >= 1, "steps_per_epoch must be >= 1")
        require(self.batch_size >= 1, "batch_size must be >= 1")
        require(self.lr > 0, "lr must be > 0")
        require(self.max_minutes is None or self.max_minutes > 0, "max_minutes must be > 0")


class SOTTrainer(abc.ABC):
    """Model-specific part of a training run (see the module docstring)."""

    #: attributes set by :meth:`setup`
    model: Any
    optimizer: Any
    scheduler: Any = None

    def __init__(self, opts: TrainOptions) -> None:
        self.opts = opts

    @abc.abstractmethod
    def setup(self) -> None:
        """Build ``self.model``, ``self.optimizer`` (and ``self.scheduler``) and the data."""

    @abc.abstractmethod
    def batches(self, epoch: int, rng: np.random.Generator) -> Iterable[Any]:
        """The ``steps_per_epoch`` batches of one epoch, drawn with ``rng``."""

    @abc.abstractmethod
    def step(self, batch: Any) -> dict[str, float]:
        """One optimiser step on ``batch``; returns named losses (floats)."""

    def descend(self, loss: Any, max_grad_norm: float | None = None) -> dict[str, float]:
        """One optimiser step on ``loss`` (a scalar tensor): zero the gradients, back-propagate,
        clip their total norm to ``max_grad_norm`` (``None``: no clipping), step. Returns
        ``{"loss": value}`` for :meth:`step`."""
        self.optimizer.zero_grad()
        loss.backward()
        if max_grad_norm is not None:
            import torch

            torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_grad_norm)
        self.optimizer.step()
        return {"loss": float(loss.detach())}

    def end_epoch(self, epoch: int) -> None:  # noqa: B027 - optional hook
        """Called after every epoch (before the checkpoint); default: step the scheduler."""
        if self.scheduler is not None:
            self.scheduler.step()

    def export(self) -> dict[str, Any]:
        """What ``model.pt`` holds (default: ``{"model": state_dict}``)."""
        return {"model": self.model.state_dict()}


#: Trainers by model name (``trackkit sot train --model NAME``); factories take ``opts``.
SOT_TRAINERS: Registry[SOTTrainer] = Registry("single-object tracking trainer")

#: Modules whose import registers trainers (imported on demand: they may need torch).
TRAINER_MODULES: tuple[str, ...] = (
    "trackkit.sot.udt",
    "trackkit.sot.train_siamfc",
    "trackkit.sot.train_goturn",
    "trackkit.sot.train_mdnet",
)


def build_trainer(name: str, opts: TrainOptions) -> SOTTrainer:
    """Import the trainer modules and build the trainer registered as ``name``."""
    import importlib

    for module in TRAINER_MODULES:
        importlib.import_module(module)
    return SOT_TRAINERS.build(name, opts=opts)


def _seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    torch.manual_seed(seed)  # numpy draws come from explicit Generators


def _save(path: Path, obj: dict[str, Any]) -> None:
    import torch

    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)  # atomic: a killed run never leaves a half-written checkpoint


def fit(trainer: SOTTrainer, progress: bool = True) -> Path:
    """Run (or resume) training; returns the path of ``model.pt``.

    Raises:
        DataNotFoundError: ``resume`` without a checkpoint.
        FormatError: an unreadable checkpoint.
    """
    import torch
    from tqdm import tqdm

    opts = trainer.opts
    opts.out.mkdir(parents=True, exist_ok=True)
    ckpt_path = opts.out / "checkpoint.pt"
    log_path = opts.out / "log.csv"
    _seed_everything(opts.seed)
    trainer.setup()
    start_epoch = 0
    rng = np.random.default_rng(opts.seed)
    if opts.resume:
        if not ckpt_path.is_file():
            raise DataNotFoundError(f"{ckpt_path}: no checkpoint to resume from")
        try:
            ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        except Exception as exc:  # noqa: BLE001
            raise FormatError(ckpt_path, f"cannot read checkpoint ({exc})") from None
        trainer.model.load_state_dict(ckpt["model"])
        trainer.optimizer.load_state_dict(ckpt["optimizer"])
        if trainer.scheduler is not None and ckpt.get("scheduler") is not None:
            trainer.scheduler.load_state_dict(ckpt["scheduler"])
        rng.bit_generator.state = ckpt["rng"]
        torch.set_rng_state(ckpt["torch_rng"])
        start_epoch = int(ckpt["epoch"])
        log.info("resumed from %s at epoch %d", ckpt_path, start_epoch)
    elif log_path.exists():
        log_path.unlink()
    t_start = time.perf_counter()
    for epoch in range(start_epoch, opts.epochs):
        trainer.model.train()
        t0 = time.perf_counter()
        sums: dict[str, float] = {}
        steps = 0
        bar = tqdm(
            trainer.batches(epoch, rng),
            total=opts.steps_per_epoch,
            desc=f"epoch {epoch + 1}/{opts.epochs}",
            disable=not progress,
            leave=False,
        )
        for batch in bar:
            losses = trainer.step(batch)
            steps += 1
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            bar.set_postfix({k: f"{v / steps:.4f}" for k, v in sums.items()})
        bar.close()
        trainer.end_epoch(epoch)
        means = {k: v / max(steps, 1) for k, v in sums.items()}
        row = {"epoch": epoch + 1, "steps": steps, **means, "seconds": time.perf_counter() - t0}
        new = not log_path.exists()
        with log_path.open("a", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=list(row))
            if new:
                w.writeheader()
            w.writerow(row)
        _save(
            ckpt_path,
            {
                "epoch": epoch + 1,
                "model": trainer.model.state_dict(),
                "optimizer": trainer.optimizer.state_dict(),
                "scheduler": None if trainer.scheduler is None else trainer.scheduler.state_dict(),
                "rng": rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(),
            },
        )
        log.info("epoch %d: %s", epoch + 1, ", ".join(f"{k} {v:.4f}" for k, v in means.items()))
        elapsed_min = (time.perf_counter() - t_start) / 60.0
        if opts.max_minutes is not None and elapsed_min >= opts.max_minutes:
            log.warning(
                "time budget of %.1f min reached after epoch %d", opts.max_minutes, epoch + 1
            )
            break
    model_path = opts.out / "model.pt"
    _save(model_path, trainer.export())
    return model_path
