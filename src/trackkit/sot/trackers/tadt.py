"""TADT: target-aware deep tracking (Li, Wang, Ma, Yang: "Target-Aware Deep Tracking", CVPR 2019).

A frozen pretrained backbone, no offline training of the tracker: in the first frame TADT keeps
only the channels that matter for this target (:mod:`trackkit.sot.ops.channel_select`), then
tracks by Siamese matching of the selected exemplar channels against the same channels of the
search region, SiamFC-style, with a fixed template.

Backbone: NanoTrack v3's MobileNetV3 (:class:`~trackkit.sot.nets.layered.LayeredBackbone`) read
at two depths of the same stride, blocks 6 (40 channels) and 9 (96 channels), both stride 16 --
the counterpart of the paper's VGG-16 conv4-1 and conv4-3 (two depths of one resolution, so their
channels can be concatenated into one exemplar). Block 6 is the shallower, spatially sharper
layer; as in the authors' release, it gets the scale-sensitive selection (ranking loss) on top of
the target-active one (ridge loss); block 9 gets the target-active selection.

First frame (box ``xyxy``):

1. exemplar: square of side ``s_z = sqrt((w + p)(h + p))``, ``p = context (w + h)``, resized to
   127 px -> ``(C_l, 8, 8)`` per layer; search region ``s_x = s_z 255 / 127`` -> ``(C_l, 16, 16)``;
2. target-active importance per layer: ridge regression of the search features to a Gaussian
   label on the target (std ``label_sigma`` x the target's size in cells; kernel of the
   target's size), the loss gradient w.r.t. the features pooled per channel (pooled against
   the activations: the plain average is degenerate, see :mod:`~trackkit.sot.ops.channel_select`);
3. scale-sensitive importance (shallow layer): exemplar crops at ``rank_scales`` scored by the
   exemplar, ranking-loss gradient pooled per channel the same way;
4. kept channels: the shallow layer's top ``keep[0]`` (fraction of its channels) target-active
   channels that are also scale-sensitive, the deep layer's top ``keep[1]``; at least
   ``min_keep`` of all channels (more deep ones added in importance order). Proportions of the
   paper's release: 80/512 of conv4-1, 300/512 of conv4-3, at least 250/1024 in all;
5. each layer's selected exemplar is divided by its squared norm, so a perfect match scores 1 per
   layer (the authors' "balance weights" equalise the layers' magnitudes the same way).

Each frame: the selected search features at ``num_scales`` scales ``scale_step ** {-1, 0, 1}``
(``scale_mode="crop"``, the default: one crop per scale, as SiamFC; ``"feature"``: one 255 px
crop, its selected features resampled about the centre, as the paper resizes its feature maps),
cross-correlated
with the exemplar (``(S, 9, 9)``, stride 16, averaged over layers); non-unit scales' peaks times
``scale_penalty``; the best scale's response upsampled (bicubic, x ``response_up``), shifted to
zero minimum, normalised to sum 1, blended with a Hann window (``window_influence``); the peak
gives the displacement; the size follows the scale with damping ``scale_lr``. The score is the
raw peak (about 1 for a perfect match).

Frames ``(H, W, 3)`` uint8 BGR (or gray); boxes ``xyxy`` float64; inputs are never modified.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from trackkit.config import require
from trackkit.sot.base import SOT_TRACKERS, NetTrackerConfig, SOTResult, SOTTracker
from trackkit.sot.nets.layered import single_threaded
from trackkit.sot.ops.channel_select import (
    gaussian_map,
    kernel_size,
    scale_sensitive_importance,
    select_top,
    target_active_importance,
)
from trackkit.sot.ops.crops import as_bgr, context_size, crop_square, mean_color
from trackkit.sot.ops.siamese import SiameseSearchConfig, search_scales, siamese_step

__all__ = ["TADTConfig", "TADTTracker"]

_EXEMPLAR, _INSTANCE = 127, 255


@dataclass(frozen=True)
class TADTConfig(SiameseSearchConfig, NetTrackerConfig):
    """Configuration of :class:`TADTTracker` (defaults: the paper's / its release's, scaled to
    NanoTrack's channel counts; SiamFC's search parameters; only ``scale_mode`` was chosen on
    the shared data, by k-fold by sequence).

    Attributes:
        weights: NanoTrack v3 state dict (``None``: the shared folder's).
        threads: scale crops whose features are computed side by side, each on one torch
            thread (the output does not depend on it).
        backbone: ``nanotrack_v3`` or ``nanotrack_v2``.
        layers: two increasing block indices of the same stride (shallow, deep).
        keep: fraction of each layer's channels kept at most (80/512, 300/512).
        min_keep: fraction of all channels kept at least (250/1024).
        ridge_reg: ridge coefficient relative to the total patch energy (``fit_ridge``).
        label_sigma: std of the Gaussian label, fraction of the target's size.
        rank_scales: scales of the ranking-loss samples (must contain 1).
        scale_mode: ``"crop"`` (one crop per scale, SiamFC) or ``"feature"`` (one crop, its
            features resampled per scale, as the paper). ``"crop"`` is the one parameter chosen
            on the shared data: by 3- and 4-fold cross-validation by sequence (it won every
            fold; held-out mean AUC 0.708 vs 0.672, docs/sot-tadt.md).
        num_scales, ..., min_size: SiamFC's search
            (:class:`~trackkit.sot.ops.siamese.SiameseSearchConfig`).
        lost_threshold: peak below which a frame is reported lost (``None``: never; default
            0.38: Youden's threshold of
            ``benchmarks/sot_lost.py`` on the shared sequences, like every tracker's).
    """

    RANGES: ClassVar[str] = "ridge_reg > 0; label_sigma > 0; context >= 0"

    backbone: str = "nanotrack_v3"
    layers: tuple[int, int] = (6, 9)
    keep: tuple[float, float] = (80 / 512, 300 / 512)
    min_keep: float = 250 / 1024
    ridge_reg: float = 1.0
    label_sigma: float = 0.16
    rank_scales: tuple[float, ...] = (0.75, 0.83, 0.91, 1.0, 1.1, 1.21, 1.33)
    scale_mode: str = "crop"
    lost_threshold: float | None = 0.38

    def validate(self) -> None:
        super().validate()
        from trackkit.sot.nets.layered import LAYER_STRIDES

        require(
            len(self.layers) == 2
            and 0 <= self.layers[0] < self.layers[1] < len(LAYER_STRIDES)
            and LAYER_STRIDES[self.layers[0]] == LAYER_STRIDES[self.layers[1]],
            f"layers {list(self.layers)}: need two increasing blocks of one stride "
            "(shallow, deep), e.g. 6,9 (both stride 16)",
        )
        require(
            len(self.keep) == 2 and all(0 < k <= 1 for k in self.keep),
            "keep must be two fractions in (0, 1]",
        )
        require(0 < self.min_keep <= 1, "min_keep must be in (0, 1]")
        require(
            len(self.rank_scales) >= 2
            and all(s > 0 for s in self.rank_scales)
            and any(abs(s - 1.0) < 1e-9 for s in self.rank_scales),
            "rank_scales needs >= 2 positive scales including 1.0",
        )
        require(self.scale_mode in ("feature", "crop"), "scale_mode must be 'feature' or 'crop'")


@SOT_TRACKERS.register("tadt")
class TADTTracker(SOTTracker):
    """TADT (Li 2019): target-aware channels of a frozen backbone, Siamese matching."""

    config_class = TADTConfig
    config: TADTConfig

    #: per layer, the selected channel indices (set by ``init``)
    selected: tuple[NDArray[np.int64], ...] = ()

    def _load_network(self) -> Any:
        from trackkit.sot.nets.layered import LayeredBackbone

        cfg = self.config
        return LayeredBackbone(cfg.backbone, cfg.layers, cfg.weights, cfg.threads)

    def _features(self, crops: list[NDArray[np.uint8]]) -> list[Any]:
        """``(B, C_l, h, w)`` tensors of the crops, one per layer (no gradients)."""
        return self._network().features(np.stack(crops))

    @single_threaded
    def _init(self, frame: NDArray[np.uint8], box: NDArray[np.float64]) -> None:
        import torch

        img = as_bgr(frame)
        cfg = self.config
        self._center = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
        self._size = np.array([box[2] - box[0], box[3] - box[1]], dtype=np.float64)
        s_z = context_size(self._size[0], self._size[1], cfg.context)
        s_x = s_z * _INSTANCE / _EXEMPLAR
        avg = mean_color(img)
        c = (self._center[0], self._center[1])
        ratios = list(cfg.rank_scales)
        crops = [crop_square(img, c, s_z * r, _EXEMPLAR, avg) for r in ratios]
        samples = self._features(crops)
        search = [f[0] for f in self._features([crop_square(img, c, s_x, _INSTANCE, avg)])]
        mid = int(np.argmin(np.abs(np.log(ratios))))
        stride = self._network().strides[0]
        cells = (self._size[1] * _INSTANCE / s_x / stride, self._size[0] * _INSTANCE / s_x / stride)
        with torch.inference_mode(False), torch.enable_grad():
            sel = self._select(search, samples, mid, ratios, cells)
        self.selected = sel
        parts = []
        for f, idx in zip(samples, sel, strict=True):
            z = f[mid, torch.from_numpy(idx)].clone()
            parts.append(z / (z * z).sum().clamp_min(1e-12))
        used = sum(1 for idx in sel if len(idx))
        self._zf = torch.cat(parts)[None] / max(used, 1)
        self._index = [torch.from_numpy(idx) for idx in sel]
        self._scales = search_scales(cfg.num_scales, cfg.scale_step)

    def _select(
        self,
        search: list[Any],
        samples: list[Any],
        mid: int,
        ratios: list[float],
        cells: tuple[float, float],
    ) -> tuple[NDArray[np.int64], ...]:
        """The kept channel indices of each layer (module docstring, steps 2-4)."""
        cfg = self.config
        hh, ww = search[0].shape[-2:]
        label = gaussian_map(
            (hh, ww),
            ((hh - 1) / 2, (ww - 1) / 2),
            (max(cfg.label_sigma * cells[0], 0.25), max(cfg.label_sigma * cells[1], 0.25)),
        )
        kernel = kernel_size(cells, (hh, ww))
        active = [target_active_importance(f, label, kernel, cfg.ridge_reg) for f in search]
        scale = scale_sensitive_importance(samples[0][mid], samples[0], ratios)
        counts = [max(1, round(k * f.shape[0])) for k, f in zip(cfg.keep, search, strict=True)]
        shallow = select_top(active[0], counts[0], mask=scale.numpy() > 0)
        deep = select_top(active[1], counts[1])
        total = sum(f.shape[0] for f in search)
        missing = round(cfg.min_keep * total) - len(shallow) - len(deep)
        if missing > 0:
            order = np.argsort(-active[1].numpy(), kind="stable")
            extra = [i for i in order if i not in set(deep.tolist())][:missing]
            deep = np.sort(np.concatenate([deep, np.array(extra, dtype=np.int64)]))
        return shallow, deep

    def _search_features(self, img: NDArray[np.uint8], s_x: float) -> Any:
        """``(S, C', h, w)`` selected search features at the scales."""
        import torch
        import torch.nn.functional as F

        avg = mean_color(img)
        c = (self._center[0], self._center[1])
        if self.config.scale_mode == "crop":
            crops = [crop_square(img, c, s_x * s, _INSTANCE, avg) for s in self._scales]
            feats = self._features(crops)
            return torch.cat([f[:, i] for f, i in zip(feats, self._index, strict=True)], dim=1)
        feats = self._features([crop_square(img, c, s_x, _INSTANCE, avg)])
        x = torch.cat([f[:, i] for f, i in zip(feats, self._index, strict=True)], dim=1)
        h, w = x.shape[-2:]
        # output cell u samples the unit-scale map at centre + (u - centre) * s
        theta = torch.zeros(len(self._scales), 2, 3)
        theta[:, 0, 0] = theta[:, 1, 1] = torch.tensor(self._scales, dtype=torch.float32)
        grid = F.affine_grid(theta, [len(self._scales), x.shape[1], h, w], align_corners=False)
        return F.grid_sample(x.expand(len(self._scales), -1, -1, -1), grid, align_corners=False)

    @single_threaded
    def _update(self, frame: NDArray[np.uint8]) -> SOTResult:
        import torch
        import torch.nn.functional as F

        img = as_bgr(frame)
        cfg = self.config
        w, h = self._size
        s_x = context_size(w, h, cfg.context) * _INSTANCE / _EXEMPLAR
        with torch.inference_mode():
            x = self._search_features(img, s_x)
            resp = F.conv2d(x, self._zf)[:, 0].numpy().astype(np.float64)
        peaks = resp.reshape(len(resp), -1).max(axis=1)
        stride = self._network().strides[0]
        self._center, self._size, k = siamese_step(
            cfg, resp, peaks, self._scales, self._center, self._size, s_x, _INSTANCE, stride,
            img.shape[:2],
        )  # fmt: skip
        ctr, sz = self._center, self._size
        box = np.array(
            [ctr[0] - sz[0] / 2, ctr[1] - sz[1] / 2, ctr[0] + sz[0] / 2, ctr[1] + sz[1] / 2]
        )
        return SOTResult(box=box, score=float(peaks[k]))

    def reset(self) -> None:
        """Forget the target and its selected channels (the backbone stays loaded)."""
        super().reset()
        self.selected = ()
        for name in ("_zf", "_index", "_center", "_size", "_scales"):
            self.__dict__.pop(name, None)

    def describe(self) -> dict[str, Any]:
        """The configuration and, after ``init``, the number of kept channels per layer."""
        out = asdict(self.config)
        out["selected"] = [len(i) for i in self.selected]
        return out
