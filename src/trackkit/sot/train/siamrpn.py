"""Training trackkit's own SiamRPN head (Li et al. CVPR 2018) with DaSiamRPN's distractor-aware
pairs (Zhu et al. ECCV 2018): ``trackkit sot train --model siamrpn``.

The network is :class:`~trackkit.sot.nets.rpn_head.SiamRPNOwn`: NanoTrack's pretrained
backbone (read from the shared folder, its file and sha256 recorded as ``trained_on
["pretrained"]``; all blocks fixed, or the last ``train_blocks`` fine-tuned) and a new anchor
head trained here. Each example is an exemplar (127x127, context 0.5) and a search region
(255x255, context 0.5 scaled by 255/127):

- positive pairs: two frames of one annotated sequence at most ``max_gap`` apart, or (with
  probability ``mot_prob``) one pedestrian in two MOT17 frames (``$TRACKKIT_SHARED/data/MOT17/
  train/*/img1`` with ``gt/gt.txt``: the crowd around them is a natural set of same-class
  distractors inside the search region);
- DaSiamRPN's semantic negative pairs (probability ``semantic_prob``): the exemplar of one
  MOT17 pedestrian, the search region around another pedestrian (same class, another object);
- generic negative pairs (probability ``generic_prob``): exemplar and search region from two
  different sequences;
- still-image positive pairs (probability ``still_prob``; GOTURN's "train on still images",
  :mod:`~trackkit.sot.train.still_pairs`): exemplar and search region from one image, the
  motion being the affine jitter below; images with boxes from ``still_sources``: ``sot``
  (single frames of the training sequences only), ``mot17`` (the MOT17 ``img1`` pedestrians),
  ``reid`` (Market-1501 crops pasted on those frames), ``random``
  (:class:`~trackkit.sot.train.still_pairs.RandomBoxes`: any region of those frames as the
  object: class-agnostic matching).

Augmentation (affine, then photometric): the exemplar is shifted by up to ``template_shift``
crop pixels and scaled by up to ``template_scale``; the search region is shifted by up to
``search_shift`` crop pixels and stretched per axis by up to ``search_scale``; blur with
probability ``blur_prob`` (Gaussian, kernel 3-7), per-channel gain and offset (``color``),
horizontal flip of both with probability 1/2.

Targets (per anchor of :func:`~trackkit.sot.nets.rpn_head.make_anchors`): positive when its IoU
with the target box in the search crop exceeds ``pos_iou`` (0.6), negative below ``neg_iou``
(0.3), else ignored; per pair at most ``pos_num`` positives and ``total_num`` anchors in all are
sampled. In a negative pair every anchor is negative; ``neg_num`` of them are sampled, those on
the other object (IoU >= ``neg_iou`` with its box: the hard ones) first. Loss: softmax
cross-entropy, half on the sampled positives' mean and half on the negatives' mean, plus
``loc_weight`` times smooth-L1 on the deltas ``(dx, dy, log dw, log dh)`` of every positive
anchor (mean per positive).

The backbone's fixed blocks do not change, so each epoch draws ``pool`` fresh examples with the
epoch's random stream, runs the fixed blocks on them once, and takes ``--steps`` optimiser steps
on batches drawn from that pool (each example is seen ``steps * batch / pool`` times per epoch);
the pool is a function of the stream, so ``--resume`` reproduces a run exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
from numpy.typing import NDArray

from trackkit.config import require
from trackkit.sot.ops.crops import context_size, crop_region, mean_color
from trackkit.sot.train.base import SOT_TRAINERS, OptimConfig, SOTTrainer
from trackkit.sot.train.pairs import to_tensor
from trackkit.training.task import EpochRandom

__all__ = [
    "MOTPeople",
    "SiamRPNTrainConfig",
    "SiamRPNTrainer",
    "anchor_targets",
    "sample_labels",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SiamRPNTrainConfig(OptimConfig):
    """SiamRPN training options (``--set key=value``) with :class:`OptimConfig`'s.

    Attributes:
        backbone: the pretrained backbone (:data:`trackkit.sot.nets.backbones.BACKBONES`).
        train_blocks: its last blocks that are fine-tuned (0: all fixed).
        channels, tower: the head's width and tower depth.
        max_gap: largest frame distance of a positive pair.
        pool: fresh examples per epoch (the fixed blocks run once on each).
        mot17: MOT17 ``train`` folder (``auto``: the shared folder's; ``""``: none).
        mot_prob, semantic_prob, generic_prob: probabilities of a MOT17 positive pair, a
            semantic negative pair and a generic negative pair (the rest: sequence positives).
        template_shift, template_scale, search_shift, search_scale: affine jitter (crop pixels,
            relative scale).
        blur_prob, color: photometric jitter (blur probability; gain / offset amplitude).
        pos_iou, neg_iou: anchor IoU thresholds.
        pos_num, total_num, neg_num: sampled anchors per positive pair (positives, all) and per
            negative pair.
        loc_weight: weight of the smooth-L1 box loss.
        still_prob: probability of a still-image positive pair.
        still_sources: comma list of its sources: ``sot``, ``mot17``, ``reid``, ``random``
            (equal weights).
    """

    RANGES: ClassVar[str] = (
        "train_blocks >= 0; channels >= 8; tower >= 1; max_gap >= 1; pool >= 1; "
        "mot_prob in [0, 1]; semantic_prob in [0, 1]; generic_prob in [0, 1]; "
        "template_shift >= 0; template_scale in [0, 0.5]; search_shift >= 0; "
        "search_scale in [0, 0.5]; blur_prob in [0, 1]; color in [0, 1]; "
        "pos_iou in (0, 1]; neg_iou in [0, pos_iou]; pos_num >= 1; total_num >= pos_num; "
        "neg_num >= 1; loc_weight >= 0; still_prob in [0, 1]"
    )

    backbone: str = "nanotrack_v2"
    train_blocks: int = 0
    channels: int = 64
    tower: int = 2
    max_gap: int = 100
    pool: int = 256
    mot17: str = "auto"
    mot_prob: float = 0.2
    semantic_prob: float = 0.15
    generic_prob: float = 0.05
    template_shift: float = 4.0
    template_scale: float = 0.05
    search_shift: float = 64.0
    search_scale: float = 0.18
    blur_prob: float = 0.2
    color: float = 0.1
    pos_iou: float = 0.6
    neg_iou: float = 0.3
    pos_num: int = 16
    total_num: int = 64
    neg_num: int = 16
    loc_weight: float = 1.2
    still_prob: float = 0.0
    still_sources: str = "sot,mot17,reid,random"

    def validate(self) -> None:
        from trackkit.sot.nets.backbones import BACKBONES

        require(self.backbone in BACKBONES, f"backbone: one of {', '.join(sorted(BACKBONES))}")
        require(
            self.semantic_prob + self.generic_prob + self.mot_prob + self.still_prob <= 1,
            "mot_prob + semantic_prob + generic_prob + still_prob must be at most 1",
        )
        bad = set(self.sources()) - set(STILL_SOURCES)
        require(not bad, f"still_sources: unknown {sorted(bad)}; valid: {', '.join(STILL_SOURCES)}")

    def sources(self) -> list[str]:
        """The names of ``still_sources``."""
        return [w.strip() for w in self.still_sources.split(",") if w.strip()]


#: the still-image sources of ``--set still_sources=...``
STILL_SOURCES = ("sot", "mot17", "reid", "random")


class MOTPeople:
    """Pedestrian boxes of the MOT17 frames that have images (``img1/*.jpg`` + ``gt/gt.txt``:
    class 1, not ignored, visibility >= ``min_vis``, height >= ``min_h``); images are scaled to
    at most ``max_width`` pixels wide and kept in memory.

    Attributes:
        names: the sequences read.
        people: ``(image key, track id, xyxy box)`` of every usable pedestrian.
    """

    def __init__(
        self, root: Path, min_vis: float = 0.4, min_h: float = 40.0, max_width: int = 960
    ) -> None:
        from trackkit.errors import FormatError

        self.images: dict[tuple[str, int], NDArray[np.uint8]] = {}
        self.people: list[tuple[tuple[str, int], int, NDArray[np.float64]]] = []
        self.names: list[str] = []
        for seq in sorted(p for p in root.iterdir() if (p / "gt" / "gt.txt").is_file()):
            frames = {int(f.stem): f for f in sorted((seq / "img1").glob("*.jpg"))}
            if not frames:
                continue
            text = (seq / "gt" / "gt.txt").read_text().splitlines()
            keep = [ln for ln in text if ln.split(",", 1)[0].strip() in {str(f) for f in frames}]
            try:
                gt = np.array([[float(v) for v in ln.split(",")[:9]] for ln in keep]).reshape(-1, 9)
            except ValueError as exc:
                raise FormatError(seq / "gt" / "gt.txt", f"not MOTChallenge gt ({exc})") from None
            self.names.append(seq.name)
            for f, path in frames.items():
                img = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if img is None:
                    raise FormatError(path, "cannot decode image")
                s = min(1.0, max_width / img.shape[1])
                if s < 1:
                    img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
                key = (seq.name, f)
                self.images[key] = np.ascontiguousarray(img)
                rows = gt[(gt[:, 0] == f) & (gt[:, 6] == 1) & (gt[:, 7] == 1)]
                rows = rows[(rows[:, 8] >= min_vis) & (rows[:, 5] >= min_h)]
                for r in rows:
                    box = np.array([r[2] - 1, r[3] - 1, r[2] - 1 + r[4], r[3] - 1 + r[5]]) * s
                    self.people.append((key, int(r[1]), box))

    def __len__(self) -> int:
        return len(self.people)

    def positive(self, rng: np.random.Generator, max_gap: int = 10) -> tuple[Any, ...]:
        """One person in two frames (``|gap| <= max_gap``; the same frame when alone):
        ``(img_z, box_z, img_x, box_x)``."""
        key, tid, box = self.people[int(rng.integers(len(self.people)))]
        same = [
            (k, b) for k, t, b in self.people
            if t == tid and k[0] == key[0] and abs(k[1] - key[1]) <= max_gap
        ]  # fmt: skip
        k2, b2 = same[int(rng.integers(len(same)))]
        return self.images[key], box, self.images[k2], b2

    def semantic(self, rng: np.random.Generator) -> tuple[Any, ...]:
        """Two different people (same sequence, any of its frames): ``(img_z, box_z, img_x,
        box_x)``."""
        key, tid, box = self.people[int(rng.integers(len(self.people)))]
        other = [(k, b) for k, t, b in self.people if k[0] == key[0] and t != tid]
        if not other:
            other = [(k, b) for k, t, b in self.people if k[0] != key[0]]
        k2, b2 = other[int(rng.integers(len(other)))]
        return self.images[key], box, self.images[k2], b2


def anchor_targets(
    anchors: NDArray[np.float64],
    box: NDArray[np.float64],
    positive: bool,
    pos_iou: float = 0.6,
    neg_iou: float = 0.3,
) -> tuple[NDArray[np.int8], NDArray[np.float32]]:
    """Labels ``(K, n, n)`` and delta targets ``(K, n, n, 4)`` for a ``cxcywh`` ``box`` in the
    search crop (crop-centre coordinates).

    Labels: 1 positive (IoU > ``pos_iou``, and the anchor of the highest IoU: Faster
    R-CNN's rule), 0 negative (IoU < ``neg_iou``), -1 ignored; for a
    negative pair (``positive=False``, ``box`` = the other object) every anchor is negative:
    2 on the other object (IoU >= ``neg_iou``: hard), 0 elsewhere.
    """
    from trackkit.sot.nets.rpn_head import encode, iou_cxcywh

    iou = iou_cxcywh(anchors, box)
    if not positive:
        return np.where(iou >= neg_iou, 2, 0).astype(np.int8), np.zeros((*iou.shape, 4), np.float32)
    labels = np.full(iou.shape, -1, np.int8)
    labels[iou < neg_iou] = 0
    labels[iou > pos_iou] = 1
    labels.reshape(-1)[int(np.argmax(iou))] = 1  # Faster R-CNN's rule (i): the best anchor
    return labels, encode(anchors, box).astype(np.float32)


def sample_labels(
    labels: NDArray[np.int8],
    rng: np.random.Generator,
    pos_num: int = 16,
    total_num: int = 64,
    neg_num: int = 16,
) -> NDArray[np.int8]:
    """The labels used in the loss (others set to -1): at most ``pos_num`` positives and
    ``total_num`` anchors in all; without positives (a negative pair) ``neg_num`` negatives,
    the hard ones (label 2) first. Returns labels in ``{-1, 0, 1}``."""
    flat = labels.reshape(-1)
    out = np.full(flat.shape, -1, np.int8)
    pos = np.nonzero(flat == 1)[0]
    if len(pos):
        pos = rng.permutation(pos)[:pos_num]
        out[pos] = 1
        neg = np.nonzero(flat == 0)[0]
        out[rng.permutation(neg)[: total_num - len(pos)]] = 0
        return out.reshape(labels.shape)
    hard = rng.permutation(np.nonzero(flat == 2)[0])[:neg_num]
    easy = rng.permutation(np.nonzero(flat == 0)[0])[: neg_num - len(hard)]
    out[hard] = 0
    out[easy] = 0
    return out.reshape(labels.shape)


def _fixed_session(backbone: Any) -> Any:
    """onnxruntime session (one thread) of the backbone's fixed blocks, exported in memory:
    the same function as the torch blocks, several times faster on a CPU."""
    import io
    import warnings

    import onnxruntime as ort
    import torch

    fixed = torch.nn.Sequential(*list(backbone.features)[: backbone.fixed_blocks]).eval()
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            fixed, (torch.zeros(1, 3, 255, 255),), buf,  # type: ignore[arg-type]
            dynamo=False, input_names=["x"],
            dynamic_axes={"x": {0: "b", 2: "h", 3: "w"}}, opset_version=17,
        )  # fmt: skip
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(
        buf.getvalue(), sess_options=opts, providers=["CPUExecutionProvider"]
    )


def _photometric(img: NDArray[np.uint8], rng: np.random.Generator, cfg: SiamRPNTrainConfig) -> Any:
    out: Any = img
    if rng.random() < cfg.blur_prob:
        k = int(rng.choice([3, 5, 7]))
        out = cv2.GaussianBlur(out, (k, k), 0)
    if cfg.color > 0:
        gain = 1 + rng.uniform(-cfg.color, cfg.color, 3)
        offset = rng.uniform(-cfg.color, cfg.color, 3) * 100
        out = np.clip(out.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)
    return out


def _crops(
    img_z: NDArray[np.uint8],
    bz: NDArray[np.float64],
    img_x: NDArray[np.uint8],
    bx: NDArray[np.float64],
    rng: np.random.Generator,
    cfg: SiamRPNTrainConfig,
) -> tuple[NDArray[np.uint8], NDArray[np.uint8], NDArray[np.float64]]:
    """Augmented exemplar ``(127, 127, 3)``, search ``(255, 255, 3)`` and the ``cxcywh`` box
    of ``bx`` in the search crop (crop-centre coordinates)."""
    wz, hz = bz[2] - bz[0], bz[3] - bz[1]
    s_z = context_size(wz, hz) * (1 + rng.uniform(-cfg.template_scale, cfg.template_scale))
    tz = rng.uniform(-cfg.template_shift, cfg.template_shift, 2) * s_z / 127
    cz = ((bz[0] + bz[2]) / 2 + tz[0], (bz[1] + bz[3]) / 2 + tz[1])
    z = crop_region(img_z, cz, (s_z, s_z), (127, 127), mean_color(img_z))
    w, h = bx[2] - bx[0], bx[3] - bx[1]
    s_x = context_size(w, h) * 255 / 127
    size = s_x * (1 + rng.uniform(-cfg.search_scale, cfg.search_scale, 2))
    shift = rng.uniform(-cfg.search_shift, cfg.search_shift, 2)
    c = (
        (bx[0] + bx[2]) / 2 - shift[0] * size[0] / 255,
        (bx[1] + bx[3]) / 2 - shift[1] * size[1] / 255,
    )
    x = crop_region(img_x, c, (size[0], size[1]), (255, 255), mean_color(img_x))
    box = np.array([shift[0], shift[1], w * 255 / size[0], h * 255 / size[1]])
    z, x = _photometric(z, rng, cfg), _photometric(x, rng, cfg)
    if rng.random() < 0.5:
        z, x = z[:, ::-1], x[:, ::-1]
        box[0] = -box[0]
    return np.ascontiguousarray(z), np.ascontiguousarray(x), box


@SOT_TRAINERS.register("siamrpn")
class SiamRPNTrainer(SOTTrainer):
    """SiamRPN (Li 2018) head on NanoTrack's backbone, DaSiamRPN's distractor-aware pairs
    (Adam; softmax cross-entropy + smooth-L1 on the anchor deltas)."""

    arch = "siamrpn-own"
    config_class = SiamRPNTrainConfig
    cfg: SiamRPNTrainConfig
    max_grad_norm = 10.0

    def setup(self) -> None:
        from trackkit.sot.nets.backbones import freeze
        from trackkit.sot.nets.rpn_head import make_anchors

        self.model = self.start_from(self._load, self._new_model)
        freeze(self.model.backbone, self.cfg.train_blocks)
        self.make_optimizer(adam=True, cfg=self.cfg)
        self.load_pairs(self.cfg.max_gap)
        self.mot = self._mot17()
        if self.mot is not None:
            self.sequence_names += self.mot.names
        self.anchors = make_anchors(16, 16, self.model.anchor_size)
        self.still = self._still_images() if self.cfg.still_prob > 0 else None
        people = 0 if self.mot is None else len(self.mot)
        log.info(
            "siamrpn: %d sequences, %d frames, %d MOT17 pedestrians",
            len(self.pairs.sequences), self.pairs.num_frames, people,
        )  # fmt: skip

    def _load(self, path: Path) -> Any:
        from trackkit.sot.nets.rpn_head import load_siamrpn_own

        return load_siamrpn_own(path).train()

    def _new_model(self) -> Any:
        from trackkit.sot.nets.backbones import load_pretrained
        from trackkit.sot.nets.rpn_head import SiamRPNOwn

        cfg = self.cfg
        net = SiamRPNOwn(cfg.backbone, cfg.channels, cfg.tower)
        self.pretrained = load_pretrained(net.backbone, cfg.backbone)
        return net

    def _mot17(self) -> MOTPeople | None:
        from trackkit.errors import DataNotFoundError
        from trackkit.shared import shared_path

        if not self.cfg.mot17:
            return None
        root = (
            shared_path("data", "MOT17", "train")
            if self.cfg.mot17 == "auto"
            else Path(self.cfg.mot17)
        )
        if root is None or not root.is_dir():
            if self.cfg.mot17 == "auto":
                log.warning("siamrpn: no MOT17 frames in the shared folder: no semantic negatives")
                return None
            raise DataNotFoundError(f"{root}: MOT17 train folder not found (--set mot17=PATH)")
        people = MOTPeople(root)
        return people if len(people) >= 2 else None

    def _still_images(self) -> Any:
        """The still-image pool of ``still_sources`` (equal weights); each source is also
        recorded in the weights' ``trained_on["datasets"]`` as ``still:<source>``."""
        from trackkit.sot.train.still_pairs import StillImages, still_sources

        names = self.cfg.sources()
        found = still_sources(names, self.pairs, backdrop=("sot", "mot17"))
        self.still_record = [f"still:{n}" for n in names]
        return StillImages([(source, 1.0) for source in found.values()])

    def export(self) -> dict[str, Any]:
        """The weights (the base class's), still-image sources added to ``datasets``."""
        out: dict[str, Any] = super().export()
        if self.still is not None:
            out["trained_on"]["datasets"] = list(out["trained_on"]["datasets"]) + list(
                self.still_record
            )
        return out

    # ------------------------------------------------------------------ data
    def example(self, rng: np.random.Generator) -> tuple[Any, ...]:
        """One augmented example: ``(z, x, labels (K, n, n), deltas (K, n, n, 4))``."""
        cfg = self.cfg
        u = rng.random()
        positive = True
        if self.mot is not None and u < cfg.semantic_prob:
            img_z, bz, img_x, bx = self.mot.semantic(rng)
            positive = False
        elif u < cfg.semantic_prob + cfg.generic_prob and len(self.pairs.sequences) > 1:
            s, i, _ = self.pairs.sample(rng)
            img_z, bz = self.pairs.frame(s, i)
            t, j, _ = self.pairs.sample(rng)
            while t == s:
                t, j, _ = self.pairs.sample(rng)
            img_x, bx = self.pairs.frame(t, j)
            positive = False
        elif self.mot is not None and u < cfg.semantic_prob + cfg.generic_prob + cfg.mot_prob:
            img_z, bz, img_x, bx = self.mot.positive(rng)
        elif self.still is not None and u < (
            cfg.semantic_prob + cfg.generic_prob + cfg.mot_prob + cfg.still_prob
        ):
            img_z, bz = self.still.sample(rng)
            img_x, bx = img_z, bz
        else:
            s, i, j = self.pairs.sample(rng)
            img_z, bz = self.pairs.frame(s, i)
            img_x, bx = self.pairs.frame(s, j)
        z, x, box = _crops(img_z, bz, img_x, bx, rng, cfg)
        labels, deltas = anchor_targets(self.anchors, box, positive, cfg.pos_iou, cfg.neg_iou)
        return z, x, labels, deltas

    def _fixed(self, images: list[NDArray[np.uint8]]) -> Any:
        """The backbone's fixed blocks on ``images`` (no gradients), in chunks of 32."""
        import torch

        if self.model.backbone.fixed_blocks == 0:
            return to_tensor(images)
        if getattr(self, "_fixed_sess", None) is None:
            self._fixed_sess = _fixed_session(self.model.backbone)
        out = [
            self._fixed_sess.run(None, {"x": to_tensor(images[k : k + 32]).numpy()})[0]
            for k in range(0, len(images), 32)
        ]
        return torch.from_numpy(np.concatenate(out))

    def batches(self, epoch: int, rng: EpochRandom) -> Iterator[Any]:
        """Build the epoch's pool (fixed blocks run once), then ``--steps`` batches from it."""
        import torch

        r = rng.numpy
        ex = [self.example(r) for _ in range(self.cfg.pool)]
        zf = self._fixed([e[0] for e in ex])
        xf = self._fixed([e[1] for e in ex])
        labels = np.stack([e[2] for e in ex])
        deltas = torch.from_numpy(np.stack([e[3] for e in ex]))
        bs = min(self.opts.batch_size, len(ex))
        for _ in range(self.opts.steps_per_epoch):
            idx = np.sort(r.choice(len(ex), size=bs, replace=False))
            lab = np.stack([sample_labels(labels[i], r, self.cfg.pos_num, self.cfg.total_num,
                                          self.cfg.neg_num) for i in idx])  # fmt: skip
            pos = torch.from_numpy(labels[idx] == 1)
            ti = torch.from_numpy(idx)
            yield zf[ti], xf[ti], torch.from_numpy(lab.astype(np.int64)), deltas[ti], pos

    def make_batch(self, rng: np.random.Generator) -> tuple[Any, ...]:
        """One batch of ``--batch-size`` fresh examples (fixed blocks applied): ``(zf, xf,
        sampled labels (B, K, n, n), deltas (B, K, n, n, 4), positives (B, K, n, n))``."""
        import torch

        ex = [self.example(rng) for _ in range(self.opts.batch_size)]
        lab = np.stack([sample_labels(e[2], rng, self.cfg.pos_num, self.cfg.total_num,
                                      self.cfg.neg_num) for e in ex])  # fmt: skip
        return (
            self._fixed([e[0] for e in ex]),
            self._fixed([e[1] for e in ex]),
            torch.from_numpy(lab.astype(np.int64)),
            torch.from_numpy(np.stack([e[3] for e in ex])),
            torch.from_numpy(np.stack([e[2] for e in ex]) == 1),
        )

    # ------------------------------------------------------------------ loss
    def forward_cached(self, zf: Any, xf: Any) -> tuple[Any, Any]:
        """The trainable blocks and the head on the fixed blocks' outputs."""
        blocks = list(self.model.backbone.features)[self.model.backbone.fixed_blocks :]
        for b in blocks:
            zf, xf = b(zf), b(xf)
        out: tuple[Any, Any] = self.model.head(zf, xf)
        return out

    def loss(self, batch: tuple[Any, ...]) -> Any:
        """Cross-entropy (half positives' mean, half negatives') + ``loc_weight`` smooth-L1."""
        import torch.nn.functional as F

        zf, xf, labels, deltas, pos = batch
        cls, reg = self.forward_cached(zf, xf)
        b, _, n, _ = cls.shape
        k = cls.shape[1] // 2
        logp = F.log_softmax(cls.reshape(b, k, 2, n, n), dim=2)
        loss = cls.new_zeros(())
        for c in (0, 1):
            sel = labels == c
            if bool(sel.any()):
                loss = loss - 0.5 * logp[:, :, c][sel].mean()
        if bool(pos.any()) and self.cfg.loc_weight > 0:
            pred = reg.reshape(b, k, 4, n, n).permute(0, 1, 3, 4, 2)
            err = F.smooth_l1_loss(pred[pos], deltas[pos], beta=1 / 9, reduction="none").sum(1)
            npos = pos.flatten(1).sum(1)  # positives per pair
            w = (1.0 / npos.clamp(min=1).to(err.dtype))[:, None, None, None].expand_as(pos)[pos]
            loss = loss + self.cfg.loc_weight * (err * w).sum() / int((npos > 0).sum())
        return loss

    def arch_config(self) -> dict[str, Any]:
        out: dict[str, Any] = self.model.arch_config()
        return out
