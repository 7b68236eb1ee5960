"""The search loop of ``trackkit tune``: propose, track + score, record, choose.

Every finished trial is appended at once to ``OUT/trials.jsonl`` (the parameters, the
objective over all sequences, per-sequence HOTA / MOTA / IDF1 and the metrics' stored fields,
so that sequences can be recombined exactly) and ``OUT/trials.csv`` (one row per trial, for
reading). A search started again on the same ``OUT`` reads the finished trials and continues
from there (``resume``); the sampler is re-seeded from the trial count so that the continued
search does not repeat itself. Trial 0 is always the tracker's defaults.

Trials run in this process, in a pool of ``workers`` processes (each keeps its own copy of the
parsed sequences), or through a map function over an engine (``mapper``: takes a function
and a list of arguments, returns the results in order).
"""

from __future__ import annotations

import csv
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trackkit.errors import ConfigError, TrackkitError
from trackkit.io.atomic import write_text
from trackkit.metrics.mot import MOTMetrics, combine_mot
from trackkit.tune.cv import Choice, loo, split
from trackkit.tune.space import SAMPLERS, Param
from trackkit.tune.trial import (
    TuneSequence,
    metrics_from_state,
    metrics_state,
    objective,
    run_trial,
)

__all__ = ["TuneResult", "TuneSettings", "tune"]

log = logging.getLogger(__name__)

Mapper = Callable[[Callable[..., Any], list[Any]], list[Any]]


@dataclass(frozen=True)
class TuneSettings:
    """What a search does.

    Attributes:
        tracker: registered MOT tracker name.
        space: the parameters searched (:func:`trackkit.tune.space.search_space`).
        trials: total number of trials (trial 0 = defaults), finished ones included.
        objective: ``{metric: weight}`` (:func:`trackkit.tune.trial.parse_objective`).
        sampler: ``"random"`` or ``"local"``.
        seed: sampler seed.
        val: validation sequences (empty: leave-one-sequence-out).
        fixed: options set in every trial (not searched).
        offline: options of the offline pass run after the tracker (``None``: online).
        workers: processes (1: this process).
    """

    tracker: str
    space: Mapping[str, Param]
    trials: int = 100
    objective: Mapping[str, float] = field(default_factory=lambda: {"HOTA": 1.0})
    sampler: str = "local"
    seed: int = 0
    val: tuple[str, ...] = ()
    fixed: Mapping[str, Any] = field(default_factory=dict)
    offline: Mapping[str, Any] | None = None
    workers: int = 1


@dataclass(frozen=True)
class TuneResult:
    """The finished search: every trial's parameters and metrics and the selection."""

    params: list[dict[str, Any]]
    metrics: list[dict[str, MOTMetrics]]
    choice: Choice
    default_metrics: MOTMetrics
    seconds: float

    @property
    def best_params(self) -> dict[str, Any]:
        return self.params[self.choice.trial]


_WORKER: dict[str, Any] = {}


def _init_worker(data: Sequence[TuneSequence]) -> None:
    _WORKER["data"] = data


Job = tuple[str, dict[str, Any], "dict[str, Any] | None", str]


def _run_job(data: Sequence[TuneSequence], job: Job) -> dict[str, Any]:
    tracker, params, offline, benchmark = job
    t0 = time.perf_counter()
    metrics = run_trial(tracker, params, data, offline, benchmark)
    return {
        "state": {s: metrics_state(m) for s, m in metrics.items()},
        "seconds": time.perf_counter() - t0,
    }


def _trial_job(job: Job) -> dict[str, Any]:
    """One trial on the sequences of this process (:func:`_init_worker`)."""
    return _run_job(_WORKER["data"], job)


class TrialRunner:
    """A picklable trial function that carries its sequences (one copy per engine worker)."""

    def __init__(self, data: Sequence[TuneSequence]) -> None:
        self.data = list(data)

    def __call__(self, job: Job) -> dict[str, Any]:
        return _run_job(self.data, job)


def engine_mapper(data: Sequence[TuneSequence], engine: str, workers: int) -> Mapper:
    """A map function running one trial per task on :func:`trackkit.batch.engine.map_tasks`
    (``engine`` ``"local"`` or ``"ray"``), results in input order."""
    from trackkit.batch.engine import map_tasks

    runner = TrialRunner(data)

    def mapper(fn: Callable[..., Any], items: list[Any]) -> list[Any]:
        results = sorted(
            map_tasks(runner, items, engine=engine, workers=workers), key=lambda r: r.index
        )
        failed = [r for r in results if not r.ok]
        if failed:
            raise TrackkitError(f"trial failed on the {engine} engine: {failed[0].error}")
        return [r.value for r in results]

    return mapper


def _defaults(tracker: str, space: Mapping[str, Param]) -> dict[str, Any]:
    from trackkit.mot.base import MOT_TRACKERS

    cls: Any = MOT_TRACKERS.get(tracker)
    config = cls.config_class()
    return {name: getattr(config, name) for name in space}


def _valid(tracker: str, params: Mapping[str, Any]) -> bool:
    from trackkit.mot.base import MOT_TRACKERS, make_tracker_config

    cls: Any = MOT_TRACKERS.get(tracker)
    try:
        make_tracker_config(cls.config_class, **params)
    except TrackkitError:
        return False
    return True


def _read_records(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    lines = path.read_text().splitlines()
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            if n == len(lines):  # the last line, cut by an interruption: redo that trial
                break
            raise TrackkitError(f"{path}:{n}: not a JSON trial record; remove the line") from None
    return out


class _Recorder:
    """Appends trial records to ``trials.jsonl`` and rows to ``trials.csv`` (flushed)."""

    def __init__(self, out: Path, names: Sequence[str], seqs: Sequence[str], resume: bool) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.jsonl = out / "trials.jsonl"
        self.csv = out / "trials.csv"
        new_csv = not (resume and self.csv.is_file())
        if not resume:
            self.jsonl.write_text("")
        self.names, self.seqs = list(names), list(seqs)
        self._fh = self.csv.open("w" if new_csv else "a", newline="")
        self._w = csv.writer(self._fh)
        if new_csv:
            metrics = [f"{s}:{k}" for s in self.seqs for k in ("HOTA", "MOTA", "IDF1")]
            self._w.writerow(["trial", "objective", "seconds", *self.names, *metrics])

    def write(self, record: dict[str, Any]) -> None:
        with self.jsonl.open("a") as fh:
            fh.write(json.dumps(record) + "\n")
        scores = record["scores"]
        self._w.writerow(
            [
                record["trial"],
                f"{record['objective']:.4f}",
                f"{record['seconds']:.2f}",
                *(record["params"].get(n) for n in self.names),
                *(f"{scores[s][k]:.4f}" for s in self.seqs for k in ("HOTA", "MOTA", "IDF1")),
            ]
        )
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def tune(
    settings: TuneSettings,
    data: Sequence[TuneSequence],
    out: str | Path,
    resume: bool = True,
    benchmark: str = "MOT17",
    mapper: Mapper | None = None,
    progress: Callable[[int, float, float], None] | None = None,
) -> TuneResult:
    """Run (or continue) a search and choose its configuration (see the module docstring).

    Args:
        settings: the search.
        data: the training sequences, parsed once (:func:`~trackkit.tune.trial.load_sequences`).
        out: folder of ``trials.jsonl`` / ``trials.csv``.
        resume: continue from the trials already in ``out`` (else start afresh).
        benchmark: preprocessing of the scoring (``MOT17``: distractors removed).
        mapper: run the trials of a batch through this map function (an engine).
        progress: called after each trial with ``(trial, objective, best objective)``.

    Raises:
        ConfigError: records of another tracker or other sequences in ``out``.
    """
    out = Path(out)
    seqs = [s.name for s in data]
    names = list(settings.space)
    records = _read_records(out / "trials.jsonl") if resume else []
    for r in records:
        if r.get("tracker") != settings.tracker or sorted(r["state"]) != sorted(seqs):
            raise ConfigError(
                f"{out / 'trials.jsonl'}: trial {r.get('trial')} is of tracker "
                f"{r.get('tracker')} on other sequences; use another --out or --no-resume"
            )
    params = [dict(r["params"]) for r in records]
    metrics = [{s: metrics_from_state(st) for s, st in r["state"].items()} for r in records]
    # the objective of this search (it may differ from the one the records were made with)
    history = [
        (p, objective(settings.objective, combine_mot([m[s] for s in seqs])))
        for p, m in zip(params, metrics)
    ]
    sampler_cls = SAMPLERS[settings.sampler]
    sampler = sampler_cls(settings.space, seed=settings.seed * 100003 + len(records))
    recorder = _Recorder(out, names, seqs, resume=bool(records))
    if records:  # drop a last line cut by an interruption before appending
        write_text(recorder.jsonl, "".join(json.dumps(r) + "\n" for r in records))
    offline = dict(settings.offline) if settings.offline is not None else None
    t_start = time.perf_counter()
    pool = None
    if mapper is None and settings.workers > 1:
        pool = ProcessPoolExecutor(settings.workers, initializer=_init_worker, initargs=(data,))
        mapper = lambda fn, items: list(pool.map(fn, items))  # noqa: E731
    if mapper is None:
        _init_worker(data)
    batch = max(1, settings.workers) * (2 if mapper is not None and pool is None else 1)
    try:
        while len(params) < settings.trials:
            todo: list[dict[str, Any]] = []
            while len(todo) < min(batch, settings.trials - len(params)):
                if not params and not todo:
                    cand = _defaults(settings.tracker, settings.space)
                else:
                    for _ in range(100):
                        cand = sampler.propose(history)
                        if _valid(settings.tracker, {**settings.fixed, **cand}):
                            break
                    else:
                        raise ConfigError(
                            f"{settings.tracker}: 100 draws of the search space were all "
                            "rejected by the config's rules; narrow the space"
                        )
                todo.append(cand)
            jobs = [(settings.tracker, {**settings.fixed, **c}, offline, benchmark) for c in todo]
            results = mapper(_trial_job, jobs) if mapper else [_trial_job(j) for j in jobs]
            for cand, res in zip(todo, results):
                m = {s: metrics_from_state(st) for s, st in res["state"].items()}
                value = objective(settings.objective, combine_mot([m[s] for s in seqs]))
                record = {
                    "trial": len(params),
                    "tracker": settings.tracker,
                    "params": cand,
                    "fixed": dict(settings.fixed),
                    "offline": offline,
                    "objective": value,
                    "seconds": res["seconds"],
                    "scores": {
                        s: {
                            "HOTA": float(m[s].hota.HOTA.mean()),
                            "MOTA": float(m[s].clear.MOTA),
                            "IDF1": float(m[s].identity.IDF1),
                        }
                        for s in seqs
                    },
                    "state": res["state"],
                }
                recorder.write(record)
                params.append(cand)
                metrics.append(m)
                history.append((cand, value))
                if progress is not None:
                    progress(len(params) - 1, value, max(v for _, v in history))
    finally:
        recorder.close()
        if pool is not None:
            pool.shutdown()
    scored = list(enumerate(metrics))
    if settings.val:
        choice = split(scored, settings.objective, settings.val)
    else:
        choice = loo(scored, settings.objective)
    default = combine_mot([metrics[0][s] for s in choice.chosen_on])
    return TuneResult(params, metrics, choice, default, time.perf_counter() - t_start)


def summary(m: MOTMetrics) -> dict[str, float]:
    """HOTA, MOTA, IDF1 in percent."""
    return {
        "HOTA": 100 * float(m.hota.HOTA.mean()),
        "MOTA": 100 * float(m.clear.MOTA),
        "IDF1": 100 * float(m.identity.IDF1),
    }


def write_best(path: str | Path, settings: TuneSettings, result: TuneResult, command: str) -> Path:
    """Write the chosen configuration: the file ``trackkit track --config FILE`` reads.

    Layout (JSON): ``{"tracker": NAME, "options": {field: value}, "offline": {...} | null,
    "objective": ..., "in_sample": {...}, "held_out": {...}, "held_out_kind": "loo" |
    "split", "trial": N, "command": ...}``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    c = result.choice
    payload = {
        "tracker": settings.tracker,
        "options": {**settings.fixed, **result.best_params},
        "offline": dict(settings.offline) if settings.offline is not None else None,
        "objective": dict(settings.objective),
        "trial": c.trial,
        "chosen_on": list(c.chosen_on),
        "in_sample": summary(c.in_sample),
        "held_out": summary(c.held_out) if c.held_out is not None else None,
        "held_out_kind": "split" if settings.val else "loo",
        "defaults": summary(result.default_metrics),
        "fold_trials": c.fold_trials,
        "command": command,
    }
    write_text(path, json.dumps(payload, indent=2) + "\n")
    return path
