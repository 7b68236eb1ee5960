"""Track a video end to end: frames -> detector -> MOT tracker -> results (+ annotated video).

    from trackkit.pipeline import track_video
    summary = track_video("street.mp4", "yolox:yolox_nano.onnx", "bytetrack",
                          results="out/street.txt", video="out/street.mp4", classes=["person"])

Everything streams: one frame is decoded, detected, tracked, written to the MOTChallenge
results file (flushed every frame, so an interrupted or failed run keeps every finished frame)
and drawn into the annotated mp4 before the next one is read; memory does not grow with the
length of the video. A progress bar shows frames per second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trackkit.core.detections import Detections
from trackkit.core.tracks import Tracks
from trackkit.detectors.base import ClassFilter, Detector, as_detector, reset_detector
from trackkit.errors import ConfigError, TrackkitError
from trackkit.io.mot_txt import MOTResultWriter
from trackkit.io.video import VideoReader, open_video
from trackkit.viz.annotate import AnnotatedVideoWriter, TrackAnnotator

__all__ = ["PipelineSummary", "build_tracker", "track_video"]

logger = logging.getLogger(__name__)

Frame = NDArray[np.uint8]
FrameCallback = Callable[[int, Frame, Detections, Tracks], None]


@dataclass(frozen=True)
class PipelineSummary:
    """What a :func:`track_video` run did.

    Attributes:
        frames: number of frames processed.
        seconds: wall-clock time of the loop (decoding, detection, tracking, writing).
        fps: ``frames / seconds``.
        detections: total number of detections.
        tracks: number of distinct track identities reported.
        results: the MOTChallenge results file, if one was written.
        video: the annotated video, if one was written.
        codec: the encoder of the annotated video.
    """

    frames: int
    seconds: float
    fps: float
    detections: int
    tracks: int
    results: Path | None
    video: Path | None
    codec: str | None


def build_tracker(name: str, frame_rate: float | None = None, **cfg: Any) -> Any:
    """Build a registered MOT tracker, passing the video's frame rate when it takes one."""
    from trackkit import mot

    if frame_rate is not None and "frame_rate" not in cfg:
        try:
            return mot.build(name, frame_rate=float(frame_rate), **cfg)
        except ConfigError as exc:
            if "frame_rate" not in str(exc):
                raise
    return mot.build(name, **cfg)


def _frames(
    source: Any, fps: float | None
) -> tuple[Iterable[tuple[int, Frame]], float, int | None]:
    """(iterable of (frame_id, frame), frame rate, number of frames or None)."""
    if isinstance(source, (str, Path)):
        source = open_video(source, fps=fps)
    if isinstance(source, VideoReader):
        return source, source.info.fps, source.info.num_frames
    rate = fps or float(getattr(getattr(source, "config", None), "fps", 0) or 30.0)
    total = len(source) if hasattr(source, "__len__") else None
    return source, rate, total


def track_video(
    source: Any,
    detector: Detector | str | Callable[[Frame], Any],
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
) -> PipelineSummary:
    """Detect and track every frame of ``source``, streaming the outputs to disk.

    Args:
        source: a video file, image folder or MOTChallenge sequence path
            (:func:`trackkit.io.video.open_video`), an open ``VideoReader``, or any iterable
            of ``(frame_id, (H, W, 3) uint8 BGR frame)`` such as a synthetic scene.
        detector: a detector, a spec (``"hog"``, ``"yolox:model.onnx"``, ...) or a callable
            ``frame -> Detections | (N, 4|5|6) array``.
        tracker: a MOT tracker instance or a registered name (built with the video's rate).
        results: MOTChallenge results file to write (``frame,id,x,y,w,h,score,-1,-1,-1``).
        video: annotated mp4 to write (boxes, ids in stable colours, trails).
        classes: keep only these classes (names such as ``"person"`` or ids).
        progress: show a progress bar with frames per second (on stderr).
        max_frames: stop after this many frames.
        fps: frame rate to assume (default: the source's).
        annotator: how to draw the annotated video.
        on_frame: called as ``on_frame(frame_id, frame, detections, tracks)`` every frame.
        tracker_options: options for building ``tracker`` by name.
        codec: codec of the annotated video (``"auto"``, ``"h264"``, ``"mp4v"``).
        total_frames: length of ``source`` for the progress bar when it has no ``len()``.

    Raises:
        TrackkitError: bad input (unreadable video, bad model, ...). Frames finished before
            the failure are already in ``results`` and ``video``.
    """
    frames, rate, total = _frames(source, fps)
    total = total if total is not None else total_frames
    det = as_detector(detector)
    if classes:
        det = ClassFilter(det, list(classes))
    reset_detector(det)
    if isinstance(tracker, str):
        trk = build_tracker(tracker, rate, **(tracker_options or {}))
    else:
        trk = tracker
        if hasattr(trk, "reset"):
            trk.reset()
    if max_frames is not None and total is not None:
        total = min(total, max_frames)

    from tqdm import tqdm

    writer = MOTResultWriter(results) if results is not None else None
    vwriter = AnnotatedVideoWriter(video, rate, annotator, codec) if video is not None else None
    n_frames = n_dets = 0
    ids: set[int] = set()
    bar = tqdm(total=total, unit="frame", disable=not progress, dynamic_ncols=True, leave=True)
    start = time.perf_counter()
    try:
        for frame_id, frame in frames:
            if max_frames is not None and n_frames >= max_frames:
                break
            dets = det.detect(frame)
            if not isinstance(dets, Detections):
                raise TrackkitError(f"detector returned {type(dets).__name__}, not Detections")
            tracks = trk.update(dets, frame)
            if writer is not None:
                writer.write(frame_id, tracks.track_ids, tracks.xyxy, tracks.scores)
            if vwriter is not None:
                vwriter.write(frame, tracks, frame_id)
            if on_frame is not None:
                on_frame(frame_id, frame, dets, tracks)
            n_frames += 1
            n_dets += len(dets)
            ids.update(int(i) for i in tracks.track_ids)
            bar.update(1)
    finally:
        bar.close()
        if writer is not None:
            writer.close()
        if vwriter is not None:
            vwriter.close()
    seconds = time.perf_counter() - start
    if n_frames == 0:
        raise TrackkitError(f"{source}: no frame to track")
    return PipelineSummary(
        frames=n_frames,
        seconds=seconds,
        fps=n_frames / seconds if seconds > 0 else float("inf"),
        detections=n_dets,
        tracks=len(ids),
        results=Path(results) if results is not None else None,
        video=vwriter.path if vwriter is not None else None,
        codec=vwriter.writer.codec_used if vwriter is not None else None,
    )
