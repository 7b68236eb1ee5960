"""The one training loop of trackkit: :func:`fit` runs (or resumes) a :class:`~.task.Task`.

Output folder:

- ``checkpoint.pt`` after every epoch: every module's state, the optimiser's and the
  scheduler's, the random generators' states, the epoch, the log rows, the run's settings
  and the current weights; only tensors and plain types, read back with
  ``torch.load(weights_only=True)``;
- ``model.pt`` after every epoch: the weights file (:mod:`trackkit.training.weights`);
- ``log.csv``: one row per finished epoch (``epoch``, the task's columns, ``seconds``, extra
  columns of :meth:`~.task.Task.end_epoch`), rewritten from the checkpoint's rows.

Resume rule: a run resumed from ``checkpoint.pt`` restarts after the last finished epoch with
every state restored, and ends with the same weights, bit for bit, as a run that was never
interrupted (same device, same thread count). Both files are written atomically
(:func:`~.io.atomic_save`).
"""

from __future__ import annotations

import csv
import logging
import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from trackkit.errors import ConfigError, DataNotFoundError, FormatError
from trackkit.training.io import atomic_save, load_trusted, rng_state, set_rng_state
from trackkit.training.task import EpochRandom, Task, epoch_random
from trackkit.training.weights import CHECKPOINT_FORMAT, FORMAT, save_weights

__all__ = ["CHECKPOINT", "LOG", "MODEL", "fit", "write_log"]

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
MODEL = "model.pt"
LOG = "log.csv"


def fit(
    task: Task,
    out: str | Path,
    *,
    epochs: int,
    seed: int = 0,
    resume: bool = False,
    progress: bool = True,
    max_minutes: float | None = None,
    stop_after: int | None = None,
    device: str = "cpu",
) -> Path:
    """Train ``task`` for ``epochs`` epochs into the folder ``out``; returns ``out/model.pt``.

    Args:
        task: the task (not yet set up).
        out: output folder (created when missing).
        epochs: total number of epochs (a resumed run continues up to it).
        seed: seeds Python's and torch's generators before :meth:`Task.setup` and every
            epoch's generators.
        resume: continue from ``out/checkpoint.pt``.
        progress: show a progress bar per epoch.
        max_minutes: stop after the epoch during which this wall-clock budget runs out.
        stop_after: raise :class:`KeyboardInterrupt` before batch number ``stop_after``
            (counted over this call), as a kill would; for tests.
        device: where checkpoint tensors are loaded.

    Raises:
        DataNotFoundError: ``resume`` without a checkpoint.
        FormatError: an unreadable or unsafe checkpoint.
        ConfigError: resuming with settings that differ from the checkpoint's.
    """
    import torch
    from tqdm import tqdm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    random.seed(seed)
    torch.manual_seed(seed)
    task.setup()
    stream = np.random.default_rng(seed) if task.rng_mode == "stream" else None
    start = 0
    history: list[dict[str, Any]] = []
    if resume:
        start, history = _restore(task, out / CHECKPOINT, stream, device)
        log.info("resumed from %s after epoch %d", out / CHECKPOINT, start)
    else:
        (out / LOG).unlink(missing_ok=True)
    t_start = time.perf_counter()
    done = 0
    for epoch in range(start, epochs):
        task.start_epoch(epoch)
        rng = epoch_random(seed, epoch) if stream is None else EpochRandom(stream, seed, epoch)
        t0 = time.perf_counter()
        sums: dict[str, float] = {}
        steps = 0
        bar = tqdm(
            task.batches(epoch, rng),
            total=task.num_batches(epoch),
            desc=f"epoch {epoch + 1}/{epochs}",
            unit="batch",
            disable=not progress,
            leave=False,
        )
        for index, batch in enumerate(bar):
            if stop_after is not None and done >= stop_after:
                bar.close()
                raise KeyboardInterrupt
            for name, value in task.step(batch, epoch, index).items():
                sums[name] = sums.get(name, 0.0) + float(value)
            steps += 1
            done += 1
            bar.set_postfix({k: f"{v / steps:.4f}" for k, v in sums.items()})
        bar.close()
        means = {k: v / max(steps, 1) for k, v in sums.items()}
        row: dict[str, Any] = {"epoch": epoch + 1, **task.summary(epoch, means, steps)}
        row["seconds"] = time.perf_counter() - t0
        row.update(task.end_epoch(epoch))
        history.append(row)
        _checkpoint(task, out, epoch + 1, history, stream)
        log.info("epoch %d: %s", epoch + 1, ", ".join(f"{k} {v:.4g}" for k, v in row.items()))
        if max_minutes is not None and time.perf_counter() - t_start >= 60.0 * max_minutes:
            log.warning("time budget of %.1f min reached after epoch %d", max_minutes, epoch + 1)
            break
    return out / MODEL


def _checkpoint(
    task: Task, out: Path, epoch: int, history: list[dict[str, Any]], stream: Any
) -> None:
    """Write ``checkpoint.pt``, ``model.pt`` and ``log.csv`` after ``epoch`` epochs."""
    weights = task.export()
    blob = {
        "format": CHECKPOINT_FORMAT,
        "version": 1,
        "epoch": epoch,
        "modules": {name: m.state_dict() for name, m in task.modules().items()},
        "optimizer": task.optimizer.state_dict(),
        "scheduler": None if task.scheduler is None else task.scheduler.state_dict(),
        "rng": rng_state(stream),
        "history": history,
        "config": task.config(),
        "weights": weights,
    }
    atomic_save(blob, out / CHECKPOINT)
    if weights.get("format") == FORMAT:  # frozen pretrained tensors stored as references
        save_weights(out / MODEL, weights)
    else:
        atomic_save(weights, out / MODEL)
    write_log(out / LOG, history)


def _restore(task: Task, path: Path, stream: Any, device: str) -> tuple[int, list[dict[str, Any]]]:
    """Load ``path`` into ``task`` (and ``stream``); returns (epoch, log rows)."""
    if not path.is_file():
        raise DataNotFoundError(f"{path}: no checkpoint to resume from")
    blob = _upgrade(load_trusted(path, "checkpoint", map_location=device), path)
    old, new = blob.get("config") or {}, task.config()
    changed = sorted(k for k in new if old.get(k, new[k]) != new[k] and k not in task.resumable)
    if changed:
        raise ConfigError(
            f"{path}: cannot resume with different settings ({', '.join(changed)}); "
            "use another --out folder or the original settings"
        )
    try:
        for name, module in task.modules().items():
            module.load_state_dict(blob["modules"][name])
        task.optimizer.load_state_dict(blob["optimizer"])
        if task.scheduler is not None and blob.get("scheduler") is not None:
            task.scheduler.load_state_dict(blob["scheduler"])
    except (KeyError, RuntimeError, ValueError) as exc:
        raise FormatError(path, f"checkpoint does not fit this run ({str(exc)[:200]})") from None
    if blob.get("rng") is not None:
        set_rng_state(blob["rng"], stream)
    history = list(blob.get("history") or [])
    if not history and (path.parent / LOG).is_file():
        history = _read_log(path.parent / LOG)
    return int(blob["epoch"]), history


def _upgrade(blob: Any, path: Path) -> dict[str, Any]:
    """A checkpoint of an older trackkit version in the current layout."""
    if not isinstance(blob, dict) or "epoch" not in blob or "optimizer" not in blob:
        raise FormatError(path, "not a trackkit training checkpoint")
    if blob.get("format") == CHECKPOINT_FORMAT:
        return blob
    if isinstance(blob.get("model"), dict) and "state_dict" in blob["model"]:  # ReID, before
        modules = {"model": blob["model"]["state_dict"], "head": blob["head"],
                   "loss_modules": blob["loss_modules"]}  # fmt: skip
        if blob.get("peer"):
            modules["peer"] = blob["peer"]
        return {**blob, "modules": modules, "rng": None}
    rng = {"torch": blob.get("torch_rng"), "numpy": blob.get("rng")}  # SOT, before
    return {**blob, "modules": {"model": blob["model"]}, "rng": rng, "history": []}


def write_log(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write ``rows`` as a CSV file (columns: every key, in order of first appearance)."""
    if not rows:
        return
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def _read_log(path: Path) -> list[dict[str, Any]]:
    """The rows of a ``log.csv`` (numbers as floats)."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [{k: _number(v) for k, v in row.items()} for row in rows]


def _number(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text
