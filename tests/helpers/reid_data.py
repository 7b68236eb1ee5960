"""Tiny synthetic ReID identities: seconds of training on the CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

#: crop size (height, width) of the synthetic identities
REID_SIZE = (32, 16)


def reid_identities(
    n_ids: int = 6, per_id: int = 4, first_pid: int = 0
) -> tuple[list[Any], np.ndarray]:
    """``n_ids`` identities (``first_pid``, ``first_pid + 1``, ...) of ``per_id`` noisy
    single-colour :data:`REID_SIZE` crops each, on cameras 0 and 1 in turn: (images, crops)."""
    from trackkit.reid.data.names import ReIDImage

    rng = np.random.default_rng(0)
    images, crops = [], []
    for pid in range(first_pid, first_pid + n_ids):
        colour = rng.integers(0, 255, 3)
        for j in range(per_id):
            noise = rng.integers(-30, 30, (*REID_SIZE, 3))
            crops.append(np.clip(colour + noise, 0, 255).astype(np.uint8))
            images.append(ReIDImage(Path(f"{pid}_{j}.jpg"), pid, j % 2))
    return images, np.stack(crops)
