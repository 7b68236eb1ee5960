"""MDNet's networks (Nam & Han, CVPR 2016): shared layers, ``fc4-fc5``, one binary ``fc6`` head
per training sequence (*multi-domain* learning); tracking replaces the domain heads by one new
head and fine-tunes ``fc4-fc6`` online.

Two architectures, chosen by the weights file's ``backbone`` record:

- ``nanotrack_v3`` / ``nanotrack_v2`` (:class:`PretrainedMDNet`, the default): the conv layers
  are NanoTrack's MobileNetV3 pretrained for tracking (:class:`~trackkit.sot.nets.layered.
  LayeredBackbone`, block ``layer``; the last ``tuned`` blocks copied and fine-tuned offline,
  the rest frozen and not stored: the file records the backbone's sha256). As in RT-MDNet (Jung
  et al., ECCV 2018) the backbone runs *once per frame* on a square search region around the
  previous box (scaled so the box's ``sqrt(w h)`` is ``target_px`` pixels, side ``region_px``)
  and each candidate box's features are RoIAlign-pooled from that map to ``roi x roi`` cells
  (:func:`roi_align`), instead of one crop and one conv pass per candidate.
- ``scratch`` (:class:`MDNet`, the first trackkit MDNet, kept so its files still load): a small
  VGG-M-like conv tower trained from random initialisation on ``size x size`` crops of every
  candidate (``conv5x5/2 - BN - ReLU - pool - conv3x3 - BN - ReLU - pool - conv3x3 - ReLU -
  pool``).

Both answer the same protocol: ``prepare(img, box)`` computes what a frame needs (the region's
feature map, or the image), ``box_features(ctx, boxes (N, 4) xyxy float64)`` -> ``(N, D)``
float32, ``classify(features, k)`` -> ``(N, 2)`` logits (background, target) of head ``k``,
``feat_shape`` = ``(C, h, w)`` of the map the features flatten (VITAL's masks and the
reciprocative attention maps live on it).
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import nn

__all__ = ["MDNet", "PretrainedMDNet", "load_mdnet", "roi_align"]


def _fc(dim: int, fc: int) -> nn.Sequential:
    """``fc4 - ReLU - fc5 - ReLU`` with dropout before each (MDNet's, keys ``1``, ``4``)."""
    return nn.Sequential(
        nn.Dropout(0.5),
        nn.Linear(dim, fc),
        nn.ReLU(inplace=True),
        nn.Dropout(0.5),
        nn.Linear(fc, fc),
        nn.ReLU(inplace=True),
    )


class MDNet(nn.Module):
    """The from-scratch MDNet (``backbone="scratch"``): conv tower + fc4/fc5 + ``domains`` heads.

    Input: ``(B, 3, size, size)`` float32 BGR 0..255 crops (MDNet's context padding,
    :func:`~trackkit.sot.ops.samples.crop_boxes`).
    """

    backbone = "scratch"

    def __init__(self, domains: int = 1, size: int = 64, width: int = 24, fc: int = 256) -> None:
        super().__init__()
        if size % 16:
            raise ValueError("size must be a multiple of 16")
        self.size, self.width, self.fc_width = size, width, fc
        w = width
        self.conv = nn.Sequential(
            nn.Conv2d(3, w, 5, 2, 2),
            nn.BatchNorm2d(w),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, 1, 1),
            nn.BatchNorm2d(2 * w),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 3 * w, 3, 1, 1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.feat_dim = 3 * w * (size // 16) ** 2
        self.fc = _fc(self.feat_dim, fc)
        self.heads = nn.ModuleList([nn.Linear(fc, 2) for _ in range(domains)])

    @property
    def feat_shape(self) -> tuple[int, int, int]:
        """``(C, h, w)`` of the conv map that :meth:`features` flattens."""
        return (3 * self.width, self.size // 16, self.size // 16)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Conv features ``(B, feat_dim)`` of crops ``(B, 3, size, size)``."""
        return self.conv(x / 255.0 - 0.5).flatten(1)

    def prepare(self, img: NDArray[np.uint8], box: NDArray[np.float64]) -> Any:
        """The frame itself (every candidate is cropped on its own)."""
        return img

    def box_features(self, ctx: Any, boxes: NDArray[np.float64]) -> torch.Tensor:
        """``(N, feat_dim)`` features of ``boxes`` in the frame ``ctx``."""
        from trackkit.sot.ops.samples import crop_boxes

        return self.features(torch.from_numpy(crop_boxes(ctx, boxes, self.size)))

    def classify(self, feats: torch.Tensor, k: int = 0) -> torch.Tensor:
        """Logits ``(B, 2)`` of head ``k`` on conv features."""
        return self.heads[k](self.fc(feats))

    def forward(self, x: torch.Tensor, k: int = 0) -> torch.Tensor:
        return self.classify(self.features(x), k)

    def reset_heads(self, domains: int = 1) -> None:
        """Replace the domain heads by ``domains`` new ones (online tracking uses one)."""
        self.heads = nn.ModuleList([nn.Linear(self.fc_width, 2) for _ in range(domains)])

    def arch(self) -> dict[str, Any]:
        """The options recorded in a weights file."""
        return {"backbone": "scratch", "domains": len(self.heads), "size": self.size,
                "width": self.width, "fc": self.fc_width}  # fmt: skip


def roi_align(fmap: torch.Tensor, rois: torch.Tensor, out: int, samples: int = 2) -> torch.Tensor:
    """RoIAlign (He et al., Mask R-CNN 2017) of one feature map.

    Args:
        fmap: ``(1, C, H, W)`` float32.
        rois: ``(N, 4)`` float32 boxes ``x1, y1, x2, y2`` in normalised map coordinates
            (``-1`` is the left / top edge of the map, ``+1`` the right / bottom one).
        out: bins per side.
        samples: bilinear samples per bin and side (averaged).

    Returns:
        ``(N, C, out, out)``; parts of a box outside the map read zeros.
    """
    n, c = len(rois), fmap.shape[1]
    m = out * samples
    t = (torch.arange(m, dtype=fmap.dtype) + 0.5) / m  # (m,) in (0, 1)
    xs = rois[:, 0:1] + t[None] * (rois[:, 2:3] - rois[:, 0:1])  # (N, m)
    ys = rois[:, 1:2] + t[None] * (rois[:, 3:4] - rois[:, 1:2])
    grid = torch.stack(
        [xs[:, None, :].expand(n, m, m), ys[:, :, None].expand(n, m, m)], dim=-1
    )  # (N, m, m, 2): (x, y) at row i, column j
    pooled = F.grid_sample(
        fmap,
        grid.reshape(1, n * m, m, 2),
        mode="bilinear",
        padding_mode="zeros",
        align_corners=False,
    )  # fmt: skip  (1, C, N * m, m)
    if samples > 1:  # bins never straddle two boxes: m is a multiple of samples
        pooled = F.avg_pool2d(pooled, samples)
    return pooled.view(c, n, out, out).permute(1, 0, 2, 3)


class _Region:
    """A square search region of a frame: centre ``(cx, cy)`` and side in image pixels."""

    def __init__(self, cx: float, cy: float, side: float) -> None:
        self.cx, self.cy, self.side = cx, cy, side

    def normalised(self, boxes: NDArray[np.float64]) -> torch.Tensor:
        """``boxes`` (image ``xyxy``) in the region's ``[-1, 1]`` coordinates, float32."""
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        centre = np.array([self.cx, self.cy, self.cx, self.cy])
        return torch.from_numpy(((b - centre) * (2.0 / self.side)).astype(np.float32))

    def inside(self, boxes: NDArray[np.float64], margin: float = 1.0) -> NDArray[np.bool_]:
        """Boxes whose centre lies in the region (``margin``: fraction of the half side)."""
        cx = (boxes[:, 0] + boxes[:, 2]) / 2 - self.cx
        cy = (boxes[:, 1] + boxes[:, 3]) / 2 - self.cy
        half = self.side / 2 * margin
        return (np.abs(cx) < half) & (np.abs(cy) < half)


class PretrainedMDNet(nn.Module):
    """MDNet on a pretrained backbone, features RoIAlign-pooled from one map per frame.

    Args:
        domains: number of ``fc6`` heads.
        backbone: ``nanotrack_v3`` or ``nanotrack_v2``.
        layer: backbone block whose output is pooled (stride 16 for 4..9).
        tuned: the last ``tuned`` blocks up to ``layer`` are trainable copies (stored in the
            weights file); 0: the whole backbone is frozen.
        roi: RoIAlign bins per side (``feat_shape = (C, roi, roi)``).
        fc: fc4 / fc5 width.
        target_px: the previous box's ``sqrt(w h)`` in the resampled region, pixels.
        region_px: side of the resampled search region (a multiple of 16), pixels.
        feat_scale: the pooled features are multiplied by it (fc inputs near unit scale).
        backbone_weights: the NanoTrack state dict (``None``: the shared folder's).

    Attributes:
        record: ``{"backbone", "file", "sha256"}`` of the pretrained tensors.
    """

    def __init__(
        self,
        domains: int = 1,
        backbone: str = "nanotrack_v3",
        layer: int = 9,
        tuned: int = 0,
        roi: int = 5,
        fc: int = 256,
        target_px: int = 80,
        region_px: int = 320,
        feat_scale: float = 0.5,
        backbone_weights: str | Path | None = None,
    ) -> None:
        super().__init__()
        from trackkit.sot.nets.layered import LayeredBackbone, layer_channels

        if region_px % 16 or not 0 <= tuned <= layer or target_px >= region_px:
            raise ValueError("need region_px % 16 == 0, 0 <= tuned <= layer, target_px < region")
        self.backbone, self.layer, self.tuned_blocks = backbone, layer, tuned
        self.roi, self.fc_width, self.feat_scale = roi, fc, feat_scale
        self.target_px, self.region_px = target_px, region_px
        base = layer - tuned
        self._base = LayeredBackbone(backbone, (base,), backbone_weights)
        self.record = self._base.record
        blocks = list(self._base.net.features)[base + 1 : layer + 1]
        self.tuned = nn.ModuleList([copy.deepcopy(b) for b in blocks])
        for p in self.tuned.parameters():
            p.requires_grad_(True)
        self.channels = layer_channels(layer)
        self.feat_dim = self.channels * roi * roi
        self.fc = _fc(self.feat_dim, fc)
        self.heads = nn.ModuleList([nn.Linear(fc, 2) for _ in range(domains)])

    def train(self, mode: bool = True) -> PretrainedMDNet:
        super().train(mode)
        self.tuned.eval()  # batch-norm statistics stay the pretrained ones
        return self

    @property
    def feat_shape(self) -> tuple[int, int, int]:
        """``(C, roi, roi)`` of the pooled map that the features flatten."""
        return (self.channels, self.roi, self.roi)

    def region(self, box: NDArray[np.float64]) -> _Region:
        """The search region around ``box`` (``xyxy``)."""
        w, h = max(box[2] - box[0], 1.0), max(box[3] - box[1], 1.0)
        side = math.sqrt(w * h) * self.region_px / self.target_px
        return _Region((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, side)

    def feature_map(self, img: NDArray[np.uint8], region: _Region) -> torch.Tensor:
        """``(1, C, region_px / 16, region_px / 16)`` map of ``region`` (gradients flow into
        the tuned blocks only)."""
        from trackkit.sot.ops.crops import crop_region

        s = self.region_px
        patch = crop_region(img, (region.cx, region.cy), (region.side, region.side), (s, s), 128.0)
        x = torch.from_numpy(np.ascontiguousarray(patch.transpose(2, 0, 1), np.float32))[None]
        with torch.no_grad():
            fmap = self._base.forward(x)[0]
        for block in self.tuned:
            fmap = block(fmap)
        return fmap

    def prepare(self, img: NDArray[np.uint8], box: NDArray[np.float64]) -> tuple[Any, _Region]:
        """``(feature map, region)`` of the frame, centred on ``box``."""
        region = self.region(box)
        return self.feature_map(img, region), region

    def box_features(self, ctx: tuple[Any, _Region], boxes: NDArray[np.float64]) -> torch.Tensor:
        """``(N, C * roi * roi)`` pooled features of ``boxes`` (image ``xyxy``)."""
        fmap, region = ctx
        pooled = roi_align(fmap, region.normalised(boxes), self.roi, samples=1)
        return pooled.flatten(1) * self.feat_scale

    def classify(self, feats: torch.Tensor, k: int = 0) -> torch.Tensor:
        """Logits ``(B, 2)`` of head ``k`` on pooled features."""
        return self.heads[k](self.fc(feats))

    def reset_heads(self, domains: int = 1) -> None:
        """Replace the domain heads by ``domains`` new ones (online tracking uses one)."""
        self.heads = nn.ModuleList([nn.Linear(self.fc_width, 2) for _ in range(domains)])

    def arch(self) -> dict[str, Any]:
        """The options recorded in a weights file."""
        return {"backbone": self.backbone, "domains": len(self.heads), "layer": self.layer,
                "tuned": self.tuned_blocks, "roi": self.roi, "fc": self.fc_width,
                "target_px": self.target_px, "region_px": self.region_px,
                "feat_scale": self.feat_scale}  # fmt: skip


def load_mdnet(path: str | Path, backbone_weights: str | Path | None = None) -> Any:
    """An MDNet (either architecture, by the file's ``backbone`` record; files without one are
    the from-scratch network) from a trackkit weights file, in eval mode.

    Raises:
        DataNotFoundError: the file (or, for a pretrained one, the backbone's state dict)
            does not exist.
        FormatError: it does not hold MDNet weights that fit, or its backbone sha256 is not
            the one of ``backbone_weights``.
    """
    from functools import partial

    from trackkit.errors import FormatError
    from trackkit.sot.nets import load_network
    from trackkit.sot.nets.weights import load_weights

    arch, _ = load_weights(path, "mdnet")
    backbone = str(arch.get("backbone", "scratch"))
    if backbone == "scratch":
        return load_network(path, "mdnet", MDNet, domains=1, size=64, width=24, fc=256).eval()
    from trackkit.sot.nets.backbones import BACKBONES
    from trackkit.training.weights import read_weights

    if backbone not in BACKBONES:
        raise FormatError(
            path, f"mdnet backbone {backbone!r}: valid: scratch, {', '.join(BACKBONES)}"
        )
    build = partial(PretrainedMDNet, backbone_weights=backbone_weights)
    net: PretrainedMDNet = load_network(
        path, "mdnet", build, domains=1, backbone=backbone, layer=9, tuned=0, roi=5, fc=256,
        target_px=80, region_px=320, feat_scale=0.5,
    )  # fmt: skip
    want = (read_weights(path).trained_on or {}).get("pretrained", {}).get("sha256")
    if want and want != net.record["sha256"]:
        raise FormatError(
            path,
            f"trained on the {backbone} backbone with sha256 {str(want)[:12]}..., but "
            f"{net.record['file']} has {net.record['sha256'][:12]}...: pass the backbone file "
            "it was trained on (backbone_weights=PATH)",
        )
    return net.eval()
