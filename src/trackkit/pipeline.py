"""Track a video end to end: frames -> detector -> MOT tracker -> results (+ annotated video).

    from trackkit.pipeline import track_video
    summary = track_video("street.mp4", "yolox:yolox_nano.onnx", "bytetrack",
                          results="out/street.txt", video="out/street.mp4", classes=["person"])

This is the one run path of multi-object tracking: video files, image folders, MOTChallenge
sequences (``det/det.txt`` + ``seqinfo.ini``, images optional) and synthetic scenes all become
a :class:`FrameSource` (:func:`open_sources`), whose frames go through one detector (a
MOTChallenge sequence's default detector is its own ``det/det.txt``, ``file:``), one tracker
and one loop. Images are decoded only when something needs them (a detector that looks at
them, the annotated video): a motion-only tracker runs a MOTChallenge sequence from its
detections alone, frames ``None``.

Everything streams: one frame is read, detected, tracked (``class_aware``: one tracker per
class), its identities renumbered in order of first report, written to the results file
(MOTChallenge text, JSON lines or CSV flushed every frame, so an interrupted or failed run
keeps every finished frame; COCO at the end: :mod:`trackkit.io.export`), counted by the line
and zone counters (:mod:`trackkit.analytics`) and drawn into the annotated mp4 before the next
one is read; memory does not grow with the length of the video. With ``offline`` the per-frame
tracks are kept instead and linked across gaps, class by class
(:class:`trackkit.mot.offline.OfflineLinker`), before they are written, counted and drawn (the
source is read a second time for the video): a post-processing stage of the same loop. A
progress bar shows frames per second. A detector whose output does not fit the video (a
``file:`` of another video) stops the run in one line (:mod:`trackkit.detectors.checks`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trackkit.analytics.counting import Counter
from trackkit.analytics.report import CountReport
from trackkit.core.boxes import clip_boxes
from trackkit.core.detections import Detections
from trackkit.core.tracks import IdCompactor, Tracks
from trackkit.detectors.base import (
    ClassFilter,
    Detector,
    as_detector,
    build_detector,
    reset_detector,
)
from trackkit.detectors.checks import check_detection_file, check_inside, unwrap
from trackkit.errors import ConfigError, DataNotFoundError, TrackkitError
from trackkit.io.export import ResultsWriter, open_writer
from trackkit.sources import FrameSource, as_source, mot_source, open_sources
from trackkit.viz.annotate import AnnotatedVideoWriter, TrackAnnotator

__all__ = [
    "FrameSource",
    "PipelineSummary",
    "build_tracker",
    "mot_source",
    "open_sources",
    "track_video",
]

Frame = NDArray[np.uint8]
FrameCallback = Callable[[int, "Frame | None", Detections, Tracks], None]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineSummary:
    """What a :func:`track_video` run did.

    Attributes:
        frames: number of frames processed.
        seconds: wall-clock time of the loop (decoding, detection, tracking, writing).
        fps: ``frames / seconds``.
        detections: total number of detections (after the class filter).
        tracks: number of distinct track identities reported.
        results: the results file, if one was written.
        video: the annotated video, if one was written.
        codec: the encoder of the annotated video.
        format: the results format (:data:`trackkit.io.export.FORMATS`).
        class_filter: what the class filter kept and dropped, by class name, in words
            (``None`` without ``classes``).
        counts: the line / zone counts (``None`` without counters).
    """

    frames: int
    seconds: float
    fps: float
    detections: int
    tracks: int
    results: Path | None
    video: Path | None
    codec: str | None
    format: str | None = None
    class_filter: str | None = None
    counts: CountReport | None = None


def build_tracker(name: str, frame_rate: float | None = None, /, **cfg: Any) -> Any:
    """Build a registered MOT tracker, passing the video's frame rate when its config takes
    one (:func:`trackkit.mot.takes_frame_rate`) and ``cfg`` (``--set frame_rate=25``) does
    not set its own (positional-only parameters: ``cfg`` may hold ``frame_rate``)."""
    from trackkit import mot

    if frame_rate is not None and "frame_rate" not in cfg and mot.takes_frame_rate(name):
        cfg["frame_rate"] = float(frame_rate)
    return mot.build(name, **cfg)


def _build_offline(options: Mapping[str, Any] | bool | Any, frame_rate: float) -> Any:
    """The offline linker of ``track_video(offline=...)``: ``True`` (defaults), a mapping
    of :class:`~trackkit.mot.offline.OfflineConfig` options, or a linker (used as is)."""
    from trackkit.mot.offline import OfflineLinker

    if isinstance(options, OfflineLinker):
        return options
    opts = dict(options) if isinstance(options, Mapping) else {}
    opts.setdefault("frame_rate", frame_rate)
    return OfflineLinker(**opts)


def _build(
    tracker: Any, src: FrameSource, options: dict[str, Any] | None, class_aware: bool
) -> Any:
    """The tracker to run: built by name (with the source's frame rate) or reset; one per
    class with ``class_aware`` (:class:`~trackkit.mot.per_class.PerClassTracker`)."""
    import copy

    if isinstance(tracker, str):
        if class_aware:
            from trackkit.mot.per_class import PerClassTracker

            return PerClassTracker(lambda: build_tracker(tracker, src.fps, **(options or {})))
        return build_tracker(tracker, src.fps, **(options or {}))
    if hasattr(tracker, "reset"):
        tracker.reset()
    if class_aware:
        from trackkit.mot.per_class import PerClassTracker

        return PerClassTracker(lambda: copy.deepcopy(tracker))
    return tracker


class _Outputs:
    """Where the final tracks of each frame go: renumbered ids, the results file, the
    counters and the annotated video."""

    def __init__(
        self,
        writer: ResultsWriter | None,
        vwriter: AnnotatedVideoWriter | None,
        report: CountReport | None,
        renumber: bool,
    ) -> None:
        self.writer = writer
        self.vwriter = vwriter
        self.report = report
        self.compact = IdCompactor() if renumber else None
        self.ids: set[int] = set()

    def emit(self, frame_id: int, frame: Frame | None, tracks: Tracks) -> Tracks:
        if self.compact is not None:
            tracks = self.compact(tracks)
        if self.writer is not None:
            if frame is not None and "width" not in self.writer.video:
                self.writer.video.update(width=frame.shape[1], height=frame.shape[0])
            self.writer.write(frame_id, tracks)
        if self.report is not None:
            self.report.update(frame_id, tracks)
        if self.vwriter is not None and frame is not None:
            self.vwriter.write(frame, tracks, frame_id)
        self.ids.update(tracks.track_ids.tolist())
        return tracks

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.vwriter is not None:
            self.vwriter.close()


def _link_per_class(linker: Any, frames: list[Tracks]) -> list[Tracks]:
    """Run the linker on each class's tracks apart (tracklets of two classes never link)
    and give each linked track its class back; one run without class ids."""
    classes = {c for t in frames if t.class_ids is not None for c in t.class_ids.tolist()}
    if not classes or all(t.class_ids is None for t in frames):
        return list(linker.run(frames))
    parts = []
    for c in sorted(classes):
        none = np.zeros(0, np.int64)
        subset = [t[np.flatnonzero(t.class_ids == c) if t.class_ids is not None else none]
                  for t in frames]  # fmt: skip
        parts.append((c, linker.run(subset)))
    out = []
    for k in range(len(frames)):
        pieces = [(c, linked[k]) for c, linked in parts if len(linked[k])]
        if not pieces:
            out.append(Tracks(np.zeros((0, 4)), np.zeros(0, np.int64), class_ids=np.zeros(0)))
            continue
        out.append(Tracks(
            np.concatenate([t.xyxy for _, t in pieces]),
            np.concatenate([t.track_ids for _, t in pieces]),
            np.concatenate([t.scores for _, t in pieces]),
            np.concatenate([t.det_index for _, t in pieces]),
            np.concatenate([np.full(len(t), c) for c, t in pieces]),
        ))  # fmt: skip
    return out


def _offline_pass(
    src: FrameSource, kept: list[tuple[int, Tracks]], linker: Any, out: _Outputs, video: bool
) -> None:
    """Link the kept tracks and emit them; with a video, read the frames again to draw."""
    linked = _link_per_class(linker, [t for _, t in kept])
    final = {frame_id: tracks for (frame_id, _), tracks in zip(kept, linked, strict=True)}
    if not video:
        for frame_id, tracks in final.items():
            out.emit(frame_id, None, tracks)
        return
    last = max(final, default=0)
    for frame_id, frame in src.frames(True, last):
        if frame_id > last:
            break
        if frame_id in final:
            out.emit(frame_id, frame, final.pop(frame_id))
    for frame_id, tracks in sorted(final.items()):  # frames the second reading did not give
        out.emit(frame_id, None, tracks)


def _no_image_for(tracker: Any, name: str, frame_id: int) -> DataNotFoundError:
    return DataNotFoundError(
        f"{name}: frame {frame_id} has no image, and tracker {type(tracker).__name__} needs "
        "every frame's image: give a video or a sequence whose img1/ holds all frames, or a "
        "motion-only tracker"
    )


def _inside_frame(tracks: Tracks, width: int, height: int) -> Tracks:
    """The tracks as the image shows them: boxes clipped to it, those wholly outside dropped
    (a motion model runs a box past the border while its object leaves the view)."""
    b = tracks.xyxy
    if len(b) == 0 or (
        b.min() >= 0 and (b[:, [0, 2]] <= width).all() and (b[:, [1, 3]] <= height).all()
    ):
        return tracks
    c = clip_boxes(b, width, height)
    keep = (c[:, 2] > c[:, 0]) & (c[:, 3] > c[:, 1])
    cls = None if tracks.class_ids is None else tracks.class_ids[keep]
    return Tracks(c[keep], tracks.track_ids[keep], tracks.scores[keep], tracks.det_index[keep], cls)


def track_video(
    source: Any,
    detector: Detector | str | Callable[[Frame], Any] | None = None,
    tracker: Any = "bytetrack",
    results: str | Path | None = None,
    video: str | Path | None = None,
    classes: Sequence[str | int] | None = None,
    progress: bool = True,
    max_frames: int | None = None,
    fps: float | None = None,
    annotator: TrackAnnotator | None = None,
    on_frame: FrameCallback | None = None,
    tracker_options: dict[str, Any] | None = None,
    codec: str = "auto",
    total_frames: int | None = None,
    offline: Mapping[str, Any] | bool | Any = None,
    format: str | None = None,
    class_aware: bool = False,
    counters: Sequence[Counter] = (),
    counts: str | Path | None = None,
    renumber: bool = True,
) -> PipelineSummary:
    """Detect and track every frame of ``source``, streaming the outputs to disk.

    Args:
        source: a :class:`FrameSource`, a path :func:`open_sources` opens to one source
            (video file, image folder, MOTChallenge sequence), an open ``VideoReader``, or
            any iterable of ``(frame_id, (H, W, 3) uint8 BGR frame)`` such as a synthetic scene.
        detector: a detector, a spec (``"hog"``, ``"yolox:model.onnx"``, ...) or a callable
            ``frame -> Detections | (N, 4|5|6) array``; ``None``: the source's own
            detections (a MOTChallenge sequence's ``det/det.txt``), else the best person
            detector in the model cache, else HOG
            (:func:`trackkit.detectors.defaults.default_person_detector`).
        tracker: a MOT tracker instance or a registered name (built with the video's rate).
        results: results file to write, in ``format``.
        video: annotated mp4 to write (boxes, ids in stable colours, class names, trails,
            counters); frames without an image are left out of it.
        classes: keep only these classes (names such as ``"person"`` or ids).
        progress: show a progress bar with frames per second (on stderr).
        max_frames: stop after this many frames.
        fps: frame rate to assume (default: the source's).
        annotator: how to draw the annotated video.
        on_frame: called as ``on_frame(frame_id, frame or None, detections, tracks)`` every
            frame, with the online tracks (as written, unless ``offline``).
        tracker_options: options for building ``tracker`` by name.
        codec: codec of the annotated video (``"auto"``, ``"h264"``, ``"mp4v"``).
        total_frames: length of ``source`` for the progress bar when it has no ``len()``.
        offline: link tracklets across gaps and interpolate once the whole source is tracked
            (:func:`_build_offline`: ``True``, options or a linker); results (and the
            annotated video, from a second reading of the source) are then written at the end.
        format: results format, one of :data:`trackkit.io.export.FORMATS` (``mot``,
            ``jsonl``, ``csv``, ``coco``; default: from the suffix of ``results``, else mot).
            The class id (and, but for ``mot``, the name) of each track is written.
        class_aware: never associate across classes (one tracker per class,
            :class:`~trackkit.mot.per_class.PerClassTracker`).
        counters: line / zone counters (:mod:`trackkit.analytics`), run on the final tracks.
        counts: write the counts there (``.json`` or ``.csv``, :class:`CountReport`).
        renumber: number the reported identities 1, 2, 3, ... in order of first report
            (trackers also spend ids on tentative tracks never reported); False keeps the
            tracker's own ids.

    Raises:
        TrackkitError: bad input (unreadable video, bad model, ...). Frames finished before
            the failure are already in ``results`` and ``video`` (online runs).
    """
    src = as_source(source, fps, total_frames)
    if detector is None:  # own detections, else the best cached person detector, else HOG
        from trackkit.detectors.defaults import choose_detector

        spec, options, note = choose_detector(None, src.detections, {}, classes=bool(classes))
        if note:
            logger.info(note)
        detector = build_detector(spec, **options)
    det = as_detector(detector)
    if classes:
        det = ClassFilter(det, list(classes))
    reset_detector(det)
    check_detection_file(det, src.name, src.num_frames, src.detections is not None)
    trk = _build(tracker, src, tracker_options, class_aware)
    linker = None
    if offline is not None and offline is not False:
        linker = _build_offline(offline, src.fps)
    if counts is not None and not counters:
        raise ConfigError("counts: no counter to write (give counting lines or zones)")
    total = src.num_frames if src.num_frames is not None else total_frames
    if max_frames is not None and total is not None:
        total = min(total, max_frames)

    from tqdm import tqdm

    needs_frames = getattr(det, "needs_frames", True)
    tracker_frames = bool(getattr(trk, "needs_frames", False))
    images = (video is not None and linker is None) or needs_frames or tracker_frames
    missing = src.first_missing_image
    if tracker_frames and missing is not None and (total is None or missing <= total):
        raise _no_image_for(trk, src.name, missing)
    class_names = getattr(det, "class_names", None)
    report = CountReport(list(counters), class_names) if counters else None
    if report is not None:
        report.reset()
    info = {"name": src.name or "video", "fps": src.fps}
    if src.size is not None:
        info.update(width=src.size[0], height=src.size[1])
    writer = open_writer(results, format, class_names, info) if results is not None else None
    if video is not None:
        # class names on the boxes only where they tell tracks apart
        one_class = isinstance(det, ClassFilter) and len(det.class_ids) == 1
        labels = None if one_class or len(class_names or ()) < 2 else class_names
        annotator = annotator or TrackAnnotator(class_names=labels)
        if counters and not annotator.counters:
            annotator.counters = list(counters)
    vwriter = AnnotatedVideoWriter(video, src.fps, annotator, codec) if video is not None else None
    out = _Outputs(writer, vwriter, report, renumber)
    det_path = getattr(getattr(unwrap(det), "config", None), "path", None)
    what = f"file:{det_path}" if det_path else "detector"
    n_frames = n_dets = 0
    kept: list[tuple[int, Tracks]] = []
    bar = tqdm(total=total, desc=src.name or None, unit="frame", disable=not progress,
               dynamic_ncols=True, leave=True)  # fmt: skip
    start = time.perf_counter()
    try:
        for frame_id, frame in src.frames(images, int(getattr(det, "num_frames", 0) or 0)):
            if max_frames is not None and n_frames >= max_frames:
                break
            if frame is None and needs_frames:
                raise DataNotFoundError(f"{src.name}: frame {frame_id} has no image to detect on")
            if frame is None and tracker_frames:  # a source that could not tell before
                raise _no_image_for(trk, src.name, frame_id)
            dets = det.detect(frame)  # type: ignore[arg-type]
            if not isinstance(dets, Detections):
                raise TrackkitError(f"detector returned {type(dets).__name__}, not Detections")
            if frame is not None:
                check_inside(dets, frame, frame_id, what)
            tracks = trk.update(dets, frame)
            if frame is not None:
                tracks = _inside_frame(tracks, frame.shape[1], frame.shape[0])
            if linker is not None:
                kept.append((frame_id, tracks))
            else:
                tracks = out.emit(frame_id, frame, tracks)
            if on_frame is not None:
                on_frame(frame_id, frame, dets, tracks)
            n_frames += 1
            n_dets += len(dets)
            bar.update(1)
        if linker is not None:
            _offline_pass(src, kept, linker, out, vwriter is not None)
    finally:
        bar.close()
        out.close()
    seconds = time.perf_counter() - start
    if n_frames == 0:
        raise TrackkitError(f"{source}: no frame to track")
    if report is not None and counts is not None:
        report.write(counts)
    return PipelineSummary(
        frames=n_frames,
        seconds=seconds,
        fps=n_frames / seconds if seconds > 0 else float("inf"),
        detections=n_dets,
        tracks=len(out.ids),
        results=writer.path if writer is not None else None,
        video=vwriter.path if vwriter is not None and vwriter.writer.frames_written else None,
        codec=vwriter.writer.codec_used if vwriter is not None else None,
        format=writer.format if writer is not None else None,
        class_filter=det.summary() if isinstance(det, ClassFilter) else None,
        counts=report,
    )
