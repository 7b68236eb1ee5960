"""Shrinkage loss vs L2 vs L3 on DSLT's first-frame regression (Lu et al. ECCV 2018, Fig. 6).

The model is the DSLT tracker's regression layer (:mod:`trackkit.sot.trackers.dslt`: frozen
NanoTrack v3 features at blocks 3 and 9, a 1x1 reduction and a target-sized convolution),
trained the way the tracker trains it: on the FIRST frame of a sequence only, by Adam, to a
Gaussian label. Every loss starts from the same seeded initialisation with the same learning
rate and the same features. The error is measured on HELD-OUT frames of the same sequences,
never trained on: for ``--heldout`` frames ``k`` spread over the first ``--span`` frames, the
window is centred on the ground-truth centre of frame ``k - --gap`` (the target has moved)
and sized by frame ``k``'s ground truth; the error is the distance between the peak of the
raw response (refined to sub-cell precision) and the true target centre, in target sizes
(``sqrt(w h)``). The table reports, per training step, the mean error and the fraction of
held-out frames whose peak is within a quarter of the target size (``hit``), over all
held-out frames of all sequences; a second table, the response at the target on the
training frame itself (how fast each loss fits the label's peak of 1).

Nothing here is tuned: the tracker's default parameters (the paper's ``a = 10``, ``c = 0.2``,
label width 0.1) for every loss.

    python benchmarks/shrinkage_loss.py                 # all 13 shared sequences
    python benchmarks/shrinkage_loss.py --seqs Couple,Girl --steps 50
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from trackkit.io.images import read_image
from trackkit.shared import shared_path
from trackkit.sot.ops.crops import as_bgr
from trackkit.sot.ops.dcf import subpixel_peak
from trackkit.sot.runner import find_sequences
from trackkit.sot.trackers.dslt import DSLTTracker

#: label -> DSLT options (the loss and its form)
VARIANTS: dict[str, dict[str, Any]] = {
    "l2": {"loss": "l2"},
    "l3": {"loss": "l3"},
    "shrinkage-eq5": {"loss": "shrinkage", "target_weight": False},
    "shrinkage-eq6": {"loss": "shrinkage", "target_weight": True},
}


def _center(box: np.ndarray) -> tuple[float, float]:
    return (float(box[0] + box[2]) / 2.0, float(box[1] + box[3]) / 2.0)


def sequence_data(seq: Any, args: argparse.Namespace) -> dict[str, Any] | None:
    """First-frame features and label, held-out features and true cells of one sequence."""
    boxes = np.asarray(seq.boxes, dtype=np.float64)
    if not np.all(np.isfinite(boxes[0])):
        return None
    tracker = DSLTTracker(threads=1)
    frame0 = as_bgr(read_image(seq.frames[0]))
    fh, fw = frame0.shape[:2]
    tracker._network()
    tracker.setup_geometry((fw, fh), boxes[0])
    feats0 = tracker.features(tracker.patch(frame0, _center(boxes[0]), 1.0))
    label0 = tracker.label(tracker._mid)
    last = min(len(seq), args.span) - 1
    ks = sorted({int(round(k)) for k in np.linspace(args.gap, last, args.heldout)})
    held: list[tuple[Any, tuple[float, float], float]] = []
    area0 = (boxes[0][2] - boxes[0][0]) * (boxes[0][3] - boxes[0][1])
    for k in ks:
        b, prev = boxes[k], boxes[max(0, k - args.gap)]
        if k < 1 or not (np.all(np.isfinite(b)) and np.all(np.isfinite(prev))):
            continue
        area = (b[2] - b[0]) * (b[3] - b[1])
        if area <= 0:
            continue
        scale = math.sqrt(area / area0)
        c_prev, c_true = _center(prev), _center(b)
        feats = tracker.features(tracker.patch(as_bgr(read_image(seq.frames[k])), c_prev, scale))
        ppc = tracker._px_per_cell
        cell = (
            tracker._mid[0] + (c_true[1] - c_prev[1]) / (ppc[1] * scale),
            tracker._mid[1] + (c_true[0] - c_prev[0]) / (ppc[0] * scale),
        )
        size = math.sqrt((b[2] - b[0]) / (ppc[0] * scale) * (b[3] - b[1]) / (ppc[1] * scale))
        held.append((feats, cell, size))
    if not held:
        return None
    return {"tracker": tracker, "feats0": feats0, "label0": label0, "held": held}


def peak(response: np.ndarray) -> tuple[float, float]:
    """``(y, x)`` of the maximum in cells, refined by a parabola on each axis (as DSLT)."""
    gh, gw = response.shape
    dy, dx, _ = subpixel_peak(np.roll(response, (-(gh // 2), -(gw // 2)), axis=(0, 1)))
    return dy + gh // 2, dx + gw // 2


def evaluate(head: Any, held: list[Any]) -> list[float]:
    """Peak error (target sizes) of ``head`` on every held-out sample."""
    import torch

    out = []
    with torch.no_grad():
        for feats, cell, size in held:
            r, c = peak(head(feats)[0, 0].numpy())
            out.append(math.hypot(r - cell[0], c - cell[1]) / max(size, 1e-6))
    return out


def run(args: argparse.Namespace) -> tuple[dict[str, dict[int, list[float]]], ...]:
    """``variant -> step -> held-out errors (all sequences)`` and ``variant -> step ->
    training-frame response at the target (one per sequence; the label's value is 1)``."""
    import torch

    from trackkit.sot.nets.regression import fit_steps

    torch.set_num_threads(1)
    seqs = [s for r in args.roots for s in find_sequences(r)]
    if args.seqs:
        wanted = set(args.seqs.split(","))
        seqs = [s for s in seqs if s.name in wanted]
    checkpoints = sorted({0, *(s for s in args.eval_steps if s <= args.steps), args.steps})
    errors: dict[str, dict[int, list[float]]] = {v: {s: [] for s in checkpoints} for v in VARIANTS}
    fitted: dict[str, dict[int, list[float]]] = {v: {s: [] for s in checkpoints} for v in VARIANTS}
    for seq in seqs:
        t0 = time.perf_counter()
        data = sequence_data(seq, args)
        if data is None:
            continue
        for name, opts in VARIANTS.items():
            tracker = DSLTTracker(threads=1, **opts)
            loss_fn = tracker.loss_function()
            head = data["tracker"].new_head(int(data["feats0"].shape[1]))  # same seed, same init
            optim = torch.optim.Adam(head.parameters(), lr=args.lr)
            done = 0
            for step in checkpoints:
                fit_steps(head, optim, data["feats0"], data["label0"], loss_fn, step - done)
                done = step
                errors[name][step].extend(evaluate(head, data["held"]))
                with torch.no_grad():
                    resp = head(data["feats0"])[0, 0]
                mid = data["tracker"]._mid
                fitted[name][step].append(float(resp[int(mid[0]), int(mid[1])]))
        print(
            f"  {seq.name}: {len(data['held'])} held-out frames ({time.perf_counter() - t0:.0f} s)",
            file=sys.stderr,
        )
    return errors, fitted


def fit_table(fitted: dict[str, dict[int, list[float]]]) -> str:
    """Mean training-frame response at the target per step (1 = the label's peak)."""
    names = list(fitted)
    lines = ["| step | " + " | ".join(names) + " |", "|" + "---|" * (1 + len(names))]
    for s in next(iter(fitted.values())):
        lines.append(f"| {s} | " + " | ".join(f"{np.mean(fitted[n][s]):.3f}" for n in names) + " |")
    return "\n".join(lines)


def table(errors: dict[str, dict[int, list[float]]]) -> str:
    names = list(errors)
    steps = list(next(iter(errors.values())))
    head = "| step | " + " | ".join(f"{n} err | {n} hit" for n in names) + " |"
    lines = [head, "|" + "---|" * (1 + 2 * len(names))]
    for s in steps:
        cells = []
        for n in names:
            e = np.asarray(errors[n][s])
            cells += [f"{e.mean():.3f}", f"{(e < 0.25).mean():.3f}"]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    count = len(next(iter(next(iter(errors.values())).values())))
    lines.append(
        f"\n{count} held-out frames; err: mean peak distance in target sizes; "
        "hit: fraction of peaks within 0.25 target size"
    )
    return "\n".join(lines)


def plot(errors: dict[str, dict[int, list[float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for name, per in errors.items():
        steps = list(per)
        axes[0].plot(steps, [np.mean(per[s]) for s in steps], marker="o", ms=3, label=name)
        axes[1].plot(steps, [np.mean(np.asarray(per[s]) < 0.25) for s in steps], marker="o",
                     ms=3, label=name)  # fmt: skip
    axes[0].set_ylabel("held-out peak error (target sizes)")
    axes[1].set_ylabel("held-out hit rate (< 0.25 target size)")
    for ax in axes:
        ax.set_xlabel("first-frame training step (Adam)")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.suptitle("DSLT regression layer: loss comparison on held-out frames", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data = shared_path("data")
    default = [data / "otb", data / "vot", data / "sot-extra"] if data is not None else []
    ap.add_argument("--roots", type=Path, nargs="+", default=default)
    ap.add_argument("--seqs", help="comma-separated sequence names (default: all)")
    ap.add_argument("--steps", type=int, default=100, help="first-frame steps (paper: <= 100)")
    ap.add_argument("--eval-steps", type=int, nargs="+", default=[1, 2, 5, 10, 20, 30, 50, 75])
    ap.add_argument("--lr", type=float, default=DSLTTracker.config_class().lr)
    ap.add_argument("--heldout", type=int, default=8, help="held-out frames per sequence")
    ap.add_argument("--span", type=int, default=150, help="held-out frames come from these")
    ap.add_argument("--gap", type=int, default=10, help="window centred on frame k - gap's box")
    ap.add_argument("--plot", type=Path, default=Path("docs/images/shrinkage_loss.png"))
    args = ap.parse_args()
    if not args.roots:
        print("no ../shared data (set TRACKKIT_SHARED)", file=sys.stderr)
        return 2
    errors, fitted = run(args)
    print("held-out frames: peak error / hit rate per first-frame training step")
    print(table(errors))
    print("\ntraining frame: response at the target (label 1) per step")
    print(fit_table(fitted))
    try:
        plot(errors, args.plot)
        print(f"plot: {args.plot}", file=sys.stderr)
    except ImportError:
        print("matplotlib not installed: no plot", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
