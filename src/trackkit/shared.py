"""Locate the ``shared`` folder of real data and pretrained weights.

The folder is found through the environment variable ``TRACKKIT_SHARED``; by default it is
``../shared`` beside the repository (checked relative to the source tree, then to the current
directory). Nothing in it is ever copied into the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "TRACKKIT_SHARED"


def _candidates() -> list[Path]:
    env = os.environ.get(ENV_VAR)
    if env:
        return [Path(env).expanduser()]
    repo_root = Path(__file__).resolve().parents[2]
    return [repo_root.parent / "shared", Path.cwd().parent / "shared", Path.cwd() / "shared"]


def shared_dir() -> Path | None:
    """The shared folder, or ``None`` when it cannot be found."""
    for path in _candidates():
        if path.is_dir():
            return path
    return None


def shared_path(*parts: str) -> Path | None:
    """``shared_dir() / parts``, or ``None`` when the folder or that entry is missing."""
    root = shared_dir()
    if root is None:
        return None
    path = root.joinpath(*parts)
    return path if path.exists() else None
