"""Image-folder frames and annotated sequences for single-object tracking.

A single-object tracking sequence (OTB, VOT, GOT-10k) is a folder of numbered images with one
box per frame. This module lists such folders (sorted by the numbers in the names, so
``2.jpg`` precedes ``10.jpg``), reads frames as ``(H, W, 3)`` uint8 **BGR** arrays (OpenCV
order) and defines :class:`SOTSequence`, the one sequence type the dataset readers
(:mod:`trackkit.io.otb`, :mod:`trackkit.io.vot`, :mod:`trackkit.io.got10k`) return.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from trackkit.errors import DataNotFoundError, FormatError

__all__ = [
    "IMAGE_SUFFIXES",
    "SOTSequence",
    "iter_images",
    "list_images",
    "natural_key",
    "read_image",
]

#: File suffixes (lower case) treated as frames.
IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
)

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[object, ...]:
    """Sort key ordering embedded numbers by value: ``img2.jpg`` < ``img10.jpg``."""
    parts = _DIGITS.split(name)
    return tuple(int(p) if p.isdigit() else p.lower() for p in parts)


def list_images(folder: str | Path) -> list[Path]:
    """The image files directly inside ``folder``, in natural order.

    Raises:
        DataNotFoundError: ``folder`` does not exist or holds no image.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DataNotFoundError(f"{root}: no such folder")
    files = [p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise DataNotFoundError(f"{root}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return sorted(files, key=lambda p: natural_key(p.name))


def read_image(path: str | Path, gray: bool = False) -> NDArray[np.uint8]:
    """Read one frame: ``(H, W, 3)`` uint8 BGR, or ``(H, W)`` uint8 when ``gray``.

    Raises:
        DataNotFoundError: the file does not exist.
        FormatError: the file cannot be decoded as an image.
    """
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"{p}: no such file")
    img = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
    if img is None:
        raise FormatError(p, "cannot decode the image")
    return np.ascontiguousarray(img, dtype=np.uint8)


def iter_images(paths: Sequence[str | Path], gray: bool = False) -> Iterator[NDArray[np.uint8]]:
    """Read the frames ``paths`` one at a time (constant memory)."""
    for p in paths:
        yield read_image(p, gray=gray)


@dataclass(frozen=True, eq=False)
class SOTSequence:
    """One annotated single-object tracking sequence.

    Attributes:
        name: sequence name (OTB two-target sequences are ``<Seq>-1`` / ``<Seq>-2``).
        frames: the image files, one per annotated frame, in order.
        boxes: ``(N, 4)`` float64 ground truth ``xyxy`` in continuous 0-based pixels, one row
            per frame; a row of NaN marks a frame without a valid annotation (target absent,
            or a zero-size box in the file).
        polygons: ``(N, 8)`` float64 corner points ``x1,y1,...,x4,y4`` (continuous pixels)
            when the source annotates rotated rectangles (VOT), else ``None``.
        source: the dataset layout it came from (``"otb"``, ``"vot"``, ``"got10k"``).
        meta: free-form extra information (paths of the annotation files, ...).
    """

    name: str
    frames: tuple[Path, ...]
    boxes: NDArray[np.float64]
    polygons: NDArray[np.float64] | None = None
    source: str = ""
    meta: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.boxes.ndim != 2 or self.boxes.shape[1] != 4:
            raise ValueError(f"boxes must be (N, 4), got {self.boxes.shape}")
        if len(self.frames) != len(self.boxes):
            raise ValueError(f"{len(self.frames)} frames but {len(self.boxes)} boxes")

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def init_box(self) -> NDArray[np.float64]:
        """``(4,)`` ``xyxy`` box of the first frame (the tracker's initialisation)."""
        return self.boxes[0]

    def iter_frames(self, gray: bool = False) -> Iterator[NDArray[np.uint8]]:
        """The frames, read one at a time."""
        return iter_images(self.frames, gray=gray)
