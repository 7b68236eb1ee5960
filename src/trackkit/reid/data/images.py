"""Reading and resizing identity crops with OpenCV, and cutting crops out of frames.

Crops are kept as ``(N, H, W, 3)`` uint8 **BGR** arrays, resized to the model's input size
with bilinear interpolation (no aspect-ratio preservation: ReID crops are stretched to the
input size, as every ReID model expects). Decoding a training set once and keeping the small
resized crops in memory makes CPU training fast (CUHK03 at 128x48: ~130 MB).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from trackkit.core.boxes import as_boxes
from trackkit.io.images import read_image

__all__ = ["crop_boxes", "load_crops", "resize_crop"]

log = logging.getLogger(__name__)


def resize_crop(img: NDArray[np.uint8], size: tuple[int, int]) -> NDArray[np.uint8]:
    """Resize one ``(h, w, 3)`` uint8 crop to ``size = (H, W)`` (bilinear)."""
    height, width = size
    if img.shape[0] == height and img.shape[1] == width:
        return img
    return np.asarray(cv2.resize(img, (width, height), interpolation=cv2.INTER_LINEAR))


def load_crops(
    paths: Sequence[str | Path], size: tuple[int, int], progress: bool = False
) -> NDArray[np.uint8]:
    """Decode and resize every image: ``(N, H, W, 3)`` uint8 BGR.

    Raises:
        DataNotFoundError / FormatError: a file is missing or cannot be decoded (the error
        names the file).
    """
    height, width = size
    out = np.empty((len(paths), height, width, 3), dtype=np.uint8)
    it: Sequence[str | Path] = paths
    if progress:
        from tqdm import tqdm

        it = tqdm(paths, desc="reading crops", unit="img", leave=False)
    for i, p in enumerate(it):
        out[i] = resize_crop(read_image(p), size)
    return out


def crop_boxes(
    frame: NDArray[np.uint8], boxes_xyxy: ArrayLike, size: tuple[int, int]
) -> NDArray[np.uint8]:
    """Cut ``boxes_xyxy`` out of a frame and resize each to ``size = (H, W)``.

    Args:
        frame: ``(H_f, W_f, 3)`` uint8 BGR frame.
        boxes_xyxy: ``(N, 4)`` boxes, ``xyxy`` continuous pixels; clipped to the frame, and a
            box that falls outside the frame gives a crop of its nearest 1x1 border pixel.
        size: output ``(H, W)``.

    Returns:
        ``(N, H, W, 3)`` uint8 BGR crops.
    """
    boxes = as_boxes(boxes_xyxy)
    fh, fw = frame.shape[:2]
    out = np.empty((boxes.shape[0], size[0], size[1], 3), dtype=np.uint8)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        ix1 = int(np.clip(np.floor(x1), 0, fw - 1))
        iy1 = int(np.clip(np.floor(y1), 0, fh - 1))
        ix2 = int(np.clip(np.ceil(x2), ix1 + 1, fw))
        iy2 = int(np.clip(np.ceil(y2), iy1 + 1, fh))
        out[i] = resize_crop(np.ascontiguousarray(frame[iy1:iy2, ix1:ix2]), size)
    return out
