"""Learned-feature DCF (DCFNet/UDT): weights, tracking, and the training command."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from trackkit.cli.main import main  # noqa: E402
from trackkit.errors import DataNotFoundError, FormatError  # noqa: E402
from trackkit.io.otb import load_otb_sequences  # noqa: E402
from trackkit.metrics.otb import evaluate_sequence  # noqa: E402
from trackkit.sot import build  # noqa: E402
from trackkit.sot.nets.dcfnet_net import build_feature_net, load_feature_weights  # noqa: E402
from trackkit.sot.runner import run_sequence  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _texture(h: int = 240, w: int = 320) -> np.ndarray:
    rng = np.random.default_rng(1)
    small = rng.integers(0, 256, size=(h // 8, w // 8, 3), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def test_channel_lrn_matches_torch() -> None:
    net = build_feature_net()
    x = torch.randn(2, 32, 9, 7) * 30
    ref = torch.nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)(x)
    torch.testing.assert_close(net[3](x), ref, rtol=1e-5, atol=1e-5)


def test_shared_weights_load(shared: Path) -> None:
    for path in (
        shared / "weights" / "dcfnet" / "param.pth",
        shared / "weights" / "udt" / "udt_model_best_state_dict.pt",
    ):
        sd = load_feature_weights(path)
        assert sum(v.numel() for v in sd.values()) == 10144


def test_bad_weights(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError):
        load_feature_weights(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(FormatError):
        load_feature_weights(tmp_path / "junk.pt")
    torch.save({"0.weight": torch.zeros(3)}, tmp_path / "wrong.pt")
    with pytest.raises(FormatError, match="mis-shaped"):
        load_feature_weights(tmp_path / "wrong.pt")


@pytest.mark.parametrize("gray", [False, True])
def test_dcfnet_follows_translation(shared: Path, gray: bool) -> None:
    img = _texture()
    if gray:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    frames = [
        cv2.warpAffine(img, np.float64([[1, 0, 2 * t], [0, 1, t]]), (320, 240)) for t in range(8)
    ]
    box = np.array([140.0, 100.0, 180.0, 150.0])
    run = run_sequence(build("udt"), frames, box)
    np.testing.assert_allclose(run.boxes[-1], box + [14, 7, 14, 7], atol=3.0)


@pytest.mark.slow
def test_udt_on_car4_start(shared: Path) -> None:
    [seq] = load_otb_sequences(shared / "data" / "otb" / "Car4")
    n = 40
    frames = list(seq.iter_frames())[:n]
    run = run_sequence(build("udt"), frames, seq.init_box)
    assert evaluate_sequence(run.boxes, seq.boxes[:n]).success_auc > 0.7


def _train(out: Path, data: Path, epochs: int, *extra: str) -> int:
    return main(
        [
            "sot", "train", "--model", "dcfnet", "--data", str(data), "--out", str(out),
            "--epochs", str(epochs), "--steps", "2", "--batch-size", "2", "--quiet",
            "--set", "crop_size=49", *extra,
        ]
    )  # fmt: skip


@pytest.mark.slow
def test_training_resume_is_exact_and_weights_track(shared: Path, tmp_path: Path) -> None:
    data = shared / "data" / "otb" / "Crossing"
    assert _train(tmp_path / "a", data, 2, "--mode", "udt") == 0
    assert _train(tmp_path / "b", data, 1, "--mode", "udt") == 0
    assert _train(tmp_path / "b", data, 2, "--mode", "udt", "--resume") == 0
    a = torch.load(tmp_path / "a" / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "b" / "model.pt", weights_only=True)["state_dict"]
    for k in a:
        torch.testing.assert_close(a[k], b[k])
    log = (tmp_path / "b" / "log.csv").read_text().splitlines()
    assert log[0].startswith("epoch,steps,loss") and len(log) == 3
    assert _train(tmp_path / "s", data, 1, "--mode", "supervised") == 0
    t = build("dcfnet", weights=str(tmp_path / "s" / "model.pt"))
    frame = _texture()
    t.init(frame, [100, 100, 140, 140])
    assert np.isfinite(t.update(frame).box).all()


def test_training_errors(shared: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _train(tmp_path / "x", tmp_path, 1) == 2
    assert "no folder with 3+ frames" in capsys.readouterr().err
    assert _train(tmp_path / "x", shared / "data" / "otb" / "Crossing", 1, "--resume") == 2
    assert "no checkpoint" in capsys.readouterr().err
    assert main(["sot", "train", "--model", "nope", "--data", ".", "--out", "o"]) == 2
    assert "valid names:" in (err := capsys.readouterr().err) and "dcfnet" in err


@pytest.mark.parametrize(
    ("box", "dx"),
    [
        ([150.0, 110.0, 157.0, 118.0], 1.0),  # 7x8 px target
        ([5.0, 5.0, 315.0, 235.0], 1.0),  # the whole frame
        ([270.0, 100.0, 310.0, 140.0], 15.0),  # runs out of the image
    ],
    ids=["tiny", "whole-frame", "leaves-image"],
)
def test_dcfnet_edge_targets(shared: Path, box: list[float], dx: float) -> None:
    img = _texture()
    frames = [
        cv2.warpAffine(img, np.float64([[1, 0, dx * t], [0, 1, 0]]), (320, 240)) for t in range(8)
    ]
    run = run_sequence(build("udt"), frames, box)
    assert np.isfinite(run.boxes).all()
    cx = (run.boxes[:, 0] + run.boxes[:, 2]) / 2
    assert cx.max() <= 320.0
    if dx == 1.0:
        assert abs(run.boxes[-1, 0] - (box[0] + 7.0)) < 3.0
