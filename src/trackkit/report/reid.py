"""The ReID section of a report: CMC, rank-k/mAP/mINP and the worst queries with their
top-ranked gallery images.

``trackkit reid eval --report EVAL.json`` writes :func:`reid_eval_json`: the averaged
:class:`~trackkit.metrics.rank.RankResult` it prints, and for the first trial the queries with
the lowest average precision (each query's AP is :func:`~trackkit.metrics.rank.evaluate_rank`
on that query alone, the same function as the table's mAP) with their top-``k`` gallery
images. ``trackkit report --reid EVAL.json`` turns such files into the section; the images
are read from the paths stored in the file and embedded as small thumbnails.

The gallery shown for a query is its ranking as :func:`~trackkit.metrics.rank.evaluate_rank`
scores it: ascending distance (ties in gallery order), without junk images (identity ``-1``)
and without images of the query's identity from the query's camera.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from trackkit.errors import FormatError, TrackkitError
from trackkit.metrics.rank import JUNK_ID, RankResult, evaluate_rank
from trackkit.report.thumbs import Thumbnails

__all__ = ["reid_eval_json", "reid_section", "worst_queries", "write_reid_eval"]

FORMAT = "trackkit-reid-eval/1"


def worst_queries(
    distmat: ArrayLike,
    q_pids: Sequence[int],
    g_pids: Sequence[int],
    q_camids: Sequence[int],
    g_camids: Sequence[int],
    num: int = 10,
    top: int = 10,
) -> list[dict[str, Any]]:
    """The ``num`` queries with the lowest AP (ties: query order) and their top-``top``
    gallery entries.

    Args:
        distmat: ``(Q, G)`` distances of one trial.

    Returns:
        ``[{"query": index, "ap": AP, "first_hit": 1-based rank of the first true match,
        "gallery": [{"index": gallery index, "correct": bool}, ...]}, ...]``; queries without
        a true match (skipped by the metric) are left out.
    """
    dist = np.asarray(distmat, np.float64)
    qp, gp = np.asarray(q_pids, np.int64), np.asarray(g_pids, np.int64)
    qc, gc = np.asarray(q_camids, np.int64), np.asarray(g_camids, np.int64)
    scored = []
    for i in range(len(dist)):
        try:
            r = evaluate_rank(dist[i : i + 1], qp[i : i + 1], gp, qc[i : i + 1], gc)
        except TrackkitError:  # no true match left: a query the metric skips
            continue
        scored.append((r.mAP, i, r))
    scored.sort(key=lambda item: (item[0], item[1]))
    out = []
    for ap, i, _ in scored[:num]:
        order = np.argsort(dist[i], kind="stable")
        keep = (gp[order] != JUNK_ID) & ~((gp[order] == qp[i]) & (gc[order] == qc[i]))
        ranked = order[keep]
        hits = np.flatnonzero(gp[ranked] == qp[i])
        out.append(
            {
                "query": int(i),
                "ap": float(ap),
                "first_hit": int(hits[0]) + 1,
                "gallery": [
                    {"index": int(j), "correct": bool(gp[j] == qp[i])} for j in ranked[:top]
                ],
            }
        )
    return out


def reid_eval_json(
    result: RankResult,
    trials: int,
    query: Sequence[Any],
    gallery: Sequence[Any],
    distmat: ArrayLike,
    meta: dict[str, Any],
    num: int = 10,
    top: int = 10,
) -> dict[str, Any]:
    """The ``--report`` file of ``trackkit reid eval``.

    Args:
        result: the averaged result the command prints.
        trials: number of trials averaged.
        query, gallery: the first trial's images (``path``, ``pid``, ``camid``).
        distmat: that trial's ``(Q, G)`` distances (as scored).
        meta: ``model``, ``dataset``, ``rerank``, ... (stored as given).
    """
    worst = worst_queries(
        distmat,
        [im.pid for im in query],
        [im.pid for im in gallery],
        [im.camid for im in query],
        [im.camid for im in gallery],
        num,
        top,
    )

    def image(im: Any) -> dict[str, Any]:
        return {"path": str(Path(im.path).resolve()), "pid": int(im.pid), "cam": int(im.camid)}

    for w in worst:
        w["query"] = image(query[w["query"]])
        for g in w["gallery"]:
            g.update(image(gallery[g.pop("index")]))
    return {
        "format": FORMAT,
        **meta,
        "metrics": result.as_dict(),
        "cmc": result.cmc.tolist(),
        "queries": result.num_queries,
        "trials": trials,
        "top": top,
        "worst": worst,
    }


def write_reid_eval(
    path: str | Path, report: Any, trial: Any, distmat: ArrayLike, meta: dict[str, Any]
) -> None:
    """Write :func:`reid_eval_json` of an :class:`~trackkit.reid.evaluate.EvalReport`, its
    first ``trial`` (``query``/``gallery`` images) and that trial's distances to ``path``."""
    data = reid_eval_json(
        report.result, len(report.trials), trial.query, trial.gallery, distmat, meta
    )
    from trackkit.io.atomic import write_text

    write_text(path, json.dumps(data, indent=1) + "\n")


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise FormatError(path, f"not a readable JSON file ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise FormatError(
            path, f"not a `trackkit reid eval --report` file (expected format {FORMAT!r})"
        )
    return data


def reid_section(files: Sequence[str | Path], thumbs: Thumbnails | None = None) -> dict[str, Any]:
    """The JSON-ready ReID section of one or more ``--report`` files (one run each)."""
    thumbs = thumbs if thumbs is not None else Thumbnails()
    runs: list[dict[str, Any]] = []
    for file in files:
        path = Path(file)
        data = _read(path)
        group = f"reid/{len(runs)}"  # each run gets its fair part of the thumbnail cap
        worst = []
        for w in data["worst"]:
            q = w["query"]
            q_key = thumbs.request(group, f"reid/{q['path']}", Path(q["path"]), [])
            gallery = [
                {
                    "pid": g["pid"],
                    "cam": g["cam"],
                    "correct": g["correct"],
                    "thumb": thumbs.request(group, f"reid/{g['path']}", Path(g["path"]), []),
                }
                for g in w["gallery"]
            ]
            worst.append(
                {
                    "pid": q["pid"],
                    "cam": q["cam"],
                    "ap": w["ap"],
                    "first_hit": w["first_hit"],
                    "thumb": q_key,
                    "gallery": gallery,
                }
            )
        name = str(data.get("model", path.stem))
        if data.get("rerank"):
            name += " +rerank"
        runs.append(
            {
                "name": name,
                "dataset": str(data.get("dataset", "")),
                "metrics": data["metrics"],
                "cmc": data["cmc"],
                "queries": data["queries"],
                "trials": data["trials"],
                "top": data["top"],
                "worst": worst,
            }
        )
    thumbs.render()
    for run in runs:
        for w in run["worst"]:
            w["thumb"] = thumbs.get(w["thumb"])
            for g in w["gallery"]:
                g["thumb"] = thumbs.get(g["thumb"])
    return {"kind": "reid", "runs": runs}
