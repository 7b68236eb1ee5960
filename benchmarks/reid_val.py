"""Score ReID models on the validation split of ``trackkit reid train --eval-every N``
(issue 14): the held-out *training* identities, never an evaluation set.

The split is :func:`trackkit.reid.data.datasets.validation_split` of the four-dataset training
union (``cuhk03+market1501+caviar4reid+ilids`` under ``$TRACKKIT_SHARED/data/reid``) with the
trainer's ``--val-fraction`` and ``--seed`` (default 0.1 and 0): the same identities as the
``val_rank1`` / ``val_mAP`` columns of a run's log. Prints rank-1 / mAP % overall and per
source dataset, and the cosine-distance spread of same / different people (what DeepSORT's and
BoT-SORT's appearance thresholds see).

    python benchmarks/reid_val.py src/trackkit/assets/reid_osnet_x0_25_distilled.pt omz-0248

``--unseen market1501`` scores instead every identity of one training set that the models
being compared were *not* trained on (train them with ``--dataset`` leaving it out): new
cameras, which the split above (identities held out of cameras the student trains on) does not
measure. Queries are the first image of each (identity, camera), the gallery every image, with
the same-identity-same-camera rule. Only a set with camera labels qualifies (CUHK03,
Market-1501); a test set (CUHK03-test, VIPeR, PRID2011) is never one of them.

    python benchmarks/reid_val.py --unseen market1501 runs/a/model.pt runs/b/model.pt
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from trackkit.reid.data.datasets import (  # noqa: E402
    ReIDDataset,
    _trial,
    camera_queries,
    load_dataset,
    validation_split,
)
from trackkit.reid.embedder import Embedder, TorchEmbedder, load_embedder  # noqa: E402
from trackkit.reid.evaluate import dataset_paths, embed_paths, score_trials  # noqa: E402
from trackkit.reid.models import load_pretrained  # noqa: E402
from trackkit.shared import shared_dir  # noqa: E402

NAMES = ("cuhk03", "market1501", "caviar4reid", "ilids")
FOLDERS = ("cuhk03-labeled", "market1501", "caviar4reid", "ilids")


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 1.0 - a @ b.T


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="trackkit .pt files or embedder names (omz-0248)")
    ap.add_argument("--val-fraction", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--unseen",
        choices=("cuhk03", "market1501"),
        help="score all identities of this training set (left out of the models' training)",
    )
    args = ap.parse_args()

    shared = shared_dir()
    if shared is None:
        ap.error("../shared not found: set TRACKKIT_SHARED to its folder")
    base = shared / "data" / "reid"
    roots = [str(base / f) for f in FOLDERS]
    if args.unseen is not None:
        root = str(base / FOLDERS[NAMES.index(args.unseen)])
        ds = load_dataset(args.unseen, root)
        roots = [root]
        gallery = [im for im in ds.train if im.pid >= 0]
        val = _trial(camera_queries(gallery), gallery, Path(root))
        names: tuple[str, ...] = (args.unseen,)
    else:
        ds = load_dataset("+".join(NAMES), ",".join(roots))
        _, val = validation_split(ds.train, args.val_fraction, args.seed, Path(",".join(roots)))
        names = NAMES
    held = ReIDDataset(ds.name, ds.root, (), (val,))
    parts = {}
    for key, folder in zip(names, roots, strict=True):
        q = [im for im in val.query if str(im.path).startswith(folder + "/")]
        g = [im for im in val.gallery if str(im.path).startswith(folder + "/")]
        if q:
            parts[key] = ReIDDataset(key, Path(folder), (), (_trial(q, g, Path(folder)),))
    ids = len({im.pid for im in val.gallery})
    what = (
        f"{args.unseen}, every identity" if args.unseen
        else f"validation split (fraction {args.val_fraction}, seed {args.seed})"
    )  # fmt: skip
    print(f"{what}: {len(val.query)} queries, {len(val.gallery)} images, {ids} identities")
    print(f"{'model':<48}{'all':>14}" + "".join(f"{k:>14}" for k in parts)
          + f"{'same med/p99':>16}{'diff med/p1':>16}")  # fmt: skip
    paths = dataset_paths(held)
    pid = np.array([im.pid for im in held.trials[0].gallery])
    for m in args.models:
        emb: Embedder = (
            TorchEmbedder(load_pretrained(m), threads=1)
            if m.endswith(".pt")
            else load_embedder(m, threads=1)
        )
        f, _ = embed_paths(emb, paths)
        r = score_trials(f, paths, held, _cosine)[0]
        cells = [f"{100 * r.rank(1):.1f}/{100 * r.mAP:.1f}"]
        for d in parts.values():
            v = score_trials(f, paths, d, _cosine)[0]
            cells.append(f"{100 * v.rank(1):.1f}/{100 * v.mAP:.1f}")
        iu = np.triu_indices(len(pid), 1)
        same = pid[iu[0]] == pid[iu[1]]
        dist = (1.0 - f @ f.T)[iu]
        spread = (
            f"{np.median(dist[same]):.2f}/{np.percentile(dist[same], 99):.2f}",
            f"{np.median(dist[~same]):.2f}/{np.percentile(dist[~same], 1):.2f}",
        )
        print(f"{Path(m).name:<48}" + "".join(f"{c:>14}" for c in cells)
              + f"{spread[0]:>16}{spread[1]:>16}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
