"""GOTURN's two-crop regression networks (Held, Thrun, Savarese, ECCV 2016), CPU-sized.

Two architectures, told apart by the weights file's architecture record:

- :class:`GoturnBackboneNet` (record has ``backbone``, the default since issue 20): the paper's
  design on a *pretrained* tower instead of CaffeNet's conv layers — NanoTrack's MobileNetV3
  backbone (:mod:`trackkit.sot.nets.backbones`, trained for tracking on large data) cut after
  block ``layer`` (stride 16), all of it frozen or its last ``train_blocks`` blocks tuned, then a
  1x1 reduction to ``reduced`` channels (ReLU); the two crops' features are flattened,
  concatenated and regressed by three fully-connected layers (ReLU, dropout) to the box.
  The backbone takes BGR 0..255 unnormalised (NanoTrack's convention).
- :class:`GoturnNet` (the first, from-scratch network; records without ``backbone``): a shared
  convolutional tower embeds the previous frame's target crop and the current frame's
search region (both ``size x size``, default 128; the paper uses 227 and CaffeNet's conv
layers): ``conv5x5/2 - BN - ReLU - pool/2 - conv3x3 - BN - ReLU - pool/2 - conv3x3 - BN - ReLU -
pool/2 - conv3x3 - BN - ReLU`` (stride 16), then a 1x1 reduction; the two feature maps are
flattened and concatenated, and three fully-connected layers (ReLU, dropout) regress the box
``(x1, y1, x2, y2)`` in search-crop coordinates scaled to ``[0, 10]`` (the paper's scaling).

Both: input ``(B, 3, size, size)`` float32 BGR 0..255 each (previous crop, search crop);
output ``(B, 4)``: the target's ``xyxy`` in search-crop units times 10 (0 = the crop's left /
top edge, 10 = its right / bottom edge). Both have ``embed(crops) -> (B, D)`` and
``head(prev_features, search_features) -> (B, 4)``, so that a tracker embeds each crop once.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

__all__ = ["EmbedOnly", "GoturnBackboneNet", "GoturnNet", "load_goturn"]


def _block(cin: int, cout: int, k: int, stride: int = 1, pool: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, stride, k // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return layers


class GoturnNet(nn.Module):
    """Two-crop box regression: ``(prev_crop, search_crop) -> (B, 4)`` box in [0, 10] units."""

    def __init__(self, size: int = 128, width: int = 32, reduced: int = 24, fc: int = 512) -> None:
        super().__init__()
        if size % 16:
            raise ValueError("size must be a multiple of 16")
        self.size = size
        self.width = width
        self.reduced = reduced
        self.fc_width = fc
        w = width
        self.features = nn.Sequential(
            *_block(3, w, 5, 2),
            *_block(w, 2 * w, 3),
            *_block(2 * w, 3 * w, 3),
            *_block(3 * w, 3 * w, 3, pool=False),
            nn.Conv2d(3 * w, reduced, 1),
            nn.ReLU(inplace=True),
        )
        cells = (size // 16) ** 2
        self.regressor = _regressor(2 * reduced * cells, fc, 0.3)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Flattened features of ``(B, 3, size, size)`` crops."""
        return self.features(x / 255.0 - 0.5).flatten(1)

    def head(self, prev: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        """``(B, 4)`` box of the embeddings of the previous and the search crops."""
        return self.regressor(torch.cat([prev, search], dim=1))

    def forward(self, prev: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(prev), self.embed(search))


def _regressor(inputs: int, fc: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(inputs, fc),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
        nn.Linear(fc, fc),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
        nn.Linear(fc, 4),
    )


class GoturnBackboneNet(nn.Module):
    """GOTURN on a pretrained backbone: ``(prev_crop, search_crop) -> (B, 4)`` in [0, 10] units.

    Args:
        backbone: ``nanotrack_v3`` or ``nanotrack_v2``.
        layer: last backbone block used (4-9 for v3, 4-8 for v2: stride 16).
        size: input side of both crops (a multiple of 16); features are ``size / 16`` square.
        reduced: channels after the 1x1 reduction.
        fc: width of the two hidden fully-connected layers.
        train_blocks: backbone blocks (counted from ``layer`` down) left trainable; 0 = all
            frozen (no gradients, batch normalisation in eval mode).
        corr: channels of the pixel-wise correlation branch (trackkit's addition; 0 = off, the
            paper's plain concatenation): both crops' features pass a shared 1x1 projection,
            every cell ``k`` of the previous crop's central ``n/2 x n/2`` cells (the target,
            at ``context`` 2) is correlated with every search cell ``p``,
            ``c[k, p] = <z_k, x_p> / sqrt(corr)`` (NanoTrack's own head correlates its
            features so), and the ``(n/2)^2 x n^2`` map joins the fully-connected input.
        dropout: dropout of the hidden fully-connected layers.
        heads: independent regression heads (each its own 1x1 reduction and fully-connected
            layers, all on the one frozen backbone's features; trackkit's addition): trained
            each with its own loss (:meth:`head_outputs`), their boxes averaged at tracking
            time — an ensemble whose extra cost is the heads alone, not the backbone.
        pretrained: copy the published backbone tensors in (``False``: the tensors come from a
            weights file, as when loading a trained model).
        weights: the NanoTrack state dict for ``pretrained`` (default: the shared folder's).

    Attributes:
        record: ``{"backbone", "file", "sha256"}`` of the pretrained tensors (when loaded).
    """

    def __init__(
        self,
        backbone: str = "nanotrack_v3",
        layer: int = 9,
        size: int = 128,
        reduced: int = 16,
        fc: int = 512,
        train_blocks: int = 0,
        corr: int = 0,
        dropout: float = 0.3,
        pretrained: bool = False,
        heads: int = 1,
        weights: str | Path | None = None,
    ) -> None:
        super().__init__()
        from trackkit.sot.nets.backbones import build_backbone, freeze, load_pretrained
        from trackkit.sot.nets.layered import check_layers, layer_channels, layer_stride

        (layer,) = check_layers(backbone, (layer,))
        if size % 16 or layer_stride(layer) != 16:
            raise ValueError("size must be a multiple of 16 and layer a stride-16 block (4-9)")
        self.backbone_name, self.layer, self.size = backbone, layer, size
        self.reduced, self.fc_width, self.train_blocks = reduced, fc, train_blocks
        self.corr, self.heads = corr, heads
        n = size // 16
        self._cells, self._c0 = n * n, n // 4
        self._centre = (n - 2 * self._c0) ** 2
        net = build_backbone(backbone)
        self.record: dict[str, str] = {}
        if pretrained:
            self.record = load_pretrained(net, backbone, None if weights is None else Path(weights))
        net.features = nn.Sequential(*list(net.features)[: layer + 1])
        freeze(net, train_blocks)
        self.backbone = net
        self.reduce = nn.Sequential(nn.Conv2d(layer_channels(layer), reduced, 1), nn.ReLU())
        self.project = nn.Conv2d(layer_channels(layer), corr, 1) if corr else None
        inputs = 2 * reduced * self._cells + self._centre * self._cells * (1 if corr else 0)
        self.regressor = _regressor(inputs, fc, dropout)
        # heads 2..K (head 1 keeps the names ``reduce`` / ``regressor`` of one-head files)
        self.more_reduce = nn.ModuleList(
            nn.Sequential(nn.Conv2d(layer_channels(layer), reduced, 1), nn.ReLU())
            for _ in range(heads - 1)
        )
        self.more_regressors = nn.ModuleList(
            _regressor(2 * reduced * self._cells, fc, dropout) for _ in range(heads - 1)
        )
        with torch.no_grad():  # start at the prior: the target fills the middle half (context 2)
            for reg in [self.regressor, *self.more_regressors]:
                last = reg[-1]
                assert isinstance(last, nn.Linear)
                last.bias.copy_(torch.tensor([2.5, 2.5, 7.5, 7.5]))

    def train(self, mode: bool = True) -> GoturnBackboneNet:
        from trackkit.sot.nets.backbones import keep_frozen_eval

        super().train(mode)
        keep_frozen_eval(self.backbone)
        return self

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, (reduced + corr) * (size / 16) ** 2)`` features of ``(B, 3, size, size)`` BGR
        crops: the reduced features, then the correlation projection, each flattened."""
        if self.train_blocks == 0:  # frozen: no graph through the backbone
            with torch.no_grad():
                f = self.backbone.features(x)
        else:
            f = self.backbone.features(x)
        parts = [self.reduce(f).flatten(1), *(r(f).flatten(1) for r in self.more_reduce)]
        if self.project is not None:
            parts.append(self.project(f).flatten(1))
        return torch.cat(parts, dim=1)

    def head(self, prev: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        """``(B, 4)`` box of the embeddings (:meth:`embed`) of the previous and search crops
        (the mean of the heads' boxes)."""
        return self.head_outputs(prev, search).mean(dim=0)

    def head_outputs(self, prev: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        """``(heads, B, 4)``: each regression head's box of the embeddings (:meth:`embed`)."""
        r = self.reduced * self._cells
        outs = [
            reg(torch.cat([prev[:, k * r : (k + 1) * r], search[:, k * r : (k + 1) * r]], 1))
            for k, reg in enumerate(self.more_regressors, start=1)
        ]
        r_all = r * self.heads
        feats = [prev[:, :r], search[:, :r]]
        if self.project is not None:
            n, c0 = self.size // 16, self._c0
            z = prev[:, r_all:].reshape(-1, self.corr, n, n)[:, :, c0 : n - c0, c0 : n - c0]
            xs = search[:, r_all:].reshape(-1, self.corr, n * n)
            c = torch.bmm(z.flatten(2).transpose(1, 2), xs) / float(self.corr) ** 0.5
            feats.append(c.flatten(1))
        return torch.stack([self.regressor(torch.cat(feats, dim=1)), *outs])

    def forward(self, prev: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(prev), self.embed(search))


class EmbedOnly(nn.Module):
    """``net.embed`` as a module (``(B, 3, S, S)`` BGR crops -> ``(B, D)``), for exporting the
    tracking-time embedding (:func:`trackkit.sot.nets.siamfc_net.embedding_session`)."""

    def __init__(self, net: GoturnNet | GoturnBackboneNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.embed(x)


def load_goturn(path: str | Path) -> GoturnNet | GoturnBackboneNet:
    """The GOTURN network of a trackkit weights file, in eval mode: a
    :class:`GoturnBackboneNet` when its architecture record names a ``backbone``, else the
    from-scratch :class:`GoturnNet` (the files written before issue 20).

    Raises:
        DataNotFoundError: the file does not exist.
        FormatError: it does not hold GOTURN weights that fit the architecture.
    """
    from trackkit.sot.nets import load_network
    from trackkit.sot.nets.weights import load_weights

    arch, _ = load_weights(path, "goturn")
    if "backbone" in arch:
        return load_network(
            path, "goturn", GoturnBackboneNet, backbone="nanotrack_v3", layer=9, size=128,
            reduced=16, fc=512, train_blocks=0, corr=0, heads=1,
        ).eval()  # fmt: skip
    return load_network(path, "goturn", GoturnNet, size=128, width=32, reduced=24, fc=512).eval()
