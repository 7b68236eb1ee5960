"""Run picklable callables over many items, in-process or on a pool of Ray actors.

:func:`map_tasks` is the one engine of :mod:`trackkit.batch` (one task per video) and of any
other many-task job, such as a parameter search (one task per trial)::

    from trackkit.batch import map_tasks

    for result in map_tasks(score_trial, trials, engine="ray", workers=4):
        if result.ok:
            print(result.index, result.value)
        else:
            print(result.index, "failed:", result.error)

Two engines run the same callable the same way:

- ``"local"``: in this process, one item after the other (no extra dependency).
- ``"ray"``: a pool of ``workers`` long-lived Ray actors (Moritz et al., "Ray: a distributed
  framework for emerging AI applications", OSDI 2018). Each actor receives its own copy of
  ``fn`` once, when it starts, and then runs one item at a time, so ``fn`` may be an object
  that loads a model lazily and keeps it in an attribute: the model is loaded once per worker,
  not once per item. A local Ray with ``workers * threads`` CPUs is started unless Ray is
  already initialised or ``address`` names a running cluster; a Ray this function started is
  shut down when the iteration ends (finished, interrupted or closed).

A worker that dies in the middle of an item (its process killed, out of memory, a lost node)
is replaced by a fresh actor and the item is run again, up to ``retries`` more times; an item
whose ``fn`` raises is not retried (a bad input fails the same way twice) and comes back with
the error. Ray is imported only by the ``"ray"`` engine.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from trackkit.errors import ConfigError, TrackkitError

__all__ = [
    "ENGINES",
    "TaskResult",
    "default_engine",
    "error_text",
    "map_tasks",
    "ray_available",
    "start_ray",
]

logger = logging.getLogger(__name__)

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class TaskResult:
    """The outcome of one item of :func:`map_tasks`.

    Attributes:
        index: position of the item in the input.
        item: the item itself.
        value: what ``fn(item)`` returned (``None`` when it failed).
        error: one line saying why it failed, ``None`` on success.
        attempts: how many times the item was started (``> 1`` after a lost worker).
        seconds: wall-clock time of the last attempt.
        worker: which worker ran it (``"local"`` or ``"ray-<n>"``).
    """

    index: int
    item: Any
    value: Any
    error: str | None
    attempts: int
    seconds: float
    worker: str

    @property
    def ok(self) -> bool:
        """Whether ``fn(item)`` returned."""
        return self.error is None


def ray_available() -> bool:
    """Whether the optional ``ray`` package can be imported."""
    import importlib.util

    return importlib.util.find_spec("ray") is not None


def default_engine() -> str:
    """``"ray"`` when Ray is installed, else ``"local"``."""
    return "ray" if ray_available() else "local"


def error_text(exc: BaseException) -> str:
    """One line for an error: a :class:`TrackkitError`'s message, else ``Type: message``."""
    text = str(exc) if isinstance(exc, TrackkitError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split()) or type(exc).__name__


def _set_threads(threads: int | None) -> int | None:
    """Limit OpenCV (and torch, when loaded) to ``threads`` threads; returns OpenCV's old
    setting (``None`` when ``threads`` is ``None``: nothing changed)."""
    if threads is None:
        return None
    import cv2

    old = int(cv2.getNumThreads())
    cv2.setNumThreads(int(threads))
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(int(threads))
    return old


class Worker:
    """What runs inside one Ray actor: its own copy of ``fn``, called once per item.

    ``run`` returns ``(True, value, seconds)`` or ``(False, error line, seconds)``: an error of
    ``fn`` is a result, so that an exception coming out of Ray always means a lost worker.
    """

    def __init__(self, fn: Callable[[Any], Any], threads: int | None) -> None:
        self.fn = fn
        _set_threads(threads)

    def run(self, item: Any) -> tuple[bool, Any, float]:
        start = time.perf_counter()
        try:
            value = self.fn(item)
        except Exception as exc:  # noqa: BLE001  (the item failed; the worker goes on)
            logger.debug("task failed", exc_info=True)
            return False, error_text(exc), time.perf_counter() - start
        return True, value, time.perf_counter() - start


def _local(fn: Callable[[Any], Any], items: list[Any], threads: int | None) -> Iterator[TaskResult]:
    old = _set_threads(threads)
    try:
        worker = Worker(fn, None)
        for index, item in enumerate(items):
            ok, value, seconds = worker.run(item)
            yield TaskResult(
                index, item, value if ok else None, None if ok else value, 1, seconds, "local"
            )
    finally:
        _set_threads(old)


def import_ray() -> Any:
    """The ``ray`` module, or a :class:`ConfigError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--engine ray needs Ray: pip install 'trackkit[ray]' (or use --engine local)"
        ) from None
    return ray


def start_ray(address: str | None, cpus: int | None, gpus: float | None = None) -> bool:
    """Initialise Ray unless it already is: a new local Ray with ``cpus`` CPUs (``None``:
    all) whose workers run at the caller's priority, or the running cluster at ``address``
    (``"auto"``: the one this machine belongs to). Returns whether this call started it (and
    should shut it down). Call it once before many :func:`map_tasks` calls (a search, batch
    after batch) so that they share one Ray instead of starting one each."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "configure_logging": False,
    }
    if address:
        kwargs["address"] = address
    else:
        kwargs["address"] = "local"  # a new Ray, even where `ray start` runs one on this machine
        kwargs["num_cpus"] = cpus
        # Ray runs its workers at niceness 15 by default: on a machine busy with other work
        # they would get a fraction of the CPU that `--engine local` (niceness 0) gets
        kwargs["_system_config"] = {"worker_niceness": 0}
        if gpus:
            kwargs["num_gpus"] = None  # let Ray find the GPUs of this machine
    try:
        ray.init(**kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise TrackkitError(f"cannot start {where}: {error_text(exc)}") from None
    return True


def _check_resources(ray: Any, threads: int, gpus: float) -> None:
    """Fail (instead of waiting forever) when no node could ever host one worker."""
    total = ray.cluster_resources()
    if threads > total.get("CPU", 0):
        raise ConfigError(
            f"--threads {threads}: the Ray cluster has {total.get('CPU', 0):g} CPUs in all"
        )
    if gpus > 0 and gpus > total.get("GPU", 0):
        raise ConfigError(
            f"--gpus-per-worker {gpus:g}: the Ray cluster has {total.get('GPU', 0):g} GPUs"
        )


def _ray(
    fn: Callable[[Any], Any],
    items: list[Any],
    workers: int | None,
    address: str | None,
    retries: int,
    threads: int,
    gpus: float,
) -> Iterator[TaskResult]:
    ray = import_ray()
    from ray.exceptions import RayError

    started = start_ray(address, None if workers is None else workers * threads, gpus)
    actors: dict[int, Any] = {}
    try:
        _check_resources(ray, threads, gpus)
        if workers is None:
            workers = max(1, int(ray.cluster_resources().get("CPU", 1) // threads))
        remote = ray.remote(Worker).options(
            num_cpus=threads, num_gpus=gpus, max_restarts=0, max_task_retries=0
        )
        try:
            fn_ref = ray.put(fn)  # serialised once; each actor deserialises its own copy
        except TypeError as exc:
            first = str(exc).splitlines()[0]
            raise ConfigError(
                f"{type(fn).__name__} cannot be sent to Ray workers ({first}); build "
                "unpicklable members (models, OpenCV objects) lazily in the worker"
            ) from None
        serial = 0

        def new_actor() -> int:
            nonlocal serial
            serial += 1
            actors[serial] = remote.remote(fn_ref, threads)
            return serial

        idle = deque(new_actor() for _ in range(min(workers, len(items))))
        pending: deque[tuple[int, int]] = deque((i, 1) for i in range(len(items)))
        running: dict[Any, tuple[int, int, int, float]] = {}
        while pending or running:
            while pending and idle:
                index, attempt = pending.popleft()
                actor = idle.popleft()
                ref = actors[actor].run.remote(items[index])
                running[ref] = (actor, index, attempt, time.perf_counter())
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                actor, index, attempt, start = running.pop(ref)
                try:
                    ok, value, seconds = ray.get(ref)
                except RayError as exc:
                    # the worker is gone: replace it, run the item again elsewhere
                    ray.kill(actors.pop(actor), no_restart=True)
                    idle.append(new_actor())
                    reason = error_text(exc).split(". ")[0][:300]
                    if attempt <= retries:
                        logger.warning(
                            "worker ray-%d lost while running item %d (%s); retrying (%d/%d)",
                            actor, index, reason, attempt, retries,
                        )  # fmt: skip
                        pending.appendleft((index, attempt + 1))
                        continue
                    yield TaskResult(
                        index, items[index], None,
                        f"worker lost {attempt} time(s), last: {reason}",
                        attempt, time.perf_counter() - start, f"ray-{actor}",
                    )  # fmt: skip
                    continue
                idle.append(actor)
                yield TaskResult(
                    index, items[index], value if ok else None, None if ok else value,
                    attempt, seconds, f"ray-{actor}",
                )  # fmt: skip
    finally:
        for handle in actors.values():
            try:
                ray.kill(handle, no_restart=True)
            except Exception:  # noqa: BLE001  (already gone)
                logger.debug("killing an actor failed", exc_info=True)
        if started:
            ray.shutdown()


def map_tasks(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    engine: str | None = None,
    workers: int | None = None,
    address: str | None = None,
    retries: int = 2,
    threads: int | None = 1,
    gpus_per_worker: float = 0.0,
) -> Iterator[TaskResult]:
    """Run ``fn(item)`` for every item and yield a :class:`TaskResult` as each one finishes.

    The engine of ``trackkit batch`` (one item = one source) and of any other job of many
    independent tasks, e.g. a parameter search with one trial per item::

        class Trial:                       # module level: picklable
            def __init__(self, data_dir): self.data_dir, self.data = data_dir, None
            def __call__(self, params):    # runs on a worker; returns something picklable
                if self.data is None:      # loaded once per worker, kept for its next items
                    self.data = load(self.data_dir)
                return score(self.data, params)

        for r in map_tasks(Trial("data/"), grid, engine="ray", workers=4):
            print(grid[r.index], r.value if r.ok else r.error)

    Args:
        fn: a picklable callable (a module-level function, or an instance of a module-level
            class: each Ray worker gets its own copy once, so it may cache models in its
            attributes). It must not rely on state of the calling process.
        items: picklable inputs; each is one task.
        engine: ``"local"`` (in this process, in order) or ``"ray"`` (a pool of actors,
            results in the order they finish); ``None``: Ray when it is installed.
        workers: number of Ray actors (``"local"`` runs one); ``None``: as many as the
            CPUs of the local machine (or the cluster) allow, ``threads`` CPUs each.
        address: a running Ray cluster (``"auto"``, ``"ray://host:10001"``, ``host:6379``);
            ``None`` starts a local Ray unless one is already initialised.
        retries: how many times an item is run again after its worker was lost.
        threads: CPU threads of each worker (OpenCV, torch; each Ray actor reserves this many
            CPUs); ``None`` leaves the threading of the local process alone.
        gpus_per_worker: GPUs each Ray actor reserves (fractions share a GPU).

    Yields:
        One :class:`TaskResult` per item. Closing the iterator (or an interruption while it
        waits) stops every worker it started.

    Raises:
        ConfigError: bad engine, counts, or Ray missing / unable to host one worker.
    """
    engine = engine or default_engine()
    if engine not in ENGINES:
        raise ConfigError(f"--engine {engine}: unknown engine; valid: {', '.join(ENGINES)}")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers {workers}: must be >= 1")
    if retries < 0:
        raise ConfigError(f"--retries {retries}: must be >= 0")
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads {threads}: must be >= 1")
    if gpus_per_worker < 0:
        raise ConfigError(f"--gpus-per-worker {gpus_per_worker}: must be >= 0")
    todo = list(items)
    if engine == "local":
        if workers is not None and workers > 1:
            logger.warning("--engine local runs one worker; --workers %d ignored", workers)
        return _local(fn, todo, threads)
    if not todo:
        return iter(())
    return _ray(fn, todo, workers, address, retries, threads or 1, gpus_per_worker)
