"""ROLO: recurrent YOLO (Ning, Zhang, Huang, He, Ren, Wang, "Spatially Supervised Recurrent
Convolutional Neural Networks for Visual Object Tracking", 2016, arXiv:1607.05781).

Every frame goes once through a frozen detector (YOLOX-Nano ONNX: its stride-16 neck features
and its detections, :class:`~trackkit.sot.nets.rolo_net.RoloDetector`); an LSTM reads the
features around the previous estimate, the detections there and the first frame's template
(:class:`~trackkit.sot.nets.rolo_net.RoloNet`) and regresses the new box; its state is
carried from frame to frame (started on the first frame with the known box). No online
learning, no search over positions. The box's size change per frame is limited to
``max_scale_change``. The score is the cosine similarity of the template's mean feature to
the mean feature inside the new box. Training: :mod:`trackkit.sot.train.rolo`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from trackkit.errors import FormatError
from trackkit.sot.base import SOT_TRACKERS, NetTrackerConfig, SOTResult, SOTTracker
from trackkit.sot.nets import trained_weights
from trackkit.sot.ops.crops import as_bgr

__all__ = ["RoloConfig", "RoloTracker"]


@dataclass(frozen=True)
class RoloConfig(NetTrackerConfig):
    """Configuration of :class:`RoloTracker`.

    Attributes:
        weights: the LSTM's weights file written by ``trackkit sot train --model rolo``
            (default ``trackkit/assets/rolo.pt``).
        threads: torch and onnxruntime CPU threads.
        detector: the frozen detector: YOLOX ONNX file or model name (``yolox-nano``: the
            registry's, found in the model cache or ../shared/weights/yolox_nano). It must be
            the one the weights were trained on (checked by sha256 when recorded).
        max_dets: detections kept per frame (as in training).
        det_threshold: smallest detection score (as in training).
        max_scale_change: largest size change per frame (factor).
        min_size: smallest box side in pixels.
        lost_threshold: a frame whose score (the cosine similarity of the template's mean
            feature to the box's) is below it is reported lost (0.80: Youden's threshold of
            ``benchmarks/sot_lost.py`` on the shared sequences).
    """

    RANGES: ClassVar[str] = (
        "max_dets >= 1; det_threshold in (0, 1); max_scale_change >= 1; min_size > 0"
    )

    detector: str = "yolox-nano"
    max_dets: int = 16
    det_threshold: float = 0.1
    max_scale_change: float = 1.2
    min_size: float = 4.0
    lost_threshold: float | None = 0.80


@SOT_TRACKERS.register("rolo")
class RoloTracker(SOTTracker):
    """ROLO (Ning 2016): a frozen detector's features and detections into an LSTM that
    regresses the target's box frame by frame."""

    config_class = RoloConfig
    config: RoloConfig

    def _load_network(self) -> Any:
        import torch

        from trackkit.sot.nets.rolo_net import RoloDetector, load_rolo
        from trackkit.sot.train.seen import trained_on

        cfg = self.config
        torch.set_num_threads(cfg.threads)
        path = trained_weights(cfg.weights, "rolo")
        net = load_rolo(path)
        det = RoloDetector(
            cfg.detector, cfg.threads, max_dets=cfg.max_dets, score_threshold=cfg.det_threshold
        )
        want = trained_on(path).get("pretrained", {}).get("sha256")
        if want and want != det.record["sha256"]:
            raise FormatError(
                str(path),
                f"ROLO weights trained on detector {want[:12]}..., not {det.model_path.name} "
                "(set detector= to the one they were trained with)",
            )
        return net, det

    def _features(self, img: NDArray[np.uint8]) -> tuple[Any, Any, Any]:
        """``(fmap (1, C, h, w), scale (1,), dets (1, K, 5))`` tensors of a frame."""
        import torch

        net, det = self._network()
        f = det(img)
        if f.fmap.shape[0] != net.channels:
            raise FormatError(
                str(det.model_path),
                f"feature map has {f.fmap.shape[0]} channels, the ROLO weights {net.channels}",
            )
        return (
            torch.from_numpy(f.fmap[None].astype(np.float32)),
            torch.tensor([f.scale], dtype=torch.float32),
            torch.from_numpy(f.dets[None]),
        )

    def _init(self, frame: NDArray[np.uint8], box: NDArray[np.float64]) -> None:
        import torch

        net, _ = self._network()
        img = as_bgr(frame)
        self._size = torch.tensor([[img.shape[1], img.shape[0]]], dtype=torch.float32)
        self._box = box.astype(np.float64).copy()
        fmap, scale, dets = self._features(img)
        prev = torch.from_numpy(self._box[None]).float()
        with torch.inference_mode():
            self._tpl = net.template(fmap, scale, prev)
            _, self._state = net.step(net.encode(fmap, scale, dets, prev, self._tpl), None)

    def _update(self, frame: NDArray[np.uint8]) -> SOTResult:
        import torch

        from trackkit.sot.nets.rolo_net import roi_grid

        cfg = self.config
        net, _ = self._network()
        img = as_bgr(frame)
        hh, ww = img.shape[:2]
        fmap, scale, dets = self._features(img)
        prev = torch.from_numpy(self._box[None]).float()
        with torch.inference_mode():
            x = net.encode(fmap, scale, dets, prev, self._tpl)
            delta, self._state = net.step(x, self._state)
            out = net.decode(prev, delta)[0].double().numpy()
        old = self._box[2:] - self._box[:2]
        wh = np.clip(out[2:] - out[:2], old / cfg.max_scale_change, old * cfg.max_scale_change)
        wh = np.clip(wh, cfg.min_size, [max(ww, cfg.min_size), max(hh, cfg.min_size)])
        c = np.clip((out[:2] + out[2:]) / 2, 0, [ww, hh])
        self._box = np.concatenate([c - wh / 2, c + wh / 2])
        with torch.inference_mode():
            cells = torch.from_numpy(self._box[None]).float() * scale[:, None]
            v = roi_grid(fmap, cells, 3).mean(dim=(2, 3))[0]
            score = float(torch.nn.functional.cosine_similarity(v, self._tpl[0][0], dim=0))
        return SOTResult(box=self._box.copy(), score=score)
