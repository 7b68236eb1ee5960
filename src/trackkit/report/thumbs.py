"""Thumbnails for the report: a crop around some boxes, boxes drawn, as a small JPEG data URI.

The page stays light whatever the run's size: every thumbnail is at most ``max_side`` pixels
on its longer side (JPEG, ``quality``), and a :class:`Thumbnails` collection holds at most
``max_count`` images (the page then says which moments have no picture). Thumbnails can be
added at once (:meth:`Thumbnails.add`) or requested by group and made together
(:meth:`Thumbnails.request`, :meth:`Thumbnails.render`): the cap is then shared fairly among
the groups (:func:`fair_shares`: every tracker, sequence and kind of event gets its part) and
the frames are read in order, each once.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = ["Box", "Thumbnails", "crop_thumbnail", "fair_shares"]

#: BGR colours of the drawn boxes by role.
COLOURS: dict[str, tuple[int, int, int]] = {
    "gt": (60, 200, 60),
    "track": (0, 140, 255),
    "other": (255, 120, 40),
    "pred": (0, 140, 255),
    "fp": (40, 40, 230),
}


@dataclass(frozen=True)
class Box:
    """A box to draw: ``xyxy`` (continuous pixels), its role (a key of :data:`COLOURS`) and
    a short label drawn above it."""

    xyxy: tuple[float, float, float, float]
    role: str
    label: str = ""


def crop_thumbnail(
    image: NDArray[Any],
    boxes: Sequence[Box],
    max_side: int = 192,
    quality: int = 75,
    margin: float = 0.35,
) -> str:
    """A ``data:image/jpeg;base64,...`` URI of ``image`` (``(H, W, 3)`` uint8 BGR) cropped
    around the union of ``boxes`` (plus ``margin`` of its size on each side), the boxes drawn,
    scaled so that the longer side is at most ``max_side`` pixels."""
    h, w = image.shape[:2]
    xy = np.array([b.xyxy for b in boxes], np.float64).reshape(-1, 4)
    xy = xy[np.all(np.isfinite(xy), axis=1)]
    if len(xy):
        x1, y1 = xy[:, 0].min(), xy[:, 1].min()
        x2, y2 = xy[:, 2].max(), xy[:, 3].max()
        mx, my = margin * max(x2 - x1, 16.0), margin * max(y2 - y1, 16.0)
        # widen (or heighten) the crop to an aspect ratio between 1:1 and 16:10 (context)
        bw, bh = x2 - x1 + 2 * mx, y2 - y1 + 2 * my
        mx += max(0.0, bh - bw) / 2
        my += max(0.0, bw / 1.6 - bh) / 2
        cx1, cy1 = int(max(0, np.floor(x1 - mx))), int(max(0, np.floor(y1 - my)))
        cx2, cy2 = int(min(w, np.ceil(x2 + mx))), int(min(h, np.ceil(y2 + my)))
        if cx2 - cx1 < 2 or cy2 - cy1 < 2:
            cx1, cy1, cx2, cy2 = 0, 0, w, h
    else:
        cx1, cy1, cx2, cy2 = 0, 0, w, h
    crop = image[cy1:cy2, cx1:cx2]
    scale = min(1.0, max_side / max(crop.shape[0], crop.shape[1]))
    if scale < 1.0:
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    else:
        crop = crop.copy()
    for b in boxes:
        if not np.all(np.isfinite(b.xyxy)):
            continue
        p1 = (round((b.xyxy[0] - cx1) * scale), round((b.xyxy[1] - cy1) * scale))
        p2 = (round((b.xyxy[2] - cx1) * scale), round((b.xyxy[3] - cy1) * scale))
        colour = COLOURS.get(b.role, (200, 200, 200))
        cv2.rectangle(crop, p1, p2, colour, 2 if b.role == "gt" else 1)
        if b.label:
            org = (max(0, p1[0]), max(10, p1[1] - 3))
            cv2.putText(crop, b.label, org, cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1, cv2.LINE_AA)
    ok, buf = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV always encodes a non-empty uint8 image
        raise ValueError("JPEG encoding failed")
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def fair_shares(counts: Mapping[str, int], total: int) -> dict[str, int]:
    """Split ``total`` among groups wanting ``counts`` items: equal shares, what a group does
    not need going to the others (water filling); the result never exceeds a group's count."""
    out = {k: 0 for k in counts}
    pending = sorted((k for k in counts if counts[k] > 0), key=lambda k: (counts[k], k))
    left = max(0, total)
    while pending:
        share = left // len(pending)
        smallest = pending[0]
        if counts[smallest] <= share:
            out[smallest] = counts[smallest]
            left -= counts[smallest]
            pending.pop(0)
            continue
        for i, k in enumerate(sorted(pending)):
            out[k] = share + (1 if i < left - share * len(pending) else 0)
        break
    return out


@dataclass
class Thumbnails:
    """The page's thumbnails, each stored once under a key; at most ``max_count``.

    Attributes:
        images: key -> data URI (what the page embeds).
        skipped: thumbnails asked for beyond ``max_count``.
    """

    max_count: int = 400
    max_side: int = 192
    quality: int = 75
    images: dict[str, str] = field(default_factory=dict)
    skipped: int = 0
    _frame: tuple[Path, NDArray[Any] | None] | None = None
    _requests: list[tuple[str, str, Path, tuple[Box, ...]]] = field(default_factory=list)

    def request(self, group: str, key: str, frame: Path, boxes: Sequence[Box]) -> str:
        """Ask for a thumbnail (made by :meth:`render`); returns ``key``."""
        self._requests.append((group, key, frame, tuple(boxes)))
        return key

    def render(self) -> None:
        """Make the requested thumbnails: per group the first ones, as many as its fair share
        of the room left (:func:`fair_shares`), reading the frames in order."""
        unique: dict[str, tuple[str, Path, tuple[Box, ...]]] = {}
        for group, key, frame, boxes in self._requests:  # a key asked for twice counts once
            if key not in self.images:
                unique.setdefault(key, (group, frame, boxes))
        counts: dict[str, int] = {}
        for group, *_ in unique.values():
            counts[group] = counts.get(group, 0) + 1
        quota = fair_shares(counts, self.max_count - len(self.images))
        chosen = []
        for key, (group, frame, boxes) in unique.items():
            if quota[group] > 0:
                quota[group] -= 1
                chosen.append((frame, key, boxes))
            else:
                self.skipped += 1
        chosen.sort(key=lambda item: (str(item[0]), item[1]))
        for frame, key, boxes in chosen:
            self.add(key, frame, boxes)
        self._requests.clear()

    def get(self, key: str | None) -> str | None:
        """``key`` when its thumbnail exists, else ``None``."""
        return key if key is not None and key in self.images else None

    def _read(self, path: Path) -> NDArray[Any] | None:
        if self._frame is None or self._frame[0] != path:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
            self._frame = (path, image)
            return image
        return self._frame[1]

    def add(self, key: str, frame: Path | None, boxes: Sequence[Box]) -> str | None:
        """Store the thumbnail of ``frame`` (an image file) around ``boxes`` under ``key``;
        returns the key, or ``None`` when the frame is not readable or the cap is reached."""
        if key in self.images:
            return key
        if frame is None:
            return None
        if len(self.images) >= self.max_count:
            self.skipped += 1
            return None
        image = self._read(frame)
        if image is None:
            return None
        self.images[key] = crop_thumbnail(image, boxes, self.max_side, self.quality)
        return key

    @property
    def num_bytes(self) -> int:
        """Characters the thumbnails add to the page."""
        return sum(len(v) for v in self.images.values())
