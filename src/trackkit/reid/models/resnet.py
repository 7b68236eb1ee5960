"""A ResNet-style ReID backbone sized for CPU training (He et al., CVPR 2016).

Basic residual blocks (two 3x3 convolutions) in four stages; the last stage keeps stride 1
("last stride 1", Sun et al. PCB / Luo et al. BoT) so the final map keeps spatial detail for
pooling; a BNNeck sits after global average pooling (:class:`~.common.ReIDNet`). The stem is
a stride-2 3x3 convolution and a stride-2 max-pool, so a 128x48 input gives 32x12 maps in
stage 1 and 8x3 maps in stage 4.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from trackkit.reid.models.common import ReIDNet

__all__ = ["IBN", "BasicBlock", "ResNetReID"]


class IBN(nn.Module):
    """Instance-batch normalisation (IBN-a, Pan et al., ECCV 2018): the first half of the
    channels is instance-normalised (affine), the rest batch-normalised; instance
    normalisation removes per-image appearance such as a camera's colour cast."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.n_in = channels // 2
        self.inorm = nn.InstanceNorm2d(self.n_in, affine=True)
        self.bnorm = nn.BatchNorm2d(channels - self.n_in)

    def forward(self, x: Tensor) -> Tensor:
        a, b = torch.split(x, [self.n_in, x.shape[1] - self.n_in], dim=1)
        return torch.cat([self.inorm(a.contiguous()), self.bnorm(b.contiguous())], dim=1)


def _conv_bn(
    cin: int, cout: int, k: int, stride: int, relu: bool, ibn: bool = False
) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, stride, k // 2, bias=False),
        IBN(cout) if ibn else nn.BatchNorm2d(cout),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """``relu(bn(conv3x3(relu(bn(conv3x3(x))))) + shortcut(x))``."""

    def __init__(self, cin: int, cout: int, stride: int, ibn: bool = False) -> None:
        super().__init__()
        self.conv1 = _conv_bn(cin, cout, 3, stride, relu=True, ibn=ibn)
        self.conv2 = _conv_bn(cout, cout, 3, 1, relu=False)
        self.shortcut: nn.Module = (
            nn.Identity() if cin == cout and stride == 1 else _conv_bn(cin, cout, 1, stride, False)
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.conv2(self.conv1(x)) + self.shortcut(x))


class ResNetReID(ReIDNet):
    """ResNet-style ReID network with last stride 1 and BNNeck.

    Args:
        widths: channels of the four stages; the embedding dimension is ``widths[-1]``.
        blocks: number of basic blocks per stage.
        strides: first-block stride per stage (last = 1: "last stride 1").
        stem: channels of the stem convolution.
        input_size: ``(H, W)`` of the input crops.
        ibn: IBN-a normalisation (:class:`IBN`) in the first convolution of every block
            except the last stage's (better generalisation to unseen cameras/datasets).
        parts: horizontal stripes pooled beside the global feature (:class:`ReIDNet`).
        pool: ``"avg"`` or ``"gem"`` (generalised mean, :class:`ReIDNet`).
        embedding: what ``model(x)`` returns, ``"centered"``, ``"pooled"`` or ``"bnneck"``
            (:class:`ReIDNet`).
    """

    def __init__(
        self,
        widths: Sequence[int] = (32, 64, 128, 256),
        blocks: Sequence[int] = (2, 2, 2, 1),
        strides: Sequence[int] = (1, 2, 2, 1),
        stem: int = 32,
        input_size: tuple[int, int] = (128, 48),
        ibn: bool = False,
        parts: int = 0,
        pool: str = "avg",
        embedding: str = "centered",
    ) -> None:
        super().__init__(input_size, parts, pool, embedding)
        if not (len(widths) == len(blocks) == len(strides)):
            raise ValueError("widths, blocks and strides must have the same length")
        layers: list[nn.Module] = [_conv_bn(3, stem, 3, 2, True), nn.MaxPool2d(3, 2, 1)]
        cin = stem
        for s, (width, n, stride) in enumerate(zip(widths, blocks, strides)):
            for j in range(n):
                use_ibn = ibn and s < len(widths) - 1
                layers.append(BasicBlock(cin, width, stride if j == 0 else 1, use_ibn))
                cin = width
        self.body = nn.Sequential(*layers)
        self.config = {
            "widths": list(widths),
            "blocks": list(blocks),
            "strides": list(strides),
            "stem": stem,
            "input_size": list(self.input_size),
            "ibn": ibn,
        }
        self._finish(cin)
