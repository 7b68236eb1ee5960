"""Unlabelled video for UDT training (Wang et al., Unsupervised Deep Tracking, CVPR 2019): clips.

A :class:`Clip` is the frames of one video without annotation: an image folder (frames read
from disk on demand) or a video file decoded once and kept in memory as JPEG bytes (shorter
side at most ``video_side`` px). :func:`find_clips` gathers every clip under some roots
(frame folders at any depth, video files); ``unlabelled=shared``
(:func:`expand_unlabelled`) stands for the shared folder's ``data/videos`` and MOT17
``train`` frames. No annotation file is ever opened here. Frames are ``(H, W, 3)`` uint8 BGR.
Used by :mod:`trackkit.sot.train.dcfnet` (``--mode udt``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from trackkit.errors import DataNotFoundError
from trackkit.io.images import IMAGE_SUFFIXES, natural_key, read_image

__all__ = ["VIDEO_SUFFIXES", "Clip", "expand_unlabelled", "find_clips", "find_frame_folders"]

#: video files the UDT mode decodes (through OpenCV)
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mkv", ".mov", ".webm"})


class Clip:
    """Frames of one unlabelled video: an image folder, or a video file decoded once and kept
    as JPEG bytes (shorter side at most ``video_side``). :meth:`frame` gives ``(H, W, 3)``
    uint8 BGR; ``name`` is what the weights file records (``"<parent>/<name>"``)."""

    def __init__(self, source: Path | Sequence[Path], video_side: int = 360) -> None:
        self._files: list[Path] = []
        self._jpegs: list[bytes] = []
        if isinstance(source, Path):
            self._decode(source, video_side)
            self.name = "/".join(source.parts[-2:])
        else:
            self._files = list(source)
            self.name = "/".join(self._files[0].parent.parts[-2:])

    def _decode(self, path: Path, side: int) -> None:
        from trackkit.io.video import open_video

        with open_video(path) as reader:
            for _, raw in reader:
                img: np.ndarray = raw
                scale = side / min(img.shape[:2])
                if scale < 1.0:
                    size = (round(img.shape[1] * scale), round(img.shape[0] * scale))
                    img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
                ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 92])
                if ok:
                    self._jpegs.append(buf.tobytes())

    def __len__(self) -> int:
        return len(self._files) or len(self._jpegs)

    def frame(self, i: int) -> np.ndarray:
        img: np.ndarray
        if self._files:
            img = read_image(self._files[i])
        else:
            buf = np.frombuffer(self._jpegs[i], np.uint8)
            img = np.asarray(cv2.imdecode(buf, cv2.IMREAD_COLOR), dtype=np.uint8)
        return np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img


def find_frame_folders(root: Path, min_frames: int = 3, max_depth: int = 4) -> list[list[Path]]:
    """Folders holding at least ``min_frames`` images, each as its sorted frame list."""
    out: list[list[Path]] = []

    def walk(folder: Path, depth: int) -> None:
        files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        if len(files) >= min_frames:
            out.append(sorted(files, key=lambda p: natural_key(p.name)))
        if depth < max_depth:
            for child in sorted(p for p in folder.iterdir() if p.is_dir()):
                walk(child, depth + 1)

    if not root.is_dir():
        raise DataNotFoundError(f"{root}: no such folder")
    walk(root, 0)
    return out


def expand_unlabelled(spec: str) -> list[Path]:
    """The paths of ``--set unlabelled=...`` (``shared``: the shared videos and MOT17)."""
    from trackkit.shared import shared_path

    out: list[Path] = []
    for item in (s.strip() for s in spec.split(",")):
        if item == "shared":
            found = [shared_path("data", "videos"), shared_path("data", "MOT17", "train")]
            if not all(found):
                raise DataNotFoundError(
                    "unlabelled=shared: the shared folder's data/videos and data/MOT17/train "
                    "are missing (set TRACKKIT_SHARED)"
                )
            out += [p for p in found if p is not None]
        elif item:
            out.append(Path(item))
    return out


def find_clips(roots: Sequence[Path], min_frames: int = 3, video_side: int = 360) -> list[Clip]:
    """Every unlabelled clip under ``roots``: video files (a root may be one) and folders of
    at least ``min_frames`` images (:func:`find_frame_folders`)."""
    clips: list[Clip] = []
    for root in roots:
        if root.is_file() and root.suffix.lower() in VIDEO_SUFFIXES:
            clips.append(Clip(root, video_side))
            continue
        clips += [Clip(f) for f in find_frame_folders(root, min_frames)]
        if root.is_dir():
            videos = sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
            clips += [Clip(v, video_side) for v in videos]
    return [c for c in clips if len(c) >= min_frames]
