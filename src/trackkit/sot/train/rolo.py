"""Training ROLO's recurrent regressor (Ning et al. 2016, arXiv:1607.05781) on annotated
sequences: ``trackkit sot train --model rolo``.

The detector (YOLOX-Nano, :class:`~trackkit.sot.nets.rolo_net.RoloDetector`) is frozen, so
its output is computed once per sequence and cached (:func:`sequence_features`: one ``.npz``
per sequence folder in ``--set cache=DIR``, default ``$TRACKKIT_HOME/rolo-features``, keyed
by the frames, the detector's sha256 and its options); training then never touches an image.

One training example is a run of ``1 + burn_in + window`` consecutive annotated frames (frame
step 1..``max_stride``, time-reversed with ``reverse_prob``) of one sequence and a template
frame (the run's first frame, or with ``random_template`` probability any annotated frame of
the sequence). As in tracking, the first frame's box (jittered by ``jitter`` box sides) is
the starting estimate and the LSTM state starts at zero; the ``burn_in`` frames are tracked
without gradients (the state they leave is the state the loss frames start from: truncated
back-propagation through time), then ``window`` frames (the paper: 3-6 steps) are tracked
with gradients, each step's L2 loss on the box in normalised coordinates (the region around
the previous estimate is ``[0, 1]^2``, :meth:`RoloNet.in_region`). Each step's estimate is the
next step's input (detached); where it overlaps the ground truth by less than ``reset_iou``
it is replaced by the jittered ground truth, so the regressor learns to correct its own
errors without learning from hopeless inputs. Adam.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from trackkit.config import require
from trackkit.errors import FormatError
from trackkit.io.images import SOTSequence
from trackkit.sot.train.base import SOT_TRAINERS, OptimConfig, SOTTrainer
from trackkit.sot.train.folds import sequence_folder

__all__ = ["RoloTrainConfig", "RoloTrainer", "SequenceFeatures", "sequence_features"]

logger = logging.getLogger(__name__)

#: The documented command of the packaged weights (docs/sot-rolo.md); the k-fold benchmark
#: (benchmarks/sot_otb.py --folds K) trains each fold with it.


@dataclass(frozen=True)
class RoloTrainConfig(OptimConfig):
    """ROLO training options (``trackkit sot train --model rolo --set key=value``).

    Attributes:
        window: steps with a loss per example (truncated-BPTT length; the paper: 3-6).
        burn_in: steps tracked before them without gradients.
        max_stride: largest frame step inside an example (1: consecutive frames).
        reverse_prob: probability of a time-reversed example.
        random_template: probability that the template is a random annotated frame of the
            sequence instead of the example's first frame.
        jitter: noise of the starting / reset estimate, in box sides (Laplace scale).
        reset_iou: an estimate overlapping the ground truth less than this is reset.
        detector: the frozen detector (ONNX file or model name).
        max_dets: detections kept per frame.
        det_threshold: smallest detection score.
        cache: folder of the cached per-sequence detector outputs (``None``: default).
        context, grid, pool, app, fc, hidden: the network's options
            (:class:`~trackkit.sot.nets.rolo_net.RoloNet`).
    """

    RANGES: ClassVar[str] = (
        "window >= 1; burn_in >= 0; max_stride >= 1; reverse_prob in [0, 1]; "
        "random_template in [0, 1]; jitter >= 0; reset_iou in [0, 1); max_dets >= 1; "
        "det_threshold in (0, 1); context >= 1; grid >= 1; pool >= 1; app >= 1; fc >= 1; "
        "hidden >= 1"
    )

    window: int = 6
    burn_in: int = 4
    max_stride: int = 2
    reverse_prob: float = 0.5
    random_template: float = 0.5
    jitter: float = 0.05
    reset_iou: float = 0.3
    detector: str = "yolox-nano"
    max_dets: int = 16
    det_threshold: float = 0.1
    cache: str | None = None
    context: float = 2.5
    grid: int = 9
    pool: int = 3
    app: int = 16
    fc: int = 256
    hidden: int = 128
    weight_decay: float = 1e-5

    def validate(self) -> None:
        require(self.grid % self.pool == 0, "grid must be a multiple of pool")


@dataclass(frozen=True)
class SequenceFeatures:
    """The cached detector output of one sequence (see :class:`FrameFeatures`).

    Attributes:
        fmap: ``(N, C, h, w)`` float16; dets: ``(N, K, 5)`` float32; scale: cells per pixel;
        size: frame ``(width, height)``.
    """

    fmap: NDArray[np.float16]
    dets: NDArray[np.float32]
    scale: float
    size: tuple[int, int]


def default_cache() -> Path:
    """``$TRACKKIT_HOME/rolo-features`` (beside the model cache)."""
    from trackkit.zoo.cache import cache_dir

    return cache_dir().parent / "rolo-features"


def sequence_features(seq: SOTSequence, detector: Any, cache: Path) -> SequenceFeatures:
    """The detector's output on every frame of ``seq``, read from ``cache`` or computed and
    written there (atomically); keyed by the frame files, the detector's record and options.

    Raises:
        FormatError: an undecodable frame.
    """
    import cv2

    from trackkit.io.atomic import atomic_path

    key = hashlib.sha256(
        repr(
            ([str(Path(f).resolve()) for f in seq.frames], sorted(detector.record.items()),
             detector.max_dets, detector.score_threshold, detector.input_size)
        ).encode()
    ).hexdigest()[:20]  # fmt: skip
    path = cache / f"{sequence_folder(seq).name}-{key}.npz"
    if path.is_file():
        with np.load(path) as z:
            return SequenceFeatures(
                z["fmap"], z["dets"], float(z["scale"]), (int(z["size"][0]), int(z["size"][1]))
            )
    logger.info("rolo: detector features of %s (%d frames)", seq.name, len(seq.frames))
    fmaps, dets, scale, size = [], [], 0.0, (0, 0)
    for f in seq.frames:
        img = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if img is None:
            raise FormatError(f, "cannot decode image")
        out = detector(img)
        fmaps.append(out.fmap)
        dets.append(out.dets)
        scale, size = out.scale, (img.shape[1], img.shape[0])
    feats = SequenceFeatures(np.stack(fmaps), np.stack(dets), scale, size)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, fmap=feats.fmap, dets=feats.dets, scale=scale, size=np.array(size))
    return feats


@SOT_TRAINERS.register("rolo")
class RoloTrainer(SOTTrainer):
    """ROLO (Ning 2016): an LSTM over a frozen detector's features, L2 box loss, truncated
    BPTT (Adam, gradients clipped to a norm of 5)."""

    arch = "rolo"
    config_class = RoloTrainConfig
    cfg: RoloTrainConfig
    max_grad_norm = 5.0

    def setup(self) -> None:
        from trackkit.sot.nets.rolo_net import RoloDetector, RoloNet, load_rolo

        cfg = self.cfg
        pairs = self.load_pairs(max_gap=1)
        det = RoloDetector(cfg.detector, max_dets=cfg.max_dets, score_threshold=cfg.det_threshold)
        self.pretrained = {"backbone": "yolox-nano", **det.record}
        cache = Path(cfg.cache) if cfg.cache else default_cache()
        self.feats = [sequence_features(s, det, cache) for s in pairs.sequences]
        self.valid = pairs.valid
        channels = int(self.feats[0].fmap.shape[1])
        self.model = self.start_from(
            load_rolo,
            lambda: RoloNet(channels=channels, grid=cfg.grid, pool=cfg.pool, app=cfg.app,
                            fc=cfg.fc, hidden=cfg.hidden, context=cfg.context),
        )  # fmt: skip
        self.make_optimizer(adam=True, cfg=cfg)

    def _run(self, rng: np.random.Generator) -> tuple[int, NDArray[np.int64], int]:
        """``(sequence, frame indices of the run, template frame)``."""
        cfg = self.cfg
        n = 1 + cfg.burn_in + cfg.window
        sizes = np.array([len(v) for v in self.valid], dtype=np.float64)
        for _ in range(100):
            s = int(rng.choice(len(sizes), p=sizes / sizes.sum()))
            seq_len = len(self.feats[s].fmap)
            stride = int(rng.integers(1, cfg.max_stride + 1))
            stride = min(stride, max((seq_len - 1) // (n - 1), 1))
            span = (n - 1) * stride
            if span >= seq_len:
                continue
            start = int(rng.integers(0, seq_len - span))
            idx = start + stride * np.arange(n)
            if rng.random() < cfg.reverse_prob:
                idx = idx[::-1].copy()
            if not np.all(np.isin(idx, self.valid[s])):
                continue
            tpl = int(idx[0])
            if rng.random() < cfg.random_template:
                tpl = int(self.valid[s][rng.integers(len(self.valid[s]))])
            return s, idx, tpl
        raise FormatError(
            str(self.opts.data[0]),
            f"no sequence has {n} consecutive annotated frames (lower window / burn_in)",
        )

    def make_batch(self, rng: np.random.Generator) -> dict[str, Any]:
        """Tensors of one batch: ``fmap (L, B, C, h, w)``, ``dets (L, B, K, 5)``,
        ``gt (L, B, 4)``, ``noise (L, B, 4)``, ``tpl_fmap (B, C, h, w)``, ``tpl_box (B, 4)``,
        ``scale (B,)``, ``size (B, 2)``."""
        import torch

        cfg = self.cfg
        fm, dets, gt, tfm, tbox, scale, size = [], [], [], [], [], [], []
        for _ in range(self.opts.batch_size):
            s, idx, tpl = self._run(rng)
            f, boxes = self.feats[s], self.pairs.sequences[s].boxes
            fm.append(f.fmap[idx])
            dets.append(f.dets[idx])
            gt.append(boxes[idx])
            tfm.append(f.fmap[tpl])
            tbox.append(boxes[tpl])
            scale.append(f.scale)
            size.append(f.size)
        L, B = len(gt[0]), len(gt)
        noise = rng.laplace(0.0, cfg.jitter, size=(L, B, 4)) if cfg.jitter > 0 else np.zeros(
            (L, B, 4)
        )  # fmt: skip
        return {
            "fmap": torch.from_numpy(np.stack(fm, 1)),
            "dets": torch.from_numpy(np.stack(dets, 1)),
            "gt": torch.from_numpy(np.stack(gt, 1)).float(),
            "noise": torch.from_numpy(np.clip(noise, -0.5, 0.5)).float(),
            "tpl_fmap": torch.from_numpy(np.stack(tfm)),
            "tpl_box": torch.from_numpy(np.stack(tbox)).float(),
            "scale": torch.tensor(scale, dtype=torch.float32),
            "size": torch.tensor(size, dtype=torch.float32),
        }

    def loss(self, batch: dict[str, Any]) -> Any:
        """Mean L2 loss of the ``window`` steps (normalised box coordinates)."""
        return unroll(self.model, batch, self.cfg.burn_in, self.cfg.reset_iou)[0]

    def arch_config(self) -> dict[str, Any]:
        m = self.model
        return {"channels": m.channels, "grid": m.grid, "pool": m.pool, "app": m.app,
                "fc": m.fc_width, "hidden": m.hidden, "context": m.context}  # fmt: skip


def _jitter_t(box: Any, noise: Any) -> Any:
    """Torch :func:`_jittered` over a batch: ``(B, 4)`` boxes, ``(B, 4)`` noise."""
    import torch

    wh = box[:, 2:] - box[:, :2]
    c = (box[:, :2] + box[:, 2:]) / 2 + noise[:, :2] * wh
    wh = wh * torch.exp(noise[:, 2:])
    return torch.cat([c - wh / 2, c + wh / 2], dim=1)


def clip_estimate(box: Any, size: Any, min_side: float = 4.0) -> Any:
    """``(B, 4)`` xyxy boxes with their centre inside the ``(B, 2)`` frame sizes and sides in
    ``[min_side, frame side]``."""
    import torch

    c = torch.minimum(torch.maximum((box[:, :2] + box[:, 2:]) / 2, torch.zeros_like(size)), size)
    wh = torch.minimum((box[:, 2:] - box[:, :2]).clamp(min=min_side), size)
    return torch.cat([c - wh / 2, c + wh / 2], dim=1)


def unroll(net: Any, batch: dict[str, Any], burn_in: int, reset_iou: float) -> tuple[Any, Any]:
    """Track the batch's runs (see the module docstring); returns ``(mean loss, last boxes)``.

    The first frame starts the estimate (jittered ground truth) and the state; frames
    ``1..burn_in`` are tracked without gradients, the rest with the L2 loss.
    """
    import torch

    from trackkit.sot.nets.rolo_net import pair_iou

    fmap, dets, gt, noise = batch["fmap"], batch["dets"], batch["gt"], batch["noise"]
    scale, size = batch["scale"], batch["size"]
    tpl = net.template(batch["tpl_fmap"].float(), scale, batch["tpl_box"])
    prev = clip_estimate(_jitter_t(gt[0], noise[0]), size)
    state: tuple[Any, Any] | None = None
    losses = []
    for j in range(len(gt)):  # frame 0: the initial step (the state starts on the known box)
        grad = j > burn_in
        with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
            x = net.encode(fmap[j].float(), scale, dets[j].float(), prev, tpl)
            delta, state = net.step(x, state)
            box = net.decode(prev, delta)
            if grad:
                err = net.in_region(prev, box) - net.in_region(prev, gt[j])
                losses.append((err**2).mean())
        if not grad:
            state = (state[0].detach(), state[1].detach())
        new = box.detach() if j > 0 else prev
        ok = pair_iou(new[:, None, :], gt[j][:, None, :])[:, 0] >= reset_iou
        prev = clip_estimate(torch.where(ok[:, None], new, _jitter_t(gt[j], noise[j])), size)
    loss = torch.stack(losses).mean() if losses else torch.zeros(())
    return loss, prev
