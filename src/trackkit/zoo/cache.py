"""Where models live and how a name becomes a file: the cache and :func:`resolve`.

The cache is one folder, ``$TRACKKIT_HOME/models`` (default: the platform's user cache folder,
``$XDG_CACHE_HOME/trackkit`` or ``~/.cache/trackkit`` on Linux, ``~/Library/Caches/trackkit``
on macOS, ``%LOCALAPPDATA%\\trackkit\\Cache`` on Windows, then ``models``), with one sub-folder
per model holding exactly the model's files (:mod:`trackkit.zoo.catalog`). Files get there only
through :func:`trackkit.zoo.fetch.fetch`, which checks their sha256 before moving them in.

:func:`resolve` is what every model option (``--detector``, ``--weights``, ``--reid``,
``--model``, ``--teacher``) calls: an existing path is used as it is; a registry name is looked
up in the package (trackkit's own models), then in the cache (size and sha256 checked), then in
the shared folder (``../shared/weights``, read in place, as trackkit always has); a name found
nowhere says the exact ``trackkit models fetch`` command.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from trackkit.errors import ConfigError, DataNotFoundError, FormatError
from trackkit.shared import shared_path
from trackkit.zoo.catalog import ModelFile, ModelInfo, get_model, is_model_name

__all__ = [
    "HOME_ENV",
    "cache_dir",
    "cached_path",
    "check_file",
    "find_installed",
    "resolve",
    "sha256_file",
    "status",
]

HOME_ENV = "TRACKKIT_HOME"
_CHUNK = 1 << 20


def _user_cache() -> Path:
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "trackkit" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "trackkit"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "trackkit"


def cache_dir() -> Path:
    """The model cache folder (not created here)."""
    home = os.environ.get(HOME_ENV)
    return (Path(home).expanduser() if home else _user_cache()) / "models"


def cached_path(info: ModelInfo) -> Path:
    """Where model ``info`` is (or would be) in the cache: its file, or its folder when it has
    several files."""
    folder = cache_dir() / info.name
    return folder if info.is_folder else folder / info.files[0].name


def packaged_path(info: ModelInfo) -> Path:
    """The file of one of trackkit's own models inside the installed package."""
    return Path(__file__).resolve().parents[1] / "assets" / info.files[0].name


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def check_file(path: Path, spec: ModelFile, full: bool = True) -> str | None:
    """What is wrong with ``path`` as the file ``spec`` (``None``: nothing).

    ``full``: compare the sha256, not only the size.
    """
    if not path.is_file():
        return "missing"
    size = path.stat().st_size
    if size != spec.size:
        return f"{size} bytes, expected {spec.size} (truncated or another file)"
    if full:
        digest = sha256_file(path)
        if digest != spec.sha256:
            return f"sha256 {digest[:12]}..., expected {spec.sha256[:12]}... (corrupt)"
    return None


def _files_at(info: ModelInfo, where: Path) -> list[Path]:
    """The model's file paths given its file (one file) or folder (several)."""
    return [where / f.name for f in info.files] if info.is_folder else [where]


def _shared_location(info: ModelInfo) -> Path | None:
    if not info.folder:
        return None
    paths = [shared_path("weights", info.folder, f.name) for f in info.files]
    if any(p is None for p in paths):
        return None
    found = [p for p in paths if p is not None]
    return found[0].parent if info.is_folder else found[0]


def status(info: ModelInfo) -> tuple[str, Path | None]:
    """``(where, path)``: ``packaged``, ``cached``, ``shared`` (read in place) or ``missing``;
    sizes only are checked (``verify`` checks hashes)."""
    if info.packaged:
        path = packaged_path(info)
        return ("packaged", path) if path.is_file() else ("missing", None)
    cached = find_installed(info)
    if cached is not None:
        return "cached", cached
    shared = _shared_location(info)
    if shared is not None:
        return "shared", shared
    return "missing", None


def find_installed(info: ModelInfo) -> Path | None:
    """The model's cached path when every file is there with the right size, else ``None``."""
    cached = cached_path(info)
    files = _files_at(info, cached)
    if all(check_file(p, f, full=False) is None for p, f in zip(files, info.files)):
        return cached
    return None


def fetch_command(info: ModelInfo) -> str:
    """The command that installs ``info`` into the cache, quoted, with what DIR is."""
    if any(f.url is None for f in info.files):
        return f"'trackkit models fetch {info.name} --from DIR' (DIR holding {info.folder}/)"
    return (
        f"'trackkit models fetch {info.name}' (offline: add --from DIR, a folder laid out "
        "like ../shared/weights)"
    )


def _checked_cache(info: ModelInfo, cached: Path) -> Path:
    """``cached`` after a full sha256 check of every file; a bad file is a clear error."""
    for path, spec in zip(_files_at(info, cached), info.files):
        problem = check_file(path, spec)
        if problem is not None:
            raise FormatError(
                str(path),
                f"cached model {info.name} is damaged ({problem}); reinstall it with "
                f"'trackkit models fetch {info.name} --force'",
            )
    return cached


def resolve(name_or_path: str | Path, task: str | None = None) -> Path:
    """The file (or folder) to load for a model option's value.

    Args:
        name_or_path: an existing path (used as is), or a registry name (``yolox-nano``,
            ``nanotrack_v3``, ``omz-0288``, ...; ``_``/``-`` and case do not matter).
        task: ``detect``, ``sot`` or ``reid``: a name of another task's model is an error.

    Returns:
        The model's file, or its folder for models of several files (NanoTrack).

    Raises:
        DataNotFoundError: a name that is installed nowhere (the message gives the exact
            ``trackkit models fetch`` command) or a path that does not exist.
        FormatError: the cached copy is truncated or corrupt (the message says how to
            reinstall it).
        ConfigError: a name of another task's model.
    """
    path = Path(name_or_path)
    text = str(name_or_path)
    if path.exists():
        return path
    if not is_model_name(text):
        if task is not None and "/" not in text and "\\" not in text and not path.suffix:
            names = ", ".join(m for m in _names(task))
            raise ConfigError(f"{text!r} is neither a file nor a {task} model name ({names})")
        raise DataNotFoundError(f"{path}: no such file (nor a model name: 'trackkit models list')")
    info = get_model(text, task)
    if info.packaged:
        packaged = packaged_path(info)
        if not packaged.is_file():
            raise DataNotFoundError(f"{packaged}: trackkit's {info.name} missing from the install")
        return packaged
    cached = cached_path(info)
    if cached.exists():
        return _checked_cache(info, cached)
    shared = _shared_location(info)
    if shared is not None:
        return shared
    raise DataNotFoundError(
        f"model {info.name} is not in the cache ({cache_dir()}): run {fetch_command(info)}"
    )


def _names(task: str) -> list[str]:
    from trackkit.zoo.catalog import model_names

    return model_names(task)
