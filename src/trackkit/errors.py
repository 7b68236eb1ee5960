"""The errors trackkit raises for bad input.

Every problem caused by a user's file, option or data raises a :class:`TrackkitError`
subclass whose message names the file, the line (1-based), the column (1-based) and the
problem. The CLI prints that message in one line and exits with status 2.
"""

from __future__ import annotations

from pathlib import Path


class TrackkitError(Exception):
    """Base class of all errors trackkit raises on purpose."""


class ConfigError(TrackkitError, ValueError):
    """An invalid configuration value or an unknown registry name."""


class FormatError(TrackkitError, ValueError):
    """A malformed input file.

    Args:
        path: the file that is malformed (or a description such as ``"<stdin>"``).
        problem: what is wrong, in words.
        line: 1-based line number, if known.
        column: 1-based column number, if known.
    """

    def __init__(
        self,
        path: str | Path,
        problem: str,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.path = str(path)
        self.problem = problem
        self.line = line
        self.column = column
        where = self.path
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column}"
        super().__init__(f"{where}: {problem}")


class DataNotFoundError(TrackkitError, FileNotFoundError):
    """A required file or folder does not exist."""
