"""Shared pieces of the deep single-object trackers' training (SiamFC, GOTURN, MDNet).

- :class:`FramePairs` samples ``(sequence, frame i, frame j)`` with ``0 < |j - i| <= max_gap``
  from annotated OTB / VOT / GOT-10k sequences (found with :func:`trackkit.sot.runner.
  find_sequences`), skipping frames without a valid box; images are decoded on demand.
- :func:`to_tensor`: a batch of uint8 images as a float tensor.

The epoch loop, checkpoints and ``--resume`` are :func:`trackkit.sot.train.base.fit`'s.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from trackkit.errors import DataNotFoundError, FormatError

__all__ = ["FramePairs", "to_tensor"]

logger = logging.getLogger(__name__)


class FramePairs:
    """Annotated frames of one or more dataset roots, sampled as pairs.

    Args:
        roots: folders holding OTB / VOT / GOT-10k sequences (searched recursively).
        max_gap: largest frame distance of a pair.
        cache: number of decoded images kept in memory.
    """

    def __init__(self, roots: Sequence[str | Path], max_gap: int = 100, cache: int = 64) -> None:
        from trackkit.sot.runner import find_sequences

        self.sequences = []
        for root in roots:
            self.sequences.extend(find_sequences(root))
        self.valid: list[NDArray[np.int64]] = []
        for seq in self.sequences:
            ok = np.all(np.isfinite(seq.boxes), axis=1)
            ok &= (seq.boxes[:, 2] - seq.boxes[:, 0] > 1) & (seq.boxes[:, 3] - seq.boxes[:, 1] > 1)
            self.valid.append(np.nonzero(ok)[0])
        keep = [k for k, v in enumerate(self.valid) if len(v) >= 2]
        self.sequences = [self.sequences[k] for k in keep]
        self.valid = [self.valid[k] for k in keep]
        if not self.sequences:
            raise DataNotFoundError(f"no annotated sequence with 2+ valid frames in {roots}")
        self.max_gap = max_gap
        self._cache: OrderedDict[Path, NDArray[np.uint8]] = OrderedDict()
        self._cache_size = cache

    @property
    def num_frames(self) -> int:
        """Number of frames with a valid box."""
        return int(sum(len(v) for v in self.valid))

    def image(self, path: Path) -> NDArray[np.uint8]:
        """The BGR image at ``path`` (small LRU cache)."""
        img = self._cache.get(path)
        if img is None:
            read = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if read is None:
                raise FormatError(path, "cannot decode image")
            img = np.asarray(read, dtype=np.uint8)
            self._cache[path] = img
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(path)
        return img

    def sample(self, rng: np.random.Generator) -> tuple[int, int, int]:
        """A random ``(sequence index, frame i, frame j)`` with valid boxes, ``i != j``.

        Sequences are drawn in proportion to their number of valid frames.
        """
        sizes = np.array([len(v) for v in self.valid], dtype=np.float64)
        s = int(rng.choice(len(sizes), p=sizes / sizes.sum()))
        v = self.valid[s]
        a = int(rng.integers(len(v)))
        i = int(v[a])
        near = v[(np.abs(v - i) <= self.max_gap) & (v != i)]
        j = int(near[rng.integers(len(near))]) if len(near) else int(v[(a + 1) % len(v)])
        return s, i, j

    def frame(self, s: int, i: int) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
        """Image and ``xyxy`` box of frame ``i`` of sequence ``s``."""
        seq = self.sequences[s]
        return self.image(seq.frames[i]), seq.boxes[i]


def to_tensor(images: Sequence[NDArray[np.uint8]]) -> Any:
    """``(B, 3, H, W)`` float32 tensor of ``B`` uint8 ``(H, W, 3)`` images."""
    import torch

    return torch.from_numpy(np.stack(images).transpose(0, 3, 1, 2).astype(np.float32))
