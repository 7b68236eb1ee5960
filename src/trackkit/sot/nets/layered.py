"""Pretrained features at several depths of one backbone (HCF, CREST, DSLT, TADT, ADNet, ...).

The deep-regression trackers (Ma et al. ICCV 2015 "Hierarchical convolutional features"; Song
et al. ICCV 2017 "CREST"; Lu et al. ECCV 2018 "DSLT"; Li et al. CVPR 2019 "TADT") all read a
pretrained recognition network at several depths: early layers keep spatial detail, late ones
carry semantics. trackkit's pretrained backbone is NanoTrack's MobileNetV3 (see
:mod:`trackkit.sot.nets.backbones`), trained for tracking on GOT-10k, VID, YouTube-BB, COCO, DET
and LaSOT. Its ``features`` blocks, by index (``0`` is the stem):

====== ======= ======================= ==========================
index  stride  channels (v2 / v3)      note
====== ======= ======================= ==========================
0      2       16                      stem
1      4       16
2, 3   8       24
4-6    16      40
7, 8   16      48                      v2's last block
9      16      96                      v3 only
====== ======= ======================= ==========================

:class:`LayeredBackbone` runs the network once on a patch and returns the outputs of the
requested blocks. Input: ``(B, 3, H, W)`` float32 BGR 0..255 (NanoTrack's convention: no mean,
no scaling) or one ``(H, W, 3)`` uint8 BGR patch; output: one array per layer,
``(C_l, ceil(H / s_l), ceil(W / s_l))`` float32.

The pretrained tensors come from the published NanoTrack state dict (the shared folder's
``weights/nanotrack_v3/*state_dict.pt`` by default, or the ``weights`` argument); the tracker
records which (:attr:`LayeredBackbone.record`: name, file name, sha256).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
from numpy.typing import NDArray

from trackkit.errors import ConfigError

__all__ = [
    "LAYER_STRIDES",
    "LayeredBackbone",
    "check_layers",
    "layer_channels",
    "layer_stride",
    "single_threaded",
    "torch_threads",
]

#: block index -> stride of NanoTrack's MobileNetV3 backbone
LAYER_STRIDES = (2, 4, 8, 8, 16, 16, 16, 16, 16, 16)
_CHANNELS = (16, 16, 24, 24, 40, 40, 40, 48, 48, 96)


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with torch on ``n`` CPU threads (the previous number restored after):
    a tracker's ``threads`` option without changing the caller's setting."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


F = TypeVar("F", bound=Callable[..., Any])


def single_threaded(method: F) -> F:
    """Run a tracker's ``_init`` / ``_update`` with torch on one thread, so that its output
    does not depend on the caller's ``torch.set_num_threads`` (a tracker's ``threads`` option
    then parallelises over independent items, e.g. :meth:`LayeredBackbone.features`)."""

    @functools.wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        with torch_threads(1):
            return method(*args, **kwargs)

    return cast(F, run)


def check_layers(name: str, layers: Sequence[int]) -> tuple[int, ...]:
    """``layers`` as a tuple when they are increasing block indices of backbone ``name``.

    Raises:
        ConfigError: an unknown backbone or bad indices (the message names the valid ones).
    """
    from trackkit.sot.nets.backbones import BACKBONES

    if name not in BACKBONES:
        raise ConfigError(f"backbone {name!r}: valid: {', '.join(sorted(BACKBONES))}")
    last = 9 if BACKBONES[name] == "v3" else 8
    out = tuple(int(i) for i in layers)
    if not out or any(i < 0 or i > last for i in out) or list(out) != sorted(set(out)):
        raise ConfigError(
            f"layers {list(layers)}: need increasing block indices 0..{last} of {name} "
            "(e.g. 3,6,9: strides 8, 16, 16)"
        )
    return out


def layer_stride(index: int) -> int:
    """The stride (input pixels per feature cell) of block ``index``."""
    return LAYER_STRIDES[index]


def layer_channels(index: int) -> int:
    """The channels of block ``index``'s output."""
    return _CHANNELS[index]


class LayeredBackbone:
    """A frozen pretrained backbone read at several depths.

    Args:
        name: ``nanotrack_v3`` (default) or ``nanotrack_v2``.
        layers: increasing block indices to return (see the module table).
        weights: the NanoTrack state dict; ``None`` takes the shared folder's.
        threads: batch items computed at the same time, each on one torch thread (features
            do not depend on it: torch's own multi-threading would change the convolutions'
            summation order, hence the last bits, hence the boxes).

    Attributes:
        layers, strides, channels: per requested layer.
        record: ``{"backbone", "file", "sha256"}`` of the pretrained tensors used.
        net: the ``torch.nn.Module`` (eval mode, no gradients); :meth:`forward` is
            differentiable with respect to its input, for the gradient-based channel selection
            of TADT.

    Raises:
        ConfigError: unknown backbone or bad layer indices.
        DataNotFoundError / FormatError: the state dict is missing or is not this backbone.
    """

    def __init__(
        self,
        name: str = "nanotrack_v3",
        layers: Sequence[int] = (3, 6, 9),
        weights: str | Path | None = None,
        threads: int = 1,
    ) -> None:
        from trackkit.sot.nets.backbones import build_backbone, load_pretrained

        self.layers = check_layers(name, layers)
        self.strides = tuple(LAYER_STRIDES[i] for i in self.layers)
        self.channels = tuple(_CHANNELS[i] for i in self.layers)
        self.threads = int(threads)
        net = build_backbone(name)
        self.record: dict[str, Any] = load_pretrained(
            net, name, None if weights is None else Path(weights)
        )
        net.eval()
        for p in net.parameters():
            p.requires_grad_(False)
        self.net = net
        self._blocks = list(net.features)[: self.layers[-1] + 1]

    def forward(self, x: Any) -> list[Any]:
        """``(B, 3, H, W)`` float32 BGR 0..255 tensor -> one tensor per layer,
        ``(B, C_l, ceil(H / s_l), ceil(W / s_l))``; differentiable in ``x``."""
        out = []
        wanted = set(self.layers)
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in wanted:
                out.append(x)
        return out

    def __call__(self, patch: NDArray[np.uint8] | NDArray[np.float32]) -> list[NDArray[np.float32]]:
        """Features of one ``(H, W, 3)`` BGR patch (or a ``(B, H, W, 3)`` batch): one
        ``(C_l, h_l, w_l)`` (or ``(B, C_l, h_l, w_l)``) float32 array per layer."""
        arr = np.asarray(patch, dtype=np.float32)
        single = arr.ndim == 3
        feats = self.features(arr)
        return [f[0].numpy() if single else f.numpy() for f in feats]

    def features(
        self, patch: Any, grid: tuple[int, int] | None = None, batched: bool = False
    ) -> list[Any]:
        """Features without gradients (:attr:`threads` batch items at a time): one
        ``(B, C_l, h_l, w_l)`` float32 tensor per layer of ``patch`` — an ``(H, W, 3)`` /
        ``(B, H, W, 3)`` BGR array or a ``(B, 3, H, W)`` tensor —, each resized (bilinear) to
        ``grid = (h, w)`` when given (the common grid of the multi-layer trackers).
        ``batched``: the whole batch in one pass on one thread (faster for many small
        crops; its bits differ from the item-by-item default's, but not between runs or
        thread counts)."""
        import torch
        import torch.nn.functional as F

        if isinstance(patch, torch.Tensor):
            x = patch.float()
        else:
            arr = np.asarray(patch, dtype=np.float32)
            if arr.ndim == 3:
                arr = arr[None]
            if arr.ndim != 4 or arr.shape[-1] != 3:
                raise ValueError(f"patch: need (H, W, 3) or (B, H, W, 3) BGR, got {arr.shape}")
            x = torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 3, 1, 2)))
        with torch.no_grad(), torch_threads(1):
            # one item at a time (a batch of B changes the convolutions' blocking, hence the
            # last bits), ``threads`` of them side by side: the same bits for every setting
            if batched:
                parts = [self.forward(x)]
            elif self.threads > 1 and len(x) > 1:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(max_workers=min(self.threads, len(x))) as pool:
                    parts = list(pool.map(lambda i: self.forward(x[i : i + 1]), range(len(x))))
            else:
                parts = [self.forward(x[i : i + 1]) for i in range(len(x))]
            out = [torch.cat(layer) for layer in zip(*parts, strict=True)]
            if grid is not None:
                out = [
                    f
                    if tuple(f.shape[-2:]) == tuple(grid)
                    else F.interpolate(f, size=tuple(grid), mode="bilinear", align_corners=False)
                    for f in out
                ]
        return out
