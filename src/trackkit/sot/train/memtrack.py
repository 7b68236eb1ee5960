"""Training MemTrack (Yang & Chan, ECCV 2018) on annotated sequences (``trackkit sot train
--model memtrack``, registered in :data:`trackkit.sot.train.base.SOT_TRAINERS`).

As in the paper, the network (:class:`~trackkit.sot.nets.memory.MemTrackNet`: SiamFC's
embedding + the LSTM-controlled template memory) is trained end to end on short clips: a clip is
``seq_len + 1`` frames of one sequence in time order (drawn from a window of ``max_gap`` frames
after a random start; reversed with probability 1/2; all frames flipped together with
probability 1/2). Frame 0 gives the initial exemplar (127x127, context 0.5); frames ``1..T`` give
a search region each (255x255 around the target, shifted by up to ``max_shift`` crop pixels and
stretched by up to ``stretch``: :func:`trackkit.sot.train.siamfc.search_crop`) and the exemplar
at their target, which is written to the memory after the frame (the ground-truth box stands in
for the tracked one). Every frame's 17x17 response is trained with SiamFC's balanced logistic
loss (:func:`trackkit.sot.train.siamfc.logistic_labels`), averaged over frames and clips;
gradients flow through the memory across the clip (back-propagation through time).

The embedding is SiamFC's: by default the pretrained NanoTrack v3 backbone (read from the shared
folder; its record goes into the weights file) with its last ``train_blocks`` blocks fine-tuned
and a trained 1x1 neck (``backbone=""``: SiamFC's AlexNet-style net from random weights).

Two stages (``embedding=siamfc``, a deviation from the paper's end-to-end training): SiamFC's
trainer first trains the embedding with its own recipe on the same data (``<out>/siamfc``),
then the embedding and the response adjustment are frozen (batch norms in eval mode) and only
the controller is trained on the clips: with the residual gate starting closed
(``residual_bias``) the tracker starts as SiamFC with a fixed exemplar, and the memory changes
the template only as far as the clips' loss asks it to.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from trackkit.errors import ConfigError, DataNotFoundError
from trackkit.sot.train.base import SOT_TRAINERS, SOTTrainer
from trackkit.sot.train.pairs import FramePairs, to_tensor
from trackkit.sot.train.siamfc import (
    SiamFCTrainConfig,
    exemplar_crop,
    logistic_labels,
    search_crop,
)

__all__ = ["MemTrackTrainConfig", "MemTrackTrainer", "jitter_box", "make_clip", "sample_clip"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MemTrackTrainConfig(SiamFCTrainConfig):
    """MemTrack training options (``--set key=value``): :class:`SiamFCTrainConfig`'s (the
    embedding, the crops' jitter, the labels) and

    Attributes:
        seq_len: search frames per clip ``T`` (the paper: 16 on a GPU).
        slots: memory slots ``N`` (the paper: 8).
        hidden: LSTM controller's hidden size.
        max_gap: the window (frames) a clip is drawn from.
        memory_lr: Adam's learning rate for the memory controller (the embedding: SGD at
            ``--lr``).
        write_shift: the exemplar written after each training frame is cropped around the
            ground truth moved by up to this fraction of the box size per axis (uniform; 0:
            the exact box), as a tracker's boxes are: the controller learns from imperfect
            writes, as it gets them when tracking.
        write_scale: the written exemplar's box is also scaled by up to this fraction.
        residual_bias: initial bias of the residual gate ``r_t = sigmoid(W_r h_t + b)`` (0:
            ``r = 0.5``; -3: ``r = 0.05``, the template starts as ``T_0`` alone, SiamFC's, and
            training opens the gate where the memory helps).
        embedding: ``""``: the embedding is trained end to end with the controller (the
            paper); ``"siamfc"``: two stages: first SiamFC's trainer with its documented
            recipe (``RECIPES["siamfc"]``'s budget and this configuration's embedding options)
            on the same data, into ``<out>/siamfc`` (resumed when there), then its embedding
            and response adjustment are copied and frozen and only the memory controller is
            trained; a path: a SiamFC weights file to take the frozen embedding from.
        embedding_epochs, embedding_steps: ``embedding=siamfc``: the first stage's epochs and
            steps per epoch (0: the recipe's).
    """

    RANGES: ClassVar[str] = (
        SiamFCTrainConfig.RANGES + "; seq_len >= 1; slots >= 2; hidden >= 1; memory_lr > 0; "
        "write_shift in [0, 1]; write_scale in [0, 1); embedding_epochs >= 0; "
        "embedding_steps >= 0"
    )

    seq_len: int = 4
    slots: int = 8
    hidden: int = 128
    max_gap: int = 40
    memory_lr: float = 1e-2
    backbone: str = "nanotrack_v3"
    train_blocks: int = 2
    write_shift: float = 0.0
    write_scale: float = 0.0
    residual_bias: float = 0.0
    embedding: str = ""
    embedding_epochs: int = 0
    embedding_steps: int = 0


def jitter_box(
    box: NDArray[np.float64], rng: np.random.Generator, shift: float, scale: float
) -> NDArray[np.float64]:
    """``xyxy`` ``box`` with its centre moved by up to ``shift`` of its size per axis and its
    size scaled by up to ``1 +- scale`` (uniform); the box itself when both are 0."""
    if shift <= 0 and scale <= 0:
        return box
    w, h = box[2] - box[0], box[3] - box[1]
    cx = (box[0] + box[2]) / 2 + rng.uniform(-shift, shift) * w
    cy = (box[1] + box[3]) / 2 + rng.uniform(-shift, shift) * h
    f = 1 + rng.uniform(-scale, scale)
    return np.array([cx - f * w / 2, cy - f * h / 2, cx + f * w / 2, cy + f * h / 2])


def sample_clip(pairs: FramePairs, rng: np.random.Generator, length: int) -> tuple[int, list[int]]:
    """A sequence index and ``length`` frame indices with valid boxes, in time order (repeats
    only when the window holds fewer valid frames), drawn from a window of ``pairs.max_gap``
    frames; sequences are drawn in proportion to their valid frames."""
    sizes = np.array([len(v) for v in pairs.valid], dtype=np.float64)
    s = int(rng.choice(len(sizes), p=sizes / sizes.sum()))
    v = pairs.valid[s]
    start = int(v[rng.integers(len(v))])
    window = v[(v >= start) & (v <= start + pairs.max_gap)]
    if len(window) < length:
        window = v[(v <= start) & (v >= start - pairs.max_gap)]
    replace = len(window) < length
    picked = np.sort(rng.choice(window, size=length, replace=replace))
    return s, [int(i) for i in picked]


def make_clip(
    pairs: FramePairs, rng: np.random.Generator, cfg: MemTrackTrainConfig
) -> tuple[NDArray[np.uint8], NDArray[np.uint8], NDArray[np.uint8], NDArray[np.float64]]:
    """One training clip: the first exemplar ``(127, 127, 3)``, the searches ``(T, 255, 255,
    3)``, the exemplars at the target ``(T, 127, 127, 3)`` and the shifts ``(T, 2)``."""
    s, frames = sample_clip(pairs, rng, cfg.seq_len + 1)
    if rng.random() < 0.5:
        frames = frames[::-1]
    img0, b0 = pairs.frame(s, frames[0])
    z0 = exemplar_crop(img0, b0)
    xs, zs, shifts = [], [], []
    for i in frames[1:]:
        img, box = pairs.frame(s, i)
        x, shift = search_crop(img, box, rng, cfg)
        xs.append(x)
        zs.append(exemplar_crop(img, jitter_box(box, rng, cfg.write_shift, cfg.write_scale)))
        shifts.append(shift)
    z0a, xa, za, sa = z0[None], np.stack(xs), np.stack(zs), np.stack(shifts)
    if rng.random() < 0.5:
        z0a, xa, za = z0a[:, :, ::-1], xa[:, :, ::-1], za[:, :, ::-1]
        sa = sa * np.array([-1.0, 1.0])
    return (
        np.ascontiguousarray(z0a[0]),
        np.ascontiguousarray(xa),
        np.ascontiguousarray(za),
        sa,
    )


class _Both:
    """Two optimisers (or two schedulers) driven as one: ``zero_grad`` / ``step`` /
    ``state_dict`` / ``load_state_dict`` of each, in order."""

    def __init__(self, *parts: Any) -> None:
        self.parts = parts

    def zero_grad(self) -> None:
        for p in self.parts:
            p.zero_grad()

    def step(self) -> None:
        for p in self.parts:
            p.step()

    def state_dict(self) -> dict[str, Any]:
        return {"parts": [p.state_dict() for p in self.parts]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for p, s in zip(self.parts, state["parts"], strict=True):
            p.load_state_dict(s)


@SOT_TRAINERS.register("memtrack")
class MemTrackTrainer(SOTTrainer):
    """MemTrack (Yang & Chan 2018): SiamFC's logistic loss on every frame of short clips,
    through the template memory (embedding: SGD, momentum 0.9; controller: Adam; gradients
    clipped to a norm of 10)."""

    arch = "memtrack"
    config_class = MemTrackTrainConfig
    cfg: MemTrackTrainConfig
    max_grad_norm = 10.0

    def setup(self) -> None:
        from trackkit.sot.nets.memory import load_memtrack

        self.model = self.start_from(load_memtrack, self._new_model)
        if self.cfg.embedding:
            if self.opts.init_weights is None:
                self._copy_embedding(self._siamfc_weights())
            self.model.freeze_embedding()
        elif self.model.backbone:
            from trackkit.sot.nets.backbones import freeze

            freeze(self.model.siam.embed.backbone, self.cfg.train_blocks)
        self._make_optimizer()
        self.load_pairs(self.cfg.max_gap)
        trainable = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        log.info(
            "memtrack: %d sequences, %d frames, %d trainable parameters",
            len(self.pairs.sequences),
            self.pairs.num_frames,
            trainable,
        )

    def _siamfc_weights(self) -> Path:
        """The SiamFC weights file of ``embedding``: trained here (``"siamfc"``) or given.

        Raises:
            DataNotFoundError: the given file does not exist.
        """
        cfg, opts = self.cfg, self.opts
        if cfg.embedding != "siamfc":
            path = Path(cfg.embedding)
            if not path.is_file():
                raise DataNotFoundError(
                    f"--set embedding={cfg.embedding}: no such SiamFC weights file "
                    "(give a file written by `trackkit sot train --model siamfc`, or siamfc)"
                )
            return path
        from trackkit.sot.train.folds import RECIPES, train_recipe

        recipe = RECIPES["siamfc"]
        extra = {
            **recipe.extra,
            "backbone": cfg.backbone,
            "train_blocks": cfg.train_blocks,
            "neck": cfg.neck,
            "width": cfg.width,
        }
        stage = replace(recipe, extra=extra)
        epochs = cfg.embedding_epochs or recipe.epochs
        steps = cfg.embedding_steps or recipe.steps
        out = opts.out / "siamfc"
        log.info("memtrack: stage 1, the SiamFC embedding: %s",
                 stage.command(list(opts.data), out, epochs, steps))  # fmt: skip
        return train_recipe(stage, opts.data, out, epochs, steps, seed=opts.seed)

    def _copy_embedding(self, path: Path) -> None:
        """Copy the embedding and response adjustment of the SiamFC weights ``path``.

        Raises:
            ConfigError: the file's embedding differs from this configuration's.
        """
        from trackkit.sot.nets.siamfc_net import load_siamfc

        net = load_siamfc(path)
        siam = self.model.siam
        if (net.backbone, int(net.neck)) != (siam.backbone, int(siam.neck)) or (
            not net.backbone and float(net.width) != float(siam.width)
        ):
            raise ConfigError(
                f"--set embedding={self.cfg.embedding}: its embedding (backbone "
                f"{net.backbone or 'alexnet'!r}, neck {net.neck}, width {net.width}) differs "
                f"from memtrack's (backbone {siam.backbone or 'alexnet'!r}, neck {siam.neck}, "
                f"width {siam.width}); set backbone/neck/width to match"
            )
        siam.load_state_dict(net.state_dict())

    def _make_optimizer(self) -> None:
        """SGD (momentum 0.9) at ``--lr`` with ``weight_decay`` for the embedding, as SiamFC's
        trainer; Adam at ``memory_lr`` for the memory controller (its gradients are orders of
        magnitude smaller than the embedding's: at SGD's rate its gates do not move); both
        decay exponentially to ``final_lr_ratio`` of their rate at the last epoch."""
        import torch

        cfg, opts = self.cfg, self.opts
        memory = list(self.model.memory.parameters())
        ids = {id(p) for p in memory}
        embed = [p for p in self.model.parameters() if p.requires_grad and id(p) not in ids]
        adam = torch.optim.Adam(memory, lr=cfg.memory_lr)
        gamma = cfg.final_lr_ratio ** (1.0 / max(opts.epochs - 1, 1))
        decay = torch.optim.lr_scheduler.ExponentialLR
        if not embed:  # a frozen embedding (``embedding``): the controller alone
            self.optimizer = _Both(adam)
            self.scheduler = _Both(decay(adam, gamma))
            return
        sgd = torch.optim.SGD(embed, lr=opts.lr, momentum=0.9, weight_decay=cfg.weight_decay)
        self.optimizer = _Both(sgd, adam)
        self.scheduler = _Both(decay(sgd, gamma), decay(adam, gamma))

    def _new_model(self) -> Any:
        """A new network: the pretrained backbone (or AlexNet-style net) + random neck and
        memory controller."""
        from trackkit.sot.nets.memory import MemTrackNet

        cfg = self.cfg
        net = MemTrackNet(
            width=cfg.width,
            backbone=cfg.backbone,
            neck=cfg.neck,
            slots=cfg.slots,
            hidden=cfg.hidden,
        )
        if cfg.residual_bias:
            import torch

            with torch.no_grad():
                net.memory.residual.bias.fill_(cfg.residual_bias)
        if cfg.backbone:
            from trackkit.sot.nets.backbones import load_pretrained

            self.pretrained = load_pretrained(net.siam.embed.backbone, cfg.backbone)
        return net

    def make_batch(self, rng: np.random.Generator) -> tuple[Any, ...]:
        """``(first exemplars, searches, exemplars, labels, weights)`` of ``batch_size`` clips:
        ``(B, 3, 127, 127)``, ``(B, T, 3, 255, 255)``, ``(B, T, 3, 127, 127)``,
        ``(B, T, 17, 17)`` twice."""
        import torch

        z0s, xs, zs, labels, weights = [], [], [], [], []
        for _ in range(self.opts.batch_size):
            z0, x, z, shifts = make_clip(self.pairs, rng, self.cfg)
            z0s.append(z0)
            xs.append(to_tensor(list(x)))
            zs.append(to_tensor(list(z)))
            lw = [logistic_labels(sh, radius=self.cfg.radius) for sh in shifts]
            labels.append(np.stack([a for a, _ in lw]))
            weights.append(np.stack([b for _, b in lw]))
        return (
            to_tensor(z0s),
            torch.stack(xs),
            torch.stack(zs),
            torch.from_numpy(np.stack(labels)),
            torch.from_numpy(np.stack(weights)),
        )

    def loss(self, batch: tuple[Any, ...]) -> Any:
        """Balanced logistic loss, summed over each response and averaged over frames and
        clips."""
        import torch.nn.functional as F

        z0, xs, zs, labels, weights = batch
        resp = self.model(z0, xs, zs)
        total = F.binary_cross_entropy_with_logits(resp, labels, weight=weights, reduction="sum")
        return total / (resp.shape[0] * resp.shape[1])

    def arch_config(self) -> dict[str, Any]:
        m = self.model
        mem = m.memory
        out: dict[str, Any] = {
            "width": float(m.siam.width),
            "neck": int(m.siam.neck),
            "slots": int(mem.slots),
            "hidden": int(mem.hidden),
        }
        if m.backbone:
            out["backbone"] = m.backbone
        return out
