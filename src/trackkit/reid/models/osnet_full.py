"""OSNet as published (Zhou, Yang, Cavallaro & Xiang, "Omni-Scale Feature Learning for Person
Re-Identification", ICCV 2019), in the parameter layout of the authors' torchreid releases, so
their state_dicts load as they are.

Architecture (paper Table 1; widths ``x1.0``: 64-256-384-512, ``x0.75``: 48-192-288-384,
``x0.5``: 32-128-192-256, ``x0.25``: 16-64-96-128):
- ``conv1``: 7x7 stride-2 conv + BN + ReLU, then a 3x3 stride-2 max-pool;
- ``conv2``, ``conv3``, ``conv4``: 2 omni-scale blocks each; ``conv2`` and ``conv3`` end with a
  1x1 conv + BN + ReLU and a 2x2 average pool (the transition), ``conv4`` keeps its size;
- ``conv5``: 1x1 conv + BN + ReLU; global average pooling;
- ``fc``: Linear(C, 512) + BatchNorm1d(512) + ReLU -> the 512-d feature.
An omni-scale block reduces to ``mid = out / 4`` channels (1x1), runs 4 streams of 1..4
"lite 3x3" layers (1x1 linear conv, depthwise 3x3, BN, ReLU), weights each stream channel-wise
with one shared aggregation gate (global pooling, 1x1 conv to ``mid / 16``, ReLU, 1x1 conv,
sigmoid), sums them, expands with a 1x1 conv + BN (no ReLU), adds the shortcut (identity or a
1x1 conv + BN) and applies ReLU.

Instance normalisation (``ibn=True``, OSNet-IBN: Zhou et al., "Learning Generalisable
Omni-Scale Representations for Person Re-Identification", TPAMI 2021, after Pan et al.,
"Two at Once: Enhancing Learning and Generalization Capacities via IBN-Net", ECCV 2018):
per-image, per-channel normalisation removes the image's colour and contrast statistics in
the low layers, where they are mostly camera appearance, and leaves the high layers' BN as
is. ``conv1``'s BatchNorm becomes an affine InstanceNorm (same parameter names
``conv1.bn.weight`` / ``.bias``; a release's ``conv1.bn`` affine starts it, its running
statistics are dropped), and the first block of ``conv2`` and of ``conv3`` gains an affine
InstanceNorm (``inorm``, weight 1 / bias 0) after the residual sum, before its ReLU;
``conv4`` is untouched.

Input convention of the releases: RGB, 256x128, ImageNet mean/std on [0, 1]. trackkit's
convention (BGR 0..255 in, normalised inside) is kept: :class:`OSNet` flips the channels and
normalises inside its forward pass, so embedders and ONNX exports still take raw BGR crops.
A ``--loss`` objective trains it like any :class:`~.common.ReIDNet`: ``feat`` is the 512-d
``fc`` output and a BNNeck follows it; ``embedding="pooled"`` returns exactly the released
models' eval-mode feature.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from trackkit.errors import FormatError
from trackkit.reid.models.common import ReIDNet

__all__ = ["OSNET_WIDTHS", "OSNet", "load_torchreid_state", "torchreid_width"]

#: stage channels of each published width (conv1, conv2, conv3, conv4)
OSNET_WIDTHS: dict[str, tuple[int, int, int, int]] = {
    "x1.0": (64, 256, 384, 512),
    "x0.75": (48, 192, 288, 384),
    "x0.5": (32, 128, 192, 256),
    "x0.25": (16, 64, 96, 128),
}

# ImageNet statistics in RGB order on the 0..255 scale (the releases' preprocessing)
_MEAN_RGB = (0.485 * 255, 0.456 * 255, 0.406 * 255)
_STD_RGB = (0.229 * 255, 0.224 * 255, 0.225 * 255)


class ConvBN(nn.Module):
    """Convolution (no bias) + BN (+ ReLU): parameters ``conv.*`` and ``bn.*``.

    ``instance=True`` puts an affine InstanceNorm in the BN's place (same names, no running
    statistics)."""

    def __init__(
        self,
        cin: int,
        cout: int,
        k: int = 1,
        stride: int = 1,
        relu: bool = True,
        instance: bool = False,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, bias=False)
        self.bn: nn.Module = (
            nn.InstanceNorm2d(cout, affine=True) if instance else nn.BatchNorm2d(cout)
        )
        self.relu = relu

    def forward(self, x: Tensor) -> Tensor:
        x = self.bn(self.conv(x))
        return torch.relu(x) if self.relu else x


class LightConv3x3(nn.Module):
    """1x1 linear conv, depthwise 3x3, BN, ReLU (``conv1``, ``conv2``, ``bn``)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, groups=cout, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.bn(self.conv2(self.conv1(x))))


class ChannelGate(nn.Module):
    """Unified aggregation gate: ``x * sigmoid(fc2(relu(fc1(gap(x)))))``."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        w = x.mean(dim=(2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(w))))


class OmniBlock(nn.Module):
    """Omni-scale residual block with 4 streams (``conv2a`` .. ``conv2d``); ``instance=True``
    adds an affine InstanceNorm (``inorm``) after the residual sum, before the ReLU."""

    def __init__(self, cin: int, cout: int, instance: bool = False) -> None:
        super().__init__()
        mid = cout // 4
        self.conv1 = ConvBN(cin, mid)
        self.conv2a = LightConv3x3(mid, mid)
        self.conv2b = nn.Sequential(*[LightConv3x3(mid, mid) for _ in range(2)])
        self.conv2c = nn.Sequential(*[LightConv3x3(mid, mid) for _ in range(3)])
        self.conv2d = nn.Sequential(*[LightConv3x3(mid, mid) for _ in range(4)])
        self.gate = ChannelGate(mid)
        self.conv3 = ConvBN(mid, cout, relu=False)
        self.downsample: nn.Module | None = None if cin == cout else ConvBN(cin, cout, relu=False)
        self.inorm: nn.Module | None = nn.InstanceNorm2d(cout, affine=True) if instance else None

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv1(x)
        agg = (
            self.gate(self.conv2a(y))
            + self.gate(self.conv2b(y))
            + self.gate(self.conv2c(y))
            + self.gate(self.conv2d(y))
        )
        short = x if self.downsample is None else self.downsample(x)
        out = self.conv3(agg) + short
        if self.inorm is not None:
            out = self.inorm(out)
        return torch.relu(out)


def _stage(cin: int, cout: int, blocks: int, reduce: bool, ibn: bool = False) -> nn.Sequential:
    """``blocks`` omni-scale blocks (the first with InstanceNorm when ``ibn``), then the
    transition when ``reduce``."""
    layers: list[nn.Module] = [OmniBlock(cin, cout, instance=ibn)]
    layers += [OmniBlock(cout, cout) for _ in range(blocks - 1)]
    if reduce:
        layers.append(nn.Sequential(ConvBN(cout, cout), nn.AvgPool2d(2, 2)))
    return nn.Sequential(*layers)


class _Backbone(nn.Module):
    """conv1 .. conv5 with the releases' parameter names (``ibn``: OSNet-IBN's InstanceNorm
    in ``conv1`` and in the first block of ``conv2`` and ``conv3``)."""

    def __init__(self, channels: tuple[int, int, int, int], ibn: bool = False) -> None:
        super().__init__()
        c0, c1, c2, c3 = channels
        self.conv1 = ConvBN(3, c0, 7, 2, instance=ibn)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.conv2 = _stage(c0, c1, 2, True, ibn)
        self.conv3 = _stage(c1, c2, 2, True, ibn)
        self.conv4 = _stage(c2, c3, 2, False)
        self.conv5 = ConvBN(c3, c3)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.conv1(x))
        return self.conv5(self.conv4(self.conv3(self.conv2(x))))


class OSNet(ReIDNet):
    """OSNet (ICCV 2019) at a published width, loading torchreid-layout weights.

    Args:
        width: ``"x1.0"``, ``"x0.75"``, ``"x0.5"`` or ``"x0.25"``.
        feature_dim: size of the ``fc`` feature (512 in every release).
        input_size: ``(H, W)``; the releases use ``(256, 128)``.
        parts, pool: as :class:`~.common.ReIDNet` (only ``parts=0`` and ``pool="avg"``, the
            published head).
        embedding: ``"pooled"`` (default: the 512-d ``fc`` feature, what the releases
            retrieve with), ``"centered"`` or ``"bnneck"``.
        ibn: OSNet-IBN's instance normalisation in the low layers (module docstring);
            recorded in ``config`` only when set, so files without it rebuild the plain net.

    Input ``(N, 3, H, W)`` float BGR 0..255; output ``(N, 512)`` float32.
    ``state_dict`` keys: ``body.conv1.conv.weight`` ... ``fc.0.weight`` ... and ``neck.*``; a
    torchreid file loads with :func:`load_torchreid_state`.
    """

    def __init__(
        self,
        width: str = "x0.25",
        feature_dim: int = 512,
        input_size: tuple[int, int] = (256, 128),
        parts: int = 0,
        pool: str = "avg",
        embedding: str = "pooled",
        ibn: bool = False,
    ) -> None:
        if width not in OSNET_WIDTHS:
            raise ValueError(f"width must be one of {', '.join(OSNET_WIDTHS)}, got {width!r}")
        if parts or pool != "avg":
            raise ValueError("OSNet has the published head only (parts=0, pool='avg')")
        super().__init__(input_size, 0, "avg", embedding)
        self.register_buffer("mean", torch.tensor(_MEAN_RGB).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD_RGB).view(1, 3, 1, 1), persistent=False)
        channels = OSNET_WIDTHS[width]
        self.body = _Backbone(channels, bool(ibn))
        self.fc = nn.Sequential(
            nn.Linear(channels[3], feature_dim), nn.BatchNorm1d(feature_dim), nn.ReLU(inplace=True)
        )
        self.config = {"width": width, "feature_dim": feature_dim, "input_size": list(input_size)}
        if ibn:
            self.config["ibn"] = True
        self._finish(feature_dim)  # BNNeck; initialises every layer (init_weights)

    def forward_train(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``x`` (N, 3, H, W) BGR 0..255 -> (``fc`` feature, BNNeck output), (N, 512)."""
        mean: Tensor = self.mean  # type: ignore[assignment]
        std: Tensor = self.std  # type: ignore[assignment]
        rgb = x.flip(1)  # BGR -> RGB
        maps = self.body((rgb - mean) / std)
        feat = self.fc(maps.mean(dim=(2, 3)))
        return feat, self.neck(feat)


def torchreid_width(state: Mapping[str, Tensor], where: str | Path = "") -> str:
    """The published width of a torchreid OSNet state_dict (from ``conv1.conv.weight``)."""
    key = _strip(state)
    w = key.get("conv1.conv.weight")
    if w is None or w.ndim != 4:
        raise FormatError(where, "not an OSNet state_dict (no 'conv1.conv.weight')")
    for name, channels in OSNET_WIDTHS.items():
        if int(w.shape[0]) == channels[0]:
            return name
    raise FormatError(where, f"OSNet conv1 has {w.shape[0]} channels: no published width")


def _strip(state: Mapping[str, Any]) -> dict[str, Any]:
    """Keys without a ``module.`` prefix (DataParallel) and without the classifier."""
    out = {}
    for k, v in state.items():
        k = k[7:] if k.startswith("module.") else k
        if not k.startswith("classifier."):
            out[k] = v
    return out


def load_torchreid_state(
    model: OSNet, state: Mapping[str, Tensor], where: str | Path = ""
) -> set[str]:
    """Copy a torchreid OSNet state_dict into ``model`` (classifier dropped; the BNNeck keeps
    its initial state). Raises :class:`FormatError` naming ``where`` on missing, unexpected or
    mis-shaped parameters.

    Into an ``ibn=True`` model a plain release loads as well: an InstanceNorm that replaces a
    BN takes that BN's weight and bias (its running statistics are dropped), and one the
    release lacks keeps weight 1 / bias 0. Returns the names of the model's state entries
    the file supplied."""
    width = torchreid_width(state, where)
    if width != model.config["width"]:
        raise FormatError(
            where, f"holds OSNet {width} weights, the model is OSNet {model.config['width']}"
        )
    mine = model.state_dict()
    src = _strip(state)
    mapped = {("fc." + k[3:] if k.startswith("fc.") else "body." + k): v for k, v in src.items()}
    inorms = [n for n, m in model.named_modules() if isinstance(m, nn.InstanceNorm2d)]
    stats = {
        f"{n}.{s}" for n in inorms for s in ("running_mean", "running_var", "num_batches_tracked")
    }
    own = {f"{n}.{p}" for n in inorms for p in ("weight", "bias")}
    mapped = {k: v for k, v in mapped.items() if k not in stats or k in mine}
    missing = [k for k in mine if not k.startswith("neck.") and k not in mapped and k not in own]
    extra = [k for k in mapped if k not in mine]
    if missing or extra:
        what = f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}"
        raise FormatError(where, f"not an OSNet {model.config['width']} state_dict: {what}")
    for k, v in mapped.items():
        if tuple(v.shape) != tuple(mine[k].shape):
            raise FormatError(
                where, f"{k}: shape {tuple(v.shape)} where OSNet expects {tuple(mine[k].shape)}"
            )
    model.load_state_dict({**mine, **mapped})
    return set(mapped)
