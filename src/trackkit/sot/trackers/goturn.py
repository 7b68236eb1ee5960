"""GOTURN: generic object tracking using regression networks (Held et al., ECCV 2016).

Each frame, the previous frame's target crop and the current frame's search region — both the
previous box enlarged ``context`` times (2 in the paper) around its centre, resized to the
network's input — go through the two-crop network of :mod:`trackkit.sot.nets.goturn_net`,
which regresses the target's box inside the search region directly (no search over positions,
no online learning). The box is mapped back to the image; its size change per frame is limited
to ``max_scale_change``. With ``passes > 1`` (not in the paper, which regresses once) the search
region is re-cut around the new estimate and the regression repeated with the same previous
crop: a target that moved so far that it is only partly inside the first search region is
centred by the first pass and measured by the second. With ``calibrate`` (trackkit's addition)
the network's systematic error on the known first frame is measured and subtracted from every
later output, so that a small per-frame bias of the regression does not compound into drift.
The previous crop is embedded once (when it is cut) and reused by every pass. With ``recover``
(trackkit's addition, off by default) each new box is checked against the first frame's crop
(cosine similarity of the target cells of the embedding that becomes the next reference, so
the check costs nothing) and, when the match is poor, regressed again from a grid of search
regions around the last confident box — GOTURN has no re-detection otherwise, and a target that
jumps out of the 2x search region or behind an occluder is lost for good. The network is
the weights file's: by default GOTURN on NanoTrack v3's pretrained backbone; the first
from-scratch network's files load too (see :func:`trackkit.sot.nets.goturn_net.load_goturn`).
Training: :mod:`trackkit.sot.train.goturn`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from trackkit.config import require
from trackkit.sot.base import SOT_TRACKERS, NetTrackerConfig, SOTResult, SOTTracker
from trackkit.sot.nets import trained_weights
from trackkit.sot.ops.crops import as_bgr, crop_pair_region, crop_region, mean_color

__all__ = ["GoturnConfig", "GoturnTracker"]

#: the recovery's search-region shifts, in units of ``recover_shift`` box sides
_GRID = tuple((sx, sy) for sy in (-1, 0, 1) for sx in (-1, 0, 1))


@dataclass(frozen=True)
class GoturnConfig(NetTrackerConfig):
    """Configuration of :class:`GoturnTracker`.

    Attributes:
        weights: weights file written by ``trackkit sot train --model goturn`` (default
            ``trackkit/assets/goturn.pt``).
        threads: torch CPU threads.
        context: search region = box size times this (2 in the paper).
        max_scale_change: largest size change per frame (factor).
        size_lr: fraction of the regressed size change applied per frame (1 = the paper; less
            damps the compounding of size errors).
        motion_lr: fraction of the regressed displacement applied per frame (1 = the paper).
        max_motion: largest centre displacement per frame, in previous-box sides (0 = no
            limit, the paper; trackkit's option: the training motion model never moves the
            target more than ``max_shift`` = 0.45 sides, so larger regressed jumps are
            extrapolations).
        min_size: smallest box side in pixels.
        passes: regressions per frame (1 = the paper); each later pass re-crops the search
            region around the previous pass's box.
        calibrate: first-frame bias calibration (trackkit's addition, in the spirit of MDNet's
            first-frame bounding-box regression): the network's outputs on the first frame,
            for search regions shifted by up to ``calib_shift`` box sides around the known
            box, minus the true box coordinates, give a per-coordinate bias (median) that is
            subtracted from every later output — a small systematic error of the regression
            would otherwise compound from frame to frame.
        calib_shift: largest shift of the calibration crops, in box sides.
        template: the appearance reference of the regression: ``previous`` (the paper: the
            previous frame's crop around the previous box) or ``first`` (trackkit's option:
            the first frame's crop, embedded once; the template cannot drift, and each frame
            costs one embedding less).
        template_lr: with ``template=previous``, the reference embedding after each frame is
            ``template_lr * new + (1 - template_lr) * old`` (1 = the paper: the previous crop
            only; smaller keeps part of the earlier appearance, as correlation filters' model
            updates do; trackkit's option).
        first_weight: the regressed box is ``(1 - first_weight)`` times the one from the
            reference above plus ``first_weight`` times the one from the first frame's crop
            (embedded once; costs one fully-connected head per frame, no embedding): an
            anchor the reference's drift cannot move (0 = off, the paper; trackkit's option).
        recover: failure detection and recovery (trackkit's option; 0 = off, the paper): the
            confidence of a frame is the cosine similarity between the centre (the target's
            half, ``size / 32`` cells square) of the new box's crop embedding — the one the
            next frame uses as its reference, so no extra cost — and the same cells of the first
            frame's crop. Below ``recover`` the frame is unreliable: the box is regressed again
            from search regions shifted by ``recover_shift`` box sides (3 x 3 grid) around
            the last confident box, at its size, and the candidate whose crop matches the first
            frame's best replaces the box if it passes the test(s); otherwise the frame stays
            unreliable, its box is the plain regression's (``recover_hold``: the last confident
            one) and the reference stays the last confident frame's crop (an occluder or the
            background does not become the template).
        recover_ratio: a second, relative failure test (trackkit's option; 0 = off): a frame is
            also unreliable when its confidence is below ``recover_ratio`` times the median
            confidence of the last ``recover_window`` confident frames — a sudden drop
            (occlusion, a jump, a slide onto the background) rather than a fixed level, which
            differs from one target to the next (a rigid car in changing light ~0.8, a face
            ~0.95); the candidates of the recovery must pass both tests. The default (0.9)
            is the best value on all 13 shared sequences averaged over two training seeds;
            its held-out estimate (nested 3-fold, docs/sot-goturn.md) is 0.648 on the
            packaged recipe's fold models and 0.614-0.618 over several sets of them.
        recover_window: frames of the relative test's median.
        recover_shift: spacing of the recovery search regions, in box sides (each regression
            reaches about +-0.45 sides, so 0.75-1 covers a 2-3 side square without holes).
        recover_hold: an unreliable frame's box (no candidate passed) is the last confident
            box (``True``) or the plain regression's (``False``).
        backend: ``auto``: the crops' embedding runs on onnxruntime (the network exported in
            memory once per weights file; about 6x faster than PyTorch on one thread, same
            features to 1e-5), PyTorch when onnxruntime is missing; ``torch``: always PyTorch.
    """

    RANGES: ClassVar[str] = (
        "context >= 1; max_scale_change >= 1; min_size > 0; "
        "passes >= 1; size_lr in [0, 1]; motion_lr in [0, 1]; template_lr in [0, 1]; "
        "max_motion >= 0; first_weight in [0, 1]; recover in [0, 1]; recover_ratio in [0, 1]; "
        "recover_window >= 1; recover_shift >= 0"
    )

    context: float = 2.0
    max_scale_change: float = 1.3
    size_lr: float = 0.3
    motion_lr: float = 1.0
    max_motion: float = 0.0
    min_size: float = 4.0
    passes: int = 1
    calibrate: bool = True
    calib_shift: float = 0.1
    template: str = "previous"
    template_lr: float = 1.0
    first_weight: float = 0.0
    recover: float = 0.0
    recover_ratio: float = 0.9
    recover_window: int = 10
    recover_shift: float = 0.75
    recover_hold: bool = False
    backend: str = "auto"

    def validate(self) -> None:
        require(self.template in ("previous", "first"), "template must be previous or first")
        require(self.backend in ("auto", "torch"), "backend must be auto or torch")


@SOT_TRACKERS.register("goturn")
class GoturnTracker(SOTTracker):
    """GOTURN (Held 2016): regress the box from the previous and current crops."""

    config_class = GoturnConfig
    config: GoturnConfig

    def _load_network(self) -> Any:
        import torch

        from trackkit.sot.nets.goturn_net import load_goturn

        torch.set_num_threads(self.config.threads)
        return load_goturn(trained_weights(self.config.weights, "goturn"))

    def _crop(self, img: NDArray[np.uint8], region: tuple[float, float, float, float]) -> Any:
        size = self._network().size
        return crop_region(img, region[:2], region[2:], (size, size), self._fill)

    def _session(self) -> Any:
        """The onnxruntime session of the network's embedding (``None``: use PyTorch)."""
        if not hasattr(self, "_ort"):
            self._ort = None
            if self.config.backend == "auto":
                try:
                    from trackkit.sot.nets.goturn_net import EmbedOnly
                    from trackkit.sot.nets.siamfc_net import embedding_session

                    path = trained_weights(self.config.weights, "goturn")
                    self._ort = embedding_session(EmbedOnly(self._network()), path, 1)
                except ImportError:
                    self._ort = None
        return self._ort

    def _embed(self, crop: NDArray[np.uint8]) -> Any:
        """The network's ``(1, D)`` embedding of one ``(S, S, 3)`` uint8 crop."""
        import torch

        x = np.ascontiguousarray(crop.transpose(2, 0, 1))[None].astype(np.float32)
        session = self._session()
        if session is not None:
            return torch.from_numpy(session.run(None, {"x": x})[0])
        with torch.inference_mode():
            return self._network().embed(torch.from_numpy(x))

    def _init(self, frame: NDArray[np.uint8], box: NDArray[np.float64]) -> None:
        img = as_bgr(frame)
        self._fill = mean_color(img)
        self._box = box.astype(np.float64).copy()
        self._prev = self._embed(self._crop(img, crop_pair_region(self._box, self.config.context)))
        self._first = self._prev
        self._first_centre = self._centre(self._prev)
        self._good = self._box.copy()  # the last confident box (``recover``)
        self._good_ref = self._prev
        self._history: deque[float] = deque(maxlen=self.config.recover_window)
        self._bias = np.zeros(4)
        if self.config.calibrate:
            self._bias = self._calibration(img)

    def _calibration(self, img: NDArray[np.uint8]) -> NDArray[np.float64]:
        """Median of (output - truth), ``(4,)`` in the network's [0, 10] units, over a 3x3
        grid of search regions shifted around the first-frame box."""
        box = self._box
        w, h = box[2] - box[0], box[3] - box[1]
        d = self.config.calib_shift
        errs = []
        for sx in (-d, 0.0, d):
            for sy in (-d, 0.0, d):
                moved = box + np.array([sx * w, sy * h, sx * w, sy * h])
                (cx, cy, rw, rh), out = self._regress(img, moved)
                x0, y0 = cx - rw / 2, cy - rh / 2
                truth = np.array([(box[0] - x0) / rw, (box[1] - y0) / rh])
                truth = np.concatenate([truth, [(box[2] - x0) / rw, (box[3] - y0) / rh]])
                errs.append(out - truth * 10.0)
        return np.asarray(np.median(np.array(errs), axis=0), dtype=np.float64)

    def _regress(
        self, img: NDArray[np.uint8], box: NDArray[np.float64]
    ) -> tuple[tuple[float, float, float, float], NDArray[np.float64]]:
        """Search region ``(cx, cy, w, h)`` around ``box`` and the raw network output ``(4,)``
        (``xyxy`` in search-crop units times 10, before the bias correction)."""
        import torch

        region = crop_pair_region(box, self.config.context)
        search = self._embed(self._crop(img, region))
        with torch.inference_mode():
            net, w = self._network(), self.config.first_weight
            out = net.head(self._prev, search)[0].numpy().astype(np.float64)
            if w > 0:  # blend in the first frame's template (one more head, no embedding)
                first = net.head(self._first, search)[0].numpy().astype(np.float64)
                out = (1 - w) * out + w * first
        return region, out

    def _centre(self, emb: Any) -> NDArray[np.float64]:
        """The unit-norm centre cells (the target's half of the crop) of a ``(1, D)`` embedding
        whose first ``reduced * cells`` entries are the ``(reduced, n, n)`` reduced features."""
        net = self._network()
        n = net.size // 16
        c = getattr(net, "reduced", 0)
        x = emb[0].numpy().astype(np.float64)
        if c <= 0 or x.size < c * n * n:  # unknown layout: the whole vector
            v = x
        else:
            q = n // 4
            v = x[: c * n * n].reshape(c, n, n)[:, q : n - q, q : n - q].ravel()
        return np.asarray(v / (np.linalg.norm(v) + 1e-12), dtype=np.float64)

    def _step(self, img: NDArray[np.uint8], box: NDArray[np.float64]) -> NDArray[np.float64]:
        """The regressed ``xyxy`` box of this frame from a search region around ``box``
        (``passes`` regressions), its size change measured against ``box``'s."""
        cfg = self.config
        hh, ww = img.shape[:2]
        old_w, old_h = box[2] - box[0], box[3] - box[1]
        lo, hi = 1.0 / cfg.max_scale_change, cfg.max_scale_change
        est = box
        for _ in range(cfg.passes):
            (cx, cy, rw, rh), out = self._regress(img, est)
            out = (out - self._bias) / 10.0
            x1, x2 = cx - rw / 2 + out[0] * rw, cx - rw / 2 + out[2] * rw
            y1, y2 = cy - rh / 2 + out[1] * rh, cy - rh / 2 + out[3] * rh
            # the size is measured relative to the previous frame's size (clipped, damped)
            w = float(np.clip(abs(x2 - x1), old_w * lo, old_w * hi))
            h = float(np.clip(abs(y2 - y1), old_h * lo, old_h * hi))
            w = old_w * (1 - cfg.size_lr) + w * cfg.size_lr
            h = old_h * (1 - cfg.size_lr) + h * cfg.size_lr
            w = min(max(w, cfg.min_size), ww)
            h = min(max(h, cfg.min_size), hh)
            dx, dy = cfg.motion_lr * ((x1 + x2) / 2 - cx), cfg.motion_lr * ((y1 + y2) / 2 - cy)
            if cfg.max_motion > 0:
                dx = float(np.clip(dx, -cfg.max_motion * old_w, cfg.max_motion * old_w))
                dy = float(np.clip(dy, -cfg.max_motion * old_h, cfg.max_motion * old_h))
            ncx = float(np.clip(cx + dx, 0, ww))
            ncy = float(np.clip(cy + dy, 0, hh))
            est = np.array([ncx - w / 2, ncy - h / 2, ncx + w / 2, ncy + h / 2])
        return est

    def _verify(self, img: NDArray[np.uint8], box: NDArray[np.float64]) -> tuple[Any, float]:
        """The crop embedding around ``box`` (the next reference) and its confidence."""
        emb = self._embed(self._crop(img, crop_pair_region(box, self.config.context)))
        return emb, float(self._centre(emb) @ self._first_centre)

    def _bar(self) -> float:
        """The confidence a frame needs to count as reliable (``recover``, ``recover_ratio``)."""
        cfg = self.config
        if cfg.recover_ratio <= 0 or not self._history:
            return cfg.recover
        return max(cfg.recover, cfg.recover_ratio * float(np.median(self._history)))

    def _recover(
        self, img: NDArray[np.uint8], est: NDArray[np.float64], emb: Any, conf: float
    ) -> tuple[NDArray[np.float64], Any, float]:
        """The most confident of the regressions from a 3 x 3 grid of search regions around the
        last confident box (at its size) if it passes :meth:`_bar`; else ``est`` as it was (a
        candidate that is not confident is no better evidence than the plain regression, and
        jumping to it lands on look-alikes: the other jogger of Jogging)."""
        good = self._good
        w, h = good[2] - good[0], good[3] - good[1]
        best = (self._bar(), est, emb)
        for sx, sy in _GRID:
            start = good + self.config.recover_shift * np.array([sx * w, sy * h, sx * w, sy * h])
            box = self._step(img, start)
            e, c = self._verify(img, box)
            if c >= best[0]:
                best = (c, box, e)
        return (best[1], best[2], best[0]) if best[1] is not est else (est, emb, conf)

    def _refer(self, new: Any) -> None:
        """Make ``new`` (this frame's crop embedding) the next reference, blended into the old
        one by ``template_lr`` (1: replaced, the paper)."""
        lr = self.config.template_lr
        self._prev = new if lr >= 1 else new * lr + self._prev * (1 - lr)

    def _update(self, frame: NDArray[np.uint8]) -> SOTResult:
        img = as_bgr(frame)
        cfg = self.config
        est = self._step(img, self._box)
        if cfg.recover <= 0 and cfg.recover_ratio <= 0:
            self._box = est
            if cfg.template == "previous":
                self._refer(self._embed(self._crop(img, crop_pair_region(est, cfg.context))))
            return SOTResult(box=self._box.copy(), score=1.0)
        new, conf = self._verify(img, est)
        bar = self._bar()
        if conf < bar:
            est, new, conf = self._recover(img, est, new, conf)
        if conf >= bar:
            self._history.append(conf)
            self._box, self._good = est, est.copy()
            if cfg.template == "previous":
                self._refer(new)
            self._good_ref = self._prev
        else:  # unreliable: the reference stays the last confident one
            self._box = self._good.copy() if cfg.recover_hold else est
            self._prev = self._good_ref
        return SOTResult(box=self._box.copy(), score=conf)
