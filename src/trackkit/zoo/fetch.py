"""Install models into the cache: from a local folder, a ``file://`` URL or the web.

:func:`fetch` copies (or downloads, with a progress bar) each file of a model into a staging
folder inside the cache, computing its sha256 on the way; only when every file has the size and
hash of the registry are they moved into place with :func:`os.replace` (atomic on one file
system). A wrong hash, a truncated download, a missing file or an unreachable URL raises one
clear error naming the model and what to do, and the staging folder is removed: nothing
half-written stays in the cache.

Sources, in order: ``source`` (``--from``: a folder or a URL), else the ``TRACKKIT_MIRROR``
environment variable, else each file's own download URL. A mirror (folder or URL) is laid out
like ``../shared/weights`` (``MIRROR/<folder>/<file>``); a folder may also hold the files
directly or in ``MIRROR/<model name>/``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from trackkit.errors import ConfigError, DataNotFoundError, FormatError
from trackkit.zoo.cache import cache_dir, cached_path, check_file, find_installed, packaged_path
from trackkit.zoo.catalog import ModelFile, ModelInfo, get_model

__all__ = ["MIRROR_ENV", "FetchResult", "fetch"]

MIRROR_ENV = "TRACKKIT_MIRROR"
TIMEOUT_S = 30.0
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch` did: ``action`` is ``installed``, ``present`` (already cached and
    intact) or ``packaged`` (shipped with trackkit); ``source`` where the files came from."""

    name: str
    path: Path
    action: str
    source: str = ""


def _is_url(text: str) -> bool:
    return text.split("://", 1)[0].lower() in ("file", "http", "https") and "://" in text


def _candidates(info: ModelInfo, spec: ModelFile, source: str | None) -> list[str]:
    """Where to look for one file: folder paths or URLs, in order."""
    if source is None:
        if spec.url is None:
            raise DataNotFoundError(
                f"model {info.name}: {spec.name} has no download URL (it is derived from the "
                f"release); install it from a folder: 'trackkit models fetch {info.name} "
                f"--from DIR' (DIR holding {info.folder}/{spec.name})"
            )
        return [spec.url]
    subdirs = [d for d in (info.folder, info.name) if d] + [""]
    if _is_url(source):
        base = source.rstrip("/")
        return [f"{base}/{d}/{spec.name}" if d else f"{base}/{spec.name}" for d in subdirs]
    root = Path(source).expanduser()
    if not root.is_dir():
        raise DataNotFoundError(f"--from {source}: no such folder (nor a file:// or http URL)")
    return [str(root / d / spec.name) for d in subdirs]


@contextmanager
def _open(where: str, info: ModelInfo) -> Iterator[tuple[IO[bytes], int | None] | None]:
    """Open a candidate for reading: ``(stream, size or None)``, or ``None`` when it is not
    there (a missing file, HTTP 404). Other failures raise a one-line error."""
    if not _is_url(where):
        p = Path(where)
        if not p.is_file():
            yield None
            return
        with open(p, "rb") as fh:
            yield fh, p.stat().st_size
        return
    try:
        resp = urllib.request.urlopen(where, timeout=TIMEOUT_S)  # noqa: S310 (scheme checked)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            yield None
            return
        raise DataNotFoundError(
            f"model {info.name}: {where} answered HTTP {exc.code}; try again later or install "
            f"from a folder with 'trackkit models fetch {info.name} --from DIR'"
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        if where.lower().startswith("file:") and isinstance(reason, FileNotFoundError):
            yield None
            return
        raise DataNotFoundError(
            f"model {info.name}: cannot reach {where} ({reason}); check the network or install "
            f"from a folder with 'trackkit models fetch {info.name} --from DIR'"
        ) from None
    with resp:
        length = resp.headers.get("Content-Length") if hasattr(resp, "headers") else None
        yield resp, int(length) if length and str(length).isdigit() else None


def _copy(
    stream: IO[bytes], dest: Path, total: int | None, label: str, progress: bool
) -> tuple[int, str]:
    """Copy ``stream`` to ``dest`` with a progress bar; return ``(bytes, sha256 hex)``."""
    from tqdm import tqdm

    h = hashlib.sha256()
    n = 0
    with open(dest, "wb") as out, tqdm(total=total, unit="B", unit_scale=True,
                                       unit_divisor=1024, desc=label, disable=not progress,
                                       leave=False) as bar:  # fmt: skip
        while chunk := stream.read(_CHUNK):
            out.write(chunk)
            h.update(chunk)
            n += len(chunk)
            bar.update(len(chunk))
    return n, h.hexdigest()


def _fetch_file(
    info: ModelInfo, spec: ModelFile, source: str | None, staging: Path, progress: bool
) -> str:
    """Bring one file into ``staging`` and check it; return where it came from."""
    tried = _candidates(info, spec, source)
    for where in tried:
        with _open(where, info) as opened:
            if opened is None:
                continue
            stream, total = opened
            size, digest = _copy(stream, staging / spec.name, total or spec.size,
                                 f"{info.name} {spec.name}", progress)  # fmt: skip
        if size != spec.size or digest != spec.sha256:
            what = (f"{size} bytes, expected {spec.size}" if size != spec.size
                    else f"sha256 {digest}, expected {spec.sha256}")  # fmt: skip
            raise FormatError(
                where,
                f"model {info.name}: {what}; the file is corrupt, truncated or another version "
                "and was not installed (use the release file or a good mirror)",
            )
        return where
    raise DataNotFoundError(
        f"model {info.name}: {spec.name} not found at {' or '.join(tried)}; give the folder "
        f"that holds {info.folder or info.name}/ with 'trackkit models fetch {info.name} "
        "--from DIR'"
    )


def fetch(
    name: str, source: str | Path | None = None, force: bool = False, progress: bool = True
) -> FetchResult:
    """Install model ``name`` into the cache (see the module docstring).

    Args:
        name: a registry name (``trackkit models list``).
        source: a folder or a ``file://`` / ``http(s)://`` URL of a mirror; ``None``: the
            ``TRACKKIT_MIRROR`` environment variable, else the files' own URLs.
        force: reinstall even when an intact copy is cached (repairs a damaged one).
        progress: show a progress bar per file (stderr).

    Raises:
        ConfigError: an unknown name.
        DataNotFoundError: the files are not at the source, or it cannot be reached.
        FormatError: a file's size or sha256 differs from the registry's.
    """
    info = get_model(name)
    if info.packaged:
        return FetchResult(info.name, packaged_path(info), "packaged")
    target = cached_path(info)
    if not force and find_installed(info) is not None:
        files = [target / f.name for f in info.files] if info.is_folder else [target]
        if all(check_file(p, f) is None for p, f in zip(files, info.files)):
            return FetchResult(info.name, target, "present")
    src = str(source) if source is not None else os.environ.get(MIRROR_ENV) or None
    folder = cache_dir() / info.name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the model cache {folder} ({exc}); set TRACKKIT_HOME"
        ) from None
    staging = Path(tempfile.mkdtemp(prefix=f".{info.name}.", suffix=".part", dir=folder))
    try:
        origins = [_fetch_file(info, spec, src, staging, progress) for spec in info.files]
        for spec in info.files:
            os.replace(staging / spec.name, folder / spec.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not any(folder.iterdir()):
            folder.rmdir()
    return FetchResult(info.name, target, "installed", ", ".join(_dirs(origins)))


def _dirs(origins: list[str]) -> list[str]:
    """The distinct folders/URL prefixes the files came from."""
    seen: dict[str, None] = {}
    for o in origins:
        seen.setdefault(o.rsplit("/", 1)[0] if _is_url(o) else str(Path(o).parent), None)
    return list(seen)
