"""Reading the deep single-object trackers' weights (SiamFC, GOTURN, MDNet).

Every format goes through :func:`trackkit.training.weights.read_weights` (the one loader,
``torch.load(weights_only=True)`` only): the current ``trackkit-weights`` files written by
``trackkit sot train``, the older ``{"arch": {"model": NAME, ...}, "state_dict": ...}`` files
(the packaged ``trackkit/assets/{siamfc,goturn,mdnet}.pt``) and bare state dicts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trackkit.errors import DataNotFoundError
from trackkit.training.weights import read_weights

__all__ = ["load_weights"]


def load_weights(path: str | Path, kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Load ``(arch, state_dict)`` from a trackkit weights file (or a bare state_dict);
    ``arch`` is ``{"model": kind, **network options}`` (``{}`` for a bare state dict).

    Raises:
        DataNotFoundError: the file is missing.
        FormatError: the file is not a ``kind`` weights file.
    """
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"{p}: {kind} weights file not found")
    w = read_weights(p, arch=kind)
    arch = {"model": w.arch, **w.config} if w.arch else dict(w.config)
    return arch, w.state_dict
