"""``trackkit.batch.run``: track many sources (and trackers) into one folder, resumably.

    from trackkit import batch
    summary = batch.run(["videos/", "data/MOT17/train"], "results/", tracker="bytetrack",
                        engine="ray", workers=4)
    print(summary.table())

One task per (tracker, source) goes through :func:`~trackkit.batch.engine.map_tasks`; each
finished task's results are renamed into ``OUT/[<tracker>/]<name>.txt`` (a tracker grid gets
one folder per tracker) and recorded in ``OUT/manifest.jsonl``
(:class:`~trackkit.batch.manifest.Manifest`) before the next one. Running the same batch
again skips what is finished and redoes the rest; a failed source is recorded with its error
and the others go on; Ctrl-C stops the workers and returns what was finished
(``interrupted``), the manifest true to the files.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from trackkit.batch.engine import TaskResult, default_engine, map_tasks
from trackkit.batch.job import TrackJob, TrackOutput, TrackTask
from trackkit.batch.manifest import Manifest, fingerprint
from trackkit.batch.sources import find_sources
from trackkit.batch.summary import BatchSummary, SourceResult
from trackkit.errors import ConfigError, TrackkitError
from trackkit.io.atomic import write_bytes

__all__ = ["parse_trackers", "run"]

logger = logging.getLogger(__name__)


def parse_trackers(tracker: str | Sequence[str]) -> list[str]:
    """``"a,b,c"`` or ``["a", "b"]`` -> the tracker names, each once, in order."""
    items = tracker.split(",") if isinstance(tracker, str) else list(tracker)
    names = list(dict.fromkeys(n.strip() for n in items if n.strip()))
    if not names:
        raise ConfigError("--tracker: no tracker named")
    return names


def _check(trackers: list[str], options: dict[str, Any], offline: dict[str, Any] | None) -> None:
    """Fail before any work on a bad tracker name or option."""
    from trackkit.pipeline import build_tracker

    for name in trackers:
        try:
            build_tracker(name, 30.0, **options)
        except TrackkitError:
            raise
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"--set: bad option for tracker {name}: {exc}") from None
    if offline is not None:
        from trackkit.mot.offline import OfflineLinker

        OfflineLinker(**offline)


def _absolute(spec: Any) -> Any:
    """A spec naming an existing file (``yolox:model.onnx``, ``model.pt``) with that file's
    absolute path, so that workers with another working folder find it."""
    if not isinstance(spec, str):
        return spec
    name, sep, arg = spec.partition(":")
    if sep and len(name) > 1 and Path(arg).expanduser().exists():
        return f"{name}:{Path(arg).expanduser().absolute()}"
    path = Path(spec).expanduser()
    return str(path.absolute()) if path.suffix and path.exists() else spec


def _video_default() -> tuple[str, dict[str, Any]]:
    """``trackkit track``'s detector for a video when none is named (the best person
    detector in the model cache, else ``hog``), chosen once for the whole batch."""
    try:
        from trackkit.detectors.defaults import default_person_detector
    except ImportError:
        return "hog", {}
    chosen = default_person_detector()
    logger.info("%s", chosen.note)
    return chosen.spec, dict(chosen.options)


def run(
    sources: Iterable[str | Path] | str | Path,
    out: str | Path,
    *,
    tracker: str | Sequence[str] = "botsort",
    detector: Any = None,
    detector_options: dict[str, Any] | None = None,
    reid: str | None = None,
    tracker_options: dict[str, Any] | None = None,
    classes: list[str | int] | None = None,
    offline: dict[str, Any] | None = None,
    fps: float | None = None,
    class_aware: bool = False,
    engine: str | None = None,
    workers: int | None = None,
    address: str | None = None,
    threads: int = 1,
    gpus_per_worker: float = 0.0,
    retries: int = 2,
    evaluate: str | Path | None = None,
    benchmark: str | None = None,
    progress: bool = True,
    on_result: Callable[[SourceResult], None] | None = None,
) -> BatchSummary:
    """Track every source with every tracker; results in ``out``, resumable.

    Args:
        sources: videos, image folders, MOTChallenge sequences, folders or glob patterns of
            them, or list files (:func:`~trackkit.batch.sources.find_sources`).
        out: the batch folder: ``<name>.txt`` per source (``<tracker>/<name>.txt`` with
            several trackers) and ``manifest.jsonl``.
        tracker: a registered MOT tracker, or several (``"a,b,c"`` or a list): a grid.
        detector, detector_options, reid: see :class:`~trackkit.batch.job.TrackJob` (the
            defaults of ``trackkit track``: a sequence's ``det/det.txt``, else ``hog``).
        tracker_options: options of every tracker (``--set KEY=VALUE``).
        classes, offline, fps, class_aware: as ``trackkit track``'s ``--classes``,
            ``--offline`` options, ``--fps`` and ``--class-aware``.
        engine, workers, address, threads, gpus_per_worker, retries: how the tasks run
            (:func:`~trackkit.batch.engine.map_tasks`; ``workers=None``: one per ``threads``
            CPUs of the local machine or cluster).
        evaluate: a MOTChallenge ground-truth root (``<seq>/gt/gt.txt``): at the end, score
            each tracker's finished sequences that have ground truth, as ``trackkit eval mot``.
        benchmark: the evaluation's conventions (default: from the sequence names).
        progress: one progress bar over the tasks (stderr).
        on_result: called with each task's :class:`SourceResult` as it finishes.

    Returns:
        A :class:`BatchSummary`; ``interrupted`` when Ctrl-C stopped it (finished results
        and their manifest lines are kept; the rest is ``"pending"``).

    Raises:
        TrackkitError: bad sources or options, found before any work starts.
    """
    started = time.perf_counter()
    trackers = parse_trackers(tracker)
    options = dict(tracker_options or {})
    _check(trackers, options, offline)
    found = find_sources(sources)
    folder = Path(out)
    if folder.suffix.lower() == ".txt":
        raise ConfigError(f"--out {folder}: a batch writes a folder (results + manifest.jsonl)")
    detector, reid = _absolute(detector), _absolute(reid)
    video_default = _video_default() if detector is None else None
    job = TrackJob(detector, detector_options, reid, options, classes, offline, fps,
                   video_default, class_aware)  # fmt: skip
    job.check()
    manifest = Manifest(folder)
    det_key = detector if detector is None or isinstance(detector, str) else (
        f"{type(detector).__module__}.{type(detector).__qualname__}")  # fmt: skip
    results: list[SourceResult] = []
    tasks: list[TrackTask] = []
    slots: dict[str, int] = {}
    configs: dict[str, str] = {}
    for name in trackers:
        configs[name] = fingerprint({
            "tracker": name, "tracker_options": options, "detector": det_key,
            "detector_options": job.detector_options, "video_default": video_default,
            "reid": reid, "classes": classes, "offline": offline, "fps": fps,
            "class_aware": class_aware,
        })  # fmt: skip
        for src in found:
            key = f"{name}/{src.name}.txt" if len(trackers) > 1 else f"{src.name}.txt"
            output = folder / key
            slots[key] = len(results)
            if manifest.is_done(key, str(src.path), configs[name], output):
                old = manifest.last[key]
                results.append(SourceResult(
                    src.name, src.path, name, "skipped", output, int(old.get("frames", 0)),
                    float(old.get("seconds", 0.0)), int(old.get("tracks", 0)),
                    int(old.get("detections", 0)), int(old.get("attempts", 0)),
                ))  # fmt: skip
            else:
                results.append(SourceResult(src.name, src.path, name, "pending", output))
                tasks.append(TrackTask(key, str(src.path), src.name, name))
    engine = engine or default_engine()
    if workers is None and engine == "local":
        workers = 1
    interrupted = False
    from tqdm import tqdm

    bar = tqdm(total=len(results), initial=len(results) - len(tasks), desc="batch",
               unit="source", disable=not progress, dynamic_ncols=True)  # fmt: skip
    frames = 0
    stream = map_tasks(
        job, tasks, engine=engine, workers=workers, address=address, retries=retries,
        threads=threads, gpus_per_worker=gpus_per_worker,
    )  # fmt: skip
    try:
        for result in stream:
            entry = _record(result, results[slots[result.item.key]], manifest, configs)
            results[slots[result.item.key]] = entry
            frames += entry.frames
            bar.update(1)
            bar.set_postfix_str(f"{frames / (time.perf_counter() - started):.1f} frames/s")
            if entry.status == "failed":
                logger.info("%s (%s) failed: %s", entry.name, entry.tracker, entry.error)
            if on_result is not None:
                on_result(entry)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
        bar.close()
    summary = BatchSummary(folder, results, time.perf_counter() - started, engine,
                           workers or 0, interrupted)  # fmt: skip
    if summary.workers == 0:
        summary.workers = len({r.worker for r in summary.done})
    if evaluate is not None and not interrupted:
        from trackkit.batch.evaluate import evaluate_batch

        summary.scores = evaluate_batch(summary, evaluate, benchmark)
    return summary


def _record(
    result: TaskResult, entry: SourceResult, manifest: Manifest, configs: dict[str, str]
) -> SourceResult:
    """Put a finished task's results in place, then append its manifest line."""
    task: TrackTask = result.item
    out: TrackOutput | None = result.value
    error = result.error
    if out is not None:
        try:
            write_bytes(entry.output, out.data)
        except OSError as exc:
            error, out = f"cannot write {entry.output}: {exc}", None
    status = "done" if out is not None else "failed"
    entry = SourceResult(
        entry.name, entry.source, entry.tracker, status, entry.output,
        out.frames if out else 0, out.seconds if out else result.seconds,
        out.tracks if out else 0, out.detections if out else 0,
        result.attempts, error, result.worker,
    )  # fmt: skip
    manifest.append({
        "key": task.key, "source": task.source, "name": task.name, "tracker": task.tracker,
        "status": status, "frames": entry.frames, "seconds": round(entry.seconds, 3),
        "tracks": entry.tracks, "detections": entry.detections, "error": error,
        "attempts": result.attempts, "worker": result.worker, "config": configs[task.tracker],
    })  # fmt: skip
    return entry
