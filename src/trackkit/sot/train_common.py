"""Shared pieces of the deep single-object trackers' training (SiamFC, GOTURN, MDNet).

- :class:`FramePairs` samples ``(sequence, frame i, frame j)`` with ``0 < |j - i| <= max_gap``
  from annotated OTB / VOT / GOT-10k sequences (found with :func:`trackkit.sot.runner.
  find_sequences`), skipping frames without a valid box; images are decoded on demand.
- :func:`fit` is the epoch loop: a step function on batches, a checkpoint every epoch
  (``<out>/checkpoint.pt``: model, optimizer, epoch, loss history), ``resume``, a progress bar,
  and the final weights ``<out>/<name>.pt`` (``{"arch": dict, "state_dict": ...}``, loadable
  with ``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from trackkit.errors import DataNotFoundError, FormatError

__all__ = ["FramePairs", "TrainResult", "fit", "load_weights", "save_weights"]

logger = logging.getLogger(__name__)


class FramePairs:
    """Annotated frames of one or more dataset roots, sampled as pairs.

    Args:
        roots: folders holding OTB / VOT / GOT-10k sequences (searched recursively).
        max_gap: largest frame distance of a pair.
        cache: number of decoded images kept in memory.
    """

    def __init__(self, roots: Sequence[str | Path], max_gap: int = 100, cache: int = 64) -> None:
        from trackkit.sot.runner import find_sequences

        self.sequences = []
        for root in roots:
            self.sequences.extend(find_sequences(root))
        self.valid: list[NDArray[np.int64]] = []
        for seq in self.sequences:
            ok = np.all(np.isfinite(seq.boxes), axis=1)
            ok &= (seq.boxes[:, 2] - seq.boxes[:, 0] > 1) & (seq.boxes[:, 3] - seq.boxes[:, 1] > 1)
            self.valid.append(np.nonzero(ok)[0])
        keep = [k for k, v in enumerate(self.valid) if len(v) >= 2]
        self.sequences = [self.sequences[k] for k in keep]
        self.valid = [self.valid[k] for k in keep]
        if not self.sequences:
            raise DataNotFoundError(f"no annotated sequence with 2+ valid frames in {roots}")
        self.max_gap = max_gap
        self._cache: OrderedDict[Path, NDArray[np.uint8]] = OrderedDict()
        self._cache_size = cache

    @property
    def num_frames(self) -> int:
        """Number of frames with a valid box."""
        return int(sum(len(v) for v in self.valid))

    def image(self, path: Path) -> NDArray[np.uint8]:
        """The BGR image at ``path`` (small LRU cache)."""
        img = self._cache.get(path)
        if img is None:
            read = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if read is None:
                raise FormatError(path, "cannot decode image")
            img = np.asarray(read, dtype=np.uint8)
            self._cache[path] = img
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(path)
        return img

    def sample(self, rng: np.random.Generator) -> tuple[int, int, int]:
        """A random ``(sequence index, frame i, frame j)`` with valid boxes, ``i != j``.

        Sequences are drawn in proportion to their number of valid frames.
        """
        sizes = np.array([len(v) for v in self.valid], dtype=np.float64)
        s = int(rng.choice(len(sizes), p=sizes / sizes.sum()))
        v = self.valid[s]
        a = int(rng.integers(len(v)))
        i = int(v[a])
        near = v[(np.abs(v - i) <= self.max_gap) & (v != i)]
        j = int(near[rng.integers(len(near))]) if len(near) else int(v[(a + 1) % len(v)])
        return s, i, j

    def frame(self, s: int, i: int) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
        """Image and ``xyxy`` box of frame ``i`` of sequence ``s``."""
        seq = self.sequences[s]
        return self.image(seq.frames[i]), seq.boxes[i]


@dataclass
class TrainResult:
    """Outcome of :func:`fit`: the weights file and the mean loss of every epoch."""

    weights: Path
    losses: list[float]


def save_weights(path: Path, arch: dict[str, Any], model: Any) -> None:
    """Save ``{"arch": arch, "state_dict": model.state_dict()}`` to ``path``."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"arch": dict(arch), "state_dict": model.state_dict()}, path)


def load_weights(path: str | Path, kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Load ``(arch, state_dict)`` from a trackkit weights file (or a bare state_dict).

    Raises:
        DataNotFoundError: the file is missing.
        FormatError: the file is not a ``kind`` weights file.
    """
    import torch

    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"{p}: {kind} weights file not found")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle / zip errors of all kinds
        raise FormatError(p, f"not a torch weights file ({exc})") from None
    if not isinstance(obj, dict):
        raise FormatError(p, f"expected a dict, got {type(obj).__name__}")
    if "state_dict" in obj:
        arch = obj.get("arch", {})
        if arch.get("model", kind) != kind:
            raise FormatError(p, f"holds {arch.get('model')!r} weights, not {kind!r}")
        return dict(arch), dict(obj["state_dict"])
    return {}, dict(obj)


def fit(
    model: Any,
    step: Callable[[np.random.Generator], Any],
    out: str | Path,
    name: str,
    arch: dict[str, Any],
    epochs: int,
    iters: int,
    lr: float,
    weight_decay: float = 5e-4,
    resume: bool = False,
    seed: int = 0,
    progress: bool = True,
    params: Any = None,
    optimizer: str = "sgd",
) -> TrainResult:
    """Train ``model`` with SGD (momentum 0.9) or Adam, exponential lr decay to lr/100.

    Args:
        model: the ``torch.nn.Module``.
        step: ``step(rng) -> loss tensor`` on one random batch.
        out: output folder (checkpoint and final weights).
        name: file stem of the final weights (``<out>/<name>.pt``).
        arch: architecture description stored beside the weights.
        epochs, iters: epochs and steps per epoch.
        lr: initial learning rate.
        resume: continue from ``<out>/checkpoint.pt`` when it exists.
        params: parameters to optimise (default: all of ``model``).
        optimizer: ``"sgd"`` or ``"adam"``.
    """
    import torch
    from tqdm import tqdm

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = out_dir / "checkpoint.pt"
    todo = model.parameters() if params is None else params
    opt: Any
    if optimizer == "adam":
        opt = torch.optim.Adam(todo, lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(todo, lr=lr, momentum=0.9, weight_decay=weight_decay)
    gamma = (0.01) ** (1.0 / max(epochs - 1, 1))
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma)
    start, losses = 0, []
    if resume and ckpt_path.is_file():
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        start, losses = int(ck["epoch"]), [float(v) for v in ck["losses"]]
        logger.info("resumed %s at epoch %d", ckpt_path, start)
    for epoch in range(start, epochs):
        rng = np.random.default_rng([seed, epoch])
        model.train()
        total = 0.0
        bar = tqdm(range(iters), desc=f"{name} epoch {epoch + 1}/{epochs}", disable=not progress)
        for _ in bar:
            loss = step(rng)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()
            total += float(loss.detach())
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
        sched.step()
        losses.append(total / max(iters, 1))
        logger.info("%s epoch %d: mean loss %.4f", name, epoch + 1, losses[-1])
        torch.save(
            {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "epoch": epoch + 1,
                "losses": losses,
            },
            ckpt_path,
        )
        save_weights(out_dir / f"{name}.pt", arch, model)
    model.eval()
    return TrainResult(out_dir / f"{name}.pt", losses)
