"""Re-identification datasets and their standard evaluation protocols (no torch).

:func:`load_dataset` reads a dataset folder into a :class:`ReIDDataset`: the training images
and one or more evaluation :class:`Trial` s (query set, gallery set). Protocols are
single-shot and cross-camera: queries come from one camera, the gallery from the other(s),
and gallery images with the query's identity *and* camera are excluded at scoring time
(:func:`trackkit.metrics.rank.evaluate_rank`). Datasets without a fixed test split are split
at random by identity, once per trial, with ``numpy.random.default_rng(seed + trial)``.

=============  ==============================================================================
market1501     ``bounding_box_train/``, ``query/``, ``bounding_box_test/`` (fixed split);
               with ``bounding_box_train/`` alone: training images, no trial
dukemtmc       same layout as market1501
cuhk03         ``train/``, ``test/``; query = camera A (00-04), gallery = camera B (05-09)
viper          632 ids; 316 random test ids; query = camera 1, gallery = camera 2
prid2011       100 of ids 1-200 are test ids: query = their camera-a images; gallery = every
               camera-b image except the other 100 shared ids (those train)
cuhk01         971 ids; 486 random test ids; query = camera A, gallery = camera B
grid           ids 1-250 are paired; 125 random test ids, query = the lower camera, gallery =
               the other camera plus every id > 250 (and id 0) as distractors
folder         ``<id>/<camera>_*.jpg``: every image queries every other camera's images
caviar4reid    ``PPPP_III.jpg``, no camera: every image queries every other image (each
ilids          image is its own camera, so only the query itself is excluded); all images
               also train (never train and score on the same one)
=============  ==============================================================================

Several datasets at once (training): ``load_dataset("cuhk03+market1501", "A,B")`` joins the
training images of each, identities renumbered into disjoint ranges (dataset ``d``'s
identities follow those of datasets ``0..d-1``), cameras likewise; it has no trial.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trackkit.errors import DataNotFoundError, FormatError, TrackkitError
from trackkit.registry import Registry
from trackkit.reid.data.names import IMAGE_SUFFIXES, PARSERS, ReIDImage

log = logging.getLogger(__name__)

__all__ = [
    "DATASETS",
    "ReIDDataset",
    "Trial",
    "camera_queries",
    "combine",
    "list_images",
    "load_dataset",
    "parse_folder",
    "validation_split",
]


@dataclass(frozen=True)
class Trial:
    """One evaluation split: ``query`` images are ranked against ``gallery`` images."""

    query: tuple[ReIDImage, ...]
    gallery: tuple[ReIDImage, ...]


@dataclass(frozen=True)
class ReIDDataset:
    """A dataset read from disk.

    Attributes:
        name: registry name (``"cuhk03"``, ...).
        root: the folder it was read from.
        train: training images (for random-split datasets: the complement of trial 0's test
            identities).
        trials: the evaluation splits (1 for fixed splits, ``n_trials`` for random ones).
    """

    name: str
    root: Path
    train: tuple[ReIDImage, ...]
    trials: tuple[Trial, ...]


DATASETS: Registry[ReIDDataset] = Registry("ReID dataset")


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name; errors if missing or empty."""
    if not folder.is_dir():
        raise DataNotFoundError(f"{folder}: folder not found")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataNotFoundError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in it")
    return files


def _parse_all(folder: Path, dataset: str) -> list[ReIDImage]:
    parse = PARSERS[dataset]
    return [parse(p) for p in list_images(folder)]


def _trial(query: Sequence[ReIDImage], gallery: Sequence[ReIDImage], where: Path) -> Trial:
    if not query:
        raise TrackkitError(f"{where}: the protocol gives an empty query set")
    if not gallery:
        raise TrackkitError(f"{where}: the protocol gives an empty gallery")
    return Trial(tuple(query), tuple(gallery))


def _random_split(
    ids: Sequence[int], n_test: int, n_trials: int, seed: int, where: Path
) -> list[set[int]]:
    """``n_trials`` random test-identity sets of size ``n_test`` drawn from ``ids``."""
    ids_sorted = np.array(sorted(set(ids)), dtype=np.int64)
    if ids_sorted.size < n_test:
        raise TrackkitError(
            f"{where}: the protocol needs {n_test} test identities, found only {ids_sorted.size}"
        )
    out = []
    for t in range(n_trials):
        rng = np.random.default_rng(seed + t)
        out.append({int(i) for i in rng.permutation(ids_sorted)[:n_test]})
    return out


def _two_camera_random(
    name: str, images: list[ReIDImage], n_test: int, n_trials: int, seed: int, root: Path
) -> ReIDDataset:
    """Query = camera 0, gallery = camera 1, on ``n_test`` random identities per trial."""
    cams: dict[int, set[int]] = defaultdict(set)
    for im in images:
        cams[im.pid].add(im.camid)
    paired = [pid for pid, c in cams.items() if {0, 1} <= c]
    splits = _random_split(paired, n_test, n_trials, seed, root)
    trials = [
        _trial(
            [im for im in images if im.pid in test and im.camid == 0],
            [im for im in images if im.pid in test and im.camid == 1],
            root,
        )
        for test in splits
    ]
    train = tuple(im for im in images if im.pid not in splits[0])
    return ReIDDataset(name, root, train, tuple(trials))


@DATASETS.register("market1501")
def load_market1501(root: Path, n_trials: int = 10, seed: int = 0) -> ReIDDataset:
    """Market-1501: bounding_box_train / query / bounding_box_test (Zheng et al. 2015)."""
    return _market_like("market1501", root)


@DATASETS.register("dukemtmc")
def load_dukemtmc(root: Path, n_trials: int = 10, seed: int = 0) -> ReIDDataset:
    """DukeMTMC-reID in the Market-1501 layout (Zheng et al. 2017)."""
    return _market_like("dukemtmc", root)


def _market_like(name: str, root: Path) -> ReIDDataset:
    train = [im for im in _parse_all(root / "bounding_box_train", name) if im.pid > 0]
    if not (root / "query").is_dir() and not (root / "bounding_box_test").is_dir():
        return ReIDDataset(name, root, tuple(train), ())  # a training split only
    query = _parse_all(root / "query", name)
    gallery = _parse_all(root / "bounding_box_test", name)
    return ReIDDataset(name, root, tuple(train), (_trial(query, gallery, root),))


@DATASETS.register("cuhk03")
def load_cuhk03(root: Path, n_trials: int = 10, seed: int = 0) -> ReIDDataset:
    """CUHK03 with train/ and test/: query = camera A, gallery = camera B (Li et al. 2014)."""
    train = _parse_all(root / "train", "cuhk03") if (root / "train").is_dir() else []
    test = _parse_all(root / "test", "cuhk03")
    trial = _trial(
        [im for im in test if im.camid == 0], [im for im in test if im.camid == 1], root / "test"
    )
    return ReIDDataset("cuhk03", root, tuple(train), (trial,))


@DATASETS.register("viper")
def load_viper(root: Path, n_trials: int = 10, seed: int = 0) -> ReIDDataset:
    """VIPeR: 316 random test identities per trial (Gray & Tao 2008)."""
    return _two_camera_random("viper", _parse_all(root, "viper"), 316, n_trials, seed, root)


@DATASETS.register("cuhk01")
def load_cuhk01(root: Path, n_trials: int = 10, seed: int = 0) -> ReIDDataset:
    """CUHK01: 486 random test identities per trial (Li et al. 2012)."""
    return _two_camera_random("cuhk01", _parse_all(root, "cuhk01"), 486, n_trials, seed, root)


@DATASETS.register("prid2011")
def load_prid2011(root: Path, n_trials: int = 10, seed: int = 0) -> ReIDDataset:
    """PRID2011 single-shot (Hirzer et al. 2011): 100 of the 200 shared ids per trial."""
    images = _parse_all(root, "prid2011")
    shared = sorted({im.pid for im in images if 1 <= im.pid <= 200})
    splits = _random_split(shared, 100, n_trials, seed, root)
    trials = []
    for test in splits:
        others = set(shared) - test
        query = [im for im in images if im.pid in test and im.camid == 0]
        gallery = [im for im in images if im.camid == 1 and im.pid not in others]
        trials.append(_trial(query, gallery, root))
    train_ids = set(shared) - splits[0]
    return ReIDDataset(
        "prid2011", root, tuple(im for im in images if im.pid in train_ids), tuple(trials)
    )


@DATASETS.register("grid")
def load_grid(root: Path, n_trials: int = 10, seed: int = 0) -> ReIDDataset:
    """GRID (Loy et al. 2009): 125 of the 250 paired ids per trial, distractors in gallery."""
    images: list[ReIDImage] = []
    for sub in ("probe", "gallery"):
        if (root / sub).is_dir():
            images += _parse_all(root / sub, "grid")
    if not images:
        images = _parse_all(root, "grid")
    cams: dict[int, set[int]] = defaultdict(set)
    for im in images:
        cams[im.pid].add(im.camid)
    paired = [pid for pid, c in cams.items() if 1 <= pid <= 250 and len(c) >= 2]
    probe_cam = {pid: min(cams[pid]) for pid in paired}
    distractors = [im for im in images if im.pid == 0 or im.pid > 250]
    trials = []
    splits = _random_split(paired, 125, n_trials, seed, root)
    for test in splits:
        query = [im for im in images if im.pid in test and im.camid == probe_cam[im.pid]]
        gallery = [im for im in images if im.pid in test and im.camid != probe_cam[im.pid]]
        trials.append(_trial(query, gallery + distractors, root))
    train = tuple(im for im in images if im.pid in set(paired) - splits[0])
    return ReIDDataset("grid", root, train, tuple(trials))


def parse_folder(root: Path) -> list[ReIDImage]:
    """A generic layout ``root/<identity>/<camera>_<anything>.<ext>``.

    Identity folder names and camera prefixes are arbitrary strings, numbered in sorted
    order (identity from 1, camera from 0).
    """
    if not root.is_dir():
        raise DataNotFoundError(f"{root}: folder not found")
    id_dirs = sorted(p for p in root.iterdir() if p.is_dir())
    if not id_dirs:
        raise DataNotFoundError(f"{root}: no identity folders (<id>/<camera>_*.jpg) in it")
    raw: list[tuple[Path, int, str]] = []
    for pid, folder in enumerate(id_dirs, start=1):
        for path in list_images(folder):
            cam, sep, _ = path.stem.partition("_")
            if not sep or not cam:
                raise FormatError(path, "file name does not follow '<camera>_<anything>.jpg'")
            raw.append((path, pid, cam))
    cam_ids = {c: i for i, c in enumerate(sorted({c for _, _, c in raw}))}
    return [ReIDImage(p, pid, cam_ids[c]) for p, pid, c in raw]


@DATASETS.register("folder")
def load_folder(root: Path, n_trials: int = 10, seed: int = 0) -> ReIDDataset:
    """Generic ``<id>/<camera>_*.jpg`` folders: all-vs-all across cameras."""
    images = parse_folder(root)
    return ReIDDataset("folder", root, tuple(images), (_trial(images, images, root),))


def _no_camera(name: str, root: Path) -> ReIDDataset:
    """All images train; one trial where each image queries all the others (image ``i`` is
    given camera ``i``, so the same-identity-and-camera exclusion removes only itself)."""
    images = _parse_all(root, name)
    own = [ReIDImage(im.path, im.pid, i) for i, im in enumerate(images)]
    return ReIDDataset(name, root, tuple(images), (_trial(own, own, root),))


@DATASETS.register("caviar4reid")
def load_caviar4reid(root: Path, n_trials: int = 10, seed: int = 0) -> ReIDDataset:
    """CAVIAR4REID ``PPPP_III.jpg`` (Cheng et al. BMVC 2011), no camera labels."""
    return _no_camera("caviar4reid", root)


@DATASETS.register("ilids")
def load_ilids(root: Path, n_trials: int = 10, seed: int = 0) -> ReIDDataset:
    """i-LIDS VID/MCTS crops ``PPPP_III.jpg`` (Zheng et al. BMVC 2009), no camera labels."""
    return _no_camera("ilids", root)


def validation_split(
    train: Sequence[ReIDImage], fraction: float, seed: int = 0, where: Path | str = "training set"
) -> tuple[tuple[ReIDImage, ...], Trial]:
    """Hold out ``fraction`` of the training identities as a validation trial (for choosing
    epochs, sizes and losses without looking at any test split).

    Only identities seen by at least two cameras can be held out (a query needs a match in
    another camera). The validation trial's queries are the first image of each (identity,
    camera); its gallery is every held-out image (the scorer drops same-identity same-camera
    images, the query itself included). Identities ``<= 0`` (junk, distractors) always train.

    Returns:
        ``(the remaining training images, the validation trial)``.

    Raises:
        TrackkitError: ``fraction`` outside (0, 1), or fewer than 2 identities to hold out.
    """
    if not 0.0 < fraction < 1.0:
        raise TrackkitError(f"validation fraction {fraction}: need a number in (0, 1), e.g. 0.1")
    cams: dict[int, set[int]] = defaultdict(set)
    for im in train:
        if im.pid >= 0:
            cams[im.pid].add(im.camid)
    eligible = np.array(sorted(p for p, c in cams.items() if len(c) >= 2), dtype=np.int64)
    n_val = int(round(fraction * len(cams)))
    if n_val < 2 or eligible.size < n_val:
        raise TrackkitError(
            f"{where}: cannot hold out {fraction:.0%} of {len(cams)} identities for validation "
            f"({eligible.size} are seen by two or more cameras; need at least 2)"
        )
    held = {int(p) for p in np.random.default_rng(seed).permutation(eligible)[:n_val]}
    gallery = [im for im in train if im.pid in held]
    rest = tuple(im for im in train if im.pid not in held)
    return rest, _trial(camera_queries(gallery), gallery, Path(where))


def camera_queries(images: Sequence[ReIDImage]) -> list[ReIDImage]:
    """The first image of each (identity, camera) of ``images``, in their order: the queries
    of an all-against-all trial (validation splits, a whole training set scored as unseen)."""
    seen: set[tuple[int, int]] = set()
    query = []
    for im in images:
        if (im.pid, im.camid) not in seen:
            seen.add((im.pid, im.camid))
            query.append(im)
    return query


def combine(datasets: Sequence[ReIDDataset]) -> ReIDDataset:
    """The training images of several datasets with disjoint identity (and camera) numbers:
    dataset ``d``'s identities are renumbered ``offset_d + 0, 1, ...`` in sorted order, with
    ``offset_d`` the number of identities before it. Identities with a single image are left
    out (P x K sampling needs a positive pair; logged). Name ``"a+b"``, root of the first, no
    trial."""
    train: list[ReIDImage] = []
    pid_offset = cam_offset = 0
    for ds in datasets:
        count = Counter(im.pid for im in ds.train)
        single = sorted(p for p, c in count.items() if c < 2)
        if single:
            log.info("%s: %d identities with a single image left out", ds.name, len(single))
        pids = {p: i for i, p in enumerate(sorted(p for p, c in count.items() if c >= 2))}
        cams = {c: i for i, c in enumerate(sorted({im.camid for im in ds.train}))}
        train += [
            ReIDImage(im.path, pid_offset + pids[im.pid], cam_offset + cams[im.camid])
            for im in ds.train
            if im.pid in pids
        ]
        pid_offset += len(pids)
        cam_offset += len(cams)
    name = "+".join(ds.name for ds in datasets)
    return ReIDDataset(name, datasets[0].root, tuple(train), ())


def load_dataset(name: str, root: str | Path, *, n_trials: int = 10, seed: int = 0) -> ReIDDataset:
    """Read dataset ``name`` (see :data:`DATASETS`) from ``root``; ``"a+b"`` with
    ``root = "A,B"`` reads several and joins their training images (:func:`combine`).

    Args:
        n_trials: number of random identity splits, for datasets without a fixed split.
        seed: trial ``t`` draws its split with ``numpy.random.default_rng(seed + t)``.
    """
    if n_trials < 1:
        raise TrackkitError(f"n_trials must be >= 1, got {n_trials}")
    if "+" in name:
        names = name.split("+")
        roots = str(root).split(",")
        if len(roots) != len(names):
            raise TrackkitError(
                f"dataset {name!r} names {len(names)} datasets but --root gives {len(roots)} "
                "folder(s); give one per dataset, comma-separated (--root A,B)"
            )
        parts = [load_dataset(n, r, n_trials=n_trials, seed=seed) for n, r in zip(names, roots)]
        return combine(parts)
    loader: Callable[..., ReIDDataset] = DATASETS.get(name)
    return loader(Path(root), n_trials=n_trials, seed=seed)
