"""A small OSNet-like network (Zhou et al., "Omni-Scale Feature Learning for Person
Re-Identification", ICCV 2019), sized for CPU training.

Omni-scale residual block: a 1x1 reduction to ``mid = out / 4`` channels, ``T`` streams of
1..T "lite 3x3" layers (1x1 linear conv + depthwise 3x3 + BN + ReLU; stream ``t`` has a
receptive field of ``2t+1``), a unified aggregation gate (one small MLP shared by the streams
giving channel-wise sigmoid weights from global pooling) that sums the gated streams, a 1x1
expansion with BN, and a residual connection. Stages are joined by 1x1 conv + 2x2 average
pooling; the last stage keeps its resolution. Global average pooling and a BNNeck follow.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from trackkit.reid.models.common import ReIDNet

__all__ = ["OSBlock", "OSNetReID"]


def _cbr(cin: int, cout: int, k: int = 1, stride: int = 1, relu: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, k // 2, bias=False)]
    layers.append(nn.BatchNorm2d(cout))
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class Lite3x3(nn.Sequential):
    """1x1 linear convolution then depthwise 3x3, BN, ReLU."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, 1, bias=False),
            nn.Conv2d(cout, cout, 3, 1, 1, groups=cout, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class AggregationGate(nn.Module):
    """Channel-wise gate ``sigmoid(fc2(relu(fc1(gap(x)))))`` shared by every stream."""

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        w = x.mean(dim=(2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(w))))


class OSBlock(nn.Module):
    """Omni-scale residual bottleneck with ``streams`` scales."""

    def __init__(self, cin: int, cout: int, streams: int = 4) -> None:
        super().__init__()
        mid = max(cout // 4, 8)
        self.reduce = _cbr(cin, mid)
        self.streams = nn.ModuleList(
            nn.Sequential(*[Lite3x3(mid, mid) for _ in range(t + 1)]) for t in range(streams)
        )
        self.gate = AggregationGate(mid)
        self.expand = _cbr(mid, cout, relu=False)
        self.shortcut: nn.Module = nn.Identity() if cin == cout else _cbr(cin, cout, relu=False)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        y = self.reduce(x)
        agg = self.gate(self.streams[0](y))
        for stream in self.streams[1:]:
            agg = agg + self.gate(stream(y))
        return self.relu(self.expand(agg) + self.shortcut(x))


class OSNetReID(ReIDNet):
    """OSNet-like ReID network.

    Args:
        widths: output channels of the stages; the embedding dimension is ``widths[-1]``.
        blocks: OS blocks per stage.
        stem: channels of the stride-2 3x3 stem (followed by a stride-2 max-pool).
        streams: scales ``T`` per block.
        input_size: ``(H, W)`` of the input crops.
        parts, pool, embedding: stripes pooled beside the global feature, the pooling
            (``"avg"`` or ``"gem"``) and the returned feature (``"centered"``, ``"pooled"``
            or ``"bnneck"``), as in :class:`~.common.ReIDNet`.
    """

    def __init__(
        self,
        widths: Sequence[int] = (64, 128, 192),
        blocks: Sequence[int] = (2, 2, 2),
        stem: int = 32,
        streams: int = 4,
        input_size: tuple[int, int] = (128, 48),
        parts: int = 0,
        pool: str = "avg",
        embedding: str = "centered",
    ) -> None:
        super().__init__(input_size, parts, pool, embedding)
        if len(widths) != len(blocks):
            raise ValueError("widths and blocks must have the same length")
        layers: list[nn.Module] = [_cbr(3, stem, 3, 2), nn.MaxPool2d(3, 2, 1)]
        cin = stem
        for s, (width, n) in enumerate(zip(widths, blocks)):
            for _ in range(n):
                layers.append(OSBlock(cin, width, streams))
                cin = width
            if s < len(widths) - 1:
                layers += [_cbr(cin, cin), nn.AvgPool2d(2, 2)]
        layers.append(_cbr(cin, cin))
        self.body = nn.Sequential(*layers)
        self.config = {
            "widths": list(widths),
            "blocks": list(blocks),
            "stem": stem,
            "streams": streams,
            "input_size": list(self.input_size),
        }
        self._finish(cin)
