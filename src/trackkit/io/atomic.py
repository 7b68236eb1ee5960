"""Writing files so that a reader never sees half of one.

Every file trackkit writes in one go (results of a whole run, JSON scores, CSV tables,
plots, reports, exported ONNX; weights and checkpoints through
:func:`trackkit.training.io.atomic_save`, which uses :func:`atomic_path`) is written to a
temporary file beside the target (``.<name>.<random>.tmp<suffix>``, same folder, so the
same file system) and renamed into place with ``os.replace`` once it is complete. A run
killed while writing leaves either the previous file or the new one, never a mix; the
temporary file is removed when the writer raises (a ``SIGKILL`` can leave one behind: its
name starts with a dot and ends in ``.tmp<suffix>``).

Files written as a stream (MOTChallenge results frame by frame,
:class:`trackkit.io.mot_txt.MOTResultWriter`) are not renamed: they keep what a killed run
finished, one whole frame per ``write`` call (:func:`append_whole`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["append_whole", "atomic_open", "atomic_path", "write_bytes", "write_text"]


def _umask() -> int:
    """The process's file-mode creation mask, read without changing it where the system
    says it (Linux ``/proc``); elsewhere set and restored at once."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix, so libraries that pick a format from
    the extension still do); renamed to ``path`` when the ``with`` block ends without an
    exception, removed otherwise. The parent folder is created when missing."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=target.parent
    )
    os.close(fd)
    tmp = Path(name)
    # mkstemp creates the file owner-only (0600); give it the mode a plain open() would.
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_open(path: str | Path, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """``open(path, mode)`` on a temporary file renamed to ``path`` when the block ends
    without an exception (``mode`` ``"w"`` or ``"wb"``; ``kwargs`` go to ``open``; text
    defaults to UTF-8)."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode 'w' or 'wb', got {mode!r}")
    if mode == "w":
        kwargs.setdefault("encoding", "utf-8")
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


def write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; returns ``path``."""
    with atomic_open(path, "w", encoding=encoding, newline="") as fh:
        fh.write(text)
    return Path(path)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def append_whole(fd: int, text: str) -> None:
    """Append ``text`` (whole lines) to the open file descriptor ``fd`` with as few
    ``write`` system calls as the kernel allows (one for a regular file), so that a process
    killed by a signal has written all of it or none of it: a Python-level interrupt
    (``KeyboardInterrupt``) is only raised between calls, after the data is in the file."""
    data = memoryview(text.encode("utf-8"))
    while data:
        written = os.write(fd, data)
        data = data[written:]
