"""Where frames come from: video files, image folders, MOTChallenge sequences and any
iterable of frames, as one :class:`FrameSource` for :func:`trackkit.pipeline.track_video`.

A MOTChallenge sequence (``det/det.txt`` + ``seqinfo.ini``, images optional) yields
``(frame_id, image or None)`` for every frame of its ``seqLength``: its images are decoded only
when asked for (a motion-only tracker runs from the detections alone), and a frame without an
image is ``None``. Frames are numbered from 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trackkit.errors import ConfigError, DataNotFoundError
from trackkit.io.video import VideoReader, is_image_folder, open_video

__all__ = ["FrameSource", "as_source", "mot_source", "open_sources"]

Frame = NDArray[np.uint8]
FrameItem = tuple[int, "Frame | None"]


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
        size: ``(width, height)`` of the frames when known before reading them.
        first_missing_image: the first frame without an image (a MOTChallenge sequence
            whose ``img1/`` holds only some frames); ``None`` when every frame has one or
            when that is unknown before reading.
    """

    name: str
    fps: float
    num_frames: int | None
    read: Callable[[bool, int], Iterable[FrameItem]]
    detections: Path | None = None
    size: tuple[int, int] | None = None
    first_missing_image: int | None = None

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
    info = reader.info
    return FrameSource(
        name, info.fps, info.num_frames, lambda images, min_frames: reader, None,
        (info.width, info.height),
    )  # fmt: skip


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

    files: dict[int, Path] = (
        {
            int(p.stem): p
            for p in img_dir.iterdir()
            if p.stem.isdigit() and p.suffix.lower() in IMAGE_SUFFIXES
        }
        if img_dir.is_dir()
        else {}
    )

    def read(images: bool, min_frames: int) -> Iterator[FrameItem]:
        for k in range(1, max(length or 0, min_frames) + 1):
            path = files.get(k) if images else None
            yield k, (read_image(path) if path is not None else None)

    size = (info.im_width, info.im_height) if info is not None and info.im_width > 0 else None
    missing = None
    if length is not None:
        missing = next((k for k in range(1, length + 1) if k not in files), None)
    return FrameSource(d.name, rate, length, read, det if det.is_file() else None, size, missing)


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


def as_source(source: Any, fps: float | None, total: int | None) -> FrameSource:
    """``source`` as a :class:`FrameSource`: one already, a path (:func:`open_sources`, which
    must find exactly one), a :class:`~trackkit.io.video.VideoReader`, or an iterable of
    ``(frame_id, image)`` (a synthetic scene: its ``config.fps``, else ``fps`` or 30)."""
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
