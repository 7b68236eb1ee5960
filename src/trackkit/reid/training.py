"""Training a ReID model with a weighted objective, checkpoints every epoch and exact resume.

:class:`Trainer` trains a :mod:`trackkit.reid.models` network plus a
:class:`~trackkit.reid.models.ClassifierHead` on P x K batches
(:class:`~trackkit.reid.data.sampler.PKSampler`) of crops decoded once and kept in memory,
augmented by :func:`~trackkit.reid.data.transforms.augment_batch`, with Adam (or SGD with
Nesterov momentum, ``optimizer="sgd"``), a linear
warm-up and a cosine decay of the learning rate (set per iteration from the fractional
epoch), and the objective ``sum_i w_i L_i`` parsed by
:func:`~trackkit.reid.losses.parse_objective`.

Reproducibility: every random draw of epoch ``e`` comes from generators seeded with
``(seed, e)``, and the checkpoint written at the end of each epoch holds the model, head,
loss parameters, optimizer state and the log. A run killed mid-epoch and resumed restarts
that epoch from the checkpoint and ends with the same weights as an uninterrupted run (on
the same device and thread count).

Output folder: ``checkpoint.pt`` (resume state), ``model.pt`` (the model alone, loadable
with :func:`~trackkit.reid.models.load_model`), ``log.csv`` (one row per epoch).
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from trackkit.config import require
from trackkit.errors import ConfigError, FormatError
from trackkit.reid.data.images import load_crops
from trackkit.reid.data.names import ReIDImage
from trackkit.reid.data.sampler import PKSampler
from trackkit.reid.data.transforms import AugmentConfig, augment_batch
from trackkit.reid.losses import parse_objective
from trackkit.reid.models import ClassifierHead, ReIDNet, build_model, save_model
from trackkit.reid.models.common import channels_last

__all__ = ["TrainConfig", "Trainer"]

log = logging.getLogger(__name__)

#: Fields that may change between a run and its resumption.
_RESUMABLE_CHANGES = {"epochs", "threads", "device"}


@dataclass(frozen=True)
class TrainConfig:
    """Training settings.

    Attributes:
        model: registered model name (:data:`trackkit.reid.models.MODELS`).
        loss: objective, e.g. ``"triplet-hard+ce"`` or ``"triplet-soft+0.0005*center+ce"``.
        epochs: number of epochs (an epoch sees about every training image once).
        p, k: identities per batch and images per identity.
        optimizer: ``"adam"`` or ``"sgd"`` (momentum 0.9, Nesterov); SGD's coupled L2
            penalty regularises more than Adam's, which matters when training from scratch
            on a few hundred identities.
        lr: peak learning rate; ``weight_decay``: L2 penalty (added to the gradient).
        warmup_epochs: linear warm-up from ``0.1 lr`` to ``lr``; then cosine decay to
            ``min_lr_factor * lr`` at the last epoch.
        input_size: ``(H, W)`` of the crops.
        pad, flip_prob, erase_prob, color_jitter, gray_prob: augmentation settings
            (:class:`~trackkit.reid.data.transforms.AugmentConfig`).
        seed: seed of initialisation, sampling and augmentation.
        threads: torch intra-op threads; device: ``"cpu"`` or a torch device string.
        max_batches: cap on batches per epoch (``None`` = all); for quick runs and tests.
    """

    model: str = "resnet-tiny"
    loss: str = "triplet-hard+ce"
    epochs: int = 60
    p: int = 16
    k: int = 4
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 5e-4
    warmup_epochs: int = 5
    min_lr_factor: float = 0.01
    input_size: tuple[int, int] = (128, 48)
    pad: int = 10
    flip_prob: float = 0.5
    erase_prob: float = 0.5
    color_jitter: float = 0.0
    gray_prob: float = 0.0
    seed: int = 0
    threads: int = 1
    device: str = "cpu"
    max_batches: int | None = None
    model_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require(self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}")
        require(self.p >= 2 and self.k >= 2, f"p and k must be >= 2, got {self.p}, {self.k}")
        require(self.lr > 0, f"lr must be > 0, got {self.lr}")
        require(
            self.optimizer in ("adam", "sgd"),
            f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}",
        )
        require(0 <= self.warmup_epochs < self.epochs or self.epochs == 1, "bad warmup_epochs")
        require(len(self.input_size) == 2 and min(self.input_size) >= 16, "bad input_size")
        require(self.threads >= 1, f"threads must be >= 1, got {self.threads}")
        parse_objective(self.loss)

    def lr_at(self, epoch: float) -> float:
        """Learning rate at a fractional epoch (0-based)."""
        if epoch < self.warmup_epochs:
            return self.lr * (0.1 + 0.9 * epoch / self.warmup_epochs)
        span = max(self.epochs - self.warmup_epochs, 1)
        t = min((epoch - self.warmup_epochs) / span, 1.0)
        lo = self.min_lr_factor
        return self.lr * (lo + (1.0 - lo) * 0.5 * (1.0 + math.cos(math.pi * t)))


class Trainer:
    """Train a ReID model on identity-labelled images; see the module docstring.

    Args:
        cfg: the settings.
        images: training images (identity labels are remapped to ``0..C-1``).
        out_dir: where checkpoints and the log go.
        crops: the images already decoded at ``cfg.input_size`` (``(N, H, W, 3)`` uint8 BGR);
            read from disk when ``None``.
        progress: show progress bars.
        on_epoch_end: ``f(epoch, model) -> {name: value}`` extra columns for the log (e.g. a
            validation score); called with the model in eval mode.
    """

    def __init__(
        self,
        cfg: TrainConfig,
        images: Sequence[ReIDImage],
        out_dir: str | Path,
        crops: NDArray[np.uint8] | None = None,
        progress: bool = True,
        on_epoch_end: Callable[[int, ReIDNet], dict[str, float]] | None = None,
    ) -> None:
        self.cfg = cfg
        self.images = list(images)
        self.out_dir = Path(out_dir)
        self.progress = progress
        self.on_epoch_end = on_epoch_end
        pids = sorted({im.pid for im in self.images})
        self.label_of = {pid: i for i, pid in enumerate(pids)}
        self.labels = np.array([self.label_of[im.pid] for im in self.images], dtype=np.int64)
        self.sampler = PKSampler(self.labels, cfg.p, cfg.k, [im.path for im in self.images])
        self._crops = crops
        self.history: list[dict[str, float]] = []

    # -- state ------------------------------------------------------------------------------
    def _build(self) -> None:
        cfg = self.cfg
        torch.manual_seed(cfg.seed)
        opts = {"input_size": tuple(cfg.input_size), **cfg.model_options}
        # channels-last (NHWC) weights and batches: oneDNN's fast convolutions on CPU
        self.model = channels_last(build_model(cfg.model, **opts).to(cfg.device))
        self.head = ClassifierHead(self.model.embed_dim, len(self.label_of)).to(cfg.device)
        self.terms = parse_objective(cfg.loss)
        # deep mutual learning: a peer network (other initialisation) trained alongside
        self.peer: torch.nn.ModuleDict | None = None
        if any(term.needs_peer for _, term in self.terms):
            torch.manual_seed(cfg.seed + 1)
            peer_model = channels_last(build_model(cfg.model, **opts))
            peer_head = ClassifierHead(peer_model.embed_dim, len(self.label_of))
            self.peer = torch.nn.ModuleDict({"model": peer_model, "head": peer_head})
            self.peer.to(cfg.device)
        from trackkit.reid.losses import CenterLoss

        self.loss_modules = torch.nn.ModuleDict()
        n_nets = 2 if self.peer is not None else 1
        for _, term in self.terms:
            for net in range(n_nets):
                key = f"{term.name}_{net}"
                if term.needs_module and key not in self.loss_modules:
                    self.loss_modules[key] = CenterLoss(len(self.label_of), self.model.embed_dim)
        self.loss_modules.to(cfg.device)
        params = [
            *self.model.parameters(),
            *self.head.parameters(),
            *self.loss_modules.parameters(),
            *(self.peer.parameters() if self.peer is not None else []),
        ]
        trainable = [p for p in params if p.requires_grad]
        self.optimizer: torch.optim.Optimizer
        if cfg.optimizer == "sgd":
            self.optimizer = torch.optim.SGD(
                trainable, lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay
            )
        else:
            self.optimizer = torch.optim.Adam(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)

    def _checkpoint_path(self) -> Path:
        return self.out_dir / "checkpoint.pt"

    def _save(self, epoch: int) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        model_blob = {
            "format": "trackkit-reid",
            "arch": self.cfg.model,
            "config": {k: v for k, v in self.model.config.items() if k != "arch"},
            "state_dict": self.model.state_dict(),
        }
        blob = {
            "model": model_blob,
            "head": self.head.state_dict(),
            "loss_modules": self.loss_modules.state_dict(),
            "peer": self.peer.state_dict() if self.peer is not None else {},
            "optimizer": self.optimizer.state_dict(),
            "epoch": epoch,
            "config": _config_dict(self.cfg),
            "history": self.history,
        }
        tmp = self._checkpoint_path().with_suffix(".tmp")
        torch.save(blob, tmp)
        tmp.replace(self._checkpoint_path())
        save_model(self.model, self.out_dir / "model.pt")
        self._write_log()

    def _load(self) -> int:
        path = self._checkpoint_path()
        try:
            blob = torch.load(path, map_location=self.cfg.device, weights_only=True)
        except Exception as exc:  # noqa: BLE001
            raise FormatError(path, f"cannot read the checkpoint ({exc})") from exc
        old = blob.get("config", {})
        new = _config_dict(self.cfg)
        defaults = _config_dict(TrainConfig())
        changed = sorted(
            k for k in new if old.get(k, defaults[k]) != new[k] and k not in _RESUMABLE_CHANGES
        )
        if changed:
            raise ConfigError(
                f"{path}: cannot resume with different settings ({', '.join(changed)}); "
                "use another --out folder or the original settings"
            )
        self.model.load_state_dict(blob["model"]["state_dict"])
        self.head.load_state_dict(blob["head"])
        self.loss_modules.load_state_dict(blob["loss_modules"])
        if self.peer is not None:
            self.peer.load_state_dict(blob["peer"])
        self.optimizer.load_state_dict(blob["optimizer"])
        self.history = list(blob["history"])
        return int(blob["epoch"])

    def _write_log(self) -> None:
        if not self.history:
            return
        keys: list[str] = []
        for row in self.history:
            keys += [k for k in row if k not in keys]
        with open(self.out_dir / "log.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.history)

    # -- training ---------------------------------------------------------------------------
    def crops(self) -> NDArray[np.uint8]:
        """The training crops, decoded once."""
        if self._crops is None:
            paths = [im.path for im in self.images]
            size = (int(self.cfg.input_size[0]), int(self.cfg.input_size[1]))
            self._crops = load_crops(paths, size, progress=self.progress)
        return self._crops

    def run(self, resume: bool = False, stop_after: int | None = None) -> ReIDNet:
        """Train (or resume) to ``cfg.epochs``; returns the model in eval mode.

        Args:
            resume: continue from ``out_dir/checkpoint.pt`` when it exists.
            stop_after: raise :class:`KeyboardInterrupt` after this many batches (simulates a
                kill; for tests).
        """
        torch.set_num_threads(self.cfg.threads)
        self._build()
        start = 0
        if resume and self._checkpoint_path().is_file():
            start = self._load()
            log.info("resuming after epoch %d", start)
        crops = self.crops()
        steps = 0
        for epoch in range(start, self.cfg.epochs):
            row = self._epoch(epoch, crops, stop_after, steps)
            steps += int(row.pop("batches"))
            if self.on_epoch_end is not None:
                self.model.eval()
                row.update(self.on_epoch_end(epoch + 1, self.model))
            self.history.append(row)
            self._save(epoch + 1)
            log.info("epoch %d: %s", epoch + 1, row)
        return self.model.eval()

    def _objective(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The weighted objective on one batch (plus the peer's own, under mutual learning)
        and the value of each of the main network's terms."""
        outs = [_forward(self.model, self.head, x)]
        if self.peer is not None:
            outs.append(_forward(self.peer["model"], self.peer["head"], x))  # type: ignore[arg-type]
            outs[0]["peer_feat"], outs[0]["peer_logits"] = outs[1]["feat"], outs[1]["logits"]
            outs[1]["peer_feat"], outs[1]["peer_logits"] = outs[0]["feat"], outs[0]["logits"]
        self._last_logits = outs[0]["logits"]
        loss = x.new_zeros(())
        values: dict[str, float] = {}
        for net, out in enumerate(outs):
            for weight, term in self.terms:
                key = f"{term.name}_{net}"
                state = self.loss_modules[key] if key in self.loss_modules else None
                value = term.fn(out, y, state)
                if net == 0:
                    values[term.name] = values.get(term.name, 0.0) + float(value.detach())
                loss = loss + weight * value
        return loss, values

    def _epoch(
        self, epoch: int, crops: NDArray[np.uint8], stop_after: int | None, steps: int
    ) -> dict[str, float]:
        cfg = self.cfg
        self.model.train()
        self.head.train()
        if self.peer is not None:
            self.peer.train()
        batches = self.sampler.epoch(cfg.seed, epoch)
        if cfg.max_batches is not None:
            batches = batches[: cfg.max_batches]
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
        aug = AugmentConfig(
            flip_prob=cfg.flip_prob,
            pad=cfg.pad,
            erase_prob=cfg.erase_prob,
            color_jitter=cfg.color_jitter,
            gray_prob=cfg.gray_prob,
        )
        sums = {term.name: 0.0 for _, term in self.terms}
        total = 0.0
        correct = 0
        seen = 0
        t0 = time.perf_counter()
        it: Any = batches
        if self.progress:
            from tqdm import tqdm

            it = tqdm(batches, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", leave=False)
        for b, idx in enumerate(it):
            if stop_after is not None and steps + b >= stop_after:
                raise KeyboardInterrupt
            lr = cfg.lr_at(epoch + b / len(batches))
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            x = augment_batch(crops[idx], aug, gen).to(cfg.device)
            x = x.contiguous(memory_format=torch.channels_last)
            y = torch.from_numpy(self.labels[idx]).to(cfg.device)
            loss, values = self._objective(x, y)
            for name, value in values.items():
                sums[name] += value
            logits = self._last_logits
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total += float(loss.detach())
            correct += int((logits.argmax(1) == y).sum())
            seen += int(y.numel())
            if self.progress:
                it.set_postfix(loss=f"{total / (b + 1):.3f}", acc=f"{correct / seen:.2f}")
        n = max(len(batches), 1)
        row: dict[str, float] = {"epoch": epoch + 1, "lr": cfg.lr_at(epoch + 1 - 1e-9)}
        row.update({f"loss_{k}": v / n for k, v in sums.items()})
        row["loss"] = total / n
        row["train_acc"] = correct / max(seen, 1)
        row["seconds"] = time.perf_counter() - t0
        row["batches"] = len(batches)
        return row


def _forward(model: ReIDNet, head: torch.nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    feat, emb = model.forward_train(x)
    return {"feat": feat, "emb": emb, "logits": head(emb)}


def _config_dict(cfg: TrainConfig) -> dict[str, Any]:
    d = dataclasses.asdict(cfg)
    d["input_size"] = list(cfg.input_size)
    return d
