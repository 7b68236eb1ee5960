"""trackkit's own SiamRPN network: a pretrained NanoTrack backbone + an anchor-based RPN head.

SiamRPN (Li et al., CVPR 2018) puts a region proposal network on a Siamese embedding: every
cell of the correlation map holds ``K`` anchors (one scale, aspect ratios :data:`RATIOS`), a
2-way classification (background / target, softmax) and 4 box deltas per anchor
(:func:`encode`: ``dx = (x - x_a) / w_a``, ``dy = (y - y_a) / h_a``, ``log(w / w_a)``,
``log(h / h_a)``). Here:

- the embedding is NanoTrack's MobileNetV3 backbone (:mod:`trackkit.sot.nets.backbones`, stride
  16, BGR 0..255 in): a 127x127 exemplar gives ``zf (B, C, 8, 8)``, a 255x255 search region
  ``xf (B, C, 16, 16)`` (``C`` = 48 for v2);
- :class:`RPNHead` adjusts both with a 1x1 conv + BN to ``channels``, correlates them
  pixel-wise (each of the 64 exemplar positions gives one channel of a ``(B, 64, 16, 16)``
  map: ``<z[:, k], x[:, p]> / sqrt(channels)``, + BN), then two towers of ``tower``
  depth-wise-separable blocks and 1x1 convs to ``2K`` logits and ``4K`` deltas;
- anchors (:func:`make_anchors`, ``(K, n, n, 4)`` as ``(cx, cy, w, h)`` in search-crop pixels
  relative to the crop centre): cell ``(i, j)`` is centred at ``((j - n//2) s, (i - n//2) s)``
  (``s`` = 16, the centre of the backbone's output cell), side :data:`ANCHOR_SIZE` (the
  exemplar crop's target size: context 0.5 makes a square target 63.5 of 127 pixels).

:class:`OwnRPNNet` runs a trained :class:`SiamRPNOwn` behind the :class:`~trackkit.sot.nets.
nanotrack.NanoTrackNet` interface of the ``siamrpn`` tracker: the backbone and the head are
exported to ONNX in memory and run by onnxruntime (cached per weights file and thread count),
and each cell reports its best anchor: foreground probability and the distances ``(l, t, r, b)``
of the decoded box from the cell's point.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from trackkit.sot.nets.nanotrack import NanoTrackNet, _to_blob
from trackkit.sot.nets.nanotrack_torch import separable_tower

__all__ = [
    "ANCHOR_SIZE",
    "ARCH",
    "RATIOS",
    "OwnRPNNet",
    "RPNHead",
    "SiamRPNOwn",
    "decode",
    "encode",
    "iou_cxcywh",
    "is_own_weights",
    "load_siamrpn_own",
    "make_anchors",
]

#: the weights' ``arch`` (``trackkit sot train --model siamrpn``)
ARCH = "siamrpn-own"
#: anchor aspect ratios ``h / w`` (SiamRPN's five)
RATIOS = (0.33, 0.5, 1.0, 2.0, 3.0)
#: anchor side ``sqrt(w h)`` in search-crop pixels
ANCHOR_SIZE = 64.0
STRIDE = 16


def make_anchors(
    n: int = 16, stride: int = STRIDE, size: float = ANCHOR_SIZE, ratios: tuple[float, ...] = RATIOS
) -> NDArray[np.float64]:
    """Anchors ``(K, n, n, 4)`` ``(cx, cy, w, h)``, crop pixels relative to the crop centre."""
    pts = (np.arange(n) - n // 2) * float(stride)
    out = np.zeros((len(ratios), n, n, 4))
    for k, r in enumerate(ratios):
        out[k, :, :, 0] = pts[None, :]
        out[k, :, :, 1] = pts[:, None]
        out[k, :, :, 2] = size / np.sqrt(r)
        out[k, :, :, 3] = size * np.sqrt(r)
    return out


def encode(anchors: NDArray[np.float64], box: NDArray[np.float64]) -> NDArray[np.float64]:
    """Deltas ``(..., 4)`` ``(dx, dy, log dw, log dh)`` of ``cxcywh`` ``box (4,)`` from
    ``cxcywh`` ``anchors (..., 4)``."""
    a = anchors
    return np.stack(
        [
            (box[0] - a[..., 0]) / a[..., 2],
            (box[1] - a[..., 1]) / a[..., 3],
            np.log(box[2] / a[..., 2]),
            np.log(box[3] / a[..., 3]),
        ],
        axis=-1,
    )


def decode(anchors: NDArray[np.float64], deltas: NDArray[np.float64]) -> NDArray[np.float64]:
    """``cxcywh`` boxes ``(..., 4)`` of ``deltas (..., 4)`` on ``anchors (..., 4)``
    (the inverse of :func:`encode`; ``log`` sizes clipped to +-4)."""
    a, d = anchors, deltas
    return np.stack(
        [
            a[..., 0] + d[..., 0] * a[..., 2],
            a[..., 1] + d[..., 1] * a[..., 3],
            a[..., 2] * np.exp(np.clip(d[..., 2], -4, 4)),
            a[..., 3] * np.exp(np.clip(d[..., 3], -4, 4)),
        ],
        axis=-1,
    )


def iou_cxcywh(anchors: NDArray[np.float64], box: NDArray[np.float64]) -> NDArray[np.float64]:
    """IoU ``(...)`` of ``cxcywh`` ``anchors (..., 4)`` with one ``cxcywh`` ``box (4,)``."""
    a = anchors
    ix = np.minimum(a[..., 0] + a[..., 2] / 2, box[0] + box[2] / 2) - np.maximum(
        a[..., 0] - a[..., 2] / 2, box[0] - box[2] / 2
    )
    iy = np.minimum(a[..., 1] + a[..., 3] / 2, box[1] + box[3] / 2) - np.maximum(
        a[..., 1] - a[..., 3] / 2, box[1] - box[3] / 2
    )
    inter = np.clip(ix, 0, None) * np.clip(iy, 0, None)
    union = a[..., 2] * a[..., 3] + box[2] * box[3] - inter
    out: NDArray[np.float64] = inter / np.maximum(union, 1e-12)
    return out


def _adjust(cin: int, c: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, c, 1, bias=False), nn.BatchNorm2d(c))


def _tower(cin: int, c: int, n: int) -> nn.Sequential:
    return separable_tower(cin, c, n, act=nn.ReLU)


class RPNHead(nn.Module):
    """SiamRPN head on pixel-wise correlation: ``(zf (B, C, 8, 8), xf (B, C, n, n))`` ->
    ``(cls (B, 2K, n, n) logits, channel 2k + c = anchor k class c (1: target),
    reg (B, 4K, n, n), channel 4k + d = delta d of anchor k)``.

    Args:
        in_channels: ``C`` of the backbone.
        channels: width of the adjust layers and the towers.
        tower: depth-wise-separable blocks per tower.
        anchors: ``K``.
    """

    def __init__(
        self, in_channels: int = 48, channels: int = 64, tower: int = 2, anchors: int = 5
    ) -> None:
        super().__init__()
        self.channels = channels
        self.anchors = anchors
        self.adj_z = _adjust(in_channels, channels)
        self.adj_x = _adjust(in_channels, channels)
        self.corr_bn = nn.BatchNorm2d(64)
        self.cls_tower = _tower(64, channels, tower)
        self.reg_tower = _tower(64, channels, tower)
        self.cls = nn.Conv2d(channels, 2 * anchors, 1)
        self.reg = nn.Conv2d(channels, 4 * anchors, 1)
        nn.init.normal_(self.reg.weight, std=1e-3)
        if self.reg.bias is not None:
            nn.init.zeros_(self.reg.bias)

    def correlate(self, zf: torch.Tensor, xf: torch.Tensor) -> torch.Tensor:
        """Pixel-wise correlation ``(B, hz wz, n, n)`` of the adjusted features (+ BN)."""
        k = self.adj_z(zf).flatten(2)  # (B, c, 64)
        s = self.adj_x(xf)
        b, c, h, w = s.shape
        out = torch.bmm(k.transpose(1, 2), s.flatten(2)).reshape(b, -1, h, w)
        return self.corr_bn(out * (1.0 / float(np.sqrt(c))))

    def forward(self, zf: torch.Tensor, xf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        corr = self.correlate(zf, xf)
        return self.cls(self.cls_tower(corr)), self.reg(self.reg_tower(corr))


class SiamRPNOwn(nn.Module):
    """Pretrained NanoTrack backbone + :class:`RPNHead`: ``(z (B, 3, 127, 127), x (B, 3, 255,
    255))`` float32 BGR 0..255 -> ``(cls (B, 2K, 16, 16), reg (B, 4K, 16, 16))``.

    Args:
        backbone: a name of :data:`trackkit.sot.nets.backbones.BACKBONES`.
        channels, tower: :class:`RPNHead`'s.
        anchor_size: the anchors' side (crop pixels).
    """

    def __init__(
        self,
        backbone: str = "nanotrack_v2",
        channels: int = 64,
        tower: int = 2,
        anchor_size: float = ANCHOR_SIZE,
    ) -> None:
        super().__init__()
        from trackkit.sot.nets.backbones import build_backbone

        self.backbone_name = backbone
        self.anchor_size = anchor_size
        self.backbone = build_backbone(backbone)
        self.head = RPNHead(self.backbone.out_channels, channels, tower, len(RATIOS))

    def arch_config(self) -> dict[str, Any]:
        """The constructor options (the weights file's ``config``)."""
        return {
            "backbone": self.backbone_name,
            "channels": int(self.head.channels),
            "tower": int(len(self.head.cls_tower) // 4),
            "anchor_size": float(self.anchor_size),
        }

    def train(self, mode: bool = True) -> SiamRPNOwn:
        from trackkit.sot.nets.backbones import keep_frozen_eval

        super().train(mode)
        keep_frozen_eval(self.backbone)  # fixed blocks keep their batch-norm statistics
        return self

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(self.backbone(z), self.backbone(x))


def load_siamrpn_own(path: str | Path) -> SiamRPNOwn:
    """A :class:`SiamRPNOwn` (eval mode) from a trackkit weights file of arch :data:`ARCH`.

    Raises:
        DataNotFoundError: the file does not exist.
        FormatError: it does not hold ``siamrpn-own`` weights that fit.
    """
    from trackkit.sot.nets import load_network

    net = load_network(
        path, ARCH, SiamRPNOwn, backbone="nanotrack_v2", channels=64, tower=2,
        anchor_size=ANCHOR_SIZE,
    )  # fmt: skip
    return net.eval()  # type: ignore[no-any-return]


def is_own_weights(path: Path) -> bool:
    """Whether ``path`` is a trackkit weights file of arch :data:`ARCH` (cheap: reads it)."""
    if not path.is_file() or path.suffix not in (".pt", ".pth"):
        return False
    from trackkit.errors import FormatError
    from trackkit.training.io import load_trusted

    try:
        blob = load_trusted(path, "weights")
    except FormatError:
        return False
    return isinstance(blob, dict) and blob.get("arch") == ARCH


_SESSIONS: dict[tuple[str, int, int, int], tuple[Any, Any, dict[str, Any]]] = {}
_LOCK = threading.Lock()


def _export(
    module: nn.Module, inputs: tuple[torch.Tensor, ...], names: list[str], dyn: bool
) -> bytes:
    import warnings

    buf = io.BytesIO()
    axes = {names[0]: {2: "h", 3: "w"}} if dyn else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, inputs, buf,  # type: ignore[arg-type]
            dynamo=False, input_names=names, dynamic_axes=axes,
            opset_version=17,
        )  # fmt: skip
    return buf.getvalue()


def _sessions(path: Path, threads: int) -> tuple[Any, Any, dict[str, Any]]:
    """onnxruntime sessions of the backbone and the head of the weights at ``path`` (exported
    once per file version and thread count) and the network's config."""
    import onnxruntime as ort

    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, threads)
    with _LOCK:
        if key in _SESSIONS:
            return _SESSIONS[key]
        net = load_siamrpn_own(path)
        c = net.backbone.out_channels
        with torch.no_grad():
            bb = _export(net.backbone, (torch.zeros(1, 3, 255, 255),), ["x"], True)
            hd = _export(net.head, (torch.zeros(1, c, 8, 8), torch.zeros(1, c, 16, 16)),
                         ["zf", "xf"], False)  # fmt: skip
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        prov = ["CPUExecutionProvider"]
        out = (
            ort.InferenceSession(bb, sess_options=opts, providers=prov),
            ort.InferenceSession(hd, sess_options=opts, providers=prov),
            net.arch_config(),
        )
        _SESSIONS[key] = out
        return out


class OwnRPNNet(NanoTrackNet):
    """A trained :class:`SiamRPNOwn` as the ``siamrpn`` tracker's network (ONNX in memory).

    ``head`` returns, per cell, the foreground probability of its best anchor (softmax over
    the two classes) and that anchor's decoded box as distances ``(l, t, r, b)`` from the
    cell's point ``((j - n//2) 16, (i - n//2) 16)`` (search-crop pixels).
    """

    version = "own"
    score_size = 16

    def __init__(self, path: str | Path, threads: int = 1) -> None:
        self.backbone, self.head_sess, cfg = _sessions(Path(path), threads)
        self.anchors = make_anchors(self.score_size, STRIDE, float(cfg["anchor_size"]))
        self._k = len(RATIOS)

    def embed(self, crop: NDArray[np.uint8]) -> NDArray[np.float32]:
        out: NDArray[np.float32] = self.backbone.run(None, {"x": _to_blob(crop)})[0]
        return out

    def head(
        self, zf: NDArray[np.float32], xf: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        cls, reg = self.head_sess.run(None, {"zf": zf, "xf": xf})
        n = cls.shape[-1]
        logits = cls[0].reshape(self._k, 2, n, n)
        fg = 1.0 / (1.0 + np.exp(-(logits[:, 1] - logits[:, 0]).astype(np.float64)))  # (K,n,n)
        best = np.argmax(fg, axis=0)  # (n, n)
        score = np.take_along_axis(fg, best[None], 0)[0]
        deltas = reg[0].reshape(self._k, 4, n, n).transpose(0, 2, 3, 1).astype(np.float64)
        d = np.take_along_axis(deltas, best[None, :, :, None], 0)[0]
        a = np.take_along_axis(self.anchors, best[None, :, :, None], 0)[0]
        box = decode(a, d)  # (n, n, 4) cxcywh
        px = (np.arange(n) - n // 2) * float(STRIDE)
        ltrb = np.stack(
            [
                px[None, :] - (box[..., 0] - box[..., 2] / 2),
                px[:, None] - (box[..., 1] - box[..., 3] / 2),
                box[..., 0] + box[..., 2] / 2 - px[None, :],
                box[..., 1] + box[..., 3] / 2 - px[:, None],
            ]
        )
        return score.astype(np.float32), ltrb.astype(np.float32)
