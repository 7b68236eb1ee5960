"""CAVIAR4REID / i-LIDS readers and their all-vs-all protocol, Market-1501 with its training
split only, several datasets at once (disjoint identities, P x K across them) — on tiny
hand-made folders."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from trackkit.errors import FormatError, TrackkitError
from trackkit.metrics.rank import evaluate_rank
from trackkit.reid.data.datasets import load_dataset
from trackkit.reid.data.sampler import PKSampler

pytestmark = pytest.mark.timeout(30)


def _write(folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    img = np.zeros((8, 4, 3), np.uint8)
    for name in names:
        cv2.imwrite(str(folder / name), img)
    return folder


def test_no_camera_dataset_queries_every_image_against_the_others(tmp_path: Path) -> None:
    root = _write(tmp_path / "ilids", ["0001_001.jpg", "0001_002.jpg", "0002_001.jpg"])
    ds = load_dataset("ilids", root)
    assert [(im.pid, im.camid) for im in ds.train] == [(1, 0), (1, 0), (2, 0)]
    (trial,) = ds.trials
    assert trial.query == trial.gallery and [im.camid for im in trial.query] == [0, 1, 2]
    # hand-made distances: image 0's nearest other image is 1 (same id), image 1's is 2 (not)
    dist = np.array([[0, 1, 5], [1, 0, 0.5], [5, 0.5, 0]], dtype=float)
    pids = [im.pid for im in trial.query]
    cams = [im.camid for im in trial.query]
    res = evaluate_rank(dist, pids, pids, cams, cams)
    # only the query itself is excluded: image 2 (id 2) has no other image -> not a query;
    # image 0 finds image 1 at rank 1, image 1 finds image 0 at rank 2
    assert res.num_queries == 2
    assert res.rank(1) == pytest.approx(0.5) and res.mAP == pytest.approx((1 + 0.5) / 2)
    with pytest.raises(FormatError, match="PPPP_III"):
        load_dataset("caviar4reid", _write(tmp_path / "bad", ["x_1.jpg"]))


def test_market1501_training_split_alone(tmp_path: Path) -> None:
    names = ["0002_c1s1_000451_03.jpg", "0002_c2s1_000551_01.jpg", "-1_c1s1_000001_00.jpg"]
    root = tmp_path / "market"
    _write(root / "bounding_box_train", names + ["0000_c3s1_000001_00.jpg"])
    ds = load_dataset("market1501", root)
    assert ds.trials == () and [(im.pid, im.camid) for im in ds.train] == [(2, 0), (2, 1)]


def test_several_datasets_disjoint_identities_and_pk_across(tmp_path: Path) -> None:
    # CUHK03: ids 1000 and 1001 (cameras A/B); i-LIDS: ids 1, 2 and a single-image id 3
    cuhk = _write(
        tmp_path / "cuhk" / "train", ["1000_00.jpg", "1000_05.jpg", "1001_01.jpg", "1001_07.jpg"]
    )
    _write(tmp_path / "cuhk" / "test", ["0000_00.jpg", "0000_05.jpg"])
    ilids = _write(
        tmp_path / "ilids",
        ["0001_001.jpg", "0001_002.jpg", "0002_001.jpg", "0002_002.jpg", "0003_001.jpg"],
    )
    ds = load_dataset("cuhk03+ilids", f"{cuhk.parent},{ilids}")
    assert ds.name == "cuhk03+ilids" and ds.trials == ()
    got = [(im.path.name, im.pid, im.camid) for im in ds.train]
    assert got == [
        ("1000_00.jpg", 0, 0),
        ("1000_05.jpg", 0, 1),
        ("1001_01.jpg", 1, 0),
        ("1001_07.jpg", 1, 1),
        ("0001_001.jpg", 2, 2),  # i-LIDS ids follow CUHK03's: 2, 3; cameras from 2
        ("0001_002.jpg", 2, 2),
        ("0002_001.jpg", 3, 2),
        ("0002_002.jpg", 3, 2),
    ]  # 0003 has one image: left out (no positive pair)
    # P x K across both: over an epoch every identity of both datasets is drawn
    sampler = PKSampler([im.pid for im in ds.train], p=2, k=2)
    batches = sampler.epoch(seed=0, epoch=0)
    assert len(batches) == 2
    labels = [ds.train[i].pid for b in batches for i in b]
    assert sorted(set(labels)) == [0, 1, 2, 3]
    with pytest.raises(TrackkitError, match="--root A,B"):
        load_dataset("cuhk03+ilids", cuhk.parent)
