"""The feature networks of the learned DCF (DCFNet, Wang et al. 2017; UDT, Wang et al. CVPR
2019) and their loaders.

- ``conv``: Conv3x3 3->32, ReLU, Conv3x3 32->32, local response normalisation (10,144
  parameters, stride 1), shared by the supervised DCFNet and the unsupervised UDT releases and
  by weights trained with ``trackkit sot train --model dcfnet`` (:func:`build_feature_net`).
- ``nanotrack_v3`` / ``nanotrack_v2``: NanoTrack's frozen pretrained MobileNetV3 blocks
  (:class:`~trackkit.sot.nets.layered.LayeredBackbone`, e.g. blocks 1 and 3: stride 4, 16 + 24
  channels) and a learned adaptation convolution + LRN (issue 20 item 1: a pretrained start).

:func:`build_dcf_features` builds either as one module taking ``(B, 3, H, W)`` float32 BGR
0..255; :func:`load_dcf_features` reads any of their weights files. torch is imported inside
the functions.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trackkit.errors import ConfigError, DataNotFoundError, FormatError

__all__ = [
    "FEATURE_KINDS",
    "MEAN_BGR",
    "build_dcf_features",
    "build_feature_net",
    "load_feature_weights",
]

#: ``features`` values of :func:`build_dcf_features`
FEATURE_KINDS = ("conv", "nanotrack_v3", "nanotrack_v2")

#: BGR mean subtracted from the input (the ImageNet means of the original models).
MEAN_BGR = (104.0, 117.0, 123.0)


@functools.cache
def _classes() -> tuple[Any, Any]:
    """The torch module classes (defined on first use: torch is imported lazily)."""
    import torch
    from torch import nn

    class ChannelLRN(nn.Module):
        """Local response normalisation across channels (AlexNet), as
        ``torch.nn.LocalResponseNorm`` but the channel sum is a 1x1 convolution (much faster
        on a CPU):
        ``b_c = a_c / (k + alpha / n * sum_{|c' - c| <= n // 2} a_c'^2) ** beta``."""

        def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
            super().__init__()
            self.size, self.alpha, self.beta, self.k = size, alpha, beta, k
            self._band: torch.Tensor | None = None

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            c = x.shape[1]
            band = self._band
            if band is None or band.shape[0] != c:
                idx = torch.arange(c)
                lo, hi = self.size // 2, (self.size - 1) // 2
                diff = idx[None, :] - idx[:, None]  # c' - c
                mask = ((diff >= -lo) & (diff <= hi)).to(x.dtype)
                band = (mask * (self.alpha / self.size)).view(c, c, 1, 1)
                self._band = band
            # The windowed channel sum of squares as a 1x1 convolution with a band matrix.
            den = nn.functional.conv2d(x * x, band.to(x.dtype)) + self.k
            if self.beta == 0.75:  # den^-0.75 = rsqrt(den) * sqrt(rsqrt(den)), no pow()
                r = torch.rsqrt(den)
                return x * r * torch.sqrt(r)
            return x * den.pow(-self.beta)

    class DCFFeatures(nn.Module):
        """Features of the learned DCF: ``(B, 3, H, W)`` float32 BGR 0..255 ->
        ``(B, C, H', W')``. ``head`` holds every learned tensor (its state dict is what a
        weights file stores); ``backbone`` (a frozen
        :class:`~trackkit.sot.nets.layered.LayeredBackbone`, not a sub-module: its tensors
        are never saved or trained) or ``None`` (the DCFNet/UDT conv net on mean-subtracted
        pixels)."""

        def __init__(self, head: nn.Module, backbone: Any, stride: int) -> None:
            super().__init__()
            self.head = head
            self.backbone = backbone
            self.stride = stride
            self.register_buffer("mean", torch.tensor(MEAN_BGR).view(1, 3, 1, 1), False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.backbone is None:
                return self.head(x - self.get_buffer("mean"))
            with torch.no_grad():
                feats = self.backbone.forward(x)
                grid = feats[0].shape[-2:]
                feats = [
                    f
                    if f.shape[-2:] == grid
                    else nn.functional.interpolate(f, size=grid, mode="bilinear")
                    for f in feats
                ]
                base = torch.cat(feats, dim=1) if len(feats) > 1 else feats[0]
            return self.head(base)

    return ChannelLRN, DCFFeatures


def build_feature_net(conv_padding: int = 1) -> Any:
    """The DCFNet/UDT feature network as a ``torch.nn.Sequential`` (10,144 parameters).

    Input ``(N, 3, H, W)`` float32 BGR minus :data:`MEAN_BGR`; output ``(N, 32, H', W')``
    with ``H' = H - 4 + 4 * conv_padding``.
    """
    from torch import nn

    lrn = _classes()[0]
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=conv_padding),
        nn.ReLU(inplace=True),
        nn.Conv2d(32, 32, 3, padding=conv_padding),
        lrn(size=5, alpha=1e-4, beta=0.75, k=1.0),
    )


def build_dcf_features(
    features: str = "conv",
    layers: Sequence[int] = (1, 3),
    channels: int = 32,
    kernel: int = 1,
    conv_padding: int = 1,
    backbone_weights: str | Path | None = None,
) -> Any:
    """The feature extractor of the learned DCF (a ``torch.nn.Module``, see
    :data:`FEATURE_KINDS`).

    Args:
        features: ``"conv"`` — the DCFNet/UDT net from scratch (:func:`build_feature_net`,
            stride 1, 32 channels); ``"nanotrack_v3"`` / ``"nanotrack_v2"`` — NanoTrack's
            frozen pretrained MobileNetV3 blocks ``layers`` (resized to the first one's grid,
            stride ``4`` for block 1, ``8`` for 2-3) and a learned adaptation
            ``Conv(kernel x kernel, sum C_l -> channels)`` + channel LRN.
        backbone_weights: the NanoTrack state dict (``None``: the shared folder's).

    The module's ``record`` attribute is the pretrained file's
    ``{"backbone", "file", "sha256"}`` (``{}`` for ``conv``).
    """
    from torch import nn

    lrn, features_class = _classes()
    if features == "conv":
        net = features_class(build_feature_net(conv_padding), None, 1)
        net.record = {}
        return net
    if features not in FEATURE_KINDS:
        raise ConfigError(f"features {features!r}: valid: {', '.join(FEATURE_KINDS)}")
    from trackkit.sot.nets.layered import LayeredBackbone

    bb = LayeredBackbone(features, tuple(int(i) for i in layers), weights=backbone_weights)
    head = nn.Sequential(
        nn.Conv2d(sum(bb.channels), channels, kernel, padding=kernel // 2),
        lrn(size=5, alpha=1e-4, beta=0.75, k=1.0),
    )
    net = features_class(head, bb, bb.strides[0])
    net.record = dict(bb.record)
    return net


def load_feature_weights(path: str | Path) -> dict[str, Any]:
    """Load a feature-network state dict (``0.weight`` ... ``2.bias`` keys).

    Accepts the DCFNet ``param.pth`` (``feature.*`` keys), UDT state dicts (``feature.*`` or
    ``module.feature.feature.*``) and trackkit checkpoints (a dict with ``"model"``). Only
    ``torch.load(weights_only=True)`` is used: pickled legacy files must be converted first.
    """
    from trackkit.training.io import load_trusted

    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"{p}: no such weights file")

    obj = load_trusted(p, "weights file")  # weights_only=True, one-line errors
    if isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise FormatError(p, "expected a state dict")
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if not isinstance(key, str) or not hasattr(value, "shape"):
            continue
        short = key.split(".")
        if len(short) >= 2 and short[-2] in ("0", "2") and short[-1] in ("weight", "bias"):
            out[f"{short[-2]}.{short[-1]}"] = value
    want = {"0.weight": (32, 3, 3, 3), "0.bias": (32,), "2.weight": (32, 32, 3, 3), "2.bias": (32,)}
    for key, shape in want.items():
        if key not in out or tuple(out[key].shape) != shape:
            raise FormatError(p, f"missing or mis-shaped tensor {key} (want {shape})")
    return out


def load_dcf_features(path: str | Path, backbone_weights: str | Path | None = None) -> Any:
    """The feature extractor stored at ``path``, in eval mode without gradients.

    A trackkit weights file of ``trackkit sot train --model dcfnet`` names its features in
    its ``config`` (``features``, ``layers``, ``channels``, ``kernel``; see
    :func:`build_dcf_features`) and holds the ``head`` tensors; any other file is read by
    :func:`load_feature_weights` as the DCFNet/UDT conv net (the published files).

    Raises:
        DataNotFoundError: no such file (or the pretrained backbone is missing).
        FormatError: the tensors do not fit the recorded architecture.
    """
    from trackkit.training.weights import read_weights

    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"{p}: no such weights file")
    w = read_weights(p)
    kind = str(w.config.get("features", "conv")) if not w.legacy else "conv"
    if kind == "conv":
        net = build_dcf_features("conv", conv_padding=int(w.config.get("conv_padding", 1)))
        net.head.load_state_dict(load_feature_weights(p))
    else:
        net = build_dcf_features(
            kind,
            layers=tuple(int(i) for i in w.config.get("layers", (1, 3))),
            channels=int(w.config.get("channels", 32)),
            kernel=int(w.config.get("kernel", 1)),
            backbone_weights=backbone_weights,
        )
        try:
            net.head.load_state_dict({k: v.float() for k, v in w.state_dict.items()})
        except (RuntimeError, KeyError) as exc:
            reason = " ".join(str(exc).split())[:160]
            raise FormatError(p, f"dcfnet head tensors do not fit: {reason}") from None
        want = (w.trained_on.get("pretrained") or {}).get("sha256")
        if want and net.record.get("sha256") and want != net.record["sha256"]:
            raise FormatError(
                p,
                f"trained on {kind} file sha256 {want[:12]}..., but "
                f"{net.record.get('file')} has {net.record['sha256'][:12]}... "
                "(pass the original backbone file with --set backbone_weights=PATH)",
            )
    net.eval()
    for prm in net.parameters():
        prm.requires_grad_(False)
    return net
