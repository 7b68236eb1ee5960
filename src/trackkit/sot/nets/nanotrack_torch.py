"""trackkit's PyTorch modules for the NanoTrack v2 / v3 networks (load the released state_dicts).

Backbone: a MobileNetV3 (Howard et al. 2019) cut at stride 16 — a 3x3/2 stem (16 channels,
h-swish) and inverted-residual blocks ``(expansion, out, kernel, stride, SE, activation)``; a
block without expansion is ``dw - BN - act - SE - pw - BN``, otherwise
``pw - BN - act - dw - BN - SE - act - pw - BN``; the squeeze-excitation is
``avgpool - fc - ReLU - fc - h-sigmoid``. v3 adds a block to 96 channels.

Head (SiamBAN-style, anchor-free): the exemplar features ``zf (B, C, 8, 8)`` and search features
``xf (B, C, 16, 16)`` each pass a 1x1 conv + BN, then

- pixel-wise correlation: every exemplar position ``k`` (64 of them) gives one output channel,
  ``out[k, p] = <zf[:, k], xf[:, p]>``, followed by a channel attention ``x sigmoid(fc(ReLU(
  fc(avgpool x))))``; in v3 then ``dw 2x2 - BN - ReLU6 - 1x1 - BN`` (16 -> 15 cells);
- v3 also: depth-wise correlation of the central 4x4 exemplar features (padding 1), concatenated
  with the pixel-wise branch and reduced by a 1x1 conv to 96 channels;
- towers of depth-wise-separable blocks, then 1x1 convs to 2 class logits and 4 distances
  ``exp(.)`` = ``(l, t, r, b)`` in search-crop pixels.

Layer names follow the released state_dicts so that they load directly.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from trackkit.errors import DataNotFoundError, FormatError

__all__ = ["NanoTrackModel", "load_nanotrack_state_dict"]

# (expansion, out, kernel, stride, squeeze-excitation, h-swish)
_BLOCKS = [
    (16, 16, 3, 2, True, False),
    (72, 24, 3, 2, False, False),
    (88, 24, 3, 1, False, False),
    (96, 40, 5, 2, True, True),
    (240, 40, 5, 1, True, True),
    (240, 40, 5, 1, True, True),
    (120, 48, 5, 1, True, True),
    (144, 48, 5, 1, True, True),
]
_V3_EXTRA = (288, 96, 5, 1, True, True)


def _act(hswish: bool) -> nn.Module:
    return nn.Hardswish() if hswish else nn.ReLU(inplace=True)


class SqueezeExcite(nn.Module):
    """``x * h_sigmoid(fc(ReLU(fc(avgpool(x)))))`` with hidden width ``ceil8(C / 4)``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        hidden = max(8, int(channels / 4 + 4) // 8 * 8)
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels),
            nn.Hardsigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.fc(x.mean(dim=(2, 3)))
        return x * w[:, :, None, None]


class InvertedResidual(nn.Module):
    """MobileNetV3 block; residual when ``stride == 1`` and ``inp == out``."""

    def __init__(self, inp: int, exp: int, out: int, k: int, s: int, se: bool, hs: bool) -> None:
        super().__init__()
        self.residual = s == 1 and inp == out
        se_layer: nn.Module = SqueezeExcite(exp) if se else nn.Identity()
        dw = nn.Conv2d(exp, exp, k, s, k // 2, groups=exp, bias=False)
        pw_out = nn.Conv2d(exp, out, 1, bias=False)
        if inp == exp:
            self.conv = nn.Sequential(
                dw, nn.BatchNorm2d(exp), _act(hs), se_layer, pw_out, nn.BatchNorm2d(out)
            )
        else:
            self.conv = nn.Sequential(
                nn.Conv2d(inp, exp, 1, bias=False),
                nn.BatchNorm2d(exp),
                _act(hs),
                dw,
                nn.BatchNorm2d(exp),
                se_layer,
                _act(hs),
                pw_out,
                nn.BatchNorm2d(out),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return x + y if self.residual else y


class Backbone(nn.Module):
    """NanoTrack's MobileNetV3 backbone: ``(B, 3, H, W)`` BGR 0..255 -> ``(B, C, H/16, W/16)``."""

    def __init__(self, version: str) -> None:
        super().__init__()
        blocks = _BLOCKS + ([_V3_EXTRA] if version == "v3" else [])
        layers: list[nn.Module] = [
            nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.Hardswish())
        ]
        inp = 16
        for exp, out, k, s, se, hs in blocks:
            layers.append(InvertedResidual(inp, exp, out, k, s, se, hs))
            inp = out
        self.features = nn.Sequential(*layers)
        self.out_channels = inp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


def _conv_bn(c: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c, c, 1), nn.BatchNorm2d(c))


class ChannelAttention(nn.Module):
    """``x * sigmoid(fc2(ReLU(fc1(avgpool x))))`` (1x1 convs)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(c, c, 1)
        self.fc2 = nn.Conv2d(c, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = x.mean(dim=(2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(a))))


class PixelwiseCorr(nn.Module):
    """Pixel-wise correlation + channel attention (+ v3's 2x2 reduction)."""

    def __init__(self, c: int, positions: int = 64, reduce: bool = False) -> None:
        super().__init__()
        self.conv_kernel = _conv_bn(c)
        self.conv_search = _conv_bn(c)
        self.CA_layer = ChannelAttention(positions)
        self.conv: nn.Module | None = None
        if reduce:
            self.conv = nn.Sequential(
                nn.Conv2d(positions, positions, 2, groups=positions, bias=False),
                nn.BatchNorm2d(positions),
                nn.ReLU6(inplace=True),
                nn.Conv2d(positions, positions, 1),
                nn.BatchNorm2d(positions),
            )

    def forward(self, zf: torch.Tensor, xf: torch.Tensor) -> torch.Tensor:
        k = self.conv_kernel(zf).flatten(2)  # (B, C, 64)
        s = self.conv_search(xf)
        b, c, h, w = s.shape
        out = torch.bmm(k.transpose(1, 2), s.flatten(2)).reshape(b, -1, h, w)
        out = self.CA_layer(out)
        return self.conv(out) if self.conv is not None else out


class DepthwiseCorr(nn.Module):
    """Depth-wise correlation of the central 4x4 exemplar features (padding 1)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv_kernel = _conv_bn(c)
        self.conv_search = _conv_bn(c)

    def forward(self, zf: torch.Tensor, xf: torch.Tensor) -> torch.Tensor:
        k = self.conv_kernel(zf[:, :, 2:6, 2:6])
        s = self.conv_search(xf)
        b, c, h, w = s.shape
        out = F.conv2d(
            s.reshape(1, b * c, h, w), k.reshape(b * c, 1, 4, 4), padding=1, groups=b * c
        )
        return out.reshape(b, c, out.shape[-2], out.shape[-1])


def separable_tower(
    cin: int, c: int = 96, n: int = 6, act: type[nn.Module] = nn.ReLU6
) -> nn.Sequential:
    """``n`` depthwise-separable blocks (depthwise 3x3, pointwise 1x1 to ``c`` channels,
    batch norm, ``act``): NanoTrack v2's head towers and the own SiamRPN head's
    (:mod:`trackkit.sot.nets.rpn_head`). ``(B, cin, h, w)`` -> ``(B, c, h, w)``."""
    layers: list[nn.Module] = []
    for i in range(n):
        ci = cin if i == 0 else c
        layers += [
            nn.Conv2d(ci, ci, 3, 1, 1, groups=ci, bias=False),
            nn.Conv2d(ci, c, 1, bias=False),
            nn.BatchNorm2d(c),
            act(inplace=True),
        ]
    return nn.Sequential(*layers)


def _tower_v3(c: int = 96, n: int = 6) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(n):
        layers += [
            nn.Conv2d(c, c, 3, 1, 1, groups=c, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU6(inplace=True),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
        ]
    return nn.Sequential(*layers)


class Head(nn.Module):
    """NanoTrack's head: ``(zf, xf) -> (cls (B, 2, n, n) logits, ltrb (B, 4, n, n))``."""

    def __init__(self, version: str, c: int) -> None:
        super().__init__()
        self.version = version
        if version == "v2":
            self.corr_pw_reg = PixelwiseCorr(c)
            self.corr_pw_cls = PixelwiseCorr(c)
            self.cls_pw_tower = separable_tower(64)
            self.bbox_pw_tower = separable_tower(64)
            self.cls_pred = nn.Sequential(nn.Conv2d(96, 2, 1))
        else:
            self.corr_pw_reg = PixelwiseCorr(c, reduce=True)
            self.corr_pw_cls = PixelwiseCorr(c, reduce=True)
            self.corr_dw_reg = DepthwiseCorr(c)
            self.corr_dw_cls = DepthwiseCorr(c)
            self.down_reg = nn.Sequential(nn.Conv2d(64 + c, 96, 1))
            self.down_cls = nn.Sequential(nn.Conv2d(64 + c, 96, 1))
            self.cls_tower = _tower_v3()
            self.bbox_tower = _tower_v3()
            self.cls_logits = nn.Sequential(nn.Conv2d(96, 2, 1))
        self.bbox_pred = nn.Sequential(nn.Conv2d(96, 4, 1))

    def forward(self, zf: torch.Tensor, xf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.version == "v2":
            cls = self.cls_pred(self.cls_pw_tower(self.corr_pw_cls(zf, xf)))
            reg = self.bbox_pred(self.bbox_pw_tower(self.corr_pw_reg(zf, xf)))
        else:
            c = self.down_cls(torch.cat([self.corr_pw_cls(zf, xf), self.corr_dw_cls(zf, xf)], 1))
            r = self.down_reg(torch.cat([self.corr_pw_reg(zf, xf), self.corr_dw_reg(zf, xf)], 1))
            cls = self.cls_logits(self.cls_tower(c))
            reg = self.bbox_pred(self.bbox_tower(r))
        return cls, torch.exp(reg)


class NanoTrackModel(nn.Module):
    """Backbone + head of NanoTrack ``version`` (``"v2"`` or ``"v3"``)."""

    def __init__(self, version: str = "v2") -> None:
        super().__init__()
        if version not in ("v2", "v3"):
            raise ValueError(f"unknown NanoTrack version {version!r}")
        self.version = version
        self.score_size = 16 if version == "v2" else 15
        self.backbone = Backbone(version)
        self.ban_head = Head(version, self.backbone.out_channels)

    @property
    def head(self) -> Head:
        """The correlation head."""
        return self.ban_head

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.ban_head(self.backbone(z), self.backbone(x))


def load_nanotrack_state_dict(path: Path) -> NanoTrackModel:
    """Build the right :class:`NanoTrackModel` for a released state_dict and load it (eval mode).

    Accepts a bare state_dict or a checkpoint dict with a ``state_dict`` entry. Keys of the
    unused ``neck`` are ignored; any other missing or unexpected key is an error.

    Raises:
        DataNotFoundError: the file is missing.
        FormatError: it is not a NanoTrack v2 / v3 state_dict.
    """
    if not path.is_file():
        raise DataNotFoundError(f"{path}: NanoTrack state_dict not found")
    from trackkit.training.io import load_trusted

    obj = load_trusted(path, "NanoTrack state_dict")  # weights_only=True, one-line errors
    sd = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not isinstance(sd, dict) or "backbone.features.0.0.weight" not in sd:
        raise FormatError(path, "not a NanoTrack state_dict (no backbone.features.0.0.weight)")
    version = "v3" if "ban_head.corr_dw_cls.conv_kernel.0.weight" in sd else "v2"
    model = NanoTrackModel(version)
    sd = {k: v for k, v in sd.items() if not k.startswith("neck.")}
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        reason = " ".join(str(exc).split())[:300]
        raise FormatError(path, f"state_dict does not fit NanoTrack {version}: {reason}") from None
    return model.eval()
