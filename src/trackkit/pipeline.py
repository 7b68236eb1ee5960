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

Everything streams: one frame is read, detected, tracked, written to the MOTChallenge
results file (flushed every frame, so an interrupted or failed run keeps every finished frame)
and drawn into the annotated mp4 before the next one is read; memory does not grow with the
length of the video. With ``offline`` the per-frame tracks are kept instead and linked across
gaps (:class:`trackkit.mot.offline.OfflineLinker`) before they are written: a post-processing
stage of the same loop. A progress bar shows frames per second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trackkit.core.detections import Detections
from trackkit.core.tracks import Tracks
from trackkit.detectors.base import ClassFilter, Detector, as_detector, reset_detector
from trackkit.errors import ConfigError, DataNotFoundError, TrackkitError
from trackkit.io.mot_txt import MOTResultWriter
from trackkit.io.video import VideoReader, is_image_folder, open_video
from trackkit.viz.annotate import AnnotatedVideoWriter, TrackAnnotator

__all__ = ["FrameSource", "PipelineSummary", "build_tracker", "open_sources", "track_video"]

logger = logging.getLogger(__name__)

Frame = NDArray[np.uint8]
FrameItem = tuple[int, "Frame | None"]
FrameCallback = Callable[[int, "Frame | None", Detections, Tracks], None]


@dataclass(frozen=True)
class FrameSource:
    """Frames to track, numbered from 1; a frame's image may be absent (``None``).

    Attributes:
        name: the source's name (results are written to ``<name>.txt``).
        fps: frames per second.
        num_frames: number of frames, or ``None`` when unknown.
        read: ``read(images, min_frames)`` iterates ``(frame_id, image or None)``; ``images``
            False lets a source skip decoding; a MOTChallenge sequence runs to at least
            ``min_frames`` (the last frame of its detections).
        detections: the source's own detection file (MOTChallenge ``det/det.txt``), its
            default detector.
    """

    name: str
    fps: float
    num_frames: int | None
    read: Callable[[bool, int], Iterable[FrameItem]]
    detections: Path | None = None

    def frames(self, images: bool = True, min_frames: int = 0) -> Iterator[FrameItem]:
        """Iterate ``(frame_id, (H, W, 3) uint8 BGR image or None)`` in order."""
        return iter(self.read(images, min_frames))

    @classmethod
    def of(
        cls, frames: Iterable[FrameItem], fps: float, num_frames: int | None, name: str = ""
    ) -> FrameSource:
        """A source over any iterable of ``(frame_id, image)`` (a synthetic scene, ...)."""
        return cls(name, fps, num_frames, lambda images, min_frames: frames)


def _video_source(reader: VideoReader, name: str) -> FrameSource:
    return FrameSource.of(reader, reader.info.fps, reader.info.num_frames, name)


def _is_mot_sequence(path: Path) -> bool:
    """A MOTChallenge sequence: ``det/det.txt``, or ``seqinfo.ini`` with ``img1/``."""
    ini = path / "seqinfo.ini"
    return (path / "det" / "det.txt").is_file() or (ini.is_file() and (path / "img1").is_dir())


def mot_source(seq_dir: str | Path, fps: float | None = None) -> FrameSource:
    """A MOTChallenge sequence folder as a :class:`FrameSource` (images optional).

    Its length and frame rate come from ``seqinfo.ini`` (30 frames/s and the detections'
    length without one); frame ``k`` is the image of ``imDir`` whose name is the number
    ``k`` (``000001.jpg``), ``None`` where there is none.
    """
    from trackkit.io.images import IMAGE_SUFFIXES, read_image
    from trackkit.io.mot_txt import read_seqinfo

    d = Path(seq_dir)
    ini = d / "seqinfo.ini"
    info = read_seqinfo(ini) if ini.is_file() else None
    rate = fps or (info.frame_rate if info is not None else 30.0)
    length = info.seq_length if info is not None else None
    img_dir = d / (info.im_dir if info is not None else "img1")
    det = d / "det" / "det.txt"

    def read(images: bool, min_frames: int) -> Iterator[FrameItem]:
        files: dict[int, Path] = {}
        if images and img_dir.is_dir():
            files = {
                int(p.stem): p
                for p in img_dir.iterdir()
                if p.stem.isdigit() and p.suffix.lower() in IMAGE_SUFFIXES
            }
        for k in range(1, max(length or 0, min_frames) + 1):
            path = files.get(k)
            yield k, (read_image(path) if path is not None else None)

    return FrameSource(d.name, rate, length, read, det if det.is_file() else None)


def open_sources(source: str | Path, fps: float | None = None) -> list[FrameSource]:
    """The frame sources at ``source``: a video file, an image folder, a MOTChallenge
    sequence folder (or its ``img1/``) or a folder of MOTChallenge sequences.

    Args:
        fps: frame rate to assume instead of the stored one (image folders: default 30).

    Raises:
        DataNotFoundError: nothing to track there (the message says what was looked for).
    """
    path = Path(source)
    if not path.exists():
        raise DataNotFoundError(f"{path}: no such file or folder")
    if path.is_file():
        return [_video_source(open_video(path, fps), path.stem)]
    if path.name == "img1" and (path.parent / "seqinfo.ini").is_file():
        path = path.parent
    if _is_mot_sequence(path):
        return [mot_source(path, fps)]
    if is_image_folder(path):
        return [_video_source(open_video(path, fps), path.name)]
    seqs = sorted(p for p in path.iterdir() if p.is_dir() and _is_mot_sequence(p))
    if not seqs:
        raise DataNotFoundError(
            f"{path}: not a MOTChallenge sequence (no det/det.txt), an image folder or a "
            "video, and holds no sequence"
        )
    return [mot_source(p, fps) for p in seqs]


def _as_source(source: Any, fps: float | None, total: int | None) -> FrameSource:
    if isinstance(source, FrameSource):
        return source
    if isinstance(source, (str, Path)):
        found = open_sources(source, fps)
        if len(found) != 1:
            raise ConfigError(f"{source}: holds {len(found)} sequences; track them one by one")
        return found[0]
    if isinstance(source, VideoReader):
        return _video_source(source, Path(source.info.source).stem)
    rate = fps or float(getattr(getattr(source, "config", None), "fps", 0) or 30.0)
    size = len(source) if hasattr(source, "__len__") else total
    return FrameSource.of(source, rate, size)


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
    """Build a registered MOT tracker, passing the video's frame rate when its config takes
    one (:func:`trackkit.mot.takes_frame_rate`)."""
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
) -> PipelineSummary:
    """Detect and track every frame of ``source``, streaming the outputs to disk.

    Args:
        source: a :class:`FrameSource`, a path :func:`open_sources` opens to one source
            (video file, image folder, MOTChallenge sequence), an open ``VideoReader``, or
            any iterable of ``(frame_id, (H, W, 3) uint8 BGR frame)`` such as a synthetic scene.
        detector: a detector, a spec (``"hog"``, ``"yolox:model.onnx"``, ...) or a callable
            ``frame -> Detections | (N, 4|5|6) array``; ``None``: the source's own
            detections (a MOTChallenge sequence's ``det/det.txt``).
        tracker: a MOT tracker instance or a registered name (built with the video's rate).
        results: MOTChallenge results file to write (``frame,id,x,y,w,h,score,-1,-1,-1``).
        video: annotated mp4 to write (boxes, ids in stable colours, trails); frames without
            an image are left out of it.
        classes: keep only these classes (names such as ``"person"`` or ids).
        progress: show a progress bar with frames per second (on stderr).
        max_frames: stop after this many frames.
        fps: frame rate to assume (default: the source's).
        annotator: how to draw the annotated video.
        on_frame: called as ``on_frame(frame_id, frame or None, detections, tracks)`` every
            frame, with the online tracks.
        tracker_options: options for building ``tracker`` by name.
        codec: codec of the annotated video (``"auto"``, ``"h264"``, ``"mp4v"``).
        total_frames: length of ``source`` for the progress bar when it has no ``len()``.
        offline: link tracklets across gaps and interpolate once the whole source is tracked
            (:func:`_build_offline`: ``True``, options or a linker); results are then written
            at the end. Not with ``video``.

    Raises:
        TrackkitError: bad input (unreadable video, bad model, ...). Frames finished before
            the failure are already in ``results`` and ``video`` (online runs).
    """
    src = _as_source(source, fps, total_frames)
    if detector is None:
        if src.detections is None:
            raise ConfigError(f"{source}: no detector given and no det/det.txt to read")
        detector = f"file:{src.detections}"
    det = as_detector(detector)
    if classes:
        det = ClassFilter(det, list(classes))
    reset_detector(det)
    if isinstance(tracker, str):
        trk = build_tracker(tracker, src.fps, **(tracker_options or {}))
    else:
        trk = tracker
        if hasattr(trk, "reset"):
            trk.reset()
    linker = None
    if offline is not None and offline is not False:
        if video is not None:
            raise ConfigError("offline linking rewrites whole tracks: not with an annotated video")
        linker = _build_offline(offline, src.fps)
    total = src.num_frames if src.num_frames is not None else total_frames
    if max_frames is not None and total is not None:
        total = min(total, max_frames)

    from tqdm import tqdm

    images = video is not None or getattr(det, "needs_frames", True)
    writer = MOTResultWriter(results) if results is not None else None
    vwriter = AnnotatedVideoWriter(video, src.fps, annotator, codec) if video is not None else None
    n_frames = n_dets = 0
    ids: set[int] = set()
    kept: list[tuple[int, Tracks]] = []
    bar = tqdm(total=total, desc=src.name or None, unit="frame", disable=not progress,
               dynamic_ncols=True, leave=True)  # fmt: skip
    start = time.perf_counter()
    try:
        for frame_id, frame in src.frames(images, int(getattr(det, "num_frames", 0) or 0)):
            if max_frames is not None and n_frames >= max_frames:
                break
            if frame is None and getattr(det, "needs_frames", True):
                raise DataNotFoundError(f"{src.name}: frame {frame_id} has no image to detect on")
            dets = det.detect(frame)  # type: ignore[arg-type]
            if not isinstance(dets, Detections):
                raise TrackkitError(f"detector returned {type(dets).__name__}, not Detections")
            tracks = trk.update(dets, frame)
            if linker is not None:
                kept.append((frame_id, tracks))
            elif writer is not None:
                writer.write(frame_id, tracks.track_ids, tracks.xyxy, tracks.scores)
            if vwriter is not None and frame is not None:
                vwriter.write(frame, tracks, frame_id)
            if on_frame is not None:
                on_frame(frame_id, frame, dets, tracks)
            n_frames += 1
            n_dets += len(dets)
            ids.update(int(i) for i in tracks.track_ids)
            bar.update(1)
        if linker is not None:
            ids = set()
            linked = linker.run([t for _, t in kept])
            for (frame_id, _), tracks in zip(kept, linked, strict=True):
                if writer is not None:
                    writer.write(frame_id, tracks.track_ids, tracks.xyxy, tracks.scores)
                ids.update(int(i) for i in tracks.track_ids)
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
