"""What a batch tracks: the sources named on the command line, one task each.

A SOURCE argument may be

- a video file (``.mp4``, ``.avi``, ``.mkv``, ...; any other file that is not a list is
  taken as a video too, and fails in its task if it is not one);
- an image folder, a MOTChallenge sequence folder (``det/det.txt`` or ``seqinfo.ini`` +
  ``img1/``) or its ``img1/``;
- a folder of those (sequences, image folders and video files directly inside it);
- a glob pattern (``videos/*.mp4``, ``data/**/MOT17-*``) of any of the above;
- a text file (``.txt`` or ``.list``, not a ``det.txt``) listing one of the above per line
  (blank lines and ``#`` comments skipped; relative paths are taken from the list's folder).

Every source keeps the name :func:`trackkit.pipeline.open_sources` gives it (a video's stem, a
folder's name), which names its results file; two sources of one batch may not share a name.
Nothing is opened here: a corrupt video fails in its own task, not the whole batch.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from trackkit.errors import ConfigError, DataNotFoundError
from trackkit.io.video import is_image_folder

__all__ = ["VIDEO_SUFFIXES", "BatchSource", "find_sources"]

#: Suffixes of the video files a folder's listing picks up.
VIDEO_SUFFIXES: frozenset[str] = frozenset(
    {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts"}
)
LIST_SUFFIXES = (".txt", ".list", ".lst")


@dataclass(frozen=True)
class BatchSource:
    """One source of a batch: its results go to ``<name>.txt``.

    Attributes:
        name: the source's name (a video's stem, a folder's name).
        path: the video file or folder, as found (absolute).
    """

    name: str
    path: Path


def _is_sequence(path: Path) -> bool:
    """A MOTChallenge sequence as :func:`trackkit.pipeline.open_sources` reads one."""
    ini = path / "seqinfo.ini"
    return (path / "det" / "det.txt").is_file() or (ini.is_file() and (path / "img1").is_dir())


def _is_list(path: Path) -> bool:
    return path.suffix.lower() in LIST_SUFFIXES and path.parent.name != "det"


def _read_list(path: Path, seen: set[Path]) -> list[BatchSource]:
    if path in seen:
        raise ConfigError(f"{path}: the source list includes itself")
    found: list[BatchSource] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        entry = Path(text).expanduser()
        if not entry.is_absolute():
            entry = path.parent / entry
        try:
            found += _expand(str(entry), seen | {path})
        except DataNotFoundError as exc:
            raise DataNotFoundError(f"{path}, line {number}: {exc}") from None
    return found


def _expand_folder(path: Path) -> list[BatchSource]:
    if path.name == "img1" and (path.parent / "seqinfo.ini").is_file():
        path = path.parent
    if _is_sequence(path) or is_image_folder(path):
        return [BatchSource(path.name, path)]
    found = []
    for child in sorted(path.iterdir()):
        if child.is_dir() and (_is_sequence(child) or is_image_folder(child)):
            found.append(BatchSource(child.name, child))
        elif child.is_file() and child.suffix.lower() in VIDEO_SUFFIXES:
            found.append(BatchSource(child.stem, child))
    if not found:
        raise DataNotFoundError(
            f"{path}: not a video, an image folder or a MOTChallenge sequence, and holds none"
        )
    return found


def _expand(text: str, seen: set[Path]) -> list[BatchSource]:
    if glob.has_magic(text):
        matches = sorted(glob.glob(text, recursive=True))
        if not matches:
            raise DataNotFoundError(f"{text}: the pattern matches nothing")
        found: list[BatchSource] = []
        for match in matches:
            found += _expand(glob.escape(match), seen)
        return found
    path = Path(text).expanduser().absolute()
    if not path.exists():
        raise DataNotFoundError(f"{text}: no such file or folder")
    if path.is_dir():
        return _expand_folder(path)
    if _is_list(path):
        return _read_list(path, seen)
    return [BatchSource(path.stem, path)]


def find_sources(sources: Iterable[str | Path] | str | Path) -> list[BatchSource]:
    """The sources of a batch, in the order given (each folder's listing sorted by name).

    A source named twice is kept once.

    Raises:
        DataNotFoundError: a path or pattern that finds nothing (the message names it).
        ConfigError: two different sources with the same name, or no source at all.
    """
    items: Sequence[str | Path] = [sources] if isinstance(sources, (str, Path)) else list(sources)
    found: dict[Path, BatchSource] = {}
    for item in items:
        for source in _expand(str(item), set()):
            found.setdefault(source.path, source)
    if not found:
        raise ConfigError("no SOURCE given")
    by_name: dict[str, Path] = {}
    for source in found.values():
        other = by_name.setdefault(source.name, source.path)
        if other != source.path:
            raise ConfigError(
                f"two sources are named {source.name!r} ({other} and {source.path}): their "
                "results would share one file; run them in separate batches (--out)"
            )
    return list(found.values())
