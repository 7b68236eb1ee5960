"""The DCFNet / UDT feature network (Wang et al. 2017; Wang et al. CVPR 2019) and its loader.

Conv3x3 3->32, ReLU, Conv3x3 32->32, local response normalisation: 10,144 parameters, shared
by the supervised DCFNet and the unsupervised UDT releases and by weights trained with
``trackkit sot train --model dcfnet``. torch is imported inside the functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trackkit.errors import DataNotFoundError, FormatError

__all__ = ["MEAN_BGR", "build_feature_net", "load_feature_weights"]

#: BGR mean subtracted from the input (the ImageNet means of the original models).
MEAN_BGR = (104.0, 117.0, 123.0)


def build_feature_net(conv_padding: int = 1) -> Any:
    """The DCFNet/UDT feature network as a ``torch.nn.Sequential`` (10,144 parameters).

    Input ``(N, 3, H, W)`` float32 BGR minus :data:`MEAN_BGR`; output ``(N, 32, H', W')``
    with ``H' = H - 4 + 4 * conv_padding``.
    """
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

    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=conv_padding),
        nn.ReLU(inplace=True),
        nn.Conv2d(32, 32, 3, padding=conv_padding),
        ChannelLRN(size=5, alpha=1e-4, beta=0.75, k=1.0),
    )


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
