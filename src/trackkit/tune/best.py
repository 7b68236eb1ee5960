"""Reading the best-configuration file that ``trackkit tune`` writes
(:func:`trackkit.tune.search.write_best`), for ``trackkit track --config FILE``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trackkit.errors import ConfigError, DataNotFoundError, TrackkitError

__all__ = ["BestConfig", "apply_config_option", "read_best_config"]


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
        raise TrackkitError(
            f"--config {p}: not a JSON file written by trackkit tune ({exc})"
        ) from None
    if not isinstance(data, dict):
        raise TrackkitError(f"--config {p}: expected a JSON object from trackkit tune")
    tracker, options = data.get("tracker"), data.get("options")
    offline = data.get("offline")
    if not isinstance(tracker, str) or not isinstance(options, dict):
        raise TrackkitError(
            f'--config {p}: needs "tracker" (a name) and "options" (an object), as '
            "trackkit tune writes them"
        )
    if offline is not None and not isinstance(offline, dict):
        raise TrackkitError(f'--config {p}: "offline" must be an object or null')
    return BestConfig(tracker, dict(options), None if offline is None else dict(offline), p)


def apply_config_option(args: Any, default_tracker: str = "botsort") -> None:
    """Resolve ``trackkit track --config``: a best-config FILE sets the tracker (unless
    ``--tracker`` names it; another name is an error), its options (``--set`` items given on
    the command line override them) and, when it was tuned with the offline pass, turns the
    offline pass on with its options. ``KEY=VALUE`` items (the option's old meaning) are
    ``--set`` items. Sets ``args.tracker`` (``default_tracker`` when nothing names one).

    Raises:
        ConfigError: two files, or a file tuned for another tracker than ``--tracker``.
    """
    items = list(getattr(args, "config", None) or [])
    plain = [i for i in items if "=" in i and not Path(i).is_file()]
    files = [i for i in items if i not in plain]
    if len(files) > 1:
        raise ConfigError(f"--config: give one best-config file, got {', '.join(files)}")
    first: list[str] = []
    if files:
        best = read_best_config(files[0])
        if args.tracker is not None and args.tracker != best.tracker:
            raise ConfigError(
                f"--config {files[0]}: tuned for tracker {best.tracker}, not --tracker "
                f"{args.tracker}; drop --tracker or tune {args.tracker}"
            )
        args.tracker = best.tracker
        first = [f"{k}={v!r}" for k, v in best.options.items()]
        if best.offline is not None:
            args.offline = True
            first += [f"offline.{k}={v!r}" for k, v in best.offline.items()]
    args.set = first + plain + list(args.set or [])
    if args.tracker is None:
        args.tracker = default_tracker
