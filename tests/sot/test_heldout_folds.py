"""k-fold by sequence (issue 20, item 4/5): folds by video, a fold's model trained on the
other folds only, and its weights marking exactly those sequences seen."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from deep_synthetic import moving_target, write_otb

from trackkit.errors import ConfigError, TrackkitError
from trackkit.sot import build
from trackkit.sot.runner import find_sequences
from trackkit.sot.train.folds import Recipe, make_folds, sequence_folder, train_fold
from trackkit.sot.train.seen import seen_sequences, trained_sequences
from trackkit.training.weights import read_weights

SHARED_13 = [
    "Car4", "Couple", "Crossing", "Jogging-1", "Jogging-2", "Girl", "Gull2", "MountainBike6",
    "S1301", "Surfing06", "vot15_car1", "wakeboard5", "bag",
]  # fmt: skip


@pytest.mark.parametrize("k", [2, 3, 4, 12])
def test_folds_by_video(k: int) -> None:
    folds = make_folds(SHARED_13, k, seed=0)
    assert len(folds) == k and sorted(sum(folds, [])) == sorted(SHARED_13)
    assert all(f for f in folds)
    jog = [i for i, f in enumerate(folds) for n in f if n.startswith("Jogging")]
    assert len(jog) == 2 and jog[0] == jog[1]  # the two targets of one video stay together
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= 2
    assert make_folds(SHARED_13, k, seed=0) == folds
    for f in folds:  # input order kept inside a fold
        assert f == sorted(f, key=SHARED_13.index)


def test_fold_seed_and_errors() -> None:
    assert make_folds(SHARED_13, 3, seed=1) != make_folds(SHARED_13, 3, seed=0)
    with pytest.raises(ConfigError, match="2 <= K <= 12"):
        make_folds(SHARED_13, 13)
    with pytest.raises(ConfigError):
        make_folds(SHARED_13, 1)


@pytest.mark.timeout(60)
def test_train_fold_sees_only_its_training_sequences(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    for seed in (1, 2, 3):
        images, boxes = moving_target(n=5, seed=seed)
        write_otb(tmp_path / "data" / f"S{seed}", images, boxes)
    seqs = {s.name: s for s in find_sequences(tmp_path / "data")}
    assert sequence_folder(seqs["S1"]) == tmp_path / "data" / "S1"
    recipe = Recipe("siamfc", 1, 1, 2, 1e-3, {"width": 0.125})
    out = train_fold(recipe, [seqs["S1"], seqs["S2"]], ["S3"], tmp_path / "fold")
    assert trained_sequences(out) == {"S1", "S2"}
    cmd = read_weights(out).command
    assert cmd.startswith("trackkit sot train --model siamfc --data ") and "width=0.125" in cmd
    assert str(tmp_path / "data" / "S3") not in cmd
    cfg = build("siamfc", weights=str(out)).config
    assert seen_sequences("siamfc", cfg, ["S1", "S2", "S3"]) == {"S1", "S2"}
    # run again: the finished run is resumed, not retrained
    before = out.stat().st_mtime_ns
    assert train_fold(recipe, [seqs["S1"], seqs["S2"]], ["S3"], tmp_path / "fold") == out
    assert out.stat().st_mtime_ns == before


def test_train_fold_refuses_a_shared_video(tmp_path: Path) -> None:
    images, boxes = moving_target(n=4, seed=1)
    folder = write_otb(tmp_path / "data" / "T", images, boxes)
    gt = folder / "groundtruth_rect.txt"
    shutil.copy(gt, folder / "groundtruth_rect.1.txt")
    gt.rename(folder / "groundtruth_rect.2.txt")
    seqs = {s.name: s for s in find_sequences(tmp_path / "data")}
    assert set(seqs) == {"T-1", "T-2"}
    with pytest.raises(TrackkitError, match="T-2"):
        train_fold(Recipe("siamfc", 1, 1, 2, 1e-3), [seqs["T-1"]], ["T-2"], tmp_path / "o")
