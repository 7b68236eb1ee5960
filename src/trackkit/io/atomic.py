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

from trackkit.io.closing import Closing

__all__ = ["LineStream", "append_whole", "atomic_open", "atomic_path", "write_bytes", "write_text"]


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


class LineStream(Closing):
    """A results file written as its frames are tracked, whole lines at a time.

    The file is created by the first :meth:`write` (with ``header`` in front), so a run that
    fails before its first frame leaves no file that would look like a result; each
    :meth:`write` is :func:`append_whole` (one system call), so a killed or interrupted run
    keeps the lines of every finished frame and never a broken line. Every streaming writer
    of trackkit (MOTChallenge, the export formats, SOT boxes) writes through one.

    Args:
        path: the file (parent folders are created on the first write).
        header: text written before the first line (e.g. a CSV header).
    """

    def __init__(self, path: str | Path, header: str = "") -> None:
        self.path = Path(path)
        self.header = header
        self._fd: int | None = None
        self._closed = False

    @property
    def started(self) -> bool:
        """Whether the file exists (a line was written)."""
        return self._fd is not None

    def write(self, text: str) -> None:
        """Append ``text`` (whole lines, each ending in a newline).

        Raises:
            ValueError: the stream is closed.
        """
        if self._closed:
            raise ValueError(f"{self.path}: writer is closed")
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
            text = self.header + text
        append_whole(self._fd, text)

    def close(self) -> None:
        """Close the file (safe to call more than once)."""
        self._closed = True
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
