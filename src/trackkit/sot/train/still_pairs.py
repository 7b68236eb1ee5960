"""Training pairs from still images, the GOTURN way (Held, Thrun, Savarese, ECCV 2016, Sec. 4).

A regression tracker learns from (previous crop, current crop, box) triples. GOTURN makes such
triples from *one* image with a box: the previous crop is the box enlarged ``context`` times
around its centre; the "current frame" is the same image, and the current crop is cut around a
box that moved by the paper's motion-smoothness model,

    c'_x = c_x + w * dx,   c'_y = c_y + h * dy,   w' = w * gw,   h' = h * gh,
    dx, dy ~ Laplace(0, 1/5),   gw, gh ~ Laplace(1, 1/15),

both clipped (:class:`MotionModel`); the regression target is the true box inside that
current crop. Any image with boxes gives such pairs, so this module pools every one of them:

- :class:`ImageBoxes`: image files, each with ``(K, 4)`` boxes (:meth:`ImageBoxes.from_mot17`:
  MOTChallenge ``img1/`` frames and their visible pedestrians from ``gt/gt.txt``);
- :class:`SequenceFrames`: the frames of annotated single-object sequences
  (a :class:`~trackkit.sot.train.pairs.FramePairs`, i.e. only a trainer's *training*
  sequences: in k-fold no held-out frame is ever drawn);
- :class:`PastedCrops`: person re-identification crops (e.g. Market-1501) pasted at a random
  place and size onto a real background image of another source.

:class:`StillImages` draws from these sources with given weights; :func:`still_pair` makes
one example of an ``(image, box)``; :func:`crop_pair` is the shared last step (also for
video pairs: previous frame, current frame, current box, moved box). API for any trainer::

    pool = StillImages([(ImageBoxes.from_mot17(root), 1.0), (SequenceFrames(pairs), 1.0)])
    image, box = pool.sample(rng)                       # (H, W, 3) uint8 BGR, (4,) xyxy
    prev, search, target = still_pair(image, box, rng)  # (S, S, 3) uint8 x2, (4,) in [0, 1]

``target`` is the box ``xyxy`` in search-crop units (``0..1`` across the crop; GOTURN
multiplies it by 10). Everything is deterministic given the numpy generator.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
from numpy.typing import NDArray

from trackkit.config import Config
from trackkit.errors import DataNotFoundError, FormatError
from trackkit.sot.ops.crops import crop_pair_region, crop_region

__all__ = [
    "ImageBoxes",
    "MotionModel",
    "PastedCrops",
    "RandomBoxes",
    "SequenceFrames",
    "StillImages",
    "crop_pair",
    "still_pair",
    "still_source_folder",
    "still_sources",
]

Image = NDArray[np.uint8]
Box = NDArray[np.float64]


@dataclass(frozen=True)
class MotionModel(Config):
    """GOTURN's motion-smoothness model (Held et al. 2016, Eq. 1-4).

    Attributes:
        shift_scale: Laplace scale ``b`` of the centre shifts ``dx, dy`` (in box sides; 1/5).
        size_scale: Laplace scale of the size factors ``gw, gh`` around 1 (1/15).
        max_shift: shifts clipped to ``[-max_shift, max_shift]`` box sides.
        min_scale, max_scale: size factors clipped to this range (the paper: ``[0.6, 1.4]``).
    """

    RANGES: ClassVar[str] = (
        "shift_scale > 0; size_scale > 0; max_shift in (0, 1); min_scale in (0, 1]; max_scale >= 1"
    )

    shift_scale: float = 1 / 5
    size_scale: float = 1 / 15
    max_shift: float = 0.45
    min_scale: float = 0.6
    max_scale: float = 1.4

    def sample(self, rng: np.random.Generator) -> NDArray[np.float64]:
        """``(dx, dy, gw, gh)`` float64: clipped shifts (box sides) and size factors."""
        d = np.clip(rng.laplace(0.0, self.shift_scale, size=2), -self.max_shift, self.max_shift)
        g = np.clip(rng.laplace(1.0, self.size_scale, size=2), self.min_scale, self.max_scale)
        return np.concatenate([d, g])

    def move(self, box: Box, rng: np.random.Generator) -> Box:
        """``box`` (``xyxy``) moved by one draw of :meth:`sample`."""
        dx, dy, gw, gh = self.sample(rng)
        w, h = box[2] - box[0], box[3] - box[1]
        cx, cy = (box[0] + box[2]) / 2 + w * dx, (box[1] + box[3]) / 2 + h * dy
        return np.array([cx - w * gw / 2, cy - h * gh / 2, cx + w * gw / 2, cy + h * gh / 2])


def crop_pair(
    prev_img: Image,
    prev_box: Box,
    img: Image,
    box: Box,
    moved: Box,
    size: int = 128,
    context: float = 2.0,
) -> tuple[Image, Image, NDArray[np.float32]]:
    """``(previous crop, search crop, target)`` of one example.

    Args:
        prev_img, prev_box: the previous frame and its box (``xyxy``); the previous crop is
            the box enlarged ``context`` times, resized to ``size x size``.
        img, box: the current frame and the target's true box in it.
        moved: the box the search region is centred on (enlarged ``context`` times).

    Returns:
        Two ``(size, size, 3)`` uint8 crops (padded with the frame's mean colour) and the true
        box in search-crop units, ``(4,)`` float32 ``xyxy`` (0 = left / top edge, 1 = right /
        bottom edge of the crop).
    """
    out = (size, size)
    rp = crop_pair_region(prev_box, context)
    prev_crop = crop_region(prev_img, rp[:2], rp[2:], out, _fill(prev_img))
    rs = crop_pair_region(moved, context)
    search = crop_region(img, rs[:2], rs[2:], out, _fill(img))
    x0, y0 = rs[0] - rs[2] / 2, rs[1] - rs[3] / 2
    target = np.array([box[0] - x0, box[1] - y0, box[2] - x0, box[3] - y0], dtype=np.float32)
    target /= np.array([rs[2], rs[3], rs[2], rs[3]], dtype=np.float32)
    return prev_crop, search, target


def _fill(img: Image) -> tuple[float, float, float]:
    """Mean colour of a subsampled image (a full mean of a 1080p frame costs milliseconds)."""
    m = img[::8, ::8].reshape(-1, img.shape[-1]).mean(axis=0)
    return (float(m[0]), float(m[1]), float(m[2]))


def still_pair(
    image: Image,
    box: Box,
    rng: np.random.Generator,
    motion: MotionModel | None = None,
    size: int = 128,
    context: float = 2.0,
) -> tuple[Image, Image, NDArray[np.float32]]:
    """One GOTURN still-image example of ``image`` (``(H, W, 3)`` uint8) and its ``box``:
    the previous crop around the box, the search crop around the box moved by ``motion``
    (default :class:`MotionModel`), and the true box in search-crop units (see
    :func:`crop_pair`)."""
    moved = (motion or MotionModel()).move(np.asarray(box, dtype=np.float64), rng)
    return crop_pair(image, box, image, box, moved, size, context)


class _Cache:
    """Decoded images by path, the ``capacity`` most recent, each shrunk by ``shrink``."""

    def __init__(self, capacity: int, shrink: float = 1.0) -> None:
        self._data: OrderedDict[Path, Image] = OrderedDict()
        self.capacity = capacity
        self.shrink = shrink

    def get(self, path: Path) -> Image:
        img = self._data.get(path)
        if img is not None:
            self._data.move_to_end(path)
            return img
        read = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if read is None:
            raise FormatError(path, "cannot decode image")
        img = np.asarray(read, dtype=np.uint8)
        if self.shrink != 1.0:
            h, w = img.shape[:2]
            size = (round(w * self.shrink), round(h * self.shrink))
            img = np.asarray(cv2.resize(img, size, interpolation=cv2.INTER_AREA), np.uint8)
        self._data[path] = img
        if len(self._data) > self.capacity:
            self._data.popitem(last=False)
        return img


class ImageBoxes:
    """Image files with boxes: each draw picks an image (in proportion to its box count)
    and one of its boxes.

    Args:
        items: ``(image path, (K, 4) xyxy boxes)`` per image (``K >= 1``).
        shrink: images (and boxes) are scaled by this on loading (MOT17's 1080p frames: 0.5).
        cache: decoded images kept in memory.
    """

    def __init__(
        self, items: Sequence[tuple[Path, Box]], shrink: float = 1.0, cache: int = 64
    ) -> None:
        self.items = [(Path(p), np.asarray(b, np.float64) * shrink) for p, b in items if len(b)]
        if not self.items:
            raise DataNotFoundError("no image with boxes for still-image pairs")
        counts = np.array([len(b) for _, b in self.items], dtype=np.float64)
        self._p = counts / counts.sum()
        self._cache = _Cache(cache, shrink)

    @property
    def num_boxes(self) -> int:
        """All boxes of all images."""
        return int(sum(len(b) for _, b in self.items))

    @classmethod
    def from_mot17(
        cls,
        root: str | Path,
        min_visibility: float = 0.5,
        min_height: float = 50.0,
        shrink: float = 0.5,
    ) -> ImageBoxes:
        """The ``img1/`` frames of every MOTChallenge sequence under ``root``
        (``<seq>/img1/*.jpg`` + ``<seq>/gt/gt.txt``) with their pedestrians (class 1,
        flag 1) at least ``min_visibility`` visible and ``min_height`` pixels tall (full
        resolution); images scaled by ``shrink``.

        Raises:
            DataNotFoundError: no such sequence under ``root``.
        """
        from trackkit.io.mot_txt import read_mot_txt

        items: list[tuple[Path, Box]] = []
        for gt_file in sorted(Path(root).glob("*/gt/gt.txt")):
            gt = read_mot_txt(gt_file, "gt")
            ok = (gt.conf > 0) & (gt.classes == 1) & (gt.visibility >= min_visibility)
            ok &= gt.xyxy[:, 3] - gt.xyxy[:, 1] >= min_height
            for img in sorted((gt_file.parent.parent / "img1").glob("*.jpg")):
                keep = ok & (gt.frames == int(img.stem))
                if keep.any():
                    items.append((img, gt.xyxy[keep]))
        if not items:
            raise DataNotFoundError(f"{root}: no <seq>/img1/*.jpg with <seq>/gt/gt.txt boxes")
        return cls(items, shrink=shrink)

    def sample(self, rng: np.random.Generator) -> tuple[Image, Box]:
        """A random ``(image, box)``."""
        i = int(rng.choice(len(self.items), p=self._p))
        path, boxes = self.items[i]
        return self._cache.get(path), boxes[int(rng.integers(len(boxes)))].copy()


class SequenceFrames:
    """Single frames of annotated sequences (a :class:`~trackkit.sot.train.pairs.FramePairs`:
    only its sequences are ever drawn), frames drawn uniformly over the valid ones."""

    def __init__(self, pairs: Any) -> None:
        self.pairs = pairs

    def sample(self, rng: np.random.Generator) -> tuple[Image, Box]:
        s, i, _ = self.pairs.sample(rng)
        img, box = self.pairs.frame(s, i)
        return img, np.asarray(box, np.float64).copy()


class PastedCrops:
    """Person crops (re-identification datasets: the whole crop is the person's box) pasted
    onto real backgrounds: a crop, with random per-channel gains in ``[0.8, 1.2]``, is resized
    to a height of ``heights`` (a fraction of the background's height; aspect kept) and pasted
    at a uniformly random place of an image drawn from ``background``.

    Args:
        crops: the crop image files.
        background: any source with ``sample(rng) -> (image, box)`` (its box is ignored).
        heights: range of the pasted height, as a fraction of the background's height.
    """

    def __init__(
        self, crops: Sequence[Path], background: Any, heights: tuple[float, float] = (0.15, 0.6)
    ) -> None:
        self.crops = [Path(c) for c in crops]
        if not self.crops:
            raise DataNotFoundError("no crop images to paste")
        self.background = background
        self.heights = heights
        self._cache = _Cache(256)

    @classmethod
    def from_folder(cls, folder: str | Path, background: Any, **kw: Any) -> PastedCrops:
        """Every ``*.jpg`` / ``*.png`` of ``folder`` (e.g. Market-1501's
        ``bounding_box_train``)."""
        files = sorted(p for p in Path(folder).iterdir() if p.suffix in (".jpg", ".png"))
        if not files:
            raise DataNotFoundError(f"{folder}: no *.jpg / *.png crops to paste")
        return cls(files, background, **kw)

    def sample(self, rng: np.random.Generator) -> tuple[Image, Box]:
        bg, _ = self.background.sample(rng)
        crop = self._cache.get(self.crops[int(rng.integers(len(self.crops)))])
        bh, bw = bg.shape[:2]
        ph = max(int(round(bh * rng.uniform(*self.heights))), 8)
        pw = max(int(round(ph * crop.shape[1] / crop.shape[0])), 4)
        ph, pw = min(ph, bh - 1), min(pw, bw - 1)
        gains = rng.uniform(0.8, 1.2, size=3)
        obj = cv2.resize(crop, (pw, ph), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        px, py = int(rng.integers(0, bw - pw + 1)), int(rng.integers(0, bh - ph + 1))
        out = bg.copy()
        out[py : py + ph, px : px + pw] = np.clip(obj * gains, 0, 255).astype(np.uint8)
        return out, np.array([px, py, px + pw, py + ph], dtype=np.float64)


class RandomBoxes:
    """Any region of a real image as the object (class-agnostic still pairs): an image from
    ``background`` (``sample(rng) -> (image, box)``, its box ignored) and a box of side
    ``sqrt(w h)`` uniform in ``sides`` (a fraction of the image's shorter side) and aspect
    ratio ``w / h`` log-uniform in ``[1 / max_aspect, max_aspect]``, uniformly placed inside.
    """

    def __init__(
        self, background: Any, sides: tuple[float, float] = (0.08, 0.4), max_aspect: float = 3.0
    ) -> None:
        self.background = background
        self.sides = sides
        self.max_aspect = max_aspect

    def sample(self, rng: np.random.Generator) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
        """``(image (H, W, 3) uint8, box (4,) xyxy float64)``."""
        img, _ = self.background.sample(rng)
        h, w = img.shape[:2]
        side = min(h, w) * rng.uniform(*self.sides)
        a = float(np.exp(rng.uniform(-1, 1) * np.log(self.max_aspect)))
        bw, bh = min(side * np.sqrt(a), w - 2.0), min(side / np.sqrt(a), h - 2.0)
        x0, y0 = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
        return img, np.array([x0, y0, x0 + bw, y0 + bh])


def still_source_folder(*parts: str) -> Path:
    """The shared folder's ``parts`` (e.g. ``"data", "MOT17", "train"``) for a trainer's
    ``still_sources``.

    Raises:
        DataNotFoundError: it is not there (the message names the option to change).
    """
    from trackkit.shared import shared_path

    found = shared_path(*parts)
    if found is None:
        raise DataNotFoundError(
            f"still_sources: {'/'.join(parts)} not found in the shared folder (set "
            "TRACKKIT_SHARED, or leave that source out of --set still_sources=...)"
        )
    return found


def still_sources(
    names: Sequence[str], pairs: Any, backdrop: Sequence[str] = ("mot17", "sot")
) -> dict[str, Any]:
    """The still-image sources of a trainer's ``still_sources`` option, by name, in the order
    ``sot``, ``mot17``, ``reid``, ``random`` (those of ``names`` only): :class:`SequenceFrames`
    of ``pairs`` (a :class:`~trackkit.sot.train.pairs.FramePairs`), the shared MOT17 ``img1``
    pedestrians (:class:`ImageBoxes`), Market-1501 crops pasted on (:class:`PastedCrops`) and
    random regions of (:class:`RandomBoxes`) the images of ``backdrop`` (``mot17`` / ``sot``,
    equal weights, in that order).

    Raises:
        DataNotFoundError: a shared dataset of the sources is missing.
    """
    frames = SequenceFrames(pairs)
    mot = None
    if {"mot17", "reid", "random"} & set(names):
        mot = ImageBoxes.from_mot17(still_source_folder("data", "MOT17", "train"))
    images = {"sot": frames, "mot17": mot}
    out: dict[str, Any] = {}
    if "sot" in names:
        out["sot"] = frames
    if "mot17" in names:
        out["mot17"] = mot
    if {"reid", "random"} & set(names):
        back = StillImages([(images[n], 1.0) for n in backdrop if images[n] is not None])
        if "reid" in names:
            folder = still_source_folder("data", "reid", "market1501", "bounding_box_train")
            out["reid"] = PastedCrops.from_folder(folder, back)
        if "random" in names:
            out["random"] = RandomBoxes(back)
    return out


class StillImages:
    """Weighted mixture of still-image sources (each has ``sample(rng) -> (image, box)``).

    Args:
        sources: ``(source, weight)`` pairs; a source is drawn with probability proportional
            to its weight, then an image and box from it.
    """

    def __init__(self, sources: Sequence[tuple[Any, float]]) -> None:
        self.sources = [s for s, w in sources if w > 0]
        weights = np.array([w for _, w in sources if w > 0], dtype=np.float64)
        if not self.sources:
            raise DataNotFoundError("no still-image source")
        self._p = weights / weights.sum()

    def sample(self, rng: np.random.Generator) -> tuple[Image, Box]:
        """A random ``(image, box)``: ``(H, W, 3)`` uint8 BGR and ``(4,)`` float64 ``xyxy``."""
        k = int(rng.choice(len(self.sources), p=self._p)) if len(self.sources) > 1 else 0
        return self.sources[k].sample(rng)
