"""k-fold cross-validation by sequence for the SOT trainers: held-out scores on ../shared.

The annotated sequences are split into ``k`` folds by *video* (the two targets of an OTB video,
``Jogging-1`` / ``Jogging-2``, share their frames and always fall in the same fold, so no frame
is both trained on and scored). For fold ``i`` a model is trained on the other folds' sequences
with the trainer's documented recipe (:data:`RECIPES`: the commands of the packaged weights in
docs/benchmarks.md, with an optional smaller ``--epochs`` / ``--steps`` budget), then scored on
fold ``i``; every sequence is scored exactly once by a model that never saw it
(``benchmarks/sot_otb.py --folds K`` prints the table).

A fold's training data is the list of its sequences' folders, so each fold reproduces with
``trackkit sot train --data FOLDER,FOLDER,...`` (:meth:`Recipe.command`) and its weights file
records exactly those sequences (``trained_on``), which ``trackkit eval sot`` then marks seen.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trackkit.errors import ConfigError, TrackkitError
from trackkit.io.images import SOTSequence

__all__ = [
    "RECIPES",
    "Recipe",
    "make_folds",
    "sequence_folder",
    "train_fold",
    "train_recipe",
    "video_key",
]


@dataclass(frozen=True)
class Recipe:
    """A trainer's documented training command (``trackkit sot train`` options).

    Attributes:
        trainer: the name in :data:`~trackkit.sot.train.base.SOT_TRAINERS`.
        epochs, steps, batch_size, lr: ``--epochs``, ``--steps``, ``--batch-size``, ``--lr``.
        extra: the ``--set key=value`` options.
    """

    trainer: str
    epochs: int
    steps: int
    batch_size: int
    lr: float
    extra: Mapping[str, Any] = field(default_factory=dict)

    def command(
        self, data: Sequence[Path], out: Path, epochs: int | None = None, steps: int | None = None
    ) -> str:
        """The ``trackkit sot train`` command line of this recipe on ``data``."""
        parts = [
            "trackkit sot train --model", self.trainer,
            "--data", shlex.quote(",".join(str(d) for d in data)),
            "--out", shlex.quote(str(out)),
            "--epochs", str(epochs or self.epochs), "--steps", str(steps or self.steps),
            "--batch-size", str(self.batch_size), "--lr", f"{self.lr:g}",
        ]  # fmt: skip
        if self.extra:
            parts += ["--set", *(f"{k}={v}" for k, v in self.extra.items())]
        return " ".join(parts)


#: The recipes of trackkit's packaged weights (docs/benchmarks.md, "SiamFC, GOTURN, MDNet
#: trained by trackkit's own command", and the sot-*.md pages), by tracker name: the one
#: place ``--folds`` and the documented training commands take them from.
RECIPES: dict[str, Recipe] = {
    "siamfc": Recipe("siamfc", 8, 40, 8, 0.01, {"backbone": "nanotrack_v3", "train_blocks": 2}),
    "goturn": Recipe(
        "goturn",
        10,
        150,
        16,
        0.001,
        {
            "still_ratio": 0.5,
            "jitter": 0.2,
            "reverse_prob": 0.5,
            "flip_prob": 0.5,
            "gray_prob": 0.25,
            "pair_jitter": 0.5,
            "context_jitter": 0.25,
        },
    ),  # fmt: skip
    "mdnet": Recipe("mdnet", 6, 40, 4, 0.001),
    "memtrack": Recipe(
        "memtrack",
        8,
        20,
        4,
        0.01,
        {
            "write_shift": 0.2,
            "write_scale": 0.1,
            "embedding": "siamfc",
            "residual_bias": -3,
            "seq_len": 16,
        },
    ),
    "adnet": Recipe("adnet", 6, 20, 4, 0.001, {"sl_epochs": 4}),
    "rolo": Recipe("rolo", 12, 50, 16, 0.001),
    "udt-own": Recipe(
        "dcfnet", 6, 50, 8, 0.01, {"features": "nanotrack_v3", "unlabelled": "shared"}
    ),
    "siamrpn-own": Recipe(
        "siamrpn",
        120,
        40,
        24,
        0.002,
        {"pool": 480, "final_lr_ratio": 0.05, "train_blocks": 1, "still_prob": 0.25},
    ),
}


def video_key(name: str) -> str:
    """The video a sequence comes from: OTB's ``<Seq>-1`` / ``<Seq>-2`` share ``<Seq>``."""
    return re.sub(r"-\d+$", "", name)


def make_folds(names: Sequence[str], k: int, seed: int = 0) -> list[list[str]]:
    """Split sequence ``names`` into ``k`` folds by video (:func:`video_key`).

    The videos are shuffled with ``seed`` and dealt out largest first (in sequences) to the
    fold holding the fewest sequences, so fold sizes differ by at most the largest video's
    sequence count. Each fold keeps the input order of its names.

    Raises:
        ConfigError: ``k < 2`` or more folds than videos.
    """
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(video_key(n), []).append(n)
    if k < 2 or k > len(groups):
        raise ConfigError(f"--folds {k}: needs 2 <= K <= {len(groups)} (the number of videos)")
    keys = list(groups)
    order = np.random.default_rng(seed).permutation(len(keys))
    ranked = sorted((keys[i] for i in order), key=lambda g: -len(groups[g]))  # stable
    folds: list[list[str]] = [[] for _ in range(k)]
    for g in ranked:
        target = min(range(k), key=lambda i: len(folds[i]))
        folds[target].extend(groups[g])
    position = {n: i for i, n in enumerate(names)}
    return [sorted(f, key=position.__getitem__) for f in folds]


def sequence_folder(seq: SOTSequence) -> Path:
    """The folder of a sequence (``<Seq>`` for OTB ``<Seq>/img/*.jpg`` and VOT
    ``<seq>/color/*.jpg``; the frames' folder otherwise)."""
    folder = Path(seq.frames[0]).parent
    return folder.parent if folder.name in ("img", "color") else folder


def train_fold(
    recipe: Recipe,
    train: Sequence[SOTSequence],
    held_out: Sequence[str],
    out: Path,
    epochs: int | None = None,
    steps: int | None = None,
    seed: int = 0,
    max_minutes: float | None = None,
    progress: bool = False,
) -> Path:
    """Train ``recipe`` on the sequences ``train``; returns ``out/model.pt``.

    Args:
        recipe: the trainer and its options.
        train: the training sequences (their folders are the ``--data`` of the run).
        held_out: names that must not be in the training data (checked: a training folder
            that also holds a held-out sequence, e.g. one target of a two-target OTB video,
            is refused).
        out: the run's folder (``checkpoint.pt``, ``log.csv``, ``model.pt``); a finished run
            there is resumed (and so returned as it is).
        epochs, steps: budget overriding the recipe's (``None``: the recipe's).

    Raises:
        TrackkitError: a held-out sequence would be trained on.
    """
    from trackkit.sot.runner import find_sequences

    folders = list(dict.fromkeys(sequence_folder(s) for s in train))
    inside = {s.name for f in folders for s in find_sequences(f)}
    leak = sorted(inside & set(held_out))
    if leak:
        raise TrackkitError(f"held-out sequence(s) {leak} share a training folder: fold by video")
    return train_recipe(recipe, folders, out, epochs, steps, seed, max_minutes, progress)


def train_recipe(
    recipe: Recipe,
    data: Sequence[Path],
    out: Path,
    epochs: int | None = None,
    steps: int | None = None,
    seed: int = 0,
    max_minutes: float | None = None,
    progress: bool = False,
) -> Path:
    """Run ``recipe`` on the training folders ``data`` into ``out`` (a finished or
    interrupted run there is resumed); returns ``out/model.pt``. ``epochs`` / ``steps``
    override the recipe's budget."""
    from trackkit.sot.train.base import TrainOptions, build_trainer, fit

    opts = TrainOptions(
        data=tuple(data),
        out=out,
        epochs=epochs or recipe.epochs,
        steps_per_epoch=steps or recipe.steps,
        batch_size=recipe.batch_size,
        lr=recipe.lr,
        seed=seed,
        resume=(out / "checkpoint.pt").is_file(),
        max_minutes=max_minutes,
        extra=dict(recipe.extra),
        command=recipe.command(list(data), out, epochs, steps),
    )
    return fit(build_trainer(recipe.trainer, opts), progress=progress)
