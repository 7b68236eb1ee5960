"""Pieces shared by trackkit's ReID networks: input normalisation, BNNeck, classifier head.

Conventions of every trackkit ReID model (a :class:`ReIDNet`):
- input ``(N, 3, H, W)`` float32, **BGR 0..255** (OpenCV crops, no preprocessing outside);
  the model normalises inside, so an ONNX export takes raw pixels as well;
- ``model(x)`` returns ``(N, D)`` float32 embeddings, not L2-normalised: by default the pooled
  feature centred on its training mean (``embedding="centered"``; see :class:`ReIDNet`);
- ``model.forward_train(x)`` returns ``(feat, emb)``: the pooled feature before the BNNeck
  (used by metric losses) and the normalised one after it (fed to the classifier);
- the classifier (:class:`ClassifierHead`) is a separate module owned by the trainer;
- attributes ``input_size = (H, W)`` and ``embed_dim = D``.

BNNeck (Luo et al., "Bag of Tricks and a Strong Baseline for Deep Person Re-identification",
CVPRW 2019): a BatchNorm1d without learned bias between the pooled feature and the classifier,
so the metric loss acts on ``feat`` and the softmax on the normalised ``emb``. BoT retrieves
with ``emb``; trackkit's networks, trained from scratch, retrieve better with ``feat`` centred
on its training mean (the BNNeck's running mean) but not divided by the per-channel standard
deviation: the default model scores 64.5 % rank-1 / 61.7 % mAP on CUHK03-test this way against
58.1 / 51.9 with ``emb`` (docs/reid.md). Dividing by the standard deviation gives weak, noisy
channels as much weight as strong ones. The choice only changes what :meth:`ReIDNet.forward`
returns, never training.
"""

from __future__ import annotations

from typing import Any, TypeVar

import torch
from torch import Tensor, nn

__all__ = ["EMBEDDINGS", "ClassifierHead", "ReIDNet", "channels_last", "init_weights"]

#: what a :class:`ReIDNet` can return as its embedding (``embedding=``), default first
EMBEDDINGS = ("centered", "pooled", "bnneck")

_M = TypeVar("_M", bound=nn.Module)

# ImageNet statistics in BGR order, on the 0..255 scale.
_MEAN_BGR = (0.406 * 255, 0.456 * 255, 0.485 * 255)
_STD_BGR = (0.225 * 255, 0.224 * 255, 0.229 * 255)


def channels_last(module: _M) -> _M:
    """Store ``module``'s 4-D weights channels-last (NHWC), in place; returns it.

    With NHWC inputs (a permuted view of OpenCV's ``(N, H, W, 3)`` crops is one), convolutions
    take oneDNN's fast path on CPU: 1.19x faster training steps and 1.09x faster inference here
    (benchmarks/reid_train_speed.py, default architecture, 2 threads).
    Numerically the same network (up to rounding)."""
    module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return module


def init_weights(module: nn.Module) -> None:
    """Kaiming-normal convolutions, unit/zero BatchNorm, small-normal linear layers."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            if m.weight is not None:
                nn.init.ones_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class ReIDNet(nn.Module):
    """Base class: a backbone giving ``(N, C, h, w)`` maps, global average pooling, BNNeck.

    With ``parts = P > 0`` the feature is the global average concatenated with the averages
    of ``P`` horizontal stripes of the map (part-based pooling, as in PCB), so
    ``embed_dim = C * (1 + P)``; the stripes keep where on the body a colour or texture is.

    ``pool="gem"`` replaces the averages by generalised-mean pooling (Radenovic et al., "Fine-
    tuning CNN Image Retrieval with No Human Annotation", TPAMI 2019):
    ``(mean(clamp(x, eps) ** p)) ** (1 / p)`` with one learned exponent ``p`` (initially 3),
    between average (``p = 1``) and max pooling (``p -> inf``).

    ``embedding`` picks what :meth:`forward` returns (the features used for retrieval):
    ``"centered"`` (default), the pooled feature before the BNNeck minus the BNNeck's running
    mean (the training-set mean), so cosine distances spread over [0, 2] as with ``"bnneck"``;
    ``"pooled"``, the pooled feature itself (non-negative, so all cosine distances are small;
    the feature the metric losses shape); or ``"bnneck"``, the batch-normalised feature after
    the BNNeck (the one the classifier sees; what BoT retrieves with).

    Subclasses build ``self.body`` (the convolutional backbone), set ``self.config`` to their
    own constructor arguments and call :meth:`_finish`.
    """

    input_size: tuple[int, int]
    embed_dim: int
    config: dict[str, Any]

    def __init__(
        self,
        input_size: tuple[int, int],
        parts: int = 0,
        pool: str = "avg",
        embedding: str = "centered",
    ) -> None:
        super().__init__()
        if parts < 0:
            raise ValueError(f"parts must be >= 0, got {parts}")
        if pool not in ("avg", "gem"):
            raise ValueError(f"pool must be 'avg' or 'gem', got {pool!r}")
        self.config = {}
        self.set_embedding(embedding)
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.parts = int(parts)
        self.pool = pool
        self.gem_p: nn.Parameter | None = nn.Parameter(torch.tensor(3.0)) if pool == "gem" else None
        self.register_buffer("mean", torch.tensor(_MEAN_BGR).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD_BGR).view(1, 3, 1, 1), persistent=False)
        self.body: nn.Module = nn.Identity()

    def set_embedding(self, embedding: str) -> None:
        """Choose what :meth:`forward` returns: one of :data:`EMBEDDINGS` (kept in
        ``config``, so a saved model remembers it)."""
        if embedding not in EMBEDDINGS:
            valid = ", ".join(EMBEDDINGS)
            raise ValueError(f"embedding must be one of {valid}; got {embedding!r}")
        self.embedding = embedding
        self.config = {**self.config, "embedding": embedding}

    def _finish(self, channels: int) -> None:
        """Add the BNNeck after a ``channels``-wide backbone; the subclass's ``config`` gains
        the settings every :class:`ReIDNet` has (``parts``, ``pool``, ``embedding``)."""
        self.config = {
            **self.config,
            "parts": self.parts,
            "pool": self.pool,
            "embedding": self.embedding,
        }
        self.embed_dim = channels * (1 + self.parts)
        self.neck = nn.BatchNorm1d(self.embed_dim)
        init_weights(self)
        self.neck.bias.requires_grad_(False)  # BNNeck: no shift

    def forward_train(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``x`` (N, 3, H, W) BGR 0..255 -> (feature before BNNeck, embedding after), (N, D)."""
        mean: Tensor = self.mean  # type: ignore[assignment]
        std: Tensor = self.std  # type: ignore[assignment]
        maps = self.body((x - mean) / std)
        if self.gem_p is not None:
            maps = maps.clamp(min=1e-6).pow(self.gem_p)
        feat = maps.mean(dim=(2, 3))
        if self.parts:
            # horizontal stripes (PCB, Sun et al. ECCV 2018): mean over each of ``parts``
            # equal bands of rows, concatenated after the global feature
            stripes = nn.functional.adaptive_avg_pool2d(maps, (self.parts, 1))  # (N, C, P, 1)
            stripes = stripes.squeeze(3).transpose(1, 2).flatten(1)  # stripe-major
            feat = torch.cat([feat, stripes], dim=1)
        if self.gem_p is not None:
            feat = feat.pow(1.0 / self.gem_p)
        return feat, self.neck(feat)

    def forward(self, x: Tensor) -> Tensor:
        """``x`` (N, 3, H, W) float BGR 0..255 -> ``(N, D)`` embeddings (``self.embedding``)."""
        feat, emb = self.forward_train(x)
        if self.embedding == "bnneck":
            return emb
        if self.embedding == "centered":
            mean: Tensor = self.neck.running_mean  # type: ignore[assignment]
            return feat - mean
        return feat


class ClassifierHead(nn.Module):
    """Identity classifier on the embeddings: a bias-free linear layer ``D -> num_classes``."""

    def __init__(self, embed_dim: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(embed_dim, num_classes, bias=False)
        nn.init.normal_(self.fc.weight, std=0.001)

    def forward(self, emb: Tensor) -> Tensor:
        """``(N, D)`` embeddings -> ``(N, num_classes)`` logits."""
        return self.fc(emb)
