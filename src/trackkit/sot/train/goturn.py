"""Training GOTURN (Held et al. 2016) from annotated sequences and still images (``trackkit sot
train --model goturn``).

The network (:mod:`trackkit.sot.nets.goturn_net`) is, by default, the paper's two-crop
regressor on NanoTrack v3's pretrained backbone (``backbone``, ``layer``; ``train_blocks`` = 0:
frozen, ``k``: its last ``k`` blocks tuned; ``backbone=none``: the first from-scratch conv
tower). A training example is (previous crop, search crop, target box in the search crop):

- *video pairs*: the previous crop is frame ``t - d``'s ground-truth box enlarged ``context``
  (2) times, ``1 <= d <= max_gap`` (with probability ``still_prob`` frame ``t`` itself);
- *still-image pairs* (a fraction ``still_ratio`` of the examples; GOTURN's training on
  ImageNet detection): one image with a box from :mod:`trackkit.sot.train.still_pairs` —
  ``still_sources``, a comma list of ``sot`` (single frames of the training sequences only: in
  k-fold no held-out frame is drawn), ``mot17`` (the visible pedestrians of the shared MOT17
  ``img1`` frames) and ``reid`` (Market-1501 person crops pasted on MOT17 / training frames);
  previous image = current image;
- either way the search region is centred on the current box moved by the paper's
  *motion-smoothness* model (:class:`~trackkit.sot.train.still_pairs.MotionModel`: centre
  shifts ``~ Laplace(0, 1/5)`` box sides clipped to ``max_shift``, size factors
  ``~ Laplace(1, 1/15)`` clipped to ``[0.6, 1.4]``), enlarged ``context`` times;
- the regression target is the true box in search-crop coordinates, times 10 (the paper's
  scaling); the loss is L1.

Older options (trackkit's additions for the from-scratch net): ``paste_prob`` of the examples
paste an annotated target or a random rectangle of a training frame onto another training
frame (:func:`pasted_still`); ``jitter`` applies random per-channel gains to the whole example;
``reverse_prob`` swaps the two frames of a video pair (time reversal) and ``flip_prob`` mirrors
the example left-right: both remove the direction priors (targets that mostly shrink, rise or
move one way) a handful of training sequences would otherwise teach. ``pair_jitter`` (a
brightness change of the search crop alone), ``gray_prob`` (grey crops) and ``context_jitter``
(a random context per example) are in the default recipe since issue 20's second round; with
``heads > 1`` each regression head of the network gets its own loss (an ensemble).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import cv2
import numpy as np
from numpy.typing import NDArray

from trackkit.config import require
from trackkit.sot.train.base import SOT_TRAINERS, ConvNetConfig, SOTTrainer
from trackkit.sot.train.pairs import FramePairs, to_tensor
from trackkit.sot.train.still_pairs import MotionModel, StillImages, crop_pair, still_sources

__all__ = [
    "GoturnTrainConfig",
    "GoturnTrainer",
    "make_example",
    "pasted_still",
    "still_images",
]


@dataclass(frozen=True)
class GoturnTrainConfig(ConvNetConfig):
    """GOTURN-specific training options (``trackkit sot train --set key=value``), with
    :class:`~trackkit.sot.train.base.ConvNetConfig`'s (``size``: input side of both crops;
    ``width``: the from-scratch tower's; Adam weight decay default ``1e-5``).

    Attributes:
        backbone: pretrained backbone of :class:`~trackkit.sot.nets.goturn_net.
            GoturnBackboneNet` (``nanotrack_v3``, ``nanotrack_v2``) or ``none`` (the
            from-scratch :class:`~trackkit.sot.nets.goturn_net.GoturnNet`).
        layer: last backbone block (a stride-16 block: 4-9 for v3).
        reduced: channels of the 1x1 reduction after the backbone.
        fc: width of the hidden fully-connected layers.
        train_blocks: backbone blocks tuned (0: frozen).
        corr: channels of the network's correlation branch (0: the paper's plain
            concatenation; see :class:`~trackkit.sot.nets.goturn_net.GoturnBackboneNet`).
        heads: regression heads on the shared frozen backbone, each with its own loss on the
            same batch (their own initialisation and dropout), averaged when tracking.
        still_ratio: fraction of still-image examples (:mod:`trackkit.sot.train.still_pairs`).
        still_sources: comma list of still-image sources: ``sot``, ``mot17``, ``reid``.
        max_gap: largest frame distance between the previous and the current frame.
        context: crop = box enlarged this many times.
        shift_scale, size_scale: Laplace scales of the motion-smoothness model.
        still_prob: probability of a still-image example (previous frame = current frame).
        paste_prob: probability of a pasted-object still image (see the module docstring).
        reverse_prob: probability of swapping the previous and the current frame (time
            reversal; without it a few sequences whose targets mostly shrink or rise teach the
            regressor a drift that compounds from frame to frame).
        flip_prob: probability of mirroring an example left-right.
        max_shift: clip of the Laplace centre shifts, in box sides.
        jitter: largest relative per-channel colour gain change of an example.
        pair_jitter: largest ``|log gain|`` of a brightness change of the search crop alone
            (``gain = exp(U(-pair_jitter, pair_jitter))``, all channels; 0 = off): unlike
            ``jitter``, which changes both crops alike, it teaches the regression an
            illumination change *between* the previous and the current frame (a shadow).
        context_jitter: largest ``|log|`` of a random factor on ``context`` per example
            (``context * exp(U(-context_jitter, context_jitter))``, both crops alike; 0 = off):
            the regression then also works for a tracker whose search region is larger or
            smaller than ``context`` times the box (``GoturnTracker``'s ``context``).
        gray_prob: probability of turning both crops grey (``B = G = R`` = the luminance): the
            backbone otherwise meets grey-scale videos (OTB's Car4 and others) only when a
            training sequence happens to be one.
        loss: the box regression loss, a name of
            :data:`trackkit.training.losses.REGRESSION_LOSSES` (``l1``, GOTURN's; ``l2``,
            ``l3``, ``shrinkage``: Lu et al. ECCV 2018, ``a = 10``, ``c = 0.2``).
    """

    RANGES: ClassVar[str] = (
        "layer in [4, 9]; reduced >= 1; fc >= 4; train_blocks >= 0; corr >= 0; heads >= 1; "
        "still_ratio in [0, 1]; "
        "max_gap >= 1; context >= 1; still_prob in [0, 1]; paste_prob in [0, 1]; "
        "reverse_prob in [0, 1]; flip_prob in [0, 1]; max_shift in (0, 1); jitter in [0, 1); "
        "pair_jitter in [0, 2]; gray_prob in [0, 1]; context_jitter in [0, 1]"
    )

    backbone: str = "nanotrack_v3"
    layer: int = 9
    reduced: int = 16
    fc: int = 512
    train_blocks: int = 0
    corr: int = 0
    heads: int = 1
    still_ratio: float = 0.0
    still_sources: str = "sot,mot17,reid"
    max_gap: int = 5
    context: float = 2.0
    shift_scale: float = 1 / 5
    size_scale: float = 1 / 15
    still_prob: float = 0.3
    paste_prob: float = 0.0
    reverse_prob: float = 0.0
    flip_prob: float = 0.0
    max_shift: float = 0.45
    jitter: float = 0.0
    pair_jitter: float = 0.0
    gray_prob: float = 0.0
    context_jitter: float = 0.0
    weight_decay: float = 1e-5
    loss: str = "l1"

    def validate(self) -> None:
        from trackkit.training.losses import regression_loss

        super().validate()
        regression_loss(self.loss)
        require(self.backbone in ("none", *BACKBONES), f"backbone: one of none, {BACKBONES}")
        bad = set(self.sources()) - set(STILL_SOURCES)
        require(not bad, f"still_sources: unknown {sorted(bad)}; valid: {STILL_SOURCES}")

    def sources(self) -> list[str]:
        """The names of ``still_sources``."""
        return [w.strip() for w in self.still_sources.split(",") if w.strip()]

    def motion(self) -> MotionModel:
        """The motion-smoothness model of the search regions."""
        return MotionModel(self.shift_scale, self.size_scale, self.max_shift)


#: pretrained backbones of the GOTURN network
BACKBONES = ("nanotrack_v3", "nanotrack_v2")
#: still-image sources (see the module docstring)
STILL_SOURCES = ("sot", "mot17", "reid")


def _gains(rng: np.random.Generator, amount: float) -> NDArray[np.float64]:
    """Per-channel colour gains in ``[1 - amount, 1 + amount]``."""
    return np.asarray(rng.uniform(1 - amount, 1 + amount, size=3), dtype=np.float64)


def _gray(crop: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """``(S, S, 3)`` BGR crop -> the same crop in grey (three equal channels)."""
    return np.repeat(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)[:, :, None], 3, axis=2)


def pasted_still(
    pairs: FramePairs, rng: np.random.Generator
) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
    """A still image with a pasted object and the object's ``xyxy`` box.

    The object is an annotated target (or, half of the time, a random rectangle of a random
    frame) with random colour gains, resized to a random side of 6-30 % of the background's
    shorter side (aspect ratio kept within [0.33, 3]) and pasted at a random place onto a
    random frame.
    """
    s, i, _ = pairs.sample(rng)
    src, box = pairs.frame(s, i)
    sh, sw = src.shape[:2]
    if rng.random() < 0.5:
        ow, oh = sw * rng.uniform(0.05, 0.3), sh * rng.uniform(0.05, 0.3)
        ox, oy = rng.uniform(0, sw - ow), rng.uniform(0, sh - oh)
        box = np.array([ox, oy, ox + ow, oy + oh])
    x1, y1 = int(max(box[0], 0)), int(max(box[1], 0))
    x2, y2 = int(min(np.ceil(box[2]), sw)), int(min(np.ceil(box[3]), sh))
    obj = src[y1 : max(y2, y1 + 2), x1 : max(x2, x1 + 2)].astype(np.float64)
    obj = np.clip(obj * _gains(rng, 0.4), 0, 255).astype(np.uint8)
    b, _ = pairs.frame(int(rng.integers(len(pairs.sequences))), 0)
    bg = b.copy()
    bh, bw = bg.shape[:2]
    side = min(bh, bw) * rng.uniform(0.06, 0.3)
    aspect = float(np.clip(obj.shape[1] / obj.shape[0], 0.33, 3.0))
    pw = max(int(round(side * np.sqrt(aspect))), 4)
    ph = max(int(round(side / np.sqrt(aspect))), 4)
    px, py = int(rng.integers(0, bw - pw)), int(rng.integers(0, bh - ph))
    bg[py : py + ph, px : px + pw] = cv2.resize(obj, (pw, ph), interpolation=cv2.INTER_LINEAR)
    return bg, np.array([px, py, px + pw, py + ph], dtype=np.float64)


def make_example(
    pairs: FramePairs,
    rng: np.random.Generator,
    cfg: GoturnTrainConfig,
    stills: StillImages | None = None,
) -> tuple[NDArray[np.uint8], NDArray[np.uint8], NDArray[np.float32]]:
    """``(previous crop, search crop, target (4,) xyxy in [0, 10] search-crop units)``: a
    still-image example from ``stills`` with probability ``cfg.still_ratio``, else a pasted
    still (``paste_prob``) or a video pair of ``pairs``."""
    if stills is not None and rng.random() < cfg.still_ratio:
        img_t, box_t = stills.sample(rng)
        img_p, box_p = img_t, box_t
    elif rng.random() < cfg.paste_prob:
        img_t, box_t = pasted_still(pairs, rng)
        img_p, box_p = img_t, box_t
    else:
        s, i, j = pairs.sample(rng)
        t, prev = max(i, j), min(i, j)
        if rng.random() < cfg.reverse_prob:  # time reversal: no learned drift direction
            t, prev = prev, t
        if rng.random() < cfg.still_prob:
            prev = t
        img_p, box_p = pairs.frame(s, prev)
        img_t, box_t = pairs.frame(s, t)
    moved = cfg.motion().move(box_t, rng)
    context = cfg.context
    if cfg.context_jitter > 0:
        context *= float(np.exp(rng.uniform(-cfg.context_jitter, cfg.context_jitter)))
    prev_crop, search, target = crop_pair(img_p, box_p, img_t, box_t, moved, cfg.size, context)
    if rng.random() < cfg.flip_prob:  # mirror both crops and the target
        prev_crop, search = prev_crop[:, ::-1].copy(), search[:, ::-1].copy()
        target = np.array([1 - target[2], target[1], 1 - target[0], target[3]], np.float32)
    if cfg.jitter > 0:
        g = _gains(rng, cfg.jitter)
        prev_crop = np.clip(prev_crop * g, 0, 255).astype(np.uint8)
        search = np.clip(search * g, 0, 255).astype(np.uint8)
    if cfg.pair_jitter > 0:  # an illumination change between the two frames
        gain = float(np.exp(rng.uniform(-cfg.pair_jitter, cfg.pair_jitter)))
        search = np.clip(search * np.float32(gain), 0, 255).astype(np.uint8)
    if cfg.gray_prob > 0 and rng.random() < cfg.gray_prob:
        prev_crop, search = _gray(prev_crop), _gray(search)
    return prev_crop, search, target * np.float32(10.0)


def still_images(cfg: GoturnTrainConfig, pairs: FramePairs) -> tuple[StillImages, list[str]]:
    """The still-image pool of ``cfg.still_sources`` (equal weights) and a record of each
    source (``"sot: N training frames"``, ``"mot17: <folder> (K boxes)"``, ...).

    Raises:
        ~trackkit.errors.DataNotFoundError: a shared dataset of the sources is missing.
    """
    found = still_sources(cfg.sources(), pairs, backdrop=("mot17", "sot"))
    record: list[str] = []
    if "sot" in found:
        record.append(f"sot: {pairs.num_frames} frames of the training sequences")
    if "mot17" in found:
        mot = found["mot17"]
        record.append(f"mot17: {len(mot.items)} img1 frames, {mot.num_boxes} visible pedestrians")
    if "reid" in found:
        n = len(found["reid"].crops)
        record.append(f"reid: {n} Market-1501 crops pasted on mot17/sot frames")
    return StillImages([(source, 1.0) for source in found.values()]), record


@SOT_TRAINERS.register("goturn")
class GoturnTrainer(SOTTrainer):
    """GOTURN (Held 2016): L1 box regression from (previous, search) crop pairs (Adam,
    gradients clipped to a norm of 10)."""

    arch = "goturn"
    config_class = GoturnTrainConfig
    cfg: GoturnTrainConfig
    max_grad_norm = 10.0

    def setup(self) -> None:
        from trackkit.sot.nets.goturn_net import GoturnBackboneNet, GoturnNet, load_goturn

        cfg = self.cfg

        def build() -> Any:
            if cfg.backbone == "none":
                return GoturnNet(size=cfg.size, width=cfg.width)
            net = GoturnBackboneNet(
                cfg.backbone, cfg.layer, cfg.size, cfg.reduced, cfg.fc, cfg.train_blocks,
                cfg.corr, pretrained=True, heads=cfg.heads,
            )  # fmt: skip
            self.pretrained = dict(net.record)
            return net

        self.model = self.start_from(load_goturn, build)
        self.make_optimizer(adam=True, cfg=cfg)
        self.load_pairs(cfg.max_gap)
        self.stills: StillImages | None = None
        self.still_record: list[str] = []
        if cfg.still_ratio > 0:
            self.stills, self.still_record = still_images(cfg, self.pairs)

    def export(self) -> dict[str, Any]:
        """:meth:`SOTTrainer.export`, with the still-image sources in ``trained_on``."""
        out = super().export()
        if self.still_record:
            out["trained_on"]["still_images"] = list(self.still_record)
        return out

    def make_batch(self, rng: np.random.Generator) -> tuple[Any, Any, Any]:
        """``(previous crops, search crops, targets)`` tensors of one batch."""
        import torch

        cfg = self.cfg
        ex = [make_example(self.pairs, rng, cfg, self.stills) for _ in range(self.opts.batch_size)]
        return (
            to_tensor([e[0] for e in ex]),
            to_tensor([e[1] for e in ex]),
            torch.from_numpy(np.stack([e[2] for e in ex])),
        )

    def loss(self, batch: tuple[Any, Any, Any]) -> Any:
        """The configured loss of a batch (default L1, GOTURN's), mean over coordinates."""
        import torch.nn.functional as F

        from trackkit.training.losses import regression_loss

        prev, search, target = batch
        m = self.model
        if getattr(m, "heads", 1) > 1:  # each head its own loss: an ensemble, not one wide head
            outs = m.head_outputs(m.embed(prev), m.embed(search))
            loss = regression_loss(self.cfg.loss) if self.cfg.loss != "l1" else F.l1_loss
            return sum(loss(o, target) for o in outs) / len(outs)
        if self.cfg.loss == "l1":
            return F.l1_loss(m(prev, search), target)
        return regression_loss(self.cfg.loss)(m(prev, search), target)

    def arch_config(self) -> dict[str, Any]:
        from trackkit.sot.nets.goturn_net import GoturnBackboneNet

        m = self.model
        if isinstance(m, GoturnBackboneNet):
            arch = {
                "backbone": m.backbone_name, "layer": m.layer, "size": m.size,
                "reduced": m.reduced, "fc": m.fc_width, "train_blocks": m.train_blocks,
                "corr": m.corr,
            }  # fmt: skip
            if m.heads > 1:  # one-head files keep the record they had before ``heads``
                arch["heads"] = m.heads
            return arch
        return {"size": m.size, "width": m.width, "reduced": m.reduced, "fc": m.fc_width}
