"""ROLO's parts: the frozen detector's per-frame features and the recurrent box regressor.

ROLO (Ning, Zhang, Huang, He, Ren, Wang, "Spatially Supervised Recurrent Convolutional Neural
Networks for Visual Object Tracking", 2016, arXiv:1607.05781) feeds, frame after frame, a
detector's convolutional features and its detection into an LSTM that regresses the target's
box; the LSTM's state is carried across frames. Here:

- :class:`RoloDetector`: the frozen detector, YOLOX-Nano ONNX (``yolox-nano`` of the model
  registry, ../shared/weights/yolox_nano). Its stride-16 PAN feature map (the intermediate
  tensor :func:`find_feature_tensor` locates, exposed as an extra graph output in memory with
  the ``onnx`` package) and its class-agnostic detections (top ``max_dets`` after NMS) come
  out of one run on the letterboxed frame: :class:`FrameFeatures`.
- :class:`RoloNet`: per step, the visual features around the previous estimate ``b`` (the
  paper's visual feature + detection; the crop around ``b`` is how the network knows which
  object it follows):

  1. the feature map sampled on a ``grid x grid`` lattice over the region ``b`` enlarged
     ``context`` times (bilinear, :func:`roi_grid`), reduced by a 1x1 conv and pooled to
     ``pool x pool`` (appearance), and the same for the first frame's target (template);
  2. the cosine similarity of every lattice cell to the template's mean feature (a
     ``grid x grid`` location heatmap), and the detections' heatmap on the same lattice (the
     score of the best detection covering each cell);
  3. the detection overlapping ``b`` most (box in region units, score, IoU: the paper's
     detection input), the box size in feature cells (log), and the whole frame's mean
     feature (the paper's global feature, projected).

  ``fc -> LSTMCell -> linear`` regresses ``(dx, dy, dw, dh)``: the new centre is the region's
  centre plus ``(dx, dy)`` region sides, the new size the old size times ``exp(dw, dh)``
  (:meth:`RoloNet.decode`); the last layer starts at zero (the box stays).

Boxes are ``xyxy`` float, frame pixels. onnx and onnxruntime are imported inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import nn

from trackkit.errors import ConfigError, FormatError

__all__ = [
    "FEATURE_STRIDE",
    "FrameFeatures",
    "RoloDetector",
    "RoloNet",
    "find_feature_tensor",
    "load_rolo",
    "pair_iou",
    "roi_grid",
]

#: Stride of the feature map ROLO reads (YOLOX's P4 PAN output).
FEATURE_STRIDE = 16


@dataclass(frozen=True)
class FrameFeatures:
    """The frozen detector's output for one frame.

    Attributes:
        fmap: ``(C, h, w)`` float16 feature map of the letterboxed input (stride 16).
        scale: feature cells per frame pixel (letterbox ratio / 16).
        dets: ``(max_dets, 5)`` float32 ``x1, y1, x2, y2, score`` (frame pixels), best first;
            rows past the detections found are zero.
    """

    fmap: NDArray[np.float16]
    scale: float
    dets: NDArray[np.float32]


def find_feature_tensor(model: Any, size: tuple[int, int]) -> str:
    """The name of the stride-16 neck output of a YOLOX ONNX ``model`` (an ``onnx`` proto):
    the last 4-d tensor at ``size / 16`` produced before the first head output (a ``Concat``
    with 5 + classes channels), i.e. the PAN's P4 output that the stride-16 head reads.

    Raises:
        FormatError: no such tensor (not a YOLOX graph).
    """
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {
        v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in inferred.graph.value_info
    }
    want = (size[0] // FEATURE_STRIDE, size[1] // FEATURE_STRIDE)
    out_dims = [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim]
    per_cell = out_dims[-1] if out_dims else 0  # 5 + classes
    found = ""
    for node in inferred.graph.node:
        shape = shapes.get(node.output[0], [])
        if node.op_type == "Concat" and len(shape) == 4 and shape[1] == per_cell and found:
            return found  # the first head output: the neck is done
        if len(shape) == 4 and tuple(shape[2:]) == want and node.op_type != "Conv":
            found = node.output[0]
    raise FormatError("yolox", "no stride-16 neck tensor before the head (not a YOLOX graph?)")


class RoloDetector:
    """YOLOX ONNX run once per frame for ROLO: feature map + class-agnostic detections.

    Args:
        path: the ONNX file or a model name (default ``yolox-nano``).
        threads: onnxruntime threads.
        feature_tensor: the intermediate tensor to expose (``None``: :func:`find_feature_tensor`).
        max_dets: detections kept per frame.
        score_threshold: smallest detection score (objectness times best class).

    Raises:
        DataNotFoundError: the model file is missing (the registry's one-line error).
        FormatError: not a YOLOX model, or ``feature_tensor`` is not in it.
    """

    def __init__(
        self,
        path: str | Path = "yolox-nano",
        threads: int = 1,
        feature_tensor: str | None = None,
        max_dets: int = 16,
        score_threshold: float = 0.1,
    ) -> None:
        import onnx

        from trackkit.detectors.yolox import YoloxDetector, yolox_grids
        from trackkit.zoo.cache import sha256_file

        det = YoloxDetector(str(path), num_threads=threads)  # resolves and checks the model
        self.model_path = det.model_path
        self.input_size = det.input_size
        model = onnx.load(str(self.model_path))
        name = feature_tensor or find_feature_tensor(model, self.input_size)
        produced = {o for n in model.graph.node for o in n.output}
        if name not in produced:
            raise FormatError(str(self.model_path), f"no tensor {name!r} (feature_tensor)")
        model.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
        self._sess = _session(model.SerializeToString(), threads)
        self._input = self._sess.get_inputs()[0].name
        self._grid, self._strides = yolox_grids(self.input_size)
        self.max_dets = max_dets
        self.score_threshold = score_threshold
        self.record = {
            "detector": "yolox",
            "file": self.model_path.name,
            "sha256": sha256_file(self.model_path),
            "tensor": name,
        }

    def __call__(self, frame: NDArray[np.uint8]) -> FrameFeatures:
        """Features and detections of a ``(H, W, 3)`` uint8 BGR frame."""
        from trackkit.core.boxes import clip_boxes, cxcywh_to_xyxy
        from trackkit.detectors.nms import nms
        from trackkit.detectors.onnx_base import letterbox

        blob, r = letterbox(frame, self.input_size)
        pred, fmap = self._sess.run(None, {self._input: blob})
        p = np.asarray(pred, np.float32)[0]
        score = p[:, 4] * p[:, 5:].max(axis=1)
        sel = np.flatnonzero(score >= self.score_threshold)
        cxcywh = np.empty((len(sel), 4))
        cxcywh[:, :2] = (p[sel, :2] + self._grid[sel]) * self._strides[sel]
        cxcywh[:, 2:] = np.exp(np.clip(p[sel, 2:4], -20, 20)) * self._strides[sel]
        boxes = cxcywh_to_xyxy(cxcywh).reshape(-1, 4) / r
        boxes = clip_boxes(boxes, frame.shape[1], frame.shape[0])
        keep = nms(boxes, score[sel], 0.45)[: self.max_dets]
        dets = np.zeros((self.max_dets, 5), np.float32)
        dets[: len(keep), :4] = boxes[keep]
        dets[: len(keep), 4] = score[sel][keep]
        fm = np.asarray(fmap, np.float32)[0].astype(np.float16)
        return FrameFeatures(fm, r / FEATURE_STRIDE, dets)


def _session(data: bytes, threads: int) -> Any:
    """An onnxruntime session of a serialized model, with the detectors' options (``threads``
    intra-op threads, no spinning)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])


def roi_grid(fmap: Any, boxes: Any, n: int) -> Any:
    """Bilinear samples of ``fmap`` at the centres of an ``n x n`` lattice over each box.

    Args:
        fmap: ``(B, C, h, w)`` float tensor.
        boxes: ``(B, 4)`` ``xyxy`` in feature cells (continuous: cell ``i`` spans
            ``[i, i + 1)``).
        n: lattice side.

    Returns:
        ``(B, C, n, n)`` tensor (zero outside the map), differentiable in ``fmap``.
    """
    h, w = fmap.shape[-2:]
    t = (torch.arange(n, dtype=fmap.dtype, device=fmap.device) + 0.5) / n
    xs = boxes[:, 0:1] + t[None] * (boxes[:, 2:3] - boxes[:, 0:1])  # (B, n)
    ys = boxes[:, 1:2] + t[None] * (boxes[:, 3:4] - boxes[:, 1:2])
    gx = (2 * xs / w - 1)[:, None, :].expand(-1, n, n)
    gy = (2 * ys / h - 1)[:, :, None].expand(-1, n, n)
    grid = torch.stack([gx, gy], dim=-1)
    return F.grid_sample(fmap, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _region(box: Any, context: float) -> Any:
    """``box`` (``(B, 4)`` xyxy) enlarged ``context`` times about its centre."""
    c = (box[:, :2] + box[:, 2:]) / 2
    half = (box[:, 2:] - box[:, :2]) * context / 2
    return torch.cat([c - half, c + half], dim=1)


def pair_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of ``(B, K, 4)`` boxes with ``(B, 1, 4)`` boxes: ``(B, K)``."""
    lt = torch.maximum(a[..., :2], b[..., :2])
    rb = torch.minimum(a[..., 2:], b[..., 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_a = (a[..., 2:] - a[..., :2]).clamp(min=0).prod(-1)
    area_b = (b[..., 2:] - b[..., :2]).clamp(min=0).prod(-1)
    return inter / (area_a + area_b - inter).clamp(min=1e-9)


class RoloNet(nn.Module):
    """ROLO's recurrent regressor (see the module docstring; shapes on each method).

    Args:
        channels: channels of the detector's feature map (128 for YOLOX-Nano's P4).
        grid: lattice side of the region features and heatmaps.
        pool: side the reduced appearance features are pooled to.
        app: channels of the 1x1 reduction.
        fc: width of the input layer.
        hidden: LSTM state size.
        context: region = previous box enlarged this many times.
    """

    def __init__(
        self,
        channels: int = 128,
        grid: int = 9,
        pool: int = 3,
        app: int = 16,
        fc: int = 256,
        hidden: int = 128,
        context: float = 2.5,
    ) -> None:
        super().__init__()
        if grid % pool:
            raise ConfigError(f"rolo: grid {grid} must be a multiple of pool {pool}")
        self.channels, self.grid, self.pool, self.app = channels, grid, pool, app
        self.fc_width, self.hidden, self.context = fc, hidden, context
        self.reduce = nn.Conv2d(channels, app, 1)
        self.glob = nn.Linear(channels, 32)
        size = 2 * grid * grid + 6 + 2 + 2 * app * pool * pool + 32
        self._input_size = size
        self.inp = nn.Sequential(nn.Linear(size, fc), nn.ReLU(inplace=True))
        self.lstm = nn.LSTMCell(fc, hidden)
        self.out = nn.Linear(hidden, 4)
        with torch.no_grad():
            self.out.weight.zero_()
            self.out.bias.zero_()

    @property
    def input_size(self) -> int:
        """Length of one step's input vector."""
        return self._input_size

    def _appearance(self, local: Any) -> Any:
        a = F.relu(self.reduce(local))
        return F.adaptive_avg_pool2d(a, self.pool).flatten(1)

    def template(self, fmap: Any, scale: Any, box: Any) -> tuple[Any, Any]:
        """The target's template from the first frame.

        Args:
            fmap: ``(B, C, h, w)``; scale: ``(B,)`` cells per pixel; box: ``(B, 4)`` xyxy px.

        Returns:
            ``(vector (B, C) unit-norm mean feature inside the box, appearance (B, A))``.
        """
        cells = box * scale[:, None]
        vec = F.normalize(roi_grid(fmap, cells, 3).mean(dim=(2, 3)), dim=1)
        local = roi_grid(fmap, _region(cells, self.context), self.grid)
        return vec, self._appearance(local)

    def encode(self, fmap: Any, scale: Any, dets: Any, prev: Any, tpl: tuple[Any, Any]) -> Any:
        """One step's input ``(B, input_size)``.

        Args:
            fmap: ``(B, C, h, w)`` this frame's features; scale: ``(B,)`` cells per pixel.
            dets: ``(B, K, 5)`` this frame's detections (xyxy px, score; zero rows = none).
            prev: ``(B, 4)`` the previous estimate, xyxy px.
            tpl: :meth:`template`'s output.
        """
        n = self.grid
        region = _region(prev, self.context)  # px
        local = roi_grid(fmap, region * scale[:, None], n)
        sim = (F.normalize(local, dim=1) * tpl[0][:, :, None, None]).sum(1).flatten(1)
        t = (torch.arange(n, dtype=prev.dtype) + 0.5) / n
        rw, rh = region[:, 2] - region[:, 0], region[:, 3] - region[:, 1]
        xs = region[:, 0:1] + t[None] * rw[:, None]  # (B, n) cell centres, px
        ys = region[:, 1:2] + t[None] * rh[:, None]
        bx, score = dets[..., :4], dets[..., 4]
        inx = (xs[:, None, :] >= bx[..., 0:1]) & (xs[:, None, :] < bx[..., 2:3])  # (B, K, n)
        iny = (ys[:, None, :] >= bx[..., 1:2]) & (ys[:, None, :] < bx[..., 3:4])
        cover = (iny[..., :, None] & inx[..., None, :]).to(prev.dtype) * score[..., None, None]
        heat = cover.amax(dim=1).flatten(1) if dets.shape[1] else torch.zeros_like(sim)
        ious = pair_iou(bx, prev[:, None, :]) * (score > 0)
        best = ious.argmax(dim=1)
        bd = dets[torch.arange(len(dets)), best]  # (B, 5)
        rel = torch.stack(
            [(bd[:, 0] - region[:, 0]) / rw, (bd[:, 1] - region[:, 1]) / rh,
             (bd[:, 2] - region[:, 0]) / rw, (bd[:, 3] - region[:, 1]) / rh],
            dim=1,
        )  # fmt: skip
        has = (ious.amax(dim=1) > 0).to(prev.dtype)[:, None]
        det_vec = torch.cat([rel * has, bd[:, 4:5] * has, ious.amax(dim=1, keepdim=True)], 1)
        size = torch.log(((prev[:, 2:] - prev[:, :2]) * scale[:, None]).clamp(min=1e-3))
        glob = torch.relu(self.glob(fmap.mean(dim=(2, 3))))
        parts = [sim, heat, det_vec, size, self._appearance(local), tpl[1], glob]
        return torch.cat(parts, dim=1)

    def step(self, x: Any, state: tuple[Any, Any] | None) -> tuple[Any, tuple[Any, Any]]:
        """``(delta (B, 4), new state)`` from an input ``(B, input_size)`` and the LSTM state
        (``None``: zeros)."""
        h, c = self.lstm(self.inp(x), state)
        return self.out(h), (h, c)

    def decode(self, prev: Any, delta: Any) -> Any:
        """The new ``(B, 4)`` xyxy box: region centre + ``delta[:, :2]`` region sides, size
        ``prev`` size times ``exp(delta[:, 2:])`` (clamped to ``[-1, 1]`` in the exponent)."""
        c = (prev[:, :2] + prev[:, 2:]) / 2
        wh = prev[:, 2:] - prev[:, :2]
        nc = c + delta[:, :2] * wh * self.context
        nwh = wh * torch.exp(delta[:, 2:].clamp(-1.0, 1.0))
        return torch.cat([nc - nwh / 2, nc + nwh / 2], dim=1)

    def in_region(self, prev: Any, box: Any) -> Any:
        """``box`` (``(B, 4)`` xyxy px) in units of the region around ``prev`` (0..1 inside):
        the normalised coordinates of the L2 loss."""
        region = _region(prev, self.context)
        wh = (region[:, 2:] - region[:, :2]).repeat(1, 2)
        return (box - region[:, :2].repeat(1, 2)) / wh


def load_rolo(path: str | Path) -> Any:
    """A :class:`RoloNet` from a trackkit ``rolo`` weights file (eval mode).

    Raises:
        DataNotFoundError, FormatError: see :func:`trackkit.sot.nets.load_network`.
    """
    from trackkit.sot.nets import load_network

    net = load_network(
        path, "rolo", RoloNet, channels=128, grid=9, pool=3, app=16, fc=256, hidden=128,
        context=2.5,
    )  # fmt: skip
    return net.eval()
