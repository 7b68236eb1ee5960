"""Reading the deep single-object trackers' weights (SiamFC, GOTURN, MDNet).

Every format goes through :func:`trackkit.training.weights.read_weights` (the one loader,
``torch.load(weights_only=True)`` only): the current ``trackkit-weights`` files written by
``trackkit sot train``, the older ``{"arch": {"model": NAME, ...}, "state_dict": ...}`` files
(the packaged ``trackkit/assets/{siamfc,goturn,mdnet}.pt``) and bare state dicts.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from trackkit.errors import DataNotFoundError, FormatError
from trackkit.training.weights import read_weights

__all__ = ["load_weights"]


def _finite(value: bool | int | float | str) -> bool:
    """A number (or a string that reads as one) is finite; other strings pass."""
    try:
        return math.isfinite(float(value))
    except (ValueError, OverflowError):
        return isinstance(value, str)


def load_weights(path: str | Path, kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Load ``(arch, state_dict)`` from a trackkit weights file (or a bare state_dict);
    ``arch`` is ``{"model": kind, **network options}`` (``{}`` for a bare state dict).

    Raises:
        DataNotFoundError: the file is missing.
        FormatError: the file is not a ``kind`` weights file (also: truncated, random bytes,
            pickled objects, or tensors and options of the wrong kind).
    """
    import torch

    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"{p}: {kind} weights file not found")
    w = read_weights(p, arch=kind)
    for key, value in w.state_dict.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise FormatError(
                p, f"not {kind} weights: state_dict entry {key!r} is a {type(value).__name__}"
            )
    for key, value in w.config.items():
        if not isinstance(key, str) or not isinstance(value, (bool, int, float, str)):
            raise FormatError(p, f"not {kind} weights: architecture option {key!r} is {value!r}")
        if not _finite(value):
            raise FormatError(p, f"not {kind} weights: architecture option {key!r} is {value!r}")
    arch = {"model": w.arch, **w.config} if w.arch else dict(w.config)
    return arch, w.state_dict
