"""SiamFC: fully-convolutional Siamese tracking (Bertinetto et al., ECCV-W 2016).

Tracking with the network of :mod:`trackkit.sot.nets.siamfc_net`:

1. the exemplar (square of side ``s_z = sqrt((w + p)(h + p))``, ``p = (w + h) / 2``, resized to
   127) is embedded once;
2. each frame, search regions of side ``s_x = s_z 255 / 127`` times each scale
   ``scale_step ** {-1, 0, 1}`` around the last centre are embedded and cross-correlated with
   it (17x17 responses, stride 8); the non-unit scales are multiplied by ``scale_penalty``;
3. the best scale's response is upsampled (bicubic, x ``response_up``), normalised to sum 1 and
   blended with a cosine window (``window_influence``); its peak gives the displacement
   ``(peak - centre) * 8 / response_up`` crop pixels, i.e. ``* s_x / 255`` image pixels;
4. the size follows the chosen scale with damping: ``size *= (1 - scale_lr) + scale_lr * s``;
5. when the peak's probability (sigmoid of the raw response) is above ``update_score`` the
   exemplar features are updated by an exponential average with rate ``template_lr``.

Training: :mod:`trackkit.sot.train.siamfc`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from trackkit.sot.base import SOT_TRACKERS, NetTrackerConfig, SOTResult, SOTTracker
from trackkit.sot.nets import trained_weights
from trackkit.sot.ops.crops import as_bgr, context_size, crop_square, mean_color
from trackkit.sot.ops.siamese import SiameseSearchConfig, search_scales, siamese_step

__all__ = ["SiamFCConfig", "SiamFCTracker"]


@dataclass(frozen=True)
class SiamFCConfig(SiameseSearchConfig, NetTrackerConfig):
    """Configuration of :class:`SiamFCTracker` (defaults: the SiamFC paper's values): the
    search options of :class:`~trackkit.sot.ops.siamese.SiameseSearchConfig` (response
    17x17), and

    Attributes:
        weights: weights file written by ``trackkit sot train --model siamfc`` (default
            ``trackkit/assets/siamfc.pt``).
        threads: torch CPU threads.
        template_lr: rate of the exponential-average template update (0 disables it).
        update_score: peak probability needed for a template update.
        lost_threshold: peak probability below which a frame is reported as lost (0.95:
            chosen on the shared sequences, ``benchmarks/sot_lost.py``).
    """

    RANGES: ClassVar[str] = "template_lr in [0, 1]"

    template_lr: float = 0.01
    update_score: float = 0.7
    lost_threshold: float | None = 0.95


@SOT_TRACKERS.register("siamfc")
class SiamFCTracker(SOTTracker):
    """SiamFC (Bertinetto 2016): multi-scale cross-correlation of a learned embedding."""

    exemplar_size = 127
    instance_size = 255

    config_class = SiamFCConfig
    config: SiamFCConfig

    def _load_network(self) -> Any:
        import torch

        from trackkit.sot.nets.siamfc_net import load_siamfc

        torch.set_num_threads(self.config.threads)
        return load_siamfc(trained_weights(self.config.weights, "siamfc"))

    def _embed(self, crops: list[NDArray[np.uint8]]) -> Any:
        import torch

        x = torch.from_numpy(np.stack(crops).transpose(0, 3, 1, 2).astype(np.float32))
        with torch.inference_mode():
            return self._network().embed(x)

    def _init(self, frame: NDArray[np.uint8], box: NDArray[np.float64]) -> None:
        img = as_bgr(frame)
        cfg = self.config
        self._center = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
        self._size = np.array([box[2] - box[0], box[3] - box[1]], dtype=np.float64)
        s_z = context_size(self._size[0], self._size[1], cfg.context)
        z = crop_square(img, (self._center[0], self._center[1]), s_z, 127, mean_color(img))
        self._zf = self._embed([z])
        self._scales = search_scales(cfg.num_scales, cfg.scale_step)

    def _update(self, frame: NDArray[np.uint8]) -> SOTResult:
        import torch

        img = as_bgr(frame)
        cfg = self.config
        w, h = self._size
        s_x = context_size(w, h, cfg.context) * self.instance_size / self.exemplar_size
        avg = mean_color(img)
        c = (self._center[0], self._center[1])
        crops = [crop_square(img, c, s_x * s, self.instance_size, avg) for s in self._scales]
        xf = self._embed(crops)
        zf = self._template(xf)
        with torch.inference_mode():
            resp = self._network().correlate(zf, xf)[:, 0].numpy().astype(np.float64)
        peaks = resp.reshape(len(crops), -1).max(axis=1)
        prob = 1.0 / (1.0 + np.exp(-peaks))
        self._center, self._size, k = siamese_step(
            cfg, resp, prob, self._scales, self._center, self._size, s_x, self.instance_size,
            8, img.shape[:2],
        )  # fmt: skip
        score = float(prob[k])
        self._refresh(img, avg, score)
        ctr, sz = self._center, self._size
        box = np.array(
            [ctr[0] - sz[0] / 2, ctr[1] - sz[1] / 2, ctr[0] + sz[0] / 2, ctr[1] + sz[1] / 2]
        )
        return SOTResult(box=box, score=score)

    def _template(self, xf: Any) -> Any:
        """The exemplar features correlated with this frame's search features ``xf``
        (``(S, C, H, W)``, one per scale): the (averaged) exemplar. A hook for subclasses
        (MemTrack reads its memory here)."""
        return self._zf

    def _exemplar_at_box(self, img: NDArray[np.uint8], avg: tuple[float, float, float]) -> Any:
        """Exemplar features ``(1, C, h, w)`` of the current box in ``img``."""
        s_z = context_size(self._size[0], self._size[1], self.config.context)
        zc = (self._center[0], self._center[1])
        return self._embed([crop_square(img, zc, s_z, 127, avg)])

    def _refresh(
        self, img: NDArray[np.uint8], avg: tuple[float, float, float], score: float
    ) -> None:
        """After locating the target: the exponential-average template update (a hook for
        subclasses)."""
        cfg = self.config
        if cfg.template_lr > 0 and score >= cfg.update_score:
            z_new = self._exemplar_at_box(img, avg)
            self._zf = (1 - cfg.template_lr) * self._zf + cfg.template_lr * z_new

    def describe(self) -> dict[str, Any]:
        """The configuration as a plain dict."""
        return asdict(self.config)
