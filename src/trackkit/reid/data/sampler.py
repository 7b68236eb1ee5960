"""The P x K identity sampler (Hermans et al. 2017): batches of P identities x K images.

Each epoch, every identity's images are shuffled and cut into chunks of K (an identity with
fewer than K images is filled up by drawing its images again); batches take P chunks of
distinct identities at random until fewer than P identities have chunks left. An epoch thus
sees about every training image once. Everything is drawn from
``numpy.random.default_rng([seed, epoch])``, so an epoch's batches depend only on
``(seed, epoch)`` — which makes resuming a killed run exact. Pure numpy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from trackkit.errors import TrackkitError

__all__ = ["PKSampler"]


class PKSampler:
    """Index batches of ``p`` identities x ``k`` images.

    Args:
        labels: ``(N,)`` identity label of each training image.
        p, k: identities per batch and images per identity.
        paths: the images' files, used only to name an offending file in errors.

    Raises:
        TrackkitError: fewer than ``p`` identities, or an identity with a single image (it
            can form no positive pair).
    """

    def __init__(
        self,
        labels: Sequence[int] | NDArray[np.int64],
        p: int,
        k: int,
        paths: Sequence[str | Path] | None = None,
    ) -> None:
        if p < 2 or k < 2:
            raise TrackkitError(f"P x K sampling needs P >= 2 and K >= 2, got P={p}, K={k}")
        groups: dict[int, list[int]] = defaultdict(list)
        for i, lab in enumerate(labels):
            groups[int(lab)].append(i)
        for lab, idx in groups.items():
            if len(idx) < 2:
                where = f" ({paths[idx[0]]})" if paths is not None else ""
                raise TrackkitError(
                    f"identity {lab} has a single image{where}: P x K sampling needs at least "
                    "2 images per identity"
                )
        if len(groups) < p:
            raise TrackkitError(f"P x K sampling needs >= {p} identities, found {len(groups)}")
        self.p, self.k = p, k
        self.groups = {lab: np.array(idx, dtype=np.int64) for lab, idx in sorted(groups.items())}

    def epoch(self, seed: int, epoch: int) -> list[NDArray[np.int64]]:
        """The batches (``(p * k,)`` index arrays) of one epoch."""
        rng = np.random.default_rng([seed, epoch])
        chunks: dict[int, list[NDArray[np.int64]]] = {}
        for lab, idx in self.groups.items():
            idx = rng.permutation(idx)
            if idx.size < self.k:
                idx = np.concatenate([idx, rng.choice(idx, self.k - idx.size, replace=True)])
            n = idx.size // self.k
            chunks[lab] = [idx[j * self.k : (j + 1) * self.k] for j in range(n)]
        batches = []
        while True:
            alive = [lab for lab, c in chunks.items() if c]
            if len(alive) < self.p:
                break
            chosen = rng.choice(np.array(alive), self.p, replace=False)
            batches.append(np.concatenate([chunks[int(lab)].pop() for lab in chosen]))
        return batches

    def __len__(self) -> int:
        """An upper bound on the number of batches per epoch."""
        return sum(max(len(v) // self.k, 1) for v in self.groups.values()) // self.p
