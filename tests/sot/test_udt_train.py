"""UDT training (Wang et al. CVPR 2019) on unlabelled video: the cost-sensitive weights by hand,
feature shapes, a training step on real frames, kill + resume, video clips, and the own-weights
tracker (NanoTrack v3 blocks + learned adaptation)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from trackkit.errors import FormatError  # noqa: E402
from trackkit.sot.nets.dcfnet_net import build_dcf_features, load_dcf_features  # noqa: E402
from trackkit.sot.train.base import TrainOptions, build_trainer, fit  # noqa: E402
from trackkit.sot.train.dcfnet import (  # noqa: E402
    Clip,
    cost_sensitive_weights,
    dcf_response,
    find_clips,
)
from trackkit.training.task import EpochRandom  # noqa: E402

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _trainer(data: Path, out: Path, resume: bool = False, **extra: object) -> object:
    opts = TrainOptions(
        data=(data,), out=out, epochs=2, steps_per_epoch=2, batch_size=4, lr=0.01,
        resume=resume, extra={"crop_size": 48, **extra},
    )  # fmt: skip
    return build_trainer("dcfnet", opts)


def test_cost_sensitive_weights_by_hand() -> None:
    losses = torch.tensor([1.0, 5.0, 2.0, 3.0])
    motion = torch.tensor([1.0, 1.0, 2.0, 0.0])
    w = cost_sensitive_weights(losses, motion, 0.25)  # drops sample 1 (largest loss)
    # kept motion (1, 2, 0): mean 1 -> weights motion / 1
    torch.testing.assert_close(w, torch.tensor([1.0, 0.0, 2.0, 0.0]))
    assert float(torch.sum(w * losses)) / 3 == pytest.approx((1 * 1 + 2 * 2) / 3)
    # uniform motion: the plain mean of the kept losses
    w = cost_sensitive_weights(losses, torch.ones(4), 0.5)  # drops 5 and 3
    torch.testing.assert_close(w, torch.tensor([1.0, 0.0, 1.0, 0.0]))
    torch.testing.assert_close(cost_sensitive_weights(losses, None, 0.0), torch.ones(4))
    torch.testing.assert_close(cost_sensitive_weights(losses, torch.zeros(4), 0.0), torch.ones(4))


def test_tiny_shapes() -> None:
    net = build_dcf_features("conv")
    x = torch.rand(2, 3, 20, 24) * 255
    assert net(x).shape == (2, 32, 20, 24) and net.stride == 1
    feats = net(x)
    lab = torch.fft.rfft2(torch.rand(20, 24))[None, None]
    resp = dcf_response(feats, feats, lab, torch.ones(20, 24), 1e-4)
    assert resp.shape == (2, 1, 20, 24)


def test_nanotrack_features_shape(shared: Path) -> None:
    net = build_dcf_features("nanotrack_v3", layers=(1, 3), channels=8, kernel=3)
    assert net(torch.rand(1, 3, 64, 64) * 255).shape == (1, 8, 16, 16)
    assert net.stride == 4 and len(net.record["sha256"]) == 64
    assert [k for k, _ in net.named_parameters()] == ["head.0.weight", "head.0.bias"]


def test_udt_loss_with_no_motion_is_small() -> None:
    """Identical frames: forward tracking stays at the centre, so the motion is the forward
    response's own error, the same in every step, and the backward response fits."""
    trainer = _trainer(Path("."), Path("."))
    trainer.model = build_dcf_features("conv")
    trainer.cfg = trainer.cfg.__class__(crop_size=32)
    from trackkit.sot.ops.dcf import gaussian_label, hann2d

    trainer._label = torch.from_numpy(gaussian_label((32, 32), 32 / 3 * 0.1))
    trainer._cos = torch.from_numpy(hann2d((32, 32)))
    crop = torch.rand(2, 3, 32, 32) * 255
    per, motion, back = trainer.udt_loss([crop, crop, crop])
    assert per.shape == motion.shape == (2,) and back.shape == (2, 1, 32, 32)
    assert torch.all(per < motion)  # backward equals one step: half the motion
    torch.testing.assert_close(per * 2, motion, rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("features", ["conv", "nanotrack_v3"])
def test_step_on_real_frames_lowers_loss(shared: Path, tmp_path: Path, features: str) -> None:
    trainer = _trainer(shared / "data" / "sot-extra" / "Girl", tmp_path, features=features)
    torch.manual_seed(0)
    trainer.setup()
    assert trainer.sequence_names == ["Girl/img"]
    rng = EpochRandom(np.random.default_rng(3), 0, 0)
    batch = next(iter(trainer.batches(0, rng)))
    assert len(batch) == 3 and batch[0].shape == (4, 3, 48, 48)

    def loss() -> float:
        with torch.no_grad():
            per, motion, _ = trainer.udt_loss(batch)
            w = cost_sensitive_weights(per, motion, trainer.cfg.drop_fraction)
            return float(torch.sum(w * per)) / 4

    before = loss()
    for _ in range(3):
        trainer.step(batch)
    assert loss() < before


def test_resume_after_kill_gives_same_weights(shared: Path, tmp_path: Path) -> None:
    data = shared / "data" / "sot-extra" / "Gull2"
    full = fit(_trainer(data, tmp_path / "a"), progress=False)
    with pytest.raises(KeyboardInterrupt):  # killed in epoch 2, after epoch 1's checkpoint
        fit(_trainer(data, tmp_path / "b"), progress=False, stop_after=3)
    resumed = fit(_trainer(data, tmp_path / "b", resume=True), progress=False)
    from trackkit.training.weights import read_weights

    a, b = read_weights(full), read_weights(resumed)
    assert a.trained_on["sequences"] == ["Gull2/img"] and a.config["features"] == "conv"
    for key, value in a.state_dict.items():
        assert torch.equal(value, b.state_dict[key]), key


def test_video_clips(tmp_path: Path) -> None:
    path = tmp_path / "v" / "clip.avi"
    path.parent.mkdir()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    rng = np.random.default_rng(0)
    for _ in range(5):
        writer.write(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8))
    writer.release()
    [clip] = find_clips([tmp_path], min_frames=3, video_side=60)
    assert len(clip) == 5 and clip.name == "v/clip.avi"
    assert clip.frame(4).shape == (60, 80, 3)
    assert len(Clip(path)) == 5  # a video file as a root


def test_own_weights_track_and_check_backbone(shared: Path, tmp_path: Path) -> None:
    from trackkit.sot import build
    from trackkit.sot.runner import run_sequence
    from trackkit.training.weights import read_weights, save_weights

    data = shared / "data" / "sot-extra" / "Gull2"
    trainer = _trainer(data, tmp_path / "w", features="nanotrack_v3")
    out = fit(trainer, progress=False)
    w = read_weights(out)
    assert w.trained_on["pretrained"]["backbone"] == "nanotrack_v3"
    assert load_dcf_features(out).stride == 4
    # the stride-4 tracker follows a translating texture
    small = np.random.default_rng(1).integers(0, 256, size=(30, 40, 3), dtype=np.uint8)
    img = cv2.resize(small, (320, 240), interpolation=cv2.INTER_CUBIC)
    frames = [
        cv2.warpAffine(img, np.float64([[1, 0, 2 * t], [0, 1, t]]), (320, 240)) for t in range(8)
    ]
    box = np.array([140.0, 100.0, 180.0, 150.0])
    run = run_sequence(build("dcfnet", weights=str(out)), frames, box)
    np.testing.assert_allclose(run.boxes[-1], box + [14, 7, 14, 7], atol=3.0)
    # weights trained on another backbone file are refused, naming the option
    blob = w.to_dict()
    blob["trained_on"]["pretrained"]["sha256"] = "0" * 64
    save_weights(tmp_path / "other.pt", blob)
    with pytest.raises(FormatError, match="backbone_weights"):
        load_dcf_features(tmp_path / "other.pt")


def test_packaged_own_weights_and_published_default(shared: Path) -> None:
    from trackkit.sot import build
    from trackkit.sot.base import SOT_TRACKERS
    from trackkit.sot.trackers.dcfnet import OWN_WEIGHTS
    from trackkit.sot.train.seen import tracker_weights, trained_sequences
    from trackkit.training.weights import read_weights
    from trackkit.zoo.cache import sha256_file

    own = Path(OWN_WEIGHTS)
    assert own.is_file() and own.stat().st_size <= 10 * 2**20
    w = read_weights(own, task="sot", arch="dcfnet")
    assert w.config["features"] == "nanotrack_v3" and "trackkit sot train" in w.command
    pre = w.trained_on["pretrained"]
    backbone = shared / "weights" / "nanotrack_v3" / pre["file"]
    assert pre["sha256"] == sha256_file(backbone)
    # `udt-own` loads it and marks the shared sequences it was trained on as seen
    tracker = build("udt-own")
    assert tracker_weights("udt-own", tracker.config) == own
    assert "Car4/img" in trained_sequences(own)
    # `udt` keeps the published weights (nothing seen)
    udt = SOT_TRACKERS.build("udt")
    assert tracker_weights("udt", udt.config) == shared / "weights" / "udt" / (
        "udt_model_best_state_dict.pt"
    )
