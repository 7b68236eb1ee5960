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
5. the exemplar is fixed (the paper's); with ``template_lr > 0``, when the peak's probability
   (sigmoid of the raw response) is above ``update_score`` the exemplar features are updated by
   an exponential average with rate ``template_lr``.

The embedding runs with its batch normalisations folded into the convolutions
(:func:`~trackkit.sot.nets.siamfc_net.fuse_conv_bn`) and, with ``engine="auto"`` when
onnxruntime is installed, on onnxruntime (:func:`~trackkit.sot.nets.siamfc_net.
embedding_session`): the same features to ~1e-5, about twice PyTorch's speed on one thread.

Training: :mod:`trackkit.sot.train.siamfc`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from trackkit.config import require
from trackkit.errors import TrackkitError
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
        template_lr: rate of the exponential-average template update (0: the paper's fixed
            exemplar, the default: held-out 0.698 against 0.648 with 0.01 in 3-fold on the
            shared sequences, docs/sot-siamfc.md).
        update_score: peak probability needed for a template update.
        lost_threshold: peak probability below which a frame is reported as lost (0.73:
            Youden's J of ``benchmarks/sot_lost.py`` for the packaged weights, which were
            trained on those sequences; 0.95 flagged 46 % of present frames).
        engine: what runs the embedding: ``"auto"`` (onnxruntime when installed, else
            PyTorch), ``"onnx"`` or ``"torch"``.
    """

    RANGES: ClassVar[str] = "template_lr in [0, 1]"

    template_lr: float = 0.0
    update_score: float = 0.7
    lost_threshold: float | None = 0.73
    engine: str = "auto"

    def validate(self) -> None:
        super().validate()
        require(self.engine in ENGINES, f"engine: one of {', '.join(ENGINES)}")


#: the values of :attr:`SiamFCConfig.engine`
ENGINES = ("auto", "onnx", "torch")


@SOT_TRACKERS.register("siamfc")
class SiamFCTracker(SOTTracker):
    """SiamFC (Bertinetto 2016): multi-scale cross-correlation of a learned embedding."""

    exemplar_size = 127
    instance_size = 255

    config_class = SiamFCConfig
    config: SiamFCConfig
    #: the weights kind (:func:`~trackkit.sot.nets.trained_weights`)
    kind = "siamfc"
    #: the onnxruntime session of the embedding (``None``: PyTorch), set on first use
    _session: Any = None
    _engine_ready = False
    #: onnxruntime threads (``None``: the config's ``threads``)
    engine_threads: int | None = None

    def _load_network(self) -> Any:
        import torch

        from trackkit.sot.nets.siamfc_net import fuse_conv_bn, load_siamfc

        torch.set_num_threads(self.config.threads)
        return fuse_conv_bn(load_siamfc(trained_weights(self.config.weights, self.kind)))

    def _embedding(self) -> Any:
        """The network's embedding module (a hook: MemTrack's is inside its network)."""
        return self._network().embed

    def _engine(self) -> Any:
        """The onnxruntime session of the embedding, or ``None`` (PyTorch)."""
        if not self._engine_ready:
            engine = self.config.engine
            if engine != "torch":
                from trackkit.sot.nets.siamfc_net import embedding_session

                path = trained_weights(self.config.weights, self.kind)
                try:
                    threads = self.engine_threads or self.config.threads
                    self._session = embedding_session(self._embedding(), path, threads)
                except ImportError:
                    if engine == "onnx":
                        raise TrackkitError(
                            "engine=onnx needs onnxruntime: pip install 'trackkit[onnx]' "
                            "(or engine=torch)"
                        ) from None
            self._engine_ready = True
        return self._session

    def _embed(self, crops: list[NDArray[np.uint8]]) -> Any:
        """Features ``(B, C, h, w)`` (a torch tensor) of ``B`` uint8 BGR crops."""
        import torch

        x = np.ascontiguousarray(np.stack(crops).transpose(0, 3, 1, 2), dtype=np.float32)
        session = self._engine()
        if session is not None:
            return torch.from_numpy(session.run(None, {"x": x})[0])
        with torch.inference_mode():
            return self._network().embed(torch.from_numpy(x))

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
        with torch.inference_mode():
            resp = self._response(xf)[:, 0].numpy().astype(np.float64)
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

    def _response(self, xf: Any) -> Any:
        """Raw responses ``(S, 1, n, n)`` (a torch tensor, called under inference mode) of
        this frame's search features ``xf`` (``(S, C, H, W)``, one per scale) to the
        (averaged) exemplar. A hook for subclasses (MemTrack reads its memory here)."""
        return self._network().correlate(self._zf, xf)

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
