"""Networks of the deep single-object trackers (PyTorch modules and ONNX helpers) and where
their default weights are.

Importing this package does not import torch or onnxruntime; each module imports them itself.
:func:`default_weights` is the one place that says which file a tracker loads when the user
gives none: trackkit's own trained models ship inside the package (``trackkit/assets``), the
published pretrained models are read from the shared folder (:mod:`trackkit.shared`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from trackkit.errors import ConfigError, DataNotFoundError, FormatError
from trackkit.shared import shared_path

__all__ = [
    "default_weights",
    "load_network",
    "packaged_asset",
    "resolve_weights",
    "trained_weights",
]

#: trackkit's own trained weights, shipped in ``trackkit/assets`` (see docs/benchmarks.md for
#: the command that reproduces each).
_PACKAGED = {
    "siamfc": "siamfc.pt",
    "goturn": "goturn.pt",
    "mdnet": "mdnet.pt",
    "adnet": "adnet.pt",
    "memtrack": "memtrack.pt",
    "rolo": "rolo.pt",
}

#: Published pretrained weights, read in place from the shared folder.
_SHARED = {
    "dcfnet": ("weights", "dcfnet", "param.pth"),
    "udt": ("weights", "udt", "udt_model_best_state_dict.pt"),
    "nanotrack_v2": ("weights", "nanotrack_v2"),
    "nanotrack_v3": ("weights", "nanotrack_v3"),
}


def default_weights(name: str) -> Path:
    """The default weights file (or folder) of model ``name``.

    Args:
        name: ``siamfc``, ``goturn``, ``mdnet`` (trackkit's own, packaged; a ``.pt`` suffix is
            accepted), ``dcfnet``, ``udt``, ``nanotrack_v2`` or ``nanotrack_v3`` (shared).

    Raises:
        ConfigError: an unknown name.
        DataNotFoundError: the file is missing (shared folder absent, broken install).
    """
    key = name.removesuffix(".pt")
    if key in _PACKAGED:
        return packaged_asset(_PACKAGED[key])
    parts = _SHARED.get(key)
    if parts is None:
        valid = ", ".join(sorted([*_PACKAGED, *_SHARED]))
        raise ConfigError(f"no default weights for {name!r}; valid: {valid}")
    from trackkit.zoo import is_model_name, resolve

    if is_model_name(key):  # the model cache, else the shared folder; else the fetch command
        return resolve(key, "sot")
    found = shared_path(*parts)
    if found is None:
        raise DataNotFoundError(
            f"pretrained {key} weights {'/'.join(parts)} not found in the shared folder "
            "(set TRACKKIT_SHARED, or pass --weights PATH; in Python weights=PATH)"
        )
    return found


def packaged_asset(filename: str) -> Path:
    """The path of ``trackkit/assets/<filename>`` in the installed package, found through
    :mod:`importlib.resources` (so a wheel install, editable or not, finds it).

    Raises:
        DataNotFoundError: the file is not in the install (or the package is zipped).
    """
    res = resources.files("trackkit") / "assets" / filename
    path = Path(str(res))
    if not isinstance(res, Path) or not path.is_file():
        raise DataNotFoundError(
            f"{path}: trackkit's packaged weights are missing from the install "
            "(reinstall trackkit from a wheel or source tree that has src/trackkit/assets)"
        )
    return path


def resolve_weights(value: str | Path | None, default: str) -> Path:
    """The weights a tracker loads: ``value`` as a path, or as a model name of
    :func:`default_weights` when no such file exists (``"udt"``, ``"nanotrack_v3"``, ...);
    ``None`` means ``default_weights(default)``."""
    if value is None:
        return default_weights(default)
    path = Path(value)
    if not path.exists() and str(value).removesuffix(".pt") in {*_PACKAGED, *_SHARED}:
        return default_weights(str(value))
    if not path.exists():
        from trackkit.zoo import is_model_name, resolve

        if is_model_name(str(value)):  # a name of `trackkit models list` (vit-tracker, ...)
            return resolve(str(value), "sot")
    return path


def trained_weights(value: str | Path | None, kind: str) -> Path:
    """The weights file of one of trackkit's trainable trackers (``kind``: ``siamfc``,
    ``goturn``, ``mdnet``): :func:`resolve_weights`, then a clear error naming the command
    that trains them when the file does not exist."""
    path = resolve_weights(value, kind)
    if not path.is_file():
        raise DataNotFoundError(
            f"{path}: {kind} weights not found (train them with "
            f"'trackkit sot train --model {kind} --data ROOT' and pass --weights FILE; in "
            "Python weights=FILE)"
        )
    return path


def load_network(path: str | Path, kind: str, net_class: Any, **arch_defaults: Any) -> Any:
    """A ``net_class`` network loaded from a trackkit weights file of ``kind``.

    The constructor gets every key of ``arch_defaults``, taken from the file's recorded
    architecture when present (cast to the default's type), else the default. Floating-point
    tensors load as float32; the network is left in training mode (callers call ``eval()``).

    Raises:
        DataNotFoundError: the file does not exist.
        FormatError: it does not hold ``kind`` weights that fit the architecture.
    """
    from trackkit.sot.nets.weights import load_weights

    arch, state = load_weights(path, kind)
    try:
        net = net_class(**{k: type(v)(arch.get(k, v)) for k, v in arch_defaults.items()})
        floats = {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}
        net.load_state_dict(floats)
    except (RuntimeError, ValueError, TypeError, OverflowError, MemoryError) as exc:
        reason = " ".join(str(exc).split())[:200]  # one line: torch's message has several
        raise FormatError(str(path), f"{kind} weights do not fit: {reason}") from None
    return net
