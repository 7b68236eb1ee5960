"""The classic OTB plots: success (overlap) and precision (location error) curves.

Each tracker is a line; the legend ranks trackers by success AUC and precision at 20 px, as
in Wu, Lim and Yang (TPAMI 2015). matplotlib is used with the non-interactive Agg backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trackkit.metrics.otb import PRECISION_THRESHOLDS, SUCCESS_THRESHOLDS

__all__ = ["Curves", "plot_otb"]


@dataclass(frozen=True)
class Curves:
    """A tracker's mean curves.

    Attributes:
        success: ``(21,)`` success rates over :data:`SUCCESS_THRESHOLDS`.
        precision: ``(51,)`` precision rates over :data:`PRECISION_THRESHOLDS`.
    """

    success: NDArray[np.float64]
    precision: NDArray[np.float64]

    @classmethod
    def of(cls, success: ArrayLike, precision: ArrayLike) -> Curves:
        s = np.asarray(success, dtype=np.float64)
        p = np.asarray(precision, dtype=np.float64)
        if s.shape != SUCCESS_THRESHOLDS.shape or p.shape != PRECISION_THRESHOLDS.shape:
            raise ValueError(f"curves must be (21,) and (51,), got {s.shape} and {p.shape}")
        return cls(s, p)


def plot_otb(
    curves: Mapping[str, Curves],
    path: str | Path,
    title: str = "OPE",
    highlight: str | None = None,
) -> Path:
    """Draw the success and precision plots side by side and save them to ``path``.

    Args:
        curves: tracker name -> its mean curves.
        path: output image (``.png``, ``.pdf``, ``.svg``).
        title: plot title suffix (e.g. the benchmark name).
        highlight: a tracker drawn with a thicker line (e.g. the evaluated one).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not curves:
        raise ValueError("no curves to plot")
    fig, (ax_s, ax_p) = plt.subplots(1, 2, figsize=(11, 4.6))
    by_auc = sorted(curves.items(), key=lambda kv: -float(kv[1].success.mean()))
    for name, c in by_auc:
        lw = 2.6 if name == highlight else 1.6
        ax_s.plot(SUCCESS_THRESHOLDS, c.success, lw=lw, label=f"{name} [{c.success.mean():.3f}]")
    by_p20 = sorted(curves.items(), key=lambda kv: -float(kv[1].precision[20]))
    for name, c in by_p20:
        lw = 2.6 if name == highlight else 1.6
        ax_p.plot(PRECISION_THRESHOLDS, c.precision, lw=lw, label=f"{name} [{c.precision[20]:.3f}]")
    ax_s.set(
        xlabel="Overlap threshold",
        ylabel="Success rate",
        title=f"Success plots of {title}",
        xlim=(0, 1),
        ylim=(0, 1.02),
    )
    ax_p.set(
        xlabel="Location error threshold (px)",
        ylabel="Precision",
        title=f"Precision plots of {title}",
        xlim=(0, 50),
        ylim=(0, 1.02),
    )
    for ax in (ax_s, ax_p):
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left" if ax is ax_s else "lower right", fontsize=8)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
