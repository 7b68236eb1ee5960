"""ADNet: action-decision network tracking (Yun, Choi, Yoo, Yun & Choi, CVPR 2017), with the
re-detection rule of ADNet-fast.

Per frame, from the previous box, the policy ``fc6`` picks one of 11 actions (move left /
right / up / down by ``alpha`` or ``2 alpha`` of the box side, scale down / up, stop) on the
box's 112x112 patch and its action history, the box moves, and so on until "stop", a box
visited before in this frame (oscillation) or ``max_steps`` actions
(:func:`~trackkit.sot.nets.adnet_net.run_actions`). The confidence ``fc7`` of the final box is
the frame's score. Online adaptation (the paper's section 4.3):

1. first frame: ``fc6`` and ``fc7`` are fine-tuned (``init_iters`` Adam steps) on
   ``init_samples`` Gaussian samples (action + confidence labels) and ``init_neg`` negatives
   (confidence labels) around the given box;
2. a frame whose confidence is above ``redetect_threshold`` (0.5) is *confident*: every
   ``collect_every``-th confident frame adds ``update_samples`` / ``update_neg`` labelled samples
   around its box to a memory of the last ``memory_frames`` such frames (the first frame's are
   kept); every ``update_interval`` frames ``fc6/fc7`` are fine-tuned ``update_iters`` steps on
   the memory;
3. re-detection (ADNet-fast): only when the confidence falls below ``redetect_threshold``,
   ``redetect_samples`` boxes are drawn around the box (translation ``redetect_trans`` box
   sizes) and the mean of the ``top`` most confident becomes the box when it beats the action
   result.

Online confidence labels: ``IoU > 0.7`` positive; negative below ``conf_neg_iou`` (0.5 keeps
the boxes in between out of the loss, MDNet's rule; 0.7 is the paper's: every box that is not
a positive is a negative, so a box that drifted in scale or position also loses confidence).

The backbone is NanoTrack v3's MobileNetV3 (frozen, from the shared folder or
``backbone_weights``); ``weights`` is the ``adnet`` head file (default: the packaged one).
Sample counts are reduced from the paper's (3000 initial samples, 300 iterations) for a CPU.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from trackkit.sot.base import SOT_TRACKERS, NetTrackerConfig, SOTResult, SOTTracker
from trackkit.sot.nets import trained_weights
from trackkit.sot.ops.crops import as_bgr

__all__ = ["ADNetConfig", "ADNetTracker"]


@dataclass(frozen=True)
class ADNetConfig(NetTrackerConfig):
    """Configuration of :class:`ADNetTracker` (see the module docstring)."""

    RANGES: ClassVar[str] = (
        "alpha in (0, 0.5); max_steps >= 1; init_samples >= 2; init_neg >= 0; init_iters >= 0; "
        "update_samples >= 2; update_neg >= 0; update_iters >= 0; update_interval >= 1; "
        "collect_every >= 1; memory_frames >= 1; batch >= 2; lr > 0; redetect_samples >= 1; "
        "redetect_trans > 0; top >= 1; min_size > 0; conf_neg_iou in (0, 0.7]"
    )

    seed: int = 0
    alpha: float = 0.03
    max_steps: int = 20
    init_samples: int = 256
    init_neg: int = 64
    init_iters: int = 30
    update_samples: int = 24
    update_neg: int = 8
    update_iters: int = 10
    update_interval: int = 10
    collect_every: int = 2
    memory_frames: int = 20
    batch: int = 128
    lr: float = 1e-3
    redetect_threshold: float = 0.5
    redetect_samples: int = 128
    redetect_trans: float = 1.0
    top: int = 5
    min_size: float = 4.0
    online_trunk: bool = True
    #: online confidence labels: IoU > 0.7 positive, IoU < ``conf_neg_iou`` negative, boxes in
    #: between left out (0.5: MDNet's rule; 0.7: the paper's, every non-positive is negative;
    #: 0.5 kept by nested 3-fold selection of {0.5, 0.6, 0.7} over three tracker seeds,
    #: docs/sot-adnet.md)
    conf_neg_iou: float = 0.5
    backbone_weights: str | None = None
    #: the paper's failure rule: the final box's confidence below 0.5
    lost_threshold: float | None = 0.5


def _finetune(
    head: Any,
    opt: Any,
    data: list[tuple[Any, ...]],
    iters: int,
    batch: int,
    rng: np.random.Generator,
    trunk_too: bool,
) -> float:
    """``iters`` Adam steps of the online layers on ``data`` (per frame: features, histories,
    action labels, confidence labels (-100: ignored), action mask); fc4/fc5 are fine-tuned
    too when ``trunk_too`` (with dropout), else their output is computed once. Returns the
    last loss; the head is left in eval mode."""
    import torch
    import torch.nn.functional as F

    if iters == 0 or not data:
        return 0.0
    feats = torch.cat([d[0] for d in data])
    head.eval()
    if not trunk_too:
        with torch.no_grad():
            feats = head.trunk(feats)  # fc4/fc5 fixed online: computed once
    hist = torch.cat([d[1] for d in data])
    act = torch.cat([d[2] for d in data])
    conf = torch.cat([d[3] for d in data])
    mask = torch.cat([d[4] for d in data])
    loss_v = 0.0
    for _ in range(iters):
        idx = torch.from_numpy(rng.choice(len(feats), size=min(batch, len(feats)), replace=False))
        if trunk_too:
            head.train()
            a, c = head(feats[idx], hist[idx])
        else:
            a, c = head.heads(feats[idx], hist[idx])
        m, y = mask[idx], conf[idx]
        loss = F.cross_entropy(c, y) if bool((y >= 0).any()) else c.sum() * 0
        if bool(m.any()):
            loss = loss + F.cross_entropy(a[m], act[idx][m])
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss_v = float(loss.detach())
    head.eval()
    return loss_v


@SOT_TRACKERS.register("adnet")
class ADNetTracker(SOTTracker):
    """ADNet (Yun 2017): sequential actions of a policy network, online-adapted heads."""

    config_class = ADNetConfig
    config: ADNetConfig

    def _load_network(self) -> Any:
        import torch

        from trackkit.sot.nets.adnet_net import PatchFeatures, load_adnet_head

        cfg = self.config
        torch.set_num_threads(cfg.threads)
        path = trained_weights(cfg.weights, "adnet")
        head = load_adnet_head(path)
        self._features = PatchFeatures(cfg.backbone_weights, threads=cfg.threads)
        if head.feat_dim != self._features.dim:
            from trackkit.errors import FormatError

            raise FormatError(
                path, f"a head for {head.feat_dim} features, not {self._features.dim}"
            )
        self._initial = {k: v.clone() for k, v in head.state_dict().items()}
        return head

    def _labelled(self, img: NDArray[np.uint8], box: NDArray[np.float64], n: int,
                  n_neg: int) -> tuple[Any, ...]:  # fmt: skip
        import torch

        from trackkit.sot.nets.adnet_net import examples, random_histories

        cfg = self.config
        boxes, act, conf, mask = examples(
            self._rng, box, n, n_neg, cfg.alpha, neg_iou=cfg.conf_neg_iou
        )
        hist = random_histories(self._rng, len(boxes), self._net.history)
        return (
            self._features(img, boxes),
            torch.from_numpy(hist),
            torch.from_numpy(act),
            torch.from_numpy(conf),
            torch.from_numpy(mask),
        )

    def _init(self, frame: NDArray[np.uint8], box: NDArray[np.float64]) -> None:
        import torch

        from trackkit.sot.nets.adnet_net import NUM_ACTIONS

        cfg = self.config
        head = self._network()
        head.load_state_dict(self._initial)  # a new video starts from the offline weights
        head.eval()
        self._rng = np.random.default_rng(cfg.seed)
        img = as_bgr(frame)
        params = list(head.fc6.parameters()) + list(head.fc7.parameters())
        if cfg.online_trunk:
            params += list(head.fc4.parameters()) + list(head.fc5.parameters())
        self._opt = torch.optim.Adam(params, lr=cfg.lr)
        first = self._labelled(img, box, cfg.init_samples, cfg.init_neg)
        self._dropout_state = torch.Generator().manual_seed(cfg.seed).get_state()
        self._adapt([first], cfg.init_iters)
        self._first = first
        self._memory: deque[tuple[Any, ...]] = deque(maxlen=cfg.memory_frames)
        self._box = box.copy()
        self._history = np.zeros(head.history * NUM_ACTIONS, dtype=np.float32)
        self._frame = 0
        self._confident = 0

    def _confidence(self, img: NDArray[np.uint8], boxes: NDArray[np.float64]) -> Any:
        import torch

        f = self._features(img, boxes)
        hist = torch.from_numpy(np.repeat(self._history[None], len(boxes), axis=0))
        with torch.no_grad():
            _, c = self._net(f, hist)
        return torch.softmax(c, dim=1)[:, 1].numpy()

    def _update(self, frame: NDArray[np.uint8]) -> SOTResult:
        from trackkit.sot.nets.adnet_net import run_actions
        from trackkit.sot.ops.samples import fit_box, gaussian_samples

        cfg = self.config
        img = as_bgr(frame)
        hh, ww = img.shape[:2]
        self._frame += 1
        box, self._history, _ = run_actions(
            self._features, self._net, img, self._box, self._history, cfg.max_steps, cfg.alpha
        )
        box = fit_box(box, ww, hh, cfg.min_size)
        score = float(self._confidence(img, box[None])[0])
        if score < cfg.redetect_threshold:  # ADNet-fast: re-detect only when unsure
            cand = gaussian_samples(
                self._rng, box, cfg.redetect_samples, trans=cfg.redetect_trans, scale=2.0
            )
            conf = self._confidence(img, cand)
            top = np.argsort(conf)[-cfg.top :]
            if float(conf[top].mean()) > score:
                box = fit_box(cand[top].mean(axis=0), ww, hh, cfg.min_size)
                score = float(conf[top].mean())
        self._box = box
        if score >= cfg.redetect_threshold:
            self._confident += 1
            if self._confident % cfg.collect_every == 0:
                self._memory.append(self._labelled(img, box, cfg.update_samples, cfg.update_neg))
        if self._frame % cfg.update_interval == 0 and self._memory:
            data = [self._first, *self._memory]
            self._adapt(data, cfg.update_iters)
        return SOTResult(box=box.copy(), score=score)

    def _adapt(self, data: list[tuple[Any, ...]], iters: int) -> None:
        """Fine-tune on ``data`` with this tracker's own dropout random stream (seeded by
        ``seed``; torch's global generator is left as it was): runs are reproducible."""
        import torch

        cfg = self.config
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self._dropout_state)
            _finetune(self._net, self._opt, data, iters, cfg.batch, self._rng, cfg.online_trunk)
            self._dropout_state = torch.get_rng_state()
