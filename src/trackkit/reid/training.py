"""Training a ReID model with a weighted objective, checkpoints every epoch and exact resume.

:class:`Trainer` trains a :mod:`trackkit.reid.models` network plus a
:class:`~trackkit.reid.models.ClassifierHead` on P x K batches
(:class:`~trackkit.reid.data.sampler.PKSampler`) of crops decoded once and kept in memory,
augmented by :func:`~trackkit.reid.data.transforms.augment_batch`, with Adam (or SGD with
Nesterov momentum, ``optimizer="sgd"``), a linear
warm-up and a cosine decay of the learning rate (set per iteration from the fractional
epoch), and the objective ``sum_i w_i L_i`` parsed by
:func:`~trackkit.reid.objective.parse_objective`.

The trainer is a task of :func:`trackkit.training.fit` (the loop, checkpoint and exact
resume, ``log.csv``, progress bar): its modules are the model, the classifier head, the loss
terms' learnable modules (:meth:`~trackkit.reid.objective.LossTerm.build_module`) and, under
mutual learning, a peer network and head. Every random draw of epoch ``e`` comes from
generators seeded with ``(seed, e)`` (:class:`~trackkit.training.task.EpochRandom`); a run
killed mid-epoch and resumed restarts that epoch from the checkpoint and ends with the same
weights as an uninterrupted run (on the same device and thread count).

Fine-tuning: ``init`` names a file whose weights start the model (a trackkit ``.pt`` of the
same architecture, or a torchreid OSNet state_dict; the classifier is always made anew for the
training identities). Distillation: ``teacher`` names one or more fixed teachers
(``"omz-0248,omz-0287"``) whose embeddings of every training image are computed once into a
memory-mapped cache (:class:`~trackkit.reid.distill.TeacherCache`, in ``teacher_cache`` or
``out_dir/teacher-cache``) and given to the ``kd-*`` terms as ``outputs["teacher"]``.
Unlabelled images (``unlabelled``; ``unlabelled_batch`` of them appended to every batch, drawn
with the epoch's generator) reach only the distillation terms: every other term, the
classifier and the accuracy see the labelled rows alone.

Output folder: ``checkpoint.pt`` (resume state), ``model.pt`` (the model alone, a
:mod:`trackkit.training.weights` file loadable with :func:`~trackkit.reid.models.load_model`),
``log.csv`` (one row per epoch).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from numpy.typing import NDArray

from trackkit.config import Config, require
from trackkit.errors import ConfigError, FormatError
from trackkit.reid.data.images import load_crops
from trackkit.reid.data.names import ReIDImage
from trackkit.reid.data.sampler import PKSampler
from trackkit.reid.data.transforms import AugmentConfig, augment_batch
from trackkit.reid.models import ClassifierHead, ReIDNet, build_model
from trackkit.reid.models.common import channels_last
from trackkit.reid.objective import parse_objective
from trackkit.training import Task, fit, make_weights
from trackkit.training.fit import CHECKPOINT
from trackkit.training.task import EpochRandom

__all__ = ["TrainConfig", "Trainer"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig(Config):
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
        init: weights that start the model (fine-tuning), or ``None``.
        init_lr_factor: learning-rate multiplier of the parameters that ``init`` supplied
            (1.0: all at ``lr``; e.g. 0.3 keeps more of a pretrained network's features while
            the new parts, BNNeck, classifier and distillation projection, learn at ``lr``).
        teacher: comma-separated teachers for the ``kd-*`` terms, or ``None``.
        teacher_cache: folder of the teacher cache (``None``: ``out_dir/teacher-cache``).
        unlabelled_batch: unlabelled images appended to each batch (needs ``unlabelled``
            images and a ``kd-*`` term).
    """

    RANGES: ClassVar[str] = (
        "epochs >= 1; p >= 2; k >= 2; lr > 0; threads >= 1; unlabelled_batch >= 0; "
        "init_lr_factor in (0, 1]"
    )

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
    init: str | None = None
    init_lr_factor: float = 1.0
    teacher: str | None = None
    teacher_cache: str | None = None
    unlabelled_batch: int = 0

    def validate(self) -> None:
        require(
            self.optimizer in ("adam", "sgd"),
            f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}",
        )
        require(0 <= self.warmup_epochs < self.epochs or self.epochs == 1, "bad warmup_epochs")
        require(len(self.input_size) == 2 and min(self.input_size) >= 16, "bad input_size")
        require(
            self.init_lr_factor == 1.0 or bool(self.init),
            "init_lr_factor scales the learning rate of --init weights: give --init FILE",
        )
        terms = parse_objective(self.loss)
        kd = [t.name for _, t in terms if t.needs_teacher]
        require(not kd or bool(self.teacher), f"loss {kd[:1]} needs --teacher NAME|PATH")
        require(
            not self.teacher or bool(kd),
            "--teacher is given but --loss has no distillation term (kd-sim, kd-rank, kd-feat)",
        )
        require(
            self.unlabelled_batch == 0 or bool(kd),
            "unlabelled images reach only distillation terms: add kd-sim/kd-rank/kd-feat",
        )

    @property
    def teachers(self) -> list[str]:
        """The teachers named by ``teacher``."""
        return [t.strip() for t in (self.teacher or "").split(",") if t.strip()]

    def lr_at(self, epoch: float) -> float:
        """Learning rate at a fractional epoch (0-based)."""
        if epoch < self.warmup_epochs:
            return self.lr * (0.1 + 0.9 * epoch / self.warmup_epochs)
        span = max(self.epochs - self.warmup_epochs, 1)
        t = min((epoch - self.warmup_epochs) / span, 1.0)
        lo = self.min_lr_factor
        return self.lr * (lo + (1.0 - lo) * 0.5 * (1.0 + math.cos(math.pi * t)))


class Trainer(Task):
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
        dataset: name of the training dataset, recorded in the weights file.
        command: the command line recorded in the weights file.
        unlabelled: images without identity labels (distillation terms only).
    """

    kind = "reid"
    rng_mode = "epoch"
    resumable = frozenset({"epochs", "threads", "device", "teacher_cache"})

    def __init__(
        self,
        cfg: TrainConfig,
        images: Sequence[ReIDImage],
        out_dir: str | Path,
        crops: NDArray[np.uint8] | None = None,
        progress: bool = True,
        on_epoch_end: Callable[[int, ReIDNet], dict[str, float]] | None = None,
        dataset: str | None = None,
        command: str | None = None,
        unlabelled: Sequence[str | Path] = (),
    ) -> None:
        self.cfg = cfg
        self.images = list(images)
        self.unlabelled = [Path(p) for p in unlabelled]
        if cfg.unlabelled_batch and not self.unlabelled:
            raise ConfigError("unlabelled_batch > 0 needs unlabelled images (--unlabelled)")
        self.out_dir = Path(out_dir)
        self.progress = progress
        self.on_epoch_end = on_epoch_end
        self.dataset = dataset
        self.command = command
        pids = sorted({im.pid for im in self.images})
        self.label_of = {pid: i for i, pid in enumerate(pids)}
        self.labels = np.array([self.label_of[im.pid] for im in self.images], dtype=np.int64)
        self.sampler = PKSampler(self.labels, cfg.p, cfg.k, [im.path for im in self.images])
        self._crops = crops
        self._teacher: torch.Tensor | None = None
        self._num_batches = 0
        self._correct = self._seen = 0

    # -- the task ---------------------------------------------------------------------------
    def setup(self) -> None:
        """Model, head, loss modules, optional peer, optimiser; the crops."""
        cfg = self.cfg
        torch.set_num_threads(cfg.threads)
        opts = {"input_size": tuple(cfg.input_size), **cfg.model_options}
        # channels-last (NHWC) weights and batches: oneDNN's fast convolutions on CPU
        model = build_model(cfg.model, **opts)
        loaded: set[str] = set()
        if cfg.init:
            loaded = load_init(model, cfg.init)
        self.model = channels_last(model.to(cfg.device))
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
        teacher_dim = None
        if cfg.teachers:
            self._teacher = torch.from_numpy(self._teacher_targets()).to(cfg.device)
            teacher_dim = int(self._teacher.shape[1])
        self.loss_modules = torch.nn.ModuleDict()
        for _, term in self.terms:
            for net in range(2 if self.peer is not None else 1):
                key = f"{term.name}_{net}"
                if term.needs_module and key not in self.loss_modules:
                    module = term.build_module(
                        len(self.label_of), self.model.embed_dim, teacher_dim
                    )
                    if module is not None:
                        self.loss_modules[key] = module
        self.loss_modules.to(cfg.device)
        groups = _param_groups(self.modules(), loaded, cfg.init_lr_factor)
        if cfg.optimizer == "sgd":
            self.optimizer = torch.optim.SGD(
                groups, lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay
            )
        else:
            self.optimizer = torch.optim.Adam(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.crops()

    def modules(self) -> dict[str, torch.nn.Module]:
        """Model, head, loss modules (and the peer under mutual learning), in the order of
        the optimiser's parameters."""
        mods: dict[str, torch.nn.Module] = {
            "model": self.model,
            "head": self.head,
            "loss_modules": self.loss_modules,
        }
        if self.peer is not None:
            mods["peer"] = self.peer
        return mods

    def config(self) -> dict[str, Any]:
        return _config_dict(self.cfg)

    def num_batches(self, epoch: int) -> int | None:
        return self._num_batches or None

    def start_epoch(self, epoch: int) -> None:
        super().start_epoch(epoch)
        self._correct = self._seen = 0

    def batches(self, epoch: int, rng: EpochRandom) -> Iterator[tuple[Any, ...]]:
        """P x K batches (:class:`PKSampler`, seeded by ``(seed, epoch)``) plus
        ``unlabelled_batch`` unlabelled images (label ``-1``, drawn with ``rng.numpy``),
        augmented with ``rng.torch``: ``(x (B, 3, H, W) channels-last float, y (B,) labels,
        teacher (B, D_t) or None)``."""
        cfg = self.cfg
        batches = self.sampler.epoch(cfg.seed, epoch)
        if cfg.max_batches is not None:
            batches = batches[: cfg.max_batches]
        self._num_batches = len(batches)
        aug = AugmentConfig(
            flip_prob=cfg.flip_prob,
            pad=cfg.pad,
            erase_prob=cfg.erase_prob,
            color_jitter=cfg.color_jitter,
            gray_prob=cfg.gray_prob,
        )
        crops = self.crops()
        n_lab = len(self.images)
        labels = np.concatenate([self.labels, np.full(len(self.unlabelled), -1, np.int64)])
        for idx in batches:
            if cfg.unlabelled_batch:
                extra = rng.numpy.choice(len(self.unlabelled), cfg.unlabelled_batch)
                idx = np.concatenate([idx, n_lab + extra])
            x = augment_batch(crops[idx], aug, rng.torch).to(cfg.device)
            x = x.contiguous(memory_format=torch.channels_last)
            t = None if self._teacher is None else self._teacher[torch.from_numpy(idx)]
            yield x, torch.from_numpy(labels[idx]).to(cfg.device), t

    def step(self, batch: Any, epoch: int, index: int) -> dict[str, float]:
        """One step at the learning rate of the fractional epoch; returns every term of the
        main network (``loss_NAME``) and the total (``loss``)."""
        x, y, t = batch
        lr = self.cfg.lr_at(epoch + index / self._num_batches)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_factor", 1.0)
        loss, values = self._objective(x, y, t)
        logits = self._last_logits
        total = self.descend(loss)
        y = y[y >= 0]
        self._correct += int((logits.argmax(1) == y).sum())
        self._seen += int(y.numel())
        return {**{f"loss_{k}": v for k, v in values.items()}, "loss": total}

    def summary(self, epoch: int, means: dict[str, float], steps: int) -> dict[str, float]:
        row = {"lr": self.cfg.lr_at(epoch + 1 - 1e-9)}
        row.update({f"loss_{t.name}": means.get(f"loss_{t.name}", 0.0) for _, t in self.terms})
        row["loss"] = means.get("loss", 0.0)
        row["train_acc"] = self._correct / max(self._seen, 1)
        return row

    def end_epoch(self, epoch: int) -> dict[str, float]:
        """The ``on_epoch_end`` columns (model in eval mode)."""
        if self.on_epoch_end is None:
            return {}
        self.model.eval()
        return self.on_epoch_end(epoch + 1, self.model)

    def export(self) -> dict[str, Any]:
        cfg = dict(self.model.config)
        arch = cfg.pop("arch")
        trained_on: dict[str, Any] = {
            "datasets": [self.dataset] if self.dataset else [],
            "identities": sorted(self.label_of),
        }
        if self.cfg.teachers:
            trained_on["teachers"] = self.cfg.teachers
        if self.unlabelled:
            trained_on["unlabelled_images"] = len(self.unlabelled)
        if self.cfg.init:
            trained_on["init"] = str(self.cfg.init)
        return make_weights("reid", arch, cfg, self.model.state_dict(), trained_on, self.command)

    # -- running ----------------------------------------------------------------------------
    def crops(self) -> NDArray[np.uint8]:
        """The training crops (labelled, then unlabelled), decoded once."""
        size = (int(self.cfg.input_size[0]), int(self.cfg.input_size[1]))
        if self._crops is None:
            paths = [im.path for im in self.images]
            self._crops = load_crops(paths, size, progress=self.progress)
        if self.unlabelled and len(self._crops) == len(self.images):
            more = load_crops(self.unlabelled, size, progress=self.progress)
            self._crops = np.concatenate([self._crops, more])
        return self._crops

    def _teacher_targets(self) -> NDArray[np.float32]:
        """Every image's distillation target (:func:`~trackkit.reid.distill.teacher_embeddings`):
        the teachers see the image files at their own input size (the decoded training crops
        only for images given in memory without a file)."""
        from trackkit.io.images import read_image
        from trackkit.reid.distill import teacher_embeddings

        paths = [im.path for im in self.images] + self.unlabelled
        on_disk = all(Path(p).is_file() for p in paths)

        def read(idx: NDArray[np.int64]) -> Any:
            if on_disk:
                return [read_image(paths[i]) for i in idx]
            return self.crops()[idx]

        folder = self.cfg.teacher_cache or self.out_dir / "teacher-cache"
        return teacher_embeddings(self.cfg.teachers, paths, folder, read, self.cfg.threads)

    def run(self, resume: bool = False, stop_after: int | None = None) -> ReIDNet:
        """Train (or resume) to ``cfg.epochs``; returns the model in eval mode.

        Args:
            resume: continue from ``out_dir/checkpoint.pt`` when it exists.
            stop_after: raise :class:`KeyboardInterrupt` after this many batches (simulates a
                kill; for tests).
        """
        fit(
            self,
            self.out_dir,
            epochs=self.cfg.epochs,
            seed=self.cfg.seed,
            resume=resume and (self.out_dir / CHECKPOINT).is_file(),
            progress=self.progress,
            stop_after=stop_after,
            device=self.cfg.device,
        )
        return self.model.eval()

    def _objective(
        self, x: torch.Tensor, y: torch.Tensor, teacher: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The weighted objective on one batch (plus the peer's own, under mutual learning)
        and the value of each of the main network's terms. Rows with label ``-1``
        (unlabelled) reach only the distillation terms."""
        outs = [_forward(self.model, self.head, x)]
        if self.peer is not None:
            outs.append(_forward(self.peer["model"], self.peer["head"], x))  # type: ignore[arg-type]
            outs[0]["peer_feat"], outs[0]["peer_logits"] = outs[1]["feat"], outs[1]["logits"]
            outs[1]["peer_feat"], outs[1]["peer_logits"] = outs[0]["feat"], outs[0]["logits"]
        if teacher is not None:
            for out in outs:
                out["teacher"] = teacher
        labelled = y >= 0
        if bool(labelled.all()):
            lab_outs, y_lab = outs, y
        else:
            lab_outs = [{k: v[labelled] for k, v in out.items()} for out in outs]
            y_lab = y[labelled]
        self._last_logits = lab_outs[0]["logits"]
        loss = x.new_zeros(())
        values: dict[str, float] = {}
        for net, (out, lab_out) in enumerate(zip(outs, lab_outs)):
            for weight, term in self.terms:
                key = f"{term.name}_{net}"
                state = self.loss_modules[key] if key in self.loss_modules else None
                if term.needs_teacher:
                    value = term.fn(out, y, state)
                else:
                    value = term.fn(lab_out, y_lab, state)
                if net == 0:
                    values[term.name] = values.get(term.name, 0.0) + float(value.detach())
                loss = loss + weight * value
        return loss, values


def _param_groups(
    modules: dict[str, torch.nn.Module], loaded: set[str], factor: float
) -> list[dict[str, Any]]:
    """The optimiser's parameter groups: the model's parameters named in ``loaded`` (those
    the ``init`` file supplied) with ``lr_factor = factor``, every other trainable parameter
    (new BNNeck, classifier head, loss modules, peer) with ``lr_factor = 1``. One group when
    ``factor`` is 1 (the optimiser state of earlier checkpoints keeps its layout)."""
    rest: list[torch.nn.Parameter] = []
    slow: list[torch.nn.Parameter] = []
    for key, module in modules.items():
        for name, p in module.named_parameters():
            if p.requires_grad:
                pretrained = key == "model" and name in loaded and factor != 1.0
                (slow if pretrained else rest).append(p)
    groups = [{"params": rest, "lr_factor": 1.0}]
    if slow:
        groups.insert(0, {"params": slow, "lr_factor": factor})
    return groups


def load_init(model: ReIDNet, path: str | Path) -> set[str]:
    """Start ``model`` from the weights in ``path``: a torchreid OSNet state_dict (for an
    :class:`~trackkit.reid.models.OSNet` of the same width) or a trackkit weights file of the
    same architecture. Classifiers are never loaded (the trainer makes its own head).
    Returns the names of the model's state entries the file supplied (a torchreid file
    leaves the BNNeck, ``neck.*``, and an IBN model's added instance norms at their initial
    state).

    Raises:
        FormatError: the file does not fit the model (names the file and the mismatch).
    """
    from trackkit.reid.models import OSNet, load_torchreid_state, torchreid_osnet_state
    from trackkit.training.io import load_trusted
    from trackkit.training.weights import parse_weights

    blob = load_trusted(path, "--init weights")
    state = torchreid_osnet_state(blob)
    if state is not None:
        if not isinstance(model, OSNet):
            raise FormatError(path, f"an OSNet state_dict cannot start a {type(model).__name__}")
        return load_torchreid_state(model, state, path)
    w = parse_weights(blob, path)
    mine = model.state_dict()
    bad = [k for k, v in w.state_dict.items() if k not in mine or mine[k].shape != v.shape]
    missing = [k for k in mine if k not in w.state_dict]
    if bad or missing:
        what = f"unexpected/mis-shaped {bad[:3]}" if bad else f"missing {missing[:3]}"
        raise FormatError(path, f"weights do not fit the {model.config.get('arch')} model: {what}")
    model.load_state_dict(w.state_dict)
    return set(w.state_dict)


def _forward(model: ReIDNet, head: torch.nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    feat, emb = model.forward_train(x)
    return {"feat": feat, "emb": emb, "logits": head(emb)}


def _config_dict(cfg: TrainConfig) -> dict[str, Any]:
    d = dataclasses.asdict(cfg)
    d["input_size"] = list(cfg.input_size)
    return d
