"""Choosing a configuration among scored trials, and scoring the choice on data it was not
chosen on: leave-one-sequence-out cross-validation, or a train/validation split.

Leave-one-out (LOO): for each sequence ``s``, the trial with the best objective on the *other*
sequences (combined as the official kit combines sequences) is picked, and its metrics on
``s`` are kept; the held-out metrics of all folds are combined into the LOO score. The
in-sample score is the best trial's objective on all sequences — optimistic by construction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from trackkit.errors import ConfigError
from trackkit.metrics.mot import MOTMetrics, combine_mot
from trackkit.tune.trial import objective

__all__ = ["Choice", "base_name", "best_trial", "loo", "split"]

#: one scored trial: its index and its metrics per sequence
Scored = tuple[int, Mapping[str, MOTMetrics]]


@dataclass(frozen=True)
class Choice:
    """The result of a selection.

    Attributes:
        trial: the trial chosen on all the selection sequences (the config to use).
        chosen_on: the sequences it was chosen on.
        in_sample: its combined metrics on ``chosen_on``.
        held_out: combined metrics on data the choice did not see (LOO: every sequence scored
            by the trial chosen without it; split: the validation sequences); ``None``
            without held-out data.
        fold_trials: held-out sequence -> the trial chosen without it (LOO) or the chosen
            trial (split).
    """

    trial: int
    chosen_on: tuple[str, ...]
    in_sample: MOTMetrics
    held_out: MOTMetrics | None
    fold_trials: dict[str, int]


def _combined(m: Mapping[str, MOTMetrics], seqs: Sequence[str]) -> MOTMetrics:
    return combine_mot([m[s] for s in seqs])


def best_trial(
    trials: Sequence[Scored], seqs: Sequence[str], weights: Mapping[str, float]
) -> tuple[int, MOTMetrics]:
    """The trial (first on ties) with the highest objective combined over ``seqs``."""
    if not trials:
        raise ConfigError("no finished trial to choose from")
    best: tuple[float, int, MOTMetrics] | None = None
    for index, metrics in trials:
        m = _combined(metrics, seqs)
        v = objective(weights, m)
        if best is None or v > best[0]:
            best = (v, index, m)
    assert best is not None
    return best[1], best[2]


def base_name(seq: str) -> str:
    """The sequence a variant comes from: ``MOT17-02-FRCNN@2`` (every 2nd frame) ->
    ``MOT17-02-FRCNN``."""
    return seq.split("@", 1)[0]


def loo(trials: Sequence[Scored], weights: Mapping[str, float]) -> Choice:
    """Leave-one-sequence-out selection over the sequences every trial scored (a sequence's
    frame-rate variants, ``NAME@k``, are left out together)."""
    seqs = tuple(trials[0][1]) if trials else ()
    groups = list(dict.fromkeys(base_name(s) for s in seqs))
    if len(groups) < 2:
        raise ConfigError("leave-one-out needs at least two sequences")
    index, in_sample = best_trial(trials, seqs, weights)
    by_index = dict(trials)
    folds: dict[str, int] = {}
    held: list[MOTMetrics] = []
    for g in groups:
        others = [o for o in seqs if base_name(o) != g]
        k, _ = best_trial(trials, others, weights)
        folds[g] = k
        held.extend(by_index[k][s] for s in seqs if base_name(s) == g)
    return Choice(index, seqs, in_sample, combine_mot(held), folds)


def split(trials: Sequence[Scored], weights: Mapping[str, float], val: Sequence[str]) -> Choice:
    """Choose on the sequences not in ``val``, score on ``val``."""
    seqs = tuple(trials[0][1]) if trials else ()
    unknown = [v for v in val if v not in {base_name(s) for s in seqs}]
    train = tuple(s for s in seqs if base_name(s) not in val)
    held = tuple(s for s in seqs if base_name(s) in val)
    if unknown or not train or not held:
        raise ConfigError(
            f"--val {', '.join(val)}: give some but not all of the sequences ({', '.join(seqs)})"
        )
    index, in_sample = best_trial(trials, train, weights)
    metrics = dict(trials)[index]
    return Choice(index, train, in_sample, _combined(metrics, held), {v: index for v in held})
