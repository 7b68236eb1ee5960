"""Files of a training run: atomic saving, safe loading, random-number-generator states.

- :func:`atomic_save` is the only way trackkit writes a checkpoint or a weights file: the
  object goes to a temporary file beside the target, then ``os.replace`` renames it, so a run
  killed while saving never leaves a half-written file.
- :func:`load_trusted` reads any ``.pt`` file with ``torch.load(weights_only=True)`` only:
  tensors, containers and plain types, never arbitrary pickled objects.
- :func:`rng_state` / :func:`set_rng_state` capture and restore the global random generators
  (Python, torch) and an optional numpy :class:`~numpy.random.Generator` as tensors and plain
  types, so a checkpoint holding them still loads with ``weights_only=True``.

torch is imported inside the functions.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np

from trackkit.errors import DataNotFoundError, FormatError
from trackkit.io.atomic import atomic_path

__all__ = ["atomic_save", "load_trusted", "rng_state", "set_rng_state"]


def atomic_save(obj: Any, path: str | Path) -> Path:
    """``torch.save(obj)`` to ``path`` through a temporary file and ``os.replace``
    (:func:`trackkit.io.atomic.atomic_path`, the one atomic-write helper).

    The parent folder is created when missing. Returns ``path``.
    """
    import torch

    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


def load_trusted(path: str | Path, what: str = "weights file", map_location: Any = "cpu") -> Any:
    """Load ``path`` with ``torch.load(weights_only=True)``.

    Raises:
        DataNotFoundError: no such file.
        FormatError: the file is not a torch file, or it holds pickled objects other than
            tensors, containers and plain types (refused, never executed).
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"{path}: {what} not found")
    if path.stat().st_size == 0:
        raise FormatError(path, f"empty file, not a {what} (re-download or re-train it)")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling problem is a format problem
        raise FormatError(path, _load_problem(exc, what)) from None


def _load_problem(exc: Exception, what: str) -> str:
    """One line saying why ``torch.load(weights_only=True)`` refused a file, and what to do."""
    text = " ".join(str(exc).split())
    if "Unsupported global" in text or "Unsupported class" in text:
        return (
            f"cannot read the {what} safely: it holds pickled Python objects, which trackkit "
            "never loads (only tensors and plain types); re-save it as a state dict"
        )
    if "central directory" in text or isinstance(exc, EOFError) or "truncated" in text:
        return f"truncated or corrupt {what} (re-download or re-train it)"
    if isinstance(exc, (KeyError, UnicodeDecodeError)) or "Unsupported operand" in text:
        return f"not a torch {what} (not a file written by torch.save)"
    return f"cannot read the {what} safely ({(text or type(exc).__name__)[:200]})"


def rng_state(numpy_rng: np.random.Generator | None = None) -> dict[str, Any]:
    """The state of Python's and torch's global generators (and of ``numpy_rng``) as tensors
    and plain types."""
    import torch

    version, internal, gauss = random.getstate()
    state: dict[str, Any] = {
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
        "torch": torch.get_rng_state(),
        "numpy": None,
    }
    if numpy_rng is not None:
        state["numpy"] = dict(numpy_rng.bit_generator.state)
    return state


def set_rng_state(state: dict[str, Any], numpy_rng: np.random.Generator | None = None) -> None:
    """Restore what :func:`rng_state` captured (``numpy_rng`` in place, when given)."""
    import torch

    py = state.get("python")
    if py is not None:
        random.setstate((py["version"], tuple(py["internal"]), py["gauss"]))
    if state.get("torch") is not None:
        torch.set_rng_state(state["torch"])
    if numpy_rng is not None and state.get("numpy") is not None:
        numpy_rng.bit_generator.state = state["numpy"]
