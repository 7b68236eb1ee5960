"""SiamFC network (Bertinetto et al., ECCV-W 2016): AlexNet-style embedding + cross-correlation.

The embedding ``phi`` is fully convolutional (no padding), total stride 8:
conv 11x11/2 - BN - ReLU - maxpool 3/2 - conv 5x5 (2 groups) - BN - ReLU - maxpool 3/2 -
conv 3x3 - BN - ReLU - conv 3x3 (2 groups) - BN - ReLU - conv 3x3 (2 groups).
A 127x127 exemplar gives 6x6 features, a 255x255 search region 22x22, and their
cross-correlation a 17x17 response, followed by a batch-normalisation ``adjust`` layer (a
learned scale and bias of the response).
``width`` scales the channel counts (1.0 = the paper's 96-256-384-384-256).

With ``backbone`` (e.g. ``"nanotrack_v2"``, :mod:`trackkit.sot.nets.backbones`) the embedding
is that pretrained network (stride 16, BGR 0..255 in) followed by a 1x1 ``neck`` conv: a
127x127 exemplar gives 8x8 features, a 255x255 search 16x16, the correlation 9x9 cells at
stride 16, resampled (bilinear, corners aligned) to the same 17x17 response at stride 8, so the
tracker is unchanged.

Input: ``(B, 3, H, W)`` float32 BGR 0..255 (the AlexNet embedding normalises inside by
/255 - 0.5).

For tracking, :func:`fuse_conv_bn` folds every batch normalisation that follows a convolution
into that convolution's weights and bias (inference only: the same function, a quarter fewer
operations per frame; the trackers call it, training does not), and :func:`embedding_session`
runs the (folded) embedding with onnxruntime, exported in memory once per weights file (about
twice as fast as PyTorch on one thread; the same features to ~1e-5).
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "BackboneEmbed",
    "SiamFCNet",
    "channels_for",
    "embedding_session",
    "fuse_conv_bn",
    "load_siamfc",
    "xcorr",
]


def channels_for(width: float) -> tuple[int, int, int, int, int]:
    """Channel counts of the five conv layers for a width multiplier (even, grouped convs)."""
    base = (96, 256, 384, 384, 256)
    return tuple(max(8, int(round(c * width / 8)) * 8) for c in base)  # type: ignore[return-value]


class AlexNetEmbed(nn.Module):
    """SiamFC's AlexNet-style embedding ``phi``: ``(B, 3, H, W) -> (B, C5, (H-87)/8, ...)``."""

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        c1, c2, c3, c4, c5 = channels_for(width)
        self.features = nn.Sequential(
            nn.Conv2d(3, c1, 11, 2),
            nn.BatchNorm2d(c1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(c1, c2, 5, 1, groups=2),
            nn.BatchNorm2d(c2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(c2, c3, 3, 1),
            nn.BatchNorm2d(c3),
            nn.ReLU(inplace=True),
            nn.Conv2d(c3, c4, 3, 1, groups=2),
            nn.BatchNorm2d(c4),
            nn.ReLU(inplace=True),
            nn.Conv2d(c4, c5, 3, 1, groups=2),
        )
        self.out_channels = c5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x / 255.0 - 0.5)


def xcorr(z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Cross-correlation of each exemplar ``z (B, C, hz, wz)`` with its search ``x (B, C, H, W)``.

    Returns ``(B, 1, H - hz + 1, W - wz + 1)``. ``z`` with batch 1 is shared by every ``x``.
    """
    b, c, h, w = x.shape
    if z.shape[0] == 1 and b > 1:
        return F.conv2d(x, z)
    out = F.conv2d(x.reshape(1, b * c, h, w), z, groups=b)
    return out.reshape(b, 1, out.shape[-2], out.shape[-1])


class BackboneEmbed(nn.Module):
    """A pretrained backbone (:mod:`trackkit.sot.nets.backbones`) + a 1x1 conv ``neck``:
    ``(B, 3, H, W)`` BGR 0..255 -> ``(B, neck, ceil(H/16), ...)``."""

    def __init__(self, backbone: str, neck: int) -> None:
        super().__init__()
        from trackkit.sot.nets.backbones import build_backbone

        self.backbone = build_backbone(backbone)
        self.neck = nn.Conv2d(self.backbone.out_channels, neck, 1)
        self.out_channels = neck

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.neck(self.backbone(x))

    def train(self, mode: bool = True) -> BackboneEmbed:
        from trackkit.sot.nets.backbones import keep_frozen_eval

        super().train(mode)
        keep_frozen_eval(self.backbone)  # fixed blocks keep their batch-norm statistics
        return self


class SiamFCNet(nn.Module):
    """Embedding + cross-correlation + BN adjust: ``(z, x) -> response (B, 1, 17, 17)``.

    Args:
        width: channel multiplier of the AlexNet embedding (without ``backbone``).
        backbone: ``""`` (the AlexNet embedding) or a backbone name of
            :data:`trackkit.sot.nets.backbones.BACKBONES`.
        neck: output channels of the backbone's 1x1 neck.
    """

    total_stride = 8

    def __init__(self, width: float = 1.0, backbone: str = "", neck: int = 64) -> None:
        super().__init__()
        self.width = width
        self.backbone = backbone
        self.neck = neck
        embed = BackboneEmbed(backbone, neck) if backbone else AlexNetEmbed(width)
        self.embed: nn.Module = embed
        self.adjust = nn.BatchNorm2d(1)
        convs = embed.neck if isinstance(embed, BackboneEmbed) else embed
        for m in convs.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def correlate(self, zf: torch.Tensor, xf: torch.Tensor) -> torch.Tensor:
        """Response of exemplar features ``zf`` on search features ``xf``."""
        resp = xcorr(zf, xf)
        if self.backbone:  # stride 16 -> the 17x17 stride-8 grid of the tracker
            n = 2 * resp.shape[-1] - 1
            resp = F.interpolate(resp, size=(n, n), mode="bilinear", align_corners=True)
        return self.adjust(resp)

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.correlate(self.embed(z), self.embed(x))


def _folded(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A convolution computing ``bn(conv(x))`` with ``bn``'s running statistics."""
    var, mean = bn.running_var, bn.running_mean
    assert var is not None and mean is not None  # checked by fuse_conv_bn
    scale = bn.weight / torch.sqrt(var + bn.eps)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(scale)
    out = nn.Conv2d(
        conv.in_channels, conv.out_channels, conv.kernel_size,  # type: ignore[arg-type]
        conv.stride, conv.padding, conv.dilation, conv.groups,  # type: ignore[arg-type]
        bias=True,
    )  # fmt: skip
    out.weight.copy_(conv.weight * scale[:, None, None, None])
    assert out.bias is not None
    out.bias.copy_((bias - mean) * scale + bn.bias)
    return out


_M = TypeVar("_M", bound=nn.Module)


def fuse_conv_bn(net: _M) -> _M:
    """Fold each ``BatchNorm2d`` that directly follows a ``Conv2d`` in an ``nn.Sequential``
    into that convolution (the norm becomes an ``nn.Identity``); in place, returns ``net``.

    Inference only: the folded network computes the same function as ``net.eval()`` (to float
    rounding) with fewer operations, and cannot be trained as before.

    Raises:
        ValueError: ``net`` is in training mode (batch statistics cannot be folded).
    """
    if net.training:
        raise ValueError("fuse_conv_bn: call net.eval() first")
    with torch.no_grad():
        for mod in list(net.modules()):
            if not isinstance(mod, nn.Sequential):
                continue
            names = list(mod._modules)
            for a, b in zip(names, names[1:], strict=False):
                conv, bn = mod._modules[a], mod._modules[b]
                if (
                    isinstance(conv, nn.Conv2d)
                    and isinstance(bn, nn.BatchNorm2d)
                    and bn.running_mean is not None
                    and bn.affine
                ):
                    mod._modules[a] = _folded(conv, bn).eval()
                    mod._modules[b] = nn.Identity()
    return net


def load_siamfc(path: str | Path) -> SiamFCNet:
    """A :class:`~trackkit.sot.nets.siamfc_net.SiamFCNet` loaded from a trackkit weights file.

    Raises:
        DataNotFoundError: the file does not exist.
        FormatError: it does not hold SiamFC weights (or they do not fit the architecture).
    """
    from trackkit.sot.nets import load_network

    return load_network(path, "siamfc", SiamFCNet, width=1.0, backbone="", neck=64).eval()


_SESSIONS: dict[tuple[str, str, int, int, int], Any] = {}
_LOCK = threading.Lock()


def embedding_session(embed: nn.Module, path: str | Path, threads: int = 1) -> Any:
    """An onnxruntime session running ``embed`` (input ``"x"``: ``(B, 3, H, W)`` float32 BGR
    0..255, any ``B``, ``H``, ``W``; one output: the features).

    ``embed`` is exported in memory (no file is written) once per weights file version
    (``path``'s name, modification time and size) and thread count, and the session kept for
    the next tracker on the same weights.

    Raises:
        ImportError: onnxruntime is not installed (callers fall back to PyTorch).
    """
    import warnings

    import onnxruntime as ort

    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), type(embed).__name__, st.st_mtime_ns, st.st_size, threads)
    with _LOCK:
        if key in _SESSIONS:
            return _SESSIONS[key]
        buf = io.BytesIO()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                embed.eval(), (torch.zeros(1, 3, 127, 127),), buf,  # type: ignore[arg-type]
                dynamo=False,
                input_names=["x"], output_names=["f"],
                dynamic_axes={"x": {0: "b", 2: "h", 3: "w"}}, opset_version=17,
            )  # fmt: skip
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        sess = ort.InferenceSession(
            buf.getvalue(), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        if len(_SESSIONS) >= 8:
            _SESSIONS.pop(next(iter(_SESSIONS)))
        _SESSIONS[key] = sess
        return sess
