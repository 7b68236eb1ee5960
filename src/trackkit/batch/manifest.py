"""``DIR/manifest.jsonl``: what a batch finished, one JSON object per line, appended.

Each line records one task's outcome as it finishes: ``key`` (the results file, relative to
DIR, e.g. ``bytetrack/MOT17-02-FRCNN.txt``), ``source``, ``name``, ``tracker``, ``status``
(``"done"`` or ``"failed"``), ``frames``, ``seconds``, ``tracks``, ``detections``, ``error``,
``attempts``, ``worker``, ``config`` (a fingerprint of the options that made it) and
``time`` (UTC). Only the process that drives the batch writes it; every line is flushed and
synced before the next task is recorded, and a results file is renamed into place *before*
its ``done`` line is written, so an interrupted batch leaves a manifest that is true.

A later line about the same key wins. A rerun skips a key whose last line is ``done`` with
the same source and config and whose results file exists, and redoes every other one. A line
cut short by a crash is ignored (with a warning).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

__all__ = ["Manifest", "fingerprint"]

logger = logging.getLogger(__name__)


def fingerprint(options: dict[str, Any]) -> str:
    """A short stable hash of JSON-able ``options`` (sorted keys; other values by ``repr``)."""
    text = json.dumps(options, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class Manifest:
    """The manifest of the batch writing into ``folder`` (created if needed); ``last`` holds
    the last record of every key, read when it is opened and kept current by :meth:`append`."""

    NAME = "manifest.jsonl"

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / self.NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.last = self.records()
        if self.path.is_file() and self.path.stat().st_size > 0:
            with open(self.path, "rb+") as fh:  # a line cut short: end it before appending
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    fh.write(b"\n")

    def records(self) -> dict[str, dict[str, Any]]:
        """The last record of every key."""
        last: dict[str, dict[str, Any]] = {}
        if not self.path.is_file():
            return last
        with open(self.path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    last[str(record["key"])] = record
                except (ValueError, KeyError, TypeError):
                    logger.warning("%s, line %d: unreadable record ignored", self.path, number)
        return last

    def is_done(self, key: str, source: str, config: str, output: Path) -> bool:
        """Whether ``key`` was finished by a batch with the same source and config and its
        results file is still there."""
        record = self.last.get(key)
        return bool(
            record is not None
            and record.get("status") == "done"
            and record.get("source") == source
            and record.get("config") == config
            and output.is_file()
        )

    def append(self, record: dict[str, Any]) -> None:
        """Append one record (``time`` added), flushed and synced to disk."""
        self.last[str(record["key"])] = record
        line = json.dumps({**record, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
