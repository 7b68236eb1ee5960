"""Plot CMC curves (cumulative matching characteristic) of re-identification results."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from trackkit.io.atomic import atomic_path

__all__ = ["plot_cmc"]


def plot_cmc(
    curves: Mapping[str, ArrayLike], path: str | Path, title: str = "", max_rank: int = 20
) -> Path:
    """Draw one CMC curve per entry of ``curves`` (``name -> (R,)`` fractions, ``cmc[k-1]`` =
    rank-k rate) up to ``max_rank`` and save the figure (format from the file suffix)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    for name, cmc in curves.items():
        values = np.asarray(cmc, dtype=np.float64)[:max_rank] * 100.0
        ranks = np.arange(1, values.size + 1)
        ax.plot(ranks, values, marker="o", markersize=3, label=f"{name} (R1 {values[0]:.1f}%)")
    ax.set_xlabel("rank")
    ax.set_ylabel("matching rate (%)")
    ax.set_ylim(0, 100)
    ax.set_xlim(1, max_rank)
    ax.grid(True, alpha=0.3)
    if title:
        ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        fig.savefig(tmp)
    plt.close(fig)
    return out
