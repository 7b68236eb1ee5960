"""Streaming video input and mp4 output.

:func:`open_video` reads, one frame at a time and with constant memory whatever the length:

- a video file (``.mp4``, ``.avi``, ``.mkv``, ``.mov``, ... through OpenCV's FFmpeg backend);
- a folder of images, sorted by name (``.jpg``, ``.jpeg``, ``.png``, ``.bmp``, ``.tif``,
  ``.tiff``, ``.webp``);
- a MOTChallenge sequence folder (``seqinfo.ini`` + ``img1/``) or its ``img1/`` folder, with
  the frame rate from ``seqinfo.ini``.

Frames are ``(H, W, 3)`` uint8 **BGR** arrays (OpenCV order) numbered from 1, as in
MOTChallenge files. Problems (missing path, empty folder, unreadable or corrupt file, an image
of another size in a folder) raise :class:`~trackkit.errors.TrackkitError` subclasses that
name the file; a failure in the middle of a stream is raised when that frame is reached, so
everything consumed before it stays valid.

:class:`VideoWriter` writes mp4: H.264 through PyAV (``libx264``) when the optional ``av``
package is installed, else H.264 through OpenCV when its FFmpeg build can encode it, else
MPEG-4 Part 2 (``mp4v``), which every OpenCV build writes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from trackkit.errors import DataNotFoundError, FormatError, TrackkitError
from trackkit.io.closing import Closing
from trackkit.io.mot_txt import read_seqinfo

__all__ = [
    "IMAGE_EXTENSIONS",
    "VideoInfo",
    "VideoReader",
    "VideoWriter",
    "is_image_folder",
    "is_mot_sequence",
    "looks_like_text",
    "open_video",
]

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
)
Frame = NDArray[np.uint8]


@dataclass(frozen=True)
class VideoInfo:
    """What is known about a video before reading it.

    Attributes:
        source: the path that was opened.
        fps: frames per second (from the container, ``seqinfo.ini`` or the default).
        width: frame width in pixels.
        height: frame height in pixels.
        num_frames: number of frames, or ``None`` when the container does not say.
        kind: ``"file"``, ``"images"`` or ``"mot"``.
    """

    source: Path
    fps: float
    width: int
    height: int
    num_frames: int | None
    kind: str


def is_mot_sequence(path: Path) -> bool:
    """Whether ``path`` is a MOTChallenge sequence folder (``seqinfo.ini`` and ``img1/``)."""
    return path.is_dir() and (path / "seqinfo.ini").is_file() and (path / "img1").is_dir()


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
    )


def is_image_folder(path: Path) -> bool:
    """Whether ``path`` is a folder holding at least one image file (not a MOT sequence)."""
    return path.is_dir() and not is_mot_sequence(path) and bool(_image_files(path))


#: Suffixes of text files that FFmpeg would still "decode" (its tty demuxer renders any text
#: as frames of console text), refused before they reach it.
TEXT_SUFFIXES: frozenset[str] = frozenset(
    {".txt", ".csv", ".json", ".jsonl", ".ini", ".md", ".xml", ".yaml", ".yml", ".log", ".py"}
)


def looks_like_text(path: Path, probe: int = 4096) -> bool:
    """Whether a file is text (by its suffix, or its first bytes: no NUL, decodes as UTF-8,
    printable); video containers are binary from their first bytes (``ftyp``, ``RIFF``,
    EBML), Y4M's text header excepted."""
    if path.suffix.lower() in TEXT_SUFFIXES:
        return True
    with path.open("rb") as fh:
        head = fh.read(probe)
    if not head or b"\x00" in head or head.startswith(b"YUV4MPEG2"):
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:  # a multi-byte character cut by the probe is fine
        if exc.start < len(head) - 3:
            return False
        text = head[: exc.start].decode("utf-8")
    printable = sum(ch.isprintable() or ch in "\t\r\n" for ch in text)
    return printable >= 0.98 * len(text)


def _refuse_text(path: Path) -> None:
    """Raise :class:`FormatError` for a text file given as a video."""
    if not looks_like_text(path):
        return
    hint = ""
    if path.parent.name == "det":
        hint = (
            f"; for MOTChallenge detections give the sequence folder ({path.parent.parent}) "
            f"or --detector file:{path} with the sequence's video or images"
        )
    raise FormatError(path, f"a text file, not a video or an image folder{hint}")


def _imread(path: Path) -> Frame:
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise FormatError(path, "cannot decode image (corrupt or not an image)")
    return np.asarray(img, dtype=np.uint8)


class VideoReader(Closing):
    """Iterate over the frames of a video file or image folder; use :func:`open_video`.

    Iterating yields ``(frame_id, frame)`` with 1-based ``frame_id`` and ``frame`` an
    ``(H, W, 3)`` uint8 BGR array. Only one frame is held at a time. The reader is a context
    manager; iterating again starts from the first frame.
    """

    def __init__(self, info: VideoInfo, files: list[Path] | None = None) -> None:
        self.info = info
        self._files = files
        self._cap: Any = None

    def __len__(self) -> int:
        if self.info.num_frames is None:
            raise TypeError("the number of frames of this video is unknown")
        return self.info.num_frames

    def __iter__(self) -> Iterator[tuple[int, Frame]]:
        if self._files is not None:
            yield from self._iter_images(self._files)
        else:
            yield from self._iter_file()

    def _iter_images(self, files: list[Path]) -> Iterator[tuple[int, Frame]]:
        size = (self.info.height, self.info.width)
        for i, path in enumerate(files, start=1):
            img = _imread(path)
            if img.shape[:2] != size:
                raise FormatError(
                    path,
                    f"image is {img.shape[1]}x{img.shape[0]}, but the first image of the "
                    f"folder is {size[1]}x{size[0]}",
                )
            yield i, img

    def _iter_file(self) -> Iterator[tuple[int, Frame]]:
        self.close()
        self._cap = cv2.VideoCapture(str(self.info.source))
        if not self._cap.isOpened():
            raise FormatError(self.info.source, "cannot open video (unreadable or corrupt)")
        i = 0
        try:
            while True:
                ok, frame = self._cap.read()
                if not ok or frame is None:
                    break
                i += 1
                if frame.ndim == 2:
                    frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
                yield i, np.asarray(frame, dtype=np.uint8)
        finally:
            self.close()
        expected = self.info.num_frames
        if i == 0:
            raise FormatError(self.info.source, "no frame could be decoded (corrupt video?)")
        if expected is not None and i < expected - 1:
            # Containers may estimate their frame count (from the duration): a small shortfall
            # is only logged; a large one means a truncated or damaged stream.
            message = f"video ended after frame {i} of {expected} (truncated or corrupt)"
            if i < 0.95 * expected - 2:
                raise FormatError(self.info.source, message)
            logger.warning("%s: %s", self.info.source, message)

    def close(self) -> None:
        """Release the decoder (file sources); safe to call more than once."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def _open_folder(folder: Path, fps: float, kind: str, source: Path) -> VideoReader:
    if not folder.is_dir():
        raise DataNotFoundError(f"{folder}: no such folder")
    files = _image_files(folder)
    if not files:
        raise DataNotFoundError(f"{folder}: no image files ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    first = _imread(files[0])
    info = VideoInfo(source, fps, first.shape[1], first.shape[0], len(files), kind)
    return VideoReader(info, files)


def open_video(source: str | Path, fps: float | None = None) -> VideoReader:
    """Open a video file, an image folder or a MOTChallenge sequence for streaming.

    Args:
        source: video file, folder of images, MOTChallenge sequence folder or its ``img1``.
        fps: frame rate to report when the source does not store one (image folders;
            default 30) or to override the stored one.

    Raises:
        DataNotFoundError: the path does not exist or a folder holds no image.
        FormatError: the file cannot be opened or decoded as a video.
    """
    path = Path(source)
    if not path.exists():
        raise DataNotFoundError(f"{path}: no such file or folder")
    if path.is_dir():
        seq = path if is_mot_sequence(path) else None
        if seq is None and path.name == "img1" and (path.parent / "seqinfo.ini").is_file():
            seq = path.parent
        if seq is not None:
            info = read_seqinfo(seq / "seqinfo.ini", need_length=False)
            rate = info.frame_rate if fps is None else fps
            return _open_folder(seq / info.im_dir, rate, "mot", path)
        return _open_folder(path, 30.0 if fps is None else fps, "images", path)
    if not path.is_file():
        raise DataNotFoundError(f"{path}: not a regular file")
    _refuse_text(path)
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise FormatError(path, "cannot open video (unreadable, corrupt or unknown format)")
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        stored_fps = float(cap.get(cv2.CAP_PROP_FPS))
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()
    if width <= 0 or height <= 0:
        raise FormatError(path, "video has no frame size (corrupt or not a video)")
    rate = fps if fps is not None else (stored_fps if 0 < stored_fps < 1000 else 30.0)
    return VideoReader(VideoInfo(path, rate, width, height, count if count > 0 else None, "file"))


def _pyav_available() -> bool:
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


class VideoWriter(Closing):
    """Write ``(H, W, 3)`` uint8 BGR frames to an mp4 file, one at a time.

    Args:
        path: output file (parent folders are created).
        fps: frame rate.
        codec: ``"auto"`` (H.264 through PyAV, then H.264 through OpenCV, then ``mp4v``),
            ``"h264"`` (fail if no H.264 encoder) or ``"mp4v"``.
        crf: H.264 constant rate factor (quality; lower is better) for the PyAV backend.

    The frame size is fixed by the first frame. ``codec_used`` tells which encoder was
    chosen once the first frame is written. Use as a context manager or call :meth:`close`.
    """

    def __init__(self, path: str | Path, fps: float, codec: str = "auto", crf: int = 23) -> None:
        if codec not in ("auto", "h264", "mp4v"):
            raise TrackkitError(f"unknown codec {codec!r}; valid: auto, h264, mp4v")
        if not fps > 0:
            raise TrackkitError(f"video frame rate must be positive, got {fps}")
        self.path = Path(path)
        self.fps = float(fps)
        self.codec = codec
        self.crf = int(crf)
        self.codec_used: str | None = None
        self.frames_written = 0
        self._size: tuple[int, int] | None = None
        self._cv: Any = None
        self._av: Any = None
        self._stream: Any = None

    def _open(self, width: int, height: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.codec in ("auto", "h264") and _pyav_available():
            if self._open_pyav(width, height):
                return
        if self.codec in ("auto", "h264") and self._open_cv("avc1", width, height):
            self.codec_used = "h264 (opencv)"
            return
        if self.codec == "h264":
            raise TrackkitError("no H.264 encoder available (install the 'av' package)")
        if not self._open_cv("mp4v", width, height):
            raise TrackkitError(f"{self.path}: cannot open a video writer")
        self.codec_used = "mp4v (opencv)"

    def _open_pyav(self, width: int, height: int) -> bool:
        import av

        try:
            container = av.open(str(self.path), mode="w")
        except (OSError, ValueError) as exc:
            raise TrackkitError(f"{self.path}: cannot write video: {exc}") from None
        try:
            from fractions import Fraction

            rate = Fraction(self.fps).limit_denominator(1001)
            stream = container.add_stream("libx264", rate=rate)
        except (ValueError, av.FFmpegError):
            container.close()
            return False
        # yuv420p needs even sizes; odd sizes are padded by one pixel when writing.
        stream.width = width + width % 2
        stream.height = height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(self.crf), "preset": "veryfast"}
        self._av, self._stream = container, stream
        self.codec_used = "h264 (pyav libx264)"
        return True

    def _open_cv(self, fourcc: str, width: int, height: int) -> bool:
        code = cv2.VideoWriter.fourcc(*fourcc)
        writer = cv2.VideoWriter(str(self.path), code, self.fps, (width, height))
        if writer.isOpened():
            self._cv = writer
            return True
        writer.release()
        return False

    def write(self, frame: Frame) -> None:
        """Append one ``(H, W, 3)`` uint8 BGR frame (all frames must have the same size)."""
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise TrackkitError(f"video frames must be HxWx3 uint8, got {frame.shape}")
        h, w = frame.shape[:2]
        if self._size is None:
            self._size = (w, h)
            self._open(w, h)
        elif self._size != (w, h):
            raise TrackkitError(
                f"{self.path}: frame of size {w}x{h} after frames of {self._size[0]}x"
                f"{self._size[1]}"
            )
        if self._av is not None:
            import av

            if w % 2 or h % 2:
                frame = np.asarray(
                    cv2.copyMakeBorder(frame, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE), np.uint8
                )
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="bgr24")
            for packet in self._stream.encode(vf):
                self._av.mux(packet)
        else:
            self._cv.write(np.ascontiguousarray(frame))
        self.frames_written += 1

    def close(self) -> None:
        """Flush and close the file; safe to call more than once."""
        if self._av is not None:
            for packet in self._stream.encode(None):
                self._av.mux(packet)
            self._av.close()
            self._av = None
        if self._cv is not None:
            self._cv.release()
            self._cv = None
