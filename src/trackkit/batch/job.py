"""One batch task on a worker: track one source with :func:`trackkit.pipeline.track_video`.

:class:`TrackJob` is the callable that :func:`trackkit.batch.engine.map_tasks` ships to each
worker once. It runs the one MOT run path exactly as ``trackkit track`` does (same source
reader, same detector choice, same tracker build, same writer), so a batch's results files
are byte-identical to ``trackkit track``'s. What is expensive to load is loaded once per
worker and kept: a detector named by a spec (``hog``, ``bgsub``, ``yolox:MODEL.onnx``) and the
ReID embedder; :func:`~trackkit.pipeline.track_video` resets the detector for every video. A
MOTChallenge sequence's own ``det/det.txt`` (``file:``) is read for its own task.

Results are written to a temporary file of the worker and returned as bytes: the driver
renames them into place, so only the inputs need to be on a filesystem every worker sees.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trackkit.errors import ConfigError

__all__ = ["TrackJob", "TrackOutput", "TrackTask"]


@dataclass(frozen=True)
class TrackTask:
    """One source tracked by one tracker.

    Attributes:
        key: the results file relative to the batch folder (``[tracker/]name.txt``).
        source: the video file or folder.
        name: the source's name.
        tracker: the registered MOT tracker.
    """

    key: str
    source: str
    name: str
    tracker: str


@dataclass(frozen=True)
class TrackOutput:
    """What tracking one source gave: counts of :class:`trackkit.pipeline.PipelineSummary`
    and the MOTChallenge results file's bytes."""

    frames: int
    seconds: float
    detections: int
    tracks: int
    data: bytes


class TrackJob:
    """Track a :class:`TrackTask` (picklable; one copy per worker, models cached in it).

    Args:
        detector: a detector spec (``hog``, ``bgsub``, ``yolox:MODEL.onnx``, ``file:det.txt``)
            or a picklable detector object (each worker gets its own copy); ``None``: a
            sequence's own ``det/det.txt``, else ``video_default`` (the rule of ``trackkit
            track``, :func:`trackkit.detectors.defaults.choose_detector`).
        detector_options: the detector's options (``--set det.KEY=VALUE``).
        reid: an embedder spec for appearance features (``--reid``), loaded once per worker.
        tracker_options: the tracker's options (``--set KEY=VALUE``).
        classes: keep only these classes.
        offline: the offline linking pass's options (``None``: no offline pass).
        fps: frame rate to assume instead of the stored one.
        video_default: ``(spec, options)`` of the detector for a source without detections
            when ``detector`` is ``None`` (``trackkit track``'s choice:
            :func:`trackkit.detectors.defaults.default_person_detector`, made once by the
            driver); ``None``: ``hog``.
        class_aware: one tracker per class (``--class-aware``).
    """

    def __init__(
        self,
        detector: Any = None,
        detector_options: dict[str, Any] | None = None,
        reid: str | None = None,
        tracker_options: dict[str, Any] | None = None,
        classes: list[str | int] | None = None,
        offline: dict[str, Any] | None = None,
        fps: float | None = None,
        video_default: tuple[str, dict[str, Any]] | None = None,
        class_aware: bool = False,
    ) -> None:
        self.detector = detector
        self.detector_options = dict(detector_options or {})
        self.reid = reid
        self.tracker_options = dict(tracker_options or {})
        self.classes = list(classes) if classes else None
        self.offline = offline
        self.fps = fps
        self.video_default = video_default or ("hog", {})
        self.class_aware = class_aware
        self._detectors: dict[str, Any] = {}
        self._embedder: Any = None

    def __getstate__(self) -> dict[str, Any]:
        # a copy sent to a worker starts without the models this one may have loaded
        return {**self.__dict__, "_detectors": {}, "_embedder": None}

    def check(self) -> None:
        """Build the detector named by a spec once (not a per-source ``file:``), so that a
        bad name, model file or option fails before any task; the detector is kept (a local
        run uses it, a copy sent to a worker does not carry it)."""
        from trackkit.detectors import build_detector

        spec = self.detector if isinstance(self.detector, str) else None
        if spec is None or spec.startswith("file:") or spec.lower().endswith(".txt"):
            return
        if spec not in self._detectors:
            try:
                self._detectors[spec] = build_detector(spec, **self.detector_options)
            except (TypeError, ValueError) as exc:
                if isinstance(exc, ConfigError):
                    raise
                raise ConfigError(f"--set: bad option for detector {spec}: {exc}") from None

    def _detector(self, source: Any) -> Any:
        from trackkit.detectors import build_detector

        if self.detector is not None and not isinstance(self.detector, str):
            detector = self.detector
        else:
            from trackkit.detectors.defaults import DefaultDetector, choose_detector

            default = DefaultDetector(*self.video_default)
            spec, options, _ = choose_detector(
                self.detector,
                source.detections,
                self.detector_options,
                classes=bool(self.classes),
                default=default,
            )
            if spec.startswith("file:") or spec.lower().endswith(".txt"):
                detector = build_detector(spec, **options)
            else:
                if spec not in self._detectors:
                    self._detectors[spec] = build_detector(spec, **options)
                detector = self._detectors[spec]
        if self.reid:
            from trackkit.detectors import EmbeddingDetector

            if self._embedder is None:
                from trackkit.reid.embedder import load_embedder

                self._embedder = load_embedder(self.reid)
            detector = EmbeddingDetector(detector, self._embedder)
        return detector

    def __call__(self, task: TrackTask) -> TrackOutput:
        from trackkit.pipeline import track_video
        from trackkit.sources import as_source

        source = as_source(task.source, self.fps, None)
        fd, name = tempfile.mkstemp(prefix=f"trackkit-{source.name}-", suffix=".txt")
        os.close(fd)
        tmp = Path(name)
        try:
            summary = track_video(
                source,
                self._detector(source),
                task.tracker,
                results=tmp,
                classes=self.classes,
                progress=False,
                tracker_options=self.tracker_options,
                offline=self.offline,
                format="mot",
                class_aware=self.class_aware,
            )
            data = tmp.read_bytes()
        finally:
            tmp.unlink(missing_ok=True)
        return TrackOutput(
            summary.frames, summary.seconds, summary.detections, summary.tracks, data
        )
