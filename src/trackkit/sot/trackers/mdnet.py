"""MDNet: multi-domain network tracking with online fine-tuning (Nam & Han, CVPR 2016), made
fast the RT-MDNet way (Jung, Son, Lee & Han, ECCV 2018).

The network (:mod:`trackkit.sot.nets.mdnet_net`; offline multi-domain training:
:mod:`trackkit.sot.train.mdnet`) is NanoTrack v3's pretrained MobileNetV3 under MDNet's
``fc4-fc6``; each frame the backbone runs once on a search region around the previous box and
every sample's features are RoIAlign-pooled from that map (RT-MDNet), so hundreds of samples
cost one conv pass. Online part:

1. first frame: a new binary head replaces the domain heads; ``fc4-fc6`` are fine-tuned on
   ``init_pos`` positives (IoU >= 0.7 with the box) and ``init_neg`` negatives (IoU < 0.5),
   each step with *hard negative mining* (the ``batch_neg`` highest-scoring negatives of a pool
   of ``hard_pool``); a ridge bounding-box regressor is fitted on the features of samples with
   IoU >= 0.6 (R-CNN targets ``dx, dy, log dw, log dh``);
2. each frame: ``candidates`` boxes drawn from a Gaussian around the last box (translation
   ``trans * r``, ``r = (w + h) / 2``; scale ``1.05 ** N(0, scale/2)``); the target score is the
   mean positive score of the top 5 and their (regressed) mean box is the result;
3. success (score > ``fail_score``, the paper's 0): positives/negatives of this frame are
   stored (features only); every ``long_interval`` frames a *long-term* update uses the
   positives of the last ``long_frames`` successful frames; failure: the box stays, a
   *short-term* update uses the last ``short_frames`` frames and the search widens
   (``trans`` times ``expand`` per failure, up to ``max_trans``: wider re-detection), back
   to normal after a success (``fail_move``: the box moves to the top 5's mean on failure
   too, as the MDNet release does).

Weights made by the first trackkit MDNet (a conv tower trained from scratch, one crop per
candidate; their file records no backbone) still load and run the same way per crop.
Sample counts and iterations are the paper's where the pooled features make them cheap
(256 candidates, 500 + 2000 first-frame samples... see :class:`MDNetConfig`).

Options (off by default; presets ``mdnet-vital`` / ``mdnet-rl``):

- ``adversarial`` — VITAL (Song et al., CVPR 2018): a mask generator ``G``
  (:mod:`trackkit.sot.nets.vital`) learns, in every fine-tuning step (first frame and
  updates), the spatial mask of the pooled features that makes the classifier's loss on the
  positives highest; the classifier is trained on positives masked by ``G`` (strength
  ``adv_weight``, ``adv_steps`` G updates per step). ``focal`` is the paper's optional
  cost-sensitive loss (focal weighting ``(1 - p)^focal`` of the cross-entropy; 0 = off).
  Tracking scores unmasked features.
- ``reciprocative`` — reciprocative learning (Pu et al., NeurIPS 2018): attention maps
  (gradient of the target score w.r.t. the sample's pooled features) regularised during
  online training (:mod:`trackkit.sot.ops.attention`; weight ``recip_weight``). No attention
  at test time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from trackkit.core.boxes import iou_matrix
from trackkit.sot.base import SOT_TRACKERS, NetTrackerConfig, SOTResult, SOTTracker
from trackkit.sot.nets import trained_weights
from trackkit.sot.nets.layered import single_threaded
from trackkit.sot.ops.crops import as_bgr
from trackkit.sot.ops.samples import fit_box, gaussian_samples, labelled_samples

__all__ = ["MDNetConfig", "MDNetTracker", "OnlineExtras", "finetune"]


@dataclass(frozen=True)
class MDNetConfig(NetTrackerConfig):
    """Configuration of :class:`MDNetTracker` (see the module docstring; the paper's sample
    counts except ``init_neg`` 2000 (5000) and ``update_iters`` 10 (15); ``expand`` 1.5 (the
    paper widens the search by 1.1 per failure: measured, not better, docs/sot-mdnet.md);
    ``fail_score`` 1.5 (the paper's failure test is a score below 0))."""

    RANGES: ClassVar[str] = (
        "candidates >= 5; trans > 0; expand >= 1; init_pos >= 1; "
        "init_neg >= 1; batch_pos >= 1; batch_neg >= 1; lr > 0; max_trans >= trans; "
        "hard_pool >= batch_neg; adv_weight in [0, 1]; adv_steps >= 1; focal >= 0; "
        "recip_weight >= 0"
    )

    seed: int = 0
    candidates: int = 256
    trans: float = 0.6
    scale: float = 1.0
    expand: float = 1.5
    max_trans: float = 1.5
    init_pos: int = 500
    init_neg: int = 2000
    init_iters: int = 30
    update_pos: int = 50
    update_neg: int = 200
    update_iters: int = 10
    short_frames: int = 20
    long_frames: int = 100
    long_interval: int = 10
    batch_pos: int = 32
    batch_neg: int = 96
    hard_pool: int = 512
    lr: float = 1e-3
    bbreg: bool = True
    #: on failure move the box to the top-5 candidates' mean (unregressed), as the MDNet
    #: release does; False keeps the last box (trackkit's default)
    fail_move: bool = False
    #: a frame whose top-5 mean score (positive minus negative logit) is at most this is a
    #: failure: no samples stored, a short-term update, a wider search (the paper: 0); 1.5:
    #: the nested 3-fold choice of {0, 1.5, 3, 6} over tracker seeds 0-2 (docs/sot-mdnet.md)
    fail_score: float = 1.5
    min_size: float = 4.0
    #: NanoTrack state dict of a pretrained-backbone network (``None``: the shared folder's)
    backbone_weights: str | None = None
    #: below 0 the classifier calls the best candidate background: the paper's tracking
    #: failure (it then widens the search), reported as lost
    lost_threshold: float | None = 0.0
    #: VITAL: adversarial feature masks on the positives during fine-tuning
    adversarial: bool = False
    #: VITAL: mask strength (1: G's mask as is; 0: no masking); 0.5: best 3-fold held-out mean
    #: of {0.25, 0.5, 0.75, 1}; its nested choice scores 0.608 (docs/sot-mdnet-vital.md)
    adv_weight: float = 0.5
    #: VITAL: generator updates per fine-tuning step
    adv_steps: int = 1
    #: VITAL's cost-sensitive loss: focal exponent (0: plain cross-entropy)
    focal: float = 0.0
    #: reciprocative learning: attention regulariser during fine-tuning
    reciprocative: bool = False
    #: reciprocative learning: weight of the regulariser
    recip_weight: float = 0.1


@dataclass
class OnlineExtras:
    """The optional training terms of :func:`finetune` (all off: plain MDNet).

    Attributes:
        shape: ``(C, h, w)`` of the conv map the features flatten.
        gen, gen_opt: VITAL's mask generator and its optimizer (``None``: no masks).
        adv_weight, adv_steps: mask strength and generator updates per step.
        focal: cost-sensitive (focal) exponent, 0 = cross-entropy.
        recip_weight: reciprocative attention regulariser weight, 0 = off.
    """

    shape: tuple[int, int, int]
    gen: Any = None
    gen_opt: Any = None
    adv_weight: float = 1.0
    adv_steps: int = 1
    focal: float = 0.0
    recip_weight: float = 0.0


def focal_loss(logits: Any, y: Any, gamma: float) -> Any:
    """Cross-entropy of ``logits (B, 2)`` with labels ``y (B,)`` weighted by ``(1 - p_y)^gamma``
    (VITAL's cost-sensitive loss: easy samples, mostly negatives, count less); ``gamma = 0``
    is the plain cross-entropy."""
    import torch.nn.functional as F

    if gamma == 0:
        return F.cross_entropy(logits, y)
    logp = F.log_softmax(logits, dim=1).gather(1, y[:, None])[:, 0]
    return -((1 - logp.exp()) ** gamma * logp).mean()


def finetune(
    net: Any,
    pos: Any,
    neg: Any,
    iters: int,
    opt: Any,
    rng: np.random.Generator,
    batch_pos: int,
    batch_neg: int,
    hard_pool: int,
    extras: OnlineExtras | None = None,
) -> float:
    """Fine-tune ``fc4-fc6`` on conv features ``pos (P, D)``, ``neg (N, D)`` with hard negative
    mining; returns the last loss (of the classifier, regulariser included). ``extras`` adds
    VITAL's adversarial masks / cost-sensitive loss and the reciprocative regulariser."""
    import torch
    import torch.nn.functional as F

    from trackkit.sot.nets.vital import apply_mask, generator_step
    from trackkit.sot.ops.attention import attention_maps, reciprocative_loss

    loss_v = 0.0
    for _ in range(iters):
        pi = torch.from_numpy(rng.choice(len(pos), size=batch_pos, replace=len(pos) < batch_pos))
        pool = rng.choice(len(neg), size=min(hard_pool, len(neg)), replace=False)
        net.eval()
        with torch.no_grad():
            s = net.classify(neg[torch.from_numpy(pool)])
            hard = pool[torch.argsort(s[:, 1] - s[:, 0], descending=True)[:batch_neg].numpy()]
        net.train()
        xp = pos[pi]
        if extras is not None and extras.gen is not None:
            with torch.no_grad():
                mask = 1 - extras.adv_weight * (1 - extras.gen(xp))
            xp = apply_mask(xp, mask, extras.shape)
        x = torch.cat([xp, neg[torch.from_numpy(hard)]])
        y = torch.cat(
            [torch.ones(len(pi), dtype=torch.long), torch.zeros(len(hard), dtype=torch.long)]
        )
        if extras is None:
            loss = F.cross_entropy(net.classify(x), y)
        elif extras.recip_weight > 0:
            logits, att = attention_maps(net.classify, x, extras.shape)
            loss = focal_loss(logits, y, extras.focal)
            loss = loss + extras.recip_weight * reciprocative_loss(att, y)
        else:
            loss = focal_loss(net.classify(x), y, extras.focal)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss_v = float(loss.detach())
        if extras is not None and extras.gen is not None:
            net.eval()  # G's targets: the classifier's loss without dropout
            for _ in range(extras.adv_steps):
                generator_step(extras.gen, extras.gen_opt, net.classify, pos[pi])
    net.eval()
    return loss_v


def _bbreg_targets(samples: NDArray[np.float64], gt: NDArray[np.float64]) -> NDArray[np.float64]:
    pw, ph = samples[:, 2] - samples[:, 0], samples[:, 3] - samples[:, 1]
    px, py = samples[:, 0] + pw / 2, samples[:, 1] + ph / 2
    gw, gh = gt[2] - gt[0], gt[3] - gt[1]
    gx, gy = gt[0] + gw / 2, gt[1] + gh / 2
    return np.stack([(gx - px) / pw, (gy - py) / ph, np.log(gw / pw), np.log(gh / ph)], axis=1)


def _ridge(x: NDArray[np.float64], t: NDArray[np.float64], lam: float) -> NDArray[np.float64]:
    """``(x'x + lam I)^-1 x't`` for ``x (N, D)``, ``t (N, K)``, bit-identical whatever the
    thread settings: numpy's BLAS (OpenBLAS) sums ``x'x`` in an order that depends on its
    thread count (fixed by ``OMP_NUM_THREADS`` at start-up), so the products and the solve
    run in torch float64 on one thread. With fewer samples than features (``N < D``) the
    same solution comes from the ``N x N`` system, ``x' (x x' + lam I)^-1 t``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        xt, tt = torch.from_numpy(x), torch.from_numpy(t)
        n, d = x.shape
        if n < d:
            eye = torch.eye(n, dtype=torch.float64)
            return (xt.T @ torch.linalg.solve(xt @ xt.T + lam * eye, tt)).numpy()
        eye = torch.eye(d, dtype=torch.float64)
        return torch.linalg.solve(xt.T @ xt + lam * eye, xt.T @ tt).numpy()
    finally:
        torch.set_num_threads(threads)


def _bbreg_apply(samples: NDArray[np.float64], d: NDArray[np.float64]) -> NDArray[np.float64]:
    pw, ph = samples[:, 2] - samples[:, 0], samples[:, 3] - samples[:, 1]
    cx = samples[:, 0] + pw / 2 + d[:, 0] * pw
    cy = samples[:, 1] + ph / 2 + d[:, 1] * ph
    w, h = pw * np.exp(d[:, 2]), ph * np.exp(d[:, 3])
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


@SOT_TRACKERS.register("mdnet")
class MDNetTracker(SOTTracker):
    """MDNet (Nam 2016) on a pretrained backbone with RT-MDNet's pooled features: candidate
    scoring by an online fine-tuned binary classifier."""

    config_class = MDNetConfig
    config: MDNetConfig

    def _load_network(self) -> Any:
        from trackkit.sot.nets.mdnet_net import load_mdnet

        cfg = self.config
        net = load_mdnet(trained_weights(cfg.weights, "mdnet"), cfg.backbone_weights)
        self._offline = {k: v.clone() for k, v in net.state_dict().items() if "heads." not in k}
        return net

    def _make_extras(self) -> OnlineExtras | None:
        """The VITAL / reciprocative terms of this configuration (``None``: plain MDNet)."""
        import torch

        cfg = self.config
        if not (cfg.adversarial or cfg.reciprocative or cfg.focal > 0):
            return None
        extras = OnlineExtras(
            shape=self._net.feat_shape,
            adv_weight=cfg.adv_weight,
            adv_steps=cfg.adv_steps,
            focal=cfg.focal,
            recip_weight=cfg.recip_weight if cfg.reciprocative else 0.0,
        )
        if cfg.adversarial:
            from trackkit.sot.nets.vital import MaskGenerator

            extras.gen = MaskGenerator(self._net.feat_shape)
            extras.gen_opt = torch.optim.Adam(extras.gen.parameters(), lr=cfg.lr)
        return extras

    def _features(self, ctx: Any, boxes: NDArray[np.float64]) -> Any:
        import torch

        with torch.no_grad():
            return self._net.box_features(ctx, boxes)

    def _samples(
        self, ctx: Any, box: NDArray[np.float64], n_pos: int, n_neg: int, neg_iou: float = 0.5
    ) -> tuple[Any, Any]:
        """Features of ``n_pos`` positives and ``n_neg`` negatives around ``box``; with pooled
        features, negatives whose centre is outside the frame's search region are redrawn."""
        region = ctx[1] if isinstance(ctx, tuple) else None
        pos, neg = labelled_samples(self._rng, box, n_pos, n_neg if region is None else 2 * n_neg,
                                    neg_iou=neg_iou)  # fmt: skip
        if region is not None:
            neg = neg[region.inside(neg, margin=0.9)][:n_neg]
        return self._features(ctx, pos), self._features(ctx, neg)

    @single_threaded
    def _init(self, frame: NDArray[np.uint8], box: NDArray[np.float64]) -> None:
        import torch

        cfg = self.config
        net = self._network()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)  # the new head and the dropout stream of this video
            net.reset_heads(1)
            net.load_state_dict(self._offline, strict=False)  # fc4-5 as trained offline
            net.eval()
            self._init_online(as_bgr(frame), box)
            self._torch_state = torch.get_rng_state()

    def _init_online(self, img: NDArray[np.uint8], box: NDArray[np.float64]) -> None:
        import torch

        cfg = self.config
        self._rng = np.random.default_rng(cfg.seed)
        self._box = box.copy()
        net = self._net
        params = list(net.fc.parameters()) + list(net.heads.parameters())
        self._opt = torch.optim.Adam(params, lr=cfg.lr)
        self._extras = self._make_extras()
        with torch.no_grad():
            ctx = net.prepare(img, box)
        fp, fn = self._samples(ctx, box, cfg.init_pos, cfg.init_neg)
        finetune(net, fp, fn, cfg.init_iters, self._opt, self._rng, cfg.batch_pos,
                 cfg.batch_neg, cfg.hard_pool, self._extras)  # fmt: skip
        self._reg: NDArray[np.float64] | None = None
        if cfg.bbreg:
            cand = gaussian_samples(self._rng, box, 1000, trans=0.3, scale=1.5)
            cand = cand[iou_matrix(cand, box[None])[:, 0] >= 0.6][:400]
            if len(cand) >= 20:
                x = self._features(ctx, cand).numpy().astype(np.float64)
                x = np.hstack([x, np.ones((len(x), 1))])
                self._reg = _ridge(x, _bbreg_targets(cand, box), lam=1000.0)
        keep = max(cfg.long_frames, cfg.short_frames)
        self._pos_mem: deque[Any] = deque([fp[: cfg.update_pos * 2]], maxlen=keep)
        self._neg_mem: deque[Any] = deque([fn[: cfg.update_neg * 2]], maxlen=cfg.short_frames)
        self._trans = cfg.trans
        self._frame = 0

    @single_threaded
    def _update(self, frame: NDArray[np.uint8]) -> SOTResult:
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self._torch_state)
            result = self._track(as_bgr(frame))
            self._torch_state = torch.get_rng_state()
        return result

    def _track(self, img: NDArray[np.uint8]) -> SOTResult:
        import torch

        cfg = self.config
        self._frame += 1
        cand = gaussian_samples(
            self._rng, self._box, cfg.candidates, trans=self._trans, scale=cfg.scale
        )
        with torch.no_grad():  # no graph through a tuned block
            ctx = self._net.prepare(img, self._box)
        feats = self._features(ctx, cand)
        with torch.no_grad():
            logits = self._net.classify(feats).numpy()
        scores = logits[:, 1] - logits[:, 0]
        top = np.argsort(scores)[-5:]
        score = float(scores[top].mean())
        success = score > cfg.fail_score
        hh, ww = img.shape[:2]
        if success or cfg.fail_move:
            boxes = cand[top]
            if success and self._reg is not None:
                x = np.hstack([feats[top].numpy().astype(np.float64), np.ones((len(top), 1))])
                boxes = _bbreg_apply(boxes, np.clip(x @ self._reg, -1.0, 1.0))
            self._box = fit_box(boxes.mean(axis=0), ww, hh, cfg.min_size)
        if success:
            self._trans = cfg.trans
            fp, fn = self._samples(ctx, self._box, cfg.update_pos, cfg.update_neg, neg_iou=0.3)
            self._pos_mem.append(fp)
            self._neg_mem.append(fn)
        else:
            self._trans = min(self._trans * cfg.expand, cfg.max_trans)
        if not success and len(self._pos_mem) > 0:
            pos_f = torch.cat(list(self._pos_mem)[-cfg.short_frames :])
            self._retrain(pos_f)
        elif success and self._frame % cfg.long_interval == 0:
            self._retrain(torch.cat(list(self._pos_mem)))
        return SOTResult(box=self._box.copy(), score=score)

    def _retrain(self, pos_f: Any) -> None:
        import torch

        cfg = self.config
        neg_f = torch.cat(list(self._neg_mem))
        finetune(
            self._net,
            pos_f,
            neg_f,
            cfg.update_iters,
            self._opt,
            self._rng,
            cfg.batch_pos,
            cfg.batch_neg,
            cfg.hard_pool,
            self._extras,
        )


SOT_TRACKERS.register_preset(
    "mdnet-vital",
    "mdnet",
    "MDNet + VITAL adversarial feature masks in online fine-tuning (Song 2018)",
    adversarial=True,
    # nested 3-fold choice from {1.5, 3} over tracker seeds 0-2 (docs/sot-mdnet-vital.md)
    fail_score=3.0,
)
SOT_TRACKERS.register_preset(
    "mdnet-rl",
    "mdnet",
    "MDNet + reciprocative attention regulariser in online fine-tuning (Pu 2018)",
    reciprocative=True,
)
