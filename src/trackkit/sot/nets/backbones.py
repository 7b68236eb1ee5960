"""Pretrained feature extractors for trackkit's own trackers (issue 20, item 1).

A backbone is a network trained for tracking on large data elsewhere, used as (part of) the
embedding of a tracker trackkit trains itself. Available:

- ``nanotrack_v2`` / ``nanotrack_v3``: NanoTrack's MobileNetV3-style backbone (Howard et al.
  2019, cut at stride 16; trained with the NanoTrack head on GOT-10k, VID, YouTube-BB, COCO,
  DET and LaSOT), read from the released state dict in the shared folder
  (``weights/nanotrack_v2|v3/*state_dict.pt``, only its ``backbone.*`` tensors):
  ``(B, 3, H, W)`` float32 BGR 0..255 (no normalisation) -> ``(B, C, ceil(H/16), ...)``,
  ``C`` = 48 (v2) / 96 (v3); a 127x127 exemplar gives 8x8 features, a 255x255 search 16x16.

:func:`build_backbone` makes the architecture (random weights: a trained tracker's weights file
holds all its tensors, so tracking never needs the shared file); :func:`load_pretrained`
copies the published tensors in and returns the record a weights file keeps of them (name,
file, sha256). :func:`freeze` fixes all but the last blocks (their batch-norm statistics too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trackkit.errors import ConfigError, DataNotFoundError, FormatError
from trackkit.zoo.cache import sha256_file

__all__ = ["BACKBONES", "build_backbone", "freeze", "load_pretrained", "pretrained_file"]

#: backbone name -> NanoTrack version of :class:`trackkit.sot.nets.nanotrack_torch.Backbone`
BACKBONES = {"nanotrack_v2": "v2", "nanotrack_v3": "v3"}


def _check(name: str) -> str:
    if name not in BACKBONES:
        raise ConfigError(f"backbone {name!r}: valid: {', '.join(sorted(BACKBONES))}")
    return BACKBONES[name]


def build_backbone(name: str) -> Any:
    """The architecture of backbone ``name`` (randomly initialised); ``out_channels`` and
    ``features`` (an ``nn.Sequential`` of the stem and the blocks) are its attributes."""
    from trackkit.sot.nets.nanotrack_torch import Backbone

    return Backbone(_check(name))


def pretrained_file(name: str) -> Path:
    """The published state dict of backbone ``name`` in the shared folder.

    Raises:
        DataNotFoundError: the shared folder or the file is missing.
    """
    from trackkit.sot.nets import default_weights

    _check(name)
    folder = default_weights(name)
    found = sorted(folder.glob("*state_dict.pt")) if folder.is_dir() else []
    if not found:
        raise DataNotFoundError(f"{folder}: no *state_dict.pt for the {name} backbone")
    return found[0]


def load_pretrained(backbone: Any, name: str, path: Path | None = None) -> dict[str, Any]:
    """Copy the published ``backbone.*`` tensors of ``name`` into ``backbone``.

    Args:
        backbone: :func:`build_backbone` ``(name)``'s module.
        name: the backbone name.
        path: the state dict file (default: :func:`pretrained_file`).

    Returns:
        ``{"backbone": name, "file": file name, "sha256": hex digest}``, the record a weights
        file keeps of the pretrained start.

    Raises:
        FormatError: the file does not hold this backbone.
    """
    from trackkit.training.io import load_trusted

    path = pretrained_file(name) if path is None else Path(path)
    blob = load_trusted(path, f"{name} state dict")
    sd = blob.get("state_dict", blob) if isinstance(blob, dict) else None
    if not isinstance(sd, dict):
        raise FormatError(path, "not a state dict")
    tensors = {k.removeprefix("backbone."): v for k, v in sd.items() if k.startswith("backbone.")}
    try:
        backbone.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        reason = " ".join(str(exc).split())[:200]
        raise FormatError(path, f"does not hold the {name} backbone: {reason}") from None
    digest = sha256_file(path)
    return {"backbone": name, "file": path.name, "sha256": digest}


def freeze(backbone: Any, train_blocks: int) -> None:
    """Fix every block of ``backbone.features`` but the last ``train_blocks`` (0: all fixed):
    no gradients, and batch normalisation in eval mode (see :func:`keep_frozen_eval`)."""
    blocks = list(backbone.features)
    n_fixed = max(len(blocks) - max(train_blocks, 0), 0)
    for block in blocks[:n_fixed]:
        for p in block.parameters():
            p.requires_grad_(False)
    backbone.fixed_blocks = n_fixed
    keep_frozen_eval(backbone)


def keep_frozen_eval(backbone: Any) -> None:
    """Put the fixed blocks (:func:`freeze`) back in eval mode (after ``train()``)."""
    for block in list(backbone.features)[: int(getattr(backbone, "fixed_blocks", 0))]:
        block.eval()
