"""Reading the best-configuration file that ``trackkit tune`` writes
(:func:`trackkit.tune.search.write_best`), for ``trackkit track --config FILE``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trackkit.errors import DataNotFoundError, TrackkitError

__all__ = ["BestConfig", "read_best_config"]


@dataclass(frozen=True)
class BestConfig:
    """A tuned configuration: the tracker, its options, the offline pass's options (``None``:
    the search ran online) and the file it came from."""

    tracker: str
    options: dict[str, Any]
    offline: dict[str, Any] | None
    path: Path


def read_best_config(path: str | Path) -> BestConfig:
    """Read a best-configuration JSON file.

    Raises:
        DataNotFoundError: no such file.
        TrackkitError: not JSON, or no ``tracker`` / ``options`` of the right kind (the
            message names the file and the fix).
    """
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"--config {p}: no such file (trackkit tune writes OUT/best.json)")
    try:
        data = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TrackkitError(f"--config {p}: not a JSON file written by trackkit tune ({exc})")
    if not isinstance(data, dict):
        raise TrackkitError(f"--config {p}: expected a JSON object from trackkit tune")
    tracker, options = data.get("tracker"), data.get("options")
    offline = data.get("offline")
    if not isinstance(tracker, str) or not isinstance(options, dict):
        raise TrackkitError(
            f"--config {p}: needs \"tracker\" (a name) and \"options\" (an object), as "
            "trackkit tune writes them"
        )
    if offline is not None and not isinstance(offline, dict):
        raise TrackkitError(f"--config {p}: \"offline\" must be an object or null")
    return BestConfig(tracker, dict(options), None if offline is None else dict(offline), p)
