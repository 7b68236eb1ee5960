"""What a batch did: one :class:`SourceResult` per task and a :class:`BatchSummary`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["BatchSummary", "SourceResult"]

STATUSES = ("done", "skipped", "failed", "pending")


@dataclass(frozen=True)
class SourceResult:
    """One source tracked by one tracker.

    Attributes:
        name: the source's name.
        source: its video file or folder.
        tracker: the MOT tracker.
        status: ``"done"`` (tracked now), ``"skipped"`` (finished by an earlier run),
            ``"failed"`` (``error`` says why) or ``"pending"`` (not finished: interrupted).
        output: the results file (it exists when the status is done or skipped).
        frames, seconds, tracks, detections: what tracking it took and gave (this run's; an
            earlier run's for a skipped source).
        attempts: how many times it was started (``> 1`` after a lost worker).
        error: one line, for a failed source.
        worker: which worker ran it.
    """

    name: str
    source: Path
    tracker: str
    status: str
    output: Path
    frames: int = 0
    seconds: float = 0.0
    tracks: int = 0
    detections: int = 0
    attempts: int = 0
    error: str | None = None
    worker: str = ""


@dataclass
class BatchSummary:
    """The outcome of :func:`trackkit.batch.run`.

    Attributes:
        out: the batch folder (results, ``manifest.jsonl``).
        results: one entry per (tracker, source), in the order planned.
        seconds: wall-clock time of the run (start-up included).
        engine: ``"local"`` or ``"ray"``; workers: how many ran.
        interrupted: the run was stopped (Ctrl-C) before every task finished.
        scores: with ``evaluate``: tracker -> :class:`trackkit.metrics.mot.MOTEvaluation`
            of its finished sequences that have ground truth.
    """

    out: Path
    results: list[SourceResult]
    seconds: float
    engine: str
    workers: int
    interrupted: bool = False
    scores: dict[str, Any] = field(default_factory=dict)

    def with_status(self, status: str) -> list[SourceResult]:
        """The results of one status."""
        return [r for r in self.results if r.status == status]

    @property
    def done(self) -> list[SourceResult]:
        return self.with_status("done")

    @property
    def skipped(self) -> list[SourceResult]:
        return self.with_status("skipped")

    @property
    def failed(self) -> list[SourceResult]:
        return self.with_status("failed")

    @property
    def complete(self) -> bool:
        """Every source has its results (done now or earlier)."""
        return all(r.status in ("done", "skipped") for r in self.results)

    @property
    def frames(self) -> int:
        """Frames tracked by this run."""
        return sum(r.frames for r in self.done)

    def table(self, per_source: bool = True) -> str:
        """A fixed-width table: one line per task (``per_source``) and one per tracker
        (counts of each status, frames, worker seconds, frames per worker second), then the
        whole run's frames per wall-clock second."""
        rows: list[tuple[str, ...]] = []
        if per_source:
            for r in self.results:
                fps = f"{r.frames / r.seconds:.1f}" if r.seconds > 0 and r.frames else "-"
                rows.append((r.tracker, r.name, r.status, str(r.frames), f"{r.seconds:.1f}",
                             fps, str(r.tracks), str(r.attempts or "-")))  # fmt: skip
        head = ("tracker", "source", "status", "frames", "seconds", "frames/s", "tracks", "tries")
        for tracker in dict.fromkeys(r.tracker for r in self.results):
            mine = [r for r in self.results if r.tracker == tracker and r.status == "done"]
            counts = {s: sum(r.tracker == tracker and r.status == s for r in self.results)
                      for s in STATUSES}  # fmt: skip
            what = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
            frames = sum(r.frames for r in mine)
            secs = sum(r.seconds for r in mine)
            rows.append((tracker, "(all)", what, str(frames), f"{secs:.1f}",
                         f"{frames / secs:.1f}" if secs > 0 else "-", "", ""))  # fmt: skip
        widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
        lines = ["  ".join(h.ljust(w) if i < 3 else h.rjust(w)
                           for i, (h, w) in enumerate(zip(head, widths)))]  # fmt: skip
        for row in rows:
            lines.append("  ".join(c.ljust(w) if i < 3 else c.rjust(w)
                                   for i, (c, w) in enumerate(zip(row, widths))))  # fmt: skip
        rate = self.frames / self.seconds if self.seconds > 0 else 0.0
        lines.append(
            f"{len(self.done)} done, {len(self.skipped)} skipped, {len(self.failed)} failed"
            f"{', interrupted' if self.interrupted else ''}: {self.frames} frames in "
            f"{self.seconds:.1f} s ({rate:.1f} frames/s) with {self.workers} "
            f"{self.engine} worker(s)"
        )
        return "\n".join(lines)
