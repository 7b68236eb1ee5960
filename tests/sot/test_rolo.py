"""ROLO: the recurrent regressor's shapes and sampling, one training step, the frozen detector's
features (../shared), training + tracking end to end with cached features."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from trackkit.errors import DataNotFoundError, FormatError

torch = pytest.importorskip("torch")


def _tiny() -> Any:
    from trackkit.sot.nets.rolo_net import RoloNet

    torch.manual_seed(0)
    return RoloNet(channels=8, grid=3, pool=3, app=4, fc=16, hidden=8, context=2.0)


def _inputs(b: int = 2, k: int = 3) -> tuple[Any, Any, Any, Any]:
    g = torch.Generator().manual_seed(0)
    fmap = torch.rand(b, 8, 6, 6, generator=g)
    scale = torch.full((b,), 0.1)  # 60x60 px frames
    dets = torch.zeros(b, k, 5)
    dets[:, 0] = torch.tensor([18.0, 20.0, 34.0, 40.0, 0.9])
    prev = torch.tensor([[20.0, 22.0, 34.0, 40.0]]).repeat(b, 1)
    return fmap, scale, dets, prev


@pytest.mark.timeout(20)
def test_shapes_and_identity_start() -> None:
    net = _tiny()
    fmap, scale, dets, prev = _inputs()
    tpl = net.template(fmap, scale, prev)
    assert tpl[0].shape == (2, 8) and tpl[1].shape == (2, 4 * 9)
    assert torch.allclose(tpl[0].norm(dim=1), torch.ones(2))
    x = net.encode(fmap, scale, dets, prev, tpl)
    assert x.shape == (2, net.input_size)
    delta, (h, c) = net.step(x, None)
    assert delta.shape == (2, 4) and h.shape == (2, 8) and c.shape == (2, 8)
    # the last layer starts at zero: the box stays where it was
    torch.testing.assert_close(net.decode(prev, delta), prev)
    # the detection overlapping the previous box is the detection input (IoU, score)
    n = net.grid * net.grid
    det_vec = x[:, 2 * n : 2 * n + 6].detach()
    assert det_vec[0, 4] == pytest.approx(0.9)
    assert 0.5 < float(det_vec[0, 5]) < 1.0
    assert torch.all(torch.isfinite(x))


@pytest.mark.timeout(20)
def test_roi_grid_samples_lattice_centres() -> None:
    from trackkit.sot.nets.rolo_net import roi_grid

    w = 10
    xs = torch.arange(w, dtype=torch.float32)
    fmap = xs.view(1, 1, 1, w).expand(1, 1, 8, w).contiguous()  # value = column index
    out = roi_grid(fmap, torch.tensor([[2.0, 1.0, 8.0, 7.0]]), 3)
    # lattice centres at x = 3, 5, 7 (cell i covers [i, i + 1): value at x is x - 0.5)
    torch.testing.assert_close(out[0, 0, 0], torch.tensor([2.5, 4.5, 6.5]))


@pytest.mark.timeout(30)
def test_one_training_step_lowers_the_loss() -> None:
    from trackkit.sot.train.rolo import unroll

    net = _tiny()
    fmap, scale, dets, prev = _inputs()
    steps = 5
    gt = torch.stack([prev + torch.tensor([1.5, 1.0, 1.5, 1.0]) * t for t in range(steps)])
    batch = {
        "fmap": fmap[None].repeat(steps, 1, 1, 1, 1).half(),
        "dets": dets[None].repeat(steps, 1, 1, 1),
        "gt": gt,
        "noise": torch.zeros(steps, 2, 4),
        "tpl_fmap": fmap.half(),
        "tpl_box": prev,
        "scale": scale,
        "size": torch.full((2, 2), 60.0),
    }
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    before, _ = unroll(net, batch, burn_in=1, reset_iou=0.0)
    opt.zero_grad()
    before.backward()
    opt.step()
    after, boxes = unroll(net, batch, burn_in=1, reset_iou=0.0)
    assert float(after.detach()) < float(before.detach())
    assert boxes.shape == (2, 4)


@pytest.mark.timeout(30)
def test_detector_features_and_detections(shared: Path) -> None:
    import cv2

    from trackkit.sot.nets.rolo_net import FEATURE_STRIDE, RoloDetector

    det = RoloDetector(max_dets=8)
    img = cv2.imread(str(shared / "data" / "otb" / "Jogging" / "img" / "0001.jpg"))
    f = det(img)
    assert f.fmap.shape == (128, 416 // FEATURE_STRIDE, 416 // FEATURE_STRIDE)
    assert f.fmap.dtype == np.float16 and np.isfinite(f.fmap).all()
    assert f.scale == pytest.approx(416 / img.shape[1] / FEATURE_STRIDE)
    assert det.record["sha256"] and det.record["tensor"]
    # Jogging-1's runner (x,y,w,h 111,98,25,101) is detected
    gt = np.array([110.0, 97.0, 135.0, 198.0])
    d = f.dets[f.dets[:, 4] > 0]
    iw = np.clip(np.minimum(d[:, 2], gt[2]) - np.maximum(d[:, 0], gt[0]), 0, None)
    ih = np.clip(np.minimum(d[:, 3], gt[3]) - np.maximum(d[:, 1], gt[1]), 0, None)
    area = (d[:, 2] - d[:, 0]) * (d[:, 3] - d[:, 1]) + 25 * 101 - iw * ih
    assert np.max(iw * ih / area) > 0.5
    with pytest.raises(FormatError, match="feature_tensor"):
        RoloDetector(feature_tensor="no-such-tensor")


@pytest.mark.timeout(60)
def test_train_resume_and_track(shared: Path, tmp_path: Path) -> None:
    from deep_synthetic import moving_target, write_otb

    from trackkit.sot import build
    from trackkit.sot.train.base import TrainOptions, build_trainer, fit
    from trackkit.sot.train.seen import trained_on

    images, boxes = moving_target(n=14, seed=3)
    write_otb(tmp_path / "data" / "S3", images, boxes)
    extra = {"cache": str(tmp_path / "cache"), "window": 3, "burn_in": 2, "max_dets": 4}
    opts = TrainOptions(data=(tmp_path / "data",), out=tmp_path / "out", epochs=1,
                        steps_per_epoch=2, batch_size=2, lr=1e-3, extra=extra)  # fmt: skip
    model = fit(build_trainer("rolo", opts), progress=False)
    assert len(list((tmp_path / "cache").glob("S3-*.npz"))) == 1  # the detector ran once
    rec = trained_on(model)
    assert rec["sequences"] == ["S3"] and len(rec["pretrained"]["sha256"]) == 64
    import dataclasses

    again = fit(build_trainer("rolo", dataclasses.replace(opts, epochs=2, resume=True)),
                progress=False)  # fmt: skip
    assert again == model and "epoch" in (tmp_path / "out" / "log.csv").read_text()
    tracker = build("rolo", weights=str(model))
    tracker.init(images[0], boxes[0])
    for f in images[1:4]:
        r = tracker.update(f)
        assert np.all(np.isfinite(r.box)) and -1.0 <= r.score <= 1.0
        assert r.box[2] > r.box[0] and r.box[3] > r.box[1]


@pytest.mark.timeout(20)
def test_bad_weights(tmp_path: Path) -> None:
    frame = np.zeros((60, 80, 3), np.uint8)
    from trackkit.sot import build

    with pytest.raises(DataNotFoundError, match="sot train --model rolo"):
        build("rolo", weights=str(tmp_path / "none.pt")).init(frame, [5, 5, 20, 20])
    path = tmp_path / "other.pt"
    torch.save({"arch": {"model": "goturn"}, "state_dict": {}}, path)
    with pytest.raises(FormatError, match="goturn"):
        build("rolo", weights=str(path)).init(frame, [5, 5, 20, 20])


@pytest.mark.timeout(40)
def test_packaged_weights_and_detector_check(shared: Path, tmp_path: Path) -> None:
    from trackkit.sot import build
    from trackkit.sot.nets import default_weights
    from trackkit.sot.runner import find_sequences

    path = default_weights("rolo")
    seq = next(s for s in find_sequences(shared / "data" / "otb") if s.name == "Crossing")
    frames = list(seq.iter_frames())[:20]
    tracker = build("rolo")
    tracker.init(frames[0], seq.init_box)
    boxes = np.array([tracker.update(f).box for f in frames[1:]])
    gt = seq.boxes[1:20]
    iw = np.clip(np.minimum(boxes[:, 2], gt[:, 2]) - np.maximum(boxes[:, 0], gt[:, 0]), 0, None)
    ih = np.clip(np.minimum(boxes[:, 3], gt[:, 3]) - np.maximum(boxes[:, 1], gt[:, 1]), 0, None)
    area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # noqa: E731
    iou = iw * ih / (area(boxes) + area(gt) - iw * ih)
    assert np.mean(iou > 0.5) > 0.8  # a training sequence of the packaged weights: a load check
    w = torch.load(path, weights_only=True)
    w["trained_on"]["pretrained"]["sha256"] = "0" * 64
    other = tmp_path / "other_detector.pt"
    torch.save(w, other)
    with pytest.raises(FormatError, match="detector"):
        build("rolo", weights=str(other)).init(frames[0], seq.init_box)
