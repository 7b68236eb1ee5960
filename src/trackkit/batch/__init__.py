"""Many videos, many trackers, many machines: ``trackkit batch``.

- :func:`run` tracks a batch of sources into one folder (``trackkit batch`` calls it):
  resumable (``manifest.jsonl``), atomic results files, failures recorded, workers retried.
- :func:`map_tasks` is its engine, for any job of many picklable tasks (a parameter search):
  in-process or on a pool of long-lived Ray actors.
- :func:`find_sources` expands SOURCE arguments (files, folders, patterns, list files).

Ray is optional (``pip install 'trackkit[ray]'``) and imported only by the Ray engine.
"""

from trackkit.batch.engine import TaskResult, default_engine, map_tasks, ray_available
from trackkit.batch.evaluate import evaluate_batch
from trackkit.batch.job import TrackJob, TrackOutput, TrackTask
from trackkit.batch.manifest import Manifest
from trackkit.batch.runner import run
from trackkit.batch.sources import BatchSource, find_sources
from trackkit.batch.summary import BatchSummary, SourceResult

__all__ = [
    "BatchSource",
    "BatchSummary",
    "Manifest",
    "SourceResult",
    "TaskResult",
    "TrackJob",
    "TrackOutput",
    "TrackTask",
    "default_engine",
    "evaluate_batch",
    "find_sources",
    "map_tasks",
    "ray_available",
    "run",
]
