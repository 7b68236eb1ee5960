"""Training SiamFC (Bertinetto et al. 2016) on annotated sequences (``trackkit sot train --model
siamfc``, registered in :data:`trackkit.sot.train.base.SOT_TRAINERS`).

Each training example is an exemplar/search pair from one sequence, frames at most ``max_gap``
apart: the exemplar is the 127x127 crop of the first frame's target (context 0.5), the search
region the 255x255 crop of the second frame around its target, shifted by up to ``max_shift``
crop pixels and stretched by up to ``stretch`` (both frames flipped together at random). The
17x17 response is trained with the logistic loss against labels +1 within ``radius`` pixels
(search-crop pixels, i.e. ``radius / 8`` response cells) of the target's true position and 0
elsewhere, positives and negatives weighted to half of the loss each (class balancing).

``--set backbone=nanotrack_v2`` (or ``nanotrack_v3``) starts the embedding from NanoTrack's
pretrained MobileNetV3 backbone (:mod:`trackkit.sot.nets.backbones`, read from the shared
folder) with a trained 1x1 ``neck``; ``train_blocks`` of its last blocks are fine-tuned, the
others stay fixed (0: the whole backbone fixed). The weights file records the pretrained file
and its sha256 (``trained_on["pretrained"]``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from trackkit.config import require
from trackkit.sot.ops.crops import context_size, crop_region, crop_square, mean_color
from trackkit.sot.train.base import SOT_TRAINERS, OptimConfig, SOTTrainer
from trackkit.sot.train.pairs import FramePairs, to_tensor

__all__ = [
    "SiamFCTrainConfig",
    "SiamFCTrainer",
    "exemplar_crop",
    "logistic_labels",
    "make_pair",
    "search_crop",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SiamFCTrainConfig(OptimConfig):
    """SiamFC-specific training options (``trackkit sot train --set key=value``), with
    :class:`~trackkit.sot.train.base.OptimConfig`'s.

    Attributes:
        width: channel multiplier of the AlexNet-style embedding.
        max_gap: largest frame distance of a pair.
        max_shift: largest shift of the target from the search-crop centre (crop pixels).
        stretch: largest relative stretch of the search region (per axis).
        radius: positive radius of the labels (search-crop pixels).
        backbone: ``""`` (AlexNet-style embedding from random weights) or a pretrained
            backbone of :data:`trackkit.sot.nets.backbones.BACKBONES`.
        train_blocks: with a backbone: its last blocks that are fine-tuned (0: all fixed).
        neck: with a backbone: channels of the trained 1x1 neck.
    """

    RANGES: ClassVar[str] = (
        "width > 0; max_gap >= 1; max_shift >= 0; stretch >= 0; radius > 0; "
        "train_blocks >= 0; neck >= 1"
    )

    width: float = 0.5
    max_gap: int = 100
    max_shift: float = 12.0
    stretch: float = 0.05
    radius: float = 16.0
    backbone: str = ""
    train_blocks: int = 0
    neck: int = 64

    def validate(self) -> None:
        from trackkit.sot.nets.backbones import BACKBONES

        valid = ", ".join(sorted(BACKBONES))
        require(self.backbone in ("", *BACKBONES), f"backbone: '' or one of {valid}")


def logistic_labels(
    shift: NDArray[np.float64], size: int = 17, stride: int = 8, radius: float = 16.0
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Labels and balancing weights ``(size, size)`` for a target ``shift`` (x, y) crop pixels.

    Cell ``(i, j)`` is positive when ``stride * ||(j, i) - centre - shift / stride|| <= radius``.
    """
    idx = np.arange(size) - (size - 1) / 2
    dx = idx[None, :] * stride - shift[0]
    dy = idx[:, None] * stride - shift[1]
    pos = (np.hypot(dx, dy) <= radius).astype(np.float32)
    npos = max(pos.sum(), 1.0)
    nneg = max(pos.size - pos.sum(), 1.0)
    weight = np.where(pos > 0, 0.5 / npos, 0.5 / nneg).astype(np.float32)
    return pos, weight


def exemplar_crop(img: NDArray[np.uint8], box: NDArray[np.float64]) -> NDArray[np.uint8]:
    """The ``(127, 127, 3)`` exemplar crop of ``xyxy`` ``box`` (context 0.5, mean-colour pad)."""
    c = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    s_z = context_size(box[2] - box[0], box[3] - box[1])
    return crop_square(img, c, s_z, 127, mean_color(img))


def search_crop(
    img: NDArray[np.uint8],
    box: NDArray[np.float64],
    rng: np.random.Generator,
    cfg: SiamFCTrainConfig,
) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
    """The ``(255, 255, 3)`` search crop around ``xyxy`` ``box``, shifted by up to
    ``cfg.max_shift`` and stretched by up to ``cfg.stretch``; returns it and the target's
    shift (x, y) from the crop centre in crop pixels."""
    s_x = context_size(box[2] - box[0], box[3] - box[1]) * 255 / 127
    shift = rng.uniform(-cfg.max_shift, cfg.max_shift, size=2)
    st = 1 + rng.uniform(-cfg.stretch, cfg.stretch, size=2)
    size = (s_x * st[0], s_x * st[1])
    # the crop centre moves by -shift so the target appears at +shift (crop pixels)
    cx = (box[0] + box[2]) / 2 - shift[0] * size[0] / 255
    cy = (box[1] + box[3]) / 2 - shift[1] * size[1] / 255
    return crop_region(img, (cx, cy), size, (255, 255), mean_color(img)), shift


def make_pair(
    pairs: FramePairs, rng: np.random.Generator, cfg: SiamFCTrainConfig
) -> tuple[NDArray[np.uint8], NDArray[np.uint8], NDArray[np.float64]]:
    """One exemplar ``(127, 127, 3)``, search ``(255, 255, 3)`` and target shift (crop px)."""
    s, i, j = pairs.sample(rng)
    img_z, bz = pairs.frame(s, i)
    img_x, bx = pairs.frame(s, j)
    z = exemplar_crop(img_z, bz)
    x, shift = search_crop(img_x, bx, rng, cfg)
    if rng.random() < 0.5:
        z, x, shift = z[:, ::-1], x[:, ::-1], shift * np.array([-1.0, 1.0])
    return np.ascontiguousarray(z), np.ascontiguousarray(x), shift


@SOT_TRAINERS.register("siamfc")
class SiamFCTrainer(SOTTrainer):
    """SiamFC (Bertinetto 2016): logistic loss on exemplar/search pairs (SGD, momentum 0.9,
    gradients clipped to a norm of 10)."""

    arch = "siamfc"
    config_class = SiamFCTrainConfig
    cfg: SiamFCTrainConfig
    max_grad_norm = 10.0

    def setup(self) -> None:
        from trackkit.sot.nets.siamfc_net import load_siamfc

        self.model = self.start_from(load_siamfc, self._new_model)
        if self.model.backbone:
            from trackkit.sot.nets.backbones import freeze

            freeze(self.model.embed.backbone, self.cfg.train_blocks)
        self.make_optimizer(adam=False, cfg=self.cfg)
        self.load_pairs(self.cfg.max_gap)
        log.info(
            "siamfc: %d sequences, %d frames", len(self.pairs.sequences), self.pairs.num_frames
        )

    def _new_model(self) -> Any:
        """A new network: random, or the pretrained backbone + a random neck."""
        from trackkit.sot.nets.siamfc_net import SiamFCNet

        cfg = self.cfg
        net = SiamFCNet(width=cfg.width, backbone=cfg.backbone, neck=cfg.neck)
        if cfg.backbone:
            from trackkit.sot.nets.backbones import load_pretrained

            self.pretrained = load_pretrained(net.embed.backbone, cfg.backbone)
        return net

    def make_batch(self, rng: np.random.Generator) -> tuple[Any, Any, Any, Any]:
        """``(exemplars, searches, labels, weights)`` tensors of one batch."""
        import torch

        zs, xs, labels, weights = [], [], [], []
        for _ in range(self.opts.batch_size):
            z, x, shift = make_pair(self.pairs, rng, self.cfg)
            lab, wt = logistic_labels(shift, radius=self.cfg.radius)
            zs.append(z)
            xs.append(x)
            labels.append(lab)
            weights.append(wt)
        return (
            to_tensor(zs),
            to_tensor(xs),
            torch.from_numpy(np.stack(labels)),
            torch.from_numpy(np.stack(weights)),
        )

    def loss(self, batch: tuple[Any, Any, Any, Any]) -> Any:
        """Balanced logistic loss of a batch (mean over the batch)."""
        import torch.nn.functional as F

        z, x, labels, weights = batch
        resp = self.model(z, x)[:, 0]
        total = F.binary_cross_entropy_with_logits(resp, labels, weight=weights, reduction="sum")
        return total / len(z)

    def arch_config(self) -> dict[str, Any]:
        m = self.model
        if not m.backbone:
            return {"width": float(m.width)}
        return {"width": float(m.width), "backbone": m.backbone, "neck": int(m.neck)}
