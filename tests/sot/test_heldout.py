"""Held-out numbers only (issue 20, item 4): every SOT trainer records its training
sequences in the weights file, the packaged weights' training sequences are known, and
``trackkit eval sot`` marks seen sequences and leaves them out of the mean."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from deep_synthetic import moving_target, write_otb

from helpers import deep_sot
from trackkit.cli.main import main
from trackkit.sot import build
from trackkit.sot.nets import default_weights
from trackkit.sot.train.seen import (
    PACKAGED_TRAINED_ON,
    SHARED_OTB_VOT,
    is_seen,
    seen_sequences,
    trained_sequences,
)
from trackkit.training.weights import make_weights, read_weights, save_weights

torch = pytest.importorskip("torch")


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("name", "extra"),
    [
        ("siamfc", {"width": 0.125}),
        ("goturn", {"size": 64, "width": 8}),
        ("mdnet", {"size": 32, "width": 8, "fc": 32, "pos": 2, "neg": 4}),
        ("dcfnet", {"mode": "supervised"}),
    ],
)
def test_every_trainer_records_its_training_sequences(
    name: str, extra: dict[str, object], tmp_path: Path
) -> None:
    from trackkit.sot.train.base import fit

    options = dict(epochs=1, steps_per_epoch=1, batch_size=2, lr=1e-3, command="cmd")
    trainer = deep_sot.trainer_on_synthetic(name, tmp_path, (1, 2), 6, extra=extra, **options)
    out = fit(trainer, progress=False)
    w = read_weights(out)
    assert w.trained_on["sequences"] == ["S1", "S2"] and w.trained_on["datasets"] == ["data"]
    assert w.command == "cmd" and trained_sequences(out) == {"S1", "S2"}


def test_packaged_weights_know_their_training_sequences() -> None:
    names = [*SHARED_OTB_VOT, "Girl", "MountainBike6", "vot15_car1", "Other"]
    for kind in ("siamfc", "goturn", "mdnet"):
        path = default_weights(kind)
        w = read_weights(path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        # an old-format asset must be in the table; a new one carries its own record
        record = w.trained_on or PACKAGED_TRAINED_ON.get(digest)
        assert record, kind
        seen = seen_sequences(kind, build(kind).config, names)
        assert seen == set(record["sequences"]) & set(names), kind
        assert "Other" not in seen and set(SHARED_OTB_VOT) <= seen, kind
    assert seen_sequences("kcf", build("kcf").config, SHARED_OTB_VOT) == set()
    # NanoTrack (published, trained elsewhere): no default here -> nothing seen
    cfg = build("siamrpn", weights="/nonexistent/folder").config
    assert seen_sequences("siamrpn", cfg, SHARED_OTB_VOT) == set()


def test_frame_folders_cover_their_sequences() -> None:
    assert is_seen("Car4", "Car4") and not is_seen("Car4", "Car")
    assert is_seen("Jogging/img", "Jogging-1") and is_seen("Jogging/img", "Jogging-2")
    assert is_seen("vot/bag", "bag") and not is_seen("Car4/img", "Couple")
    assert not is_seen("Jogging", "Jogging-1")  # a supervised name is a sequence's own


def _data(root: Path) -> Path:
    for seed in (1, 2):
        images, boxes = moving_target(n=5, seed=seed)
        write_otb(root / f"S{seed}", images, boxes)
    return root


def _weights(path: Path, sequences: list[str]) -> Path:
    from trackkit.sot.nets.siamfc_net import SiamFCNet

    torch.manual_seed(0)
    net = SiamFCNet(width=0.125)
    blob = make_weights("sot", "siamfc", {"width": 0.125}, net.state_dict(),
                        {"datasets": ["data"], "sequences": sequences}, "hand-made")  # fmt: skip
    save_weights(path, blob)
    return path


@pytest.mark.timeout(60)
def test_eval_marks_seen_and_leaves_them_out_of_the_mean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _data(tmp_path / "data")
    w = _weights(tmp_path / "w.pt", ["S1", "Elsewhere"])
    js = tmp_path / "s.json"
    args = ["eval", "sot", str(data), "--tracker", "siamfc", "--weights", str(w)]
    assert main([*args, "--json", str(js)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("S")}
    assert rows["S1"].endswith("seen") and not rows["S2"].endswith("seen")
    assert "1 held-out" in out
    rep = json.loads(js.read_text())
    assert rep["seen"] == ["S1"] and rep["sequences"]["S1"]["seen"] is True
    assert "seen" not in rep["sequences"]["S2"]
    assert rep["mean"]["sequences"] == 1 and rep["mean_with_seen"]["sequences"] == 2
    assert rep["mean"]["success_auc"] == rep["sequences"]["S2"]["success_auc"]
    # --include-seen: the mean over both, the seen one still marked
    assert main([*args, "--json", str(js), "--include-seen"]) == 0
    rep = json.loads(js.read_text())
    assert rep["mean"]["sequences"] == 2 and rep["seen"] == ["S1"]
    assert "mean_with_seen" not in rep


@pytest.mark.timeout(60)
def test_eval_with_every_sequence_seen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _data(tmp_path / "data")
    w = _weights(tmp_path / "w.pt", ["S1", "S2"])
    js, plot = tmp_path / "s.json", tmp_path / "p.png"
    args = ["eval", "sot", str(data), "--tracker", "siamfc", "--weights", str(w)]
    assert main([*args, "--json", str(js), "--plot", str(plot)]) == 0
    assert "all 2 sequences were seen" in capsys.readouterr().out
    rep = json.loads(js.read_text())
    assert rep["mean"] == {} and rep["mean_with_seen"]["sequences"] == 2
    assert not plot.exists()  # nothing held out to plot


@pytest.mark.timeout(60)
def test_eval_several_trackers_summarise_the_sequences_none_saw(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, seed in (("bag", 1), ("Other", 2)):  # "bag": seen by the packaged siamfc weights
        images, boxes = moving_target(n=5, seed=seed)
        write_otb(tmp_path / "data" / name, images, boxes)
    js = tmp_path / "s.json"
    args = ["eval", "sot", str(tmp_path / "data"), "--tracker", "kcf,siamfc", "--json", str(js)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "1 sequence(s) seen in training left out below" in out
    rep = json.loads(js.read_text())["trackers"]
    assert "seen" not in rep["kcf"] and rep["kcf"]["mean"]["sequences"] == 2
    assert rep["siamfc"]["seen"] == ["bag"] and rep["siamfc"]["mean"]["sequences"] == 1
    summary = out[out.index("ranked by mean AUC") :]
    kcf_auc = float(summary.split("\nkcf ")[1].split()[0])
    assert kcf_auc == pytest.approx(100 * rep["kcf"]["sequences"]["Other"]["success_auc"], abs=0.01)
