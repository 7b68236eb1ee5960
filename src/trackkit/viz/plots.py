"""The classic OTB plots: success (overlap) and precision (location error) curves.

Each tracker is a line; the legend ranks trackers by success AUC and precision at 20 px, as
in Wu, Lim and Yang (TPAMI 2015). matplotlib is used with the non-interactive Agg backend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trackkit.io.atomic import atomic_path
from trackkit.metrics.otb import PRECISION_THRESHOLDS, SUCCESS_THRESHOLDS

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["Curves", "otb_figure", "plot_otb", "tracker_colors"]


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


@dataclass(frozen=True)
class _Panel:
    """One of the two plots: its curve, the legend's ranking score and its axes."""

    thresholds: NDArray[np.float64]
    curve: Callable[[Curves], NDArray[np.float64]]
    score: Callable[[Curves], float]
    name: str
    xlabel: str
    ylabel: str
    xmax: int
    legend_loc: Literal["lower left", "lower right"]


_PANELS = (
    _Panel(
        SUCCESS_THRESHOLDS,
        lambda c: c.success,
        lambda c: float(c.success.mean()),
        "Success",
        "Overlap threshold",
        "Success rate",
        1,
        "lower left",
    ),
    _Panel(
        PRECISION_THRESHOLDS,
        lambda c: c.precision,
        lambda c: float(c.precision[20]),
        "Precision",
        "Location error threshold (px)",
        "Precision",
        50,
        "lower right",
    ),
)


def tracker_colors(names: Sequence[str]) -> dict[str, str]:
    """One colour per tracker, fixed by its position in ``names`` (not by its rank in a
    panel), so that a tracker has the same colour in the success and the precision plot.
    Colours of matplotlib's ``tab10`` then ``tab20`` cycle; they repeat after 30 trackers."""
    palette = [f"C{i}" for i in range(10)] + [
        "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5",
        "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
    ] + ["#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173",
         "#5254a3", "#8ca252", "#bd9e39", "#ad494a", "#a55194"]  # fmt: skip
    return {name: palette[i % len(palette)] for i, name in enumerate(names)}


def _draw_panel(
    ax: Axes,
    panel: _Panel,
    curves: Mapping[str, Curves],
    title: str,
    highlight: str | None,
    colors: Mapping[str, str],
) -> None:
    """One tracker a line in its colour, the legend ranked by ``panel.score`` (best first)."""
    for name, c in sorted(curves.items(), key=lambda kv: -panel.score(kv[1])):
        lw = 2.6 if name == highlight else 1.6
        ax.plot(
            panel.thresholds,
            panel.curve(c),
            lw=lw,
            color=colors[name],
            label=f"{name} [{panel.score(c):.3f}]",
        )
    ax.set(
        xlabel=panel.xlabel,
        ylabel=panel.ylabel,
        title=f"{panel.name} plots of {title}",
        xlim=(0, panel.xmax),
        ylim=(0, 1.02),
    )
    ax.grid(alpha=0.3)
    ax.legend(loc=panel.legend_loc, fontsize=8)


def otb_figure(
    curves: Mapping[str, Curves], title: str = "OPE", highlight: str | None = None
) -> Figure:
    """The success and precision plots side by side as a matplotlib figure (Agg backend);
    the arguments are those of :func:`plot_otb`. The caller closes it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not curves:
        raise ValueError("no curves to plot")
    colors = tracker_colors(list(curves))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    for ax, panel in zip(axes, _PANELS):
        _draw_panel(ax, panel, curves, title, highlight, colors)
    fig.tight_layout()
    return fig


def plot_otb(
    curves: Mapping[str, Curves],
    path: str | Path,
    title: str = "OPE",
    highlight: str | None = None,
) -> Path:
    """Draw the success and precision plots side by side and save them to ``path``.

    Args:
        curves: tracker name -> its mean curves; a tracker's colour follows this order
            (:func:`tracker_colors`) and is the same in both plots.
        path: output image (``.png``, ``.pdf``, ``.svg``).
        title: plot title suffix (e.g. the benchmark name).
        highlight: a tracker drawn with a thicker line (e.g. the evaluated one).
    """
    import matplotlib.pyplot as plt

    fig = otb_figure(curves, title, highlight)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return out
