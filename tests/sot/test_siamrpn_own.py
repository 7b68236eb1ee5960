"""trackkit's own SiamRPN head: shapes, anchor targets checked by hand, a training step on real
frames (with MOT17's semantic negatives), exact resume, and the ``siamrpn`` tracker on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from deep_synthetic import follow, moving_target

from trackkit.errors import ConfigError

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from trackkit.sot.nets.rpn_head import (  # noqa: E402
    RPNHead,
    decode,
    encode,
    make_anchors,
)
from trackkit.sot.train.siamrpn import anchor_targets, sample_labels  # noqa: E402

_SMALL = {"pool": 8, "mot17": "", "channels": 16, "tower": 1}


def _trainer(shared: Path, out: Path, **options: Any) -> Any:
    from trackkit.sot.train.base import TrainOptions, build_trainer

    extra = {**_SMALL, **options.pop("extra", {})}
    opts = {"epochs": 2, "steps_per_epoch": 2, "batch_size": 4, "lr": 1e-3, **options}
    data = (shared / "data" / "otb" / "Crossing", shared / "data" / "sot-extra" / "Gull2")
    trainer = build_trainer("siamrpn", TrainOptions(data=data, out=out, extra=extra, **opts))
    trainer.setup()
    return trainer


@pytest.mark.timeout(30)
def test_head_shapes() -> None:
    head = RPNHead(in_channels=8, channels=16, tower=1, anchors=5).eval()
    cls, reg = head(torch.zeros(2, 8, 8, 8), torch.rand(2, 8, 16, 16))
    assert cls.shape == (2, 10, 16, 16) and reg.shape == (2, 20, 16, 16)
    # the distractor / long-term windows of the tracker: the same 8x8 exemplar on 16x16 maps
    cls, reg = head(torch.rand(1, 8, 8, 8), torch.rand(1, 8, 16, 16))
    assert cls.shape == (1, 10, 16, 16) and torch.isfinite(reg).all()
    a = make_anchors()
    assert a.shape == (5, 16, 16, 4)
    assert a[2, 8, 8].tolist() == [0.0, 0.0, 64.0, 64.0]  # the centre cell, ratio 1
    assert a[0, 0, 15, :2].tolist() == [7 * 16.0, -8 * 16.0]  # cx from the column, cy the row
    np.testing.assert_allclose(a[:, 0, 0, 2] * a[:, 0, 0, 3], 64.0**2)
    np.testing.assert_allclose(a[:, 0, 0, 3] / a[:, 0, 0, 2], [0.33, 0.5, 1, 2, 3])


def test_anchor_targets_by_hand() -> None:
    # 2x2 cells at stride 32, one square anchor of side 64: centres (-32|0, -32|0)
    anchors = make_anchors(n=2, stride=32, size=64.0, ratios=(1.0,))
    box = np.array([0.0, 0.0, 64.0, 64.0])  # cxcywh: exactly the anchor of cell (1, 1)
    labels, deltas = anchor_targets(anchors, box, positive=True)
    # IoU: cell (0,0) 1024/7168 = 0.14 -> negative; (0,1) and (1,0) 2048/6144 = 0.33 ->
    # ignored; (1,1) 1 -> positive
    assert labels[0].tolist() == [[0, -1], [-1, 1]]
    np.testing.assert_allclose(deltas[0, 1, 1], [0, 0, 0, 0], atol=1e-7)
    np.testing.assert_allclose(deltas[0, 0, 0], [0.5, 0.5, 0, 0], atol=1e-7)
    # deltas (dx, dy, log dw, log dh) and back
    other = np.array([8.0, 0.0, 32.0, 128.0])
    d = encode(anchors[0, 1, 1], other)
    np.testing.assert_allclose(d, [8 / 64, 0, np.log(0.5), np.log(2)])
    np.testing.assert_allclose(decode(anchors[0, 1, 1], d), other)
    # no anchor above 0.6: Faster R-CNN's rule makes the best one positive
    far = np.array([-16.0, -16.0, 64.0, 64.0])  # IoU 0.39 with all four
    labels, _ = anchor_targets(anchors, far, positive=True)
    assert (labels == 1).sum() == 1 and (labels == 0).sum() == 0
    # a negative pair: every anchor negative, those on the other object (IoU >= 0.3) hard
    labels, deltas = anchor_targets(anchors, box, positive=False)
    assert labels[0].tolist() == [[0, 2], [2, 2]] and not deltas.any()
    picked = sample_labels(labels, np.random.default_rng(0), neg_num=2)
    assert (picked == 0).sum() == 2 and (picked[labels == 0] == -1).all()  # hard first
    # sampling caps: 16 positives, 64 in all
    many = np.zeros((5, 16, 16), np.int8)
    many.reshape(-1)[:40] = 1
    picked = sample_labels(many, np.random.default_rng(0))
    assert (picked == 1).sum() == 16 and (picked == 0).sum() == 48


@pytest.mark.timeout(120)
def test_training_step_on_real_frames_lowers_loss(shared: Path, tmp_path: Path) -> None:
    from helpers import deep_sot

    if not (shared / "data" / "MOT17" / "train").is_dir():
        pytest.skip("MOT17 frames missing")
    torch.manual_seed(0)
    trainer = _trainer(
        shared, tmp_path / "out", batch_size=8, extra={"mot17": "auto", "semantic_prob": 0.3}
    )
    assert len(trainer.mot) > 100 and "MOT17-09-FRCNN" in trainer.sequence_names
    z, x, labels, deltas = trainer.example(np.random.default_rng(0))
    assert z.shape == (127, 127, 3) and x.shape == (255, 255, 3) and deltas.shape == (5, 16, 16, 4)
    batch = trainer.make_batch(np.random.default_rng(1))
    assert batch[0].shape == (8, 48, 8, 8) and batch[1].shape == (8, 48, 16, 16)
    assert (batch[2] == 1).any() and (batch[2] == 0).any()
    first, last = deep_sot.train_on_batch(trainer, batch, 8, eval_loss=False)
    assert last < first
    # only the head trains with train_blocks=0: the backbone is as published
    assert not any(p.requires_grad for p in trainer.model.backbone.parameters())
    w = trainer.export()
    assert w["arch"] == "siamrpn-own" and len(w["trained_on"]["pretrained"]["sha256"]) == 64


@pytest.mark.timeout(120)
def test_resume_after_kill_gives_the_same_weights(shared: Path, tmp_path: Path) -> None:
    from trackkit.sot.train.base import fit

    extra = {"train_blocks": 1}
    whole = _trainer(shared, tmp_path / "a", extra=extra)
    fit(whole, progress=False)
    cut = _trainer(shared, tmp_path / "b", extra=extra)
    with pytest.raises(KeyboardInterrupt):
        fit(cut, progress=False, stop_after=3)  # inside the second epoch
    resumed = _trainer(shared, tmp_path / "b", extra=extra, resume=True)
    fit(resumed, progress=False)
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    # the last block was tuned, the others are as published
    fresh = _trainer(shared, tmp_path / "c", extra=extra).model.state_dict()
    assert torch.equal(
        a["backbone.features.1.conv.0.weight"], fresh["backbone.features.1.conv.0.weight"]
    )
    assert not torch.equal(
        a["backbone.features.8.conv.0.weight"], fresh["backbone.features.8.conv.0.weight"]
    )

    # the tracker runs the trained file (ONNX in memory): boxes stay finite and in the frame
    from trackkit.sot import build

    path = tmp_path / "b" / "model.pt"
    images, boxes = moving_target(n=6)
    tracker = build("siamrpn", weights=str(path))
    ious = follow(tracker, images, boxes)
    assert len(ious) == 5 and tracker.config.window_influence == pytest.approx(0.42)


def test_bad_options() -> None:
    from trackkit.sot.train.base import TrainOptions, build_trainer

    opts = TrainOptions(data=(Path("."),), out=Path("."), extra={"backbone": "resnet"})
    with pytest.raises(ConfigError, match="backbone"):
        build_trainer("siamrpn", opts)


def test_packaged_weights_record() -> None:
    from trackkit.sot.nets import packaged_asset
    from trackkit.training.weights import read_weights

    try:
        path = packaged_asset("siamrpn.pt")
    except Exception:
        pytest.skip("siamrpn.pt not packaged")
    assert path.stat().st_size <= 10 * 2**20
    w = read_weights(path)
    assert w.arch == "siamrpn-own" and "trackkit sot train --model siamrpn" in w.command
    assert len(w.trained_on["sequences"]) >= 13 + 7  # the 13 shared sequences + MOT17
    assert len(w.trained_on["pretrained"]["sha256"]) == 64


def test_random_boxes_inside_the_image() -> None:
    from trackkit.sot.train.still_pairs import RandomBoxes

    img = np.zeros((90, 160, 3), np.uint8)

    class Background:
        def sample(self, rng: np.random.Generator) -> tuple[Any, Any]:
            return img, np.zeros(4)

    src = RandomBoxes(Background(), sides=(0.1, 0.4), max_aspect=3.0)
    rng = np.random.default_rng(0)
    boxes = np.array([src.sample(rng)[1] for _ in range(200)])
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 160).all() and (boxes[:, 3] <= 90).all()
    side = np.sqrt(w * h)
    assert side.min() >= 0.1 * 90 * 0.99 and side.max() <= 0.4 * 90 * 1.01
    assert (w / h).min() >= 1 / 3 - 1e-9 and (w / h).max() <= 3 + 1e-9 and np.ptp(w / h) > 1
    again = np.array([src.sample(np.random.default_rng(0))[1]])
    np.testing.assert_array_equal(again[0], boxes[0])


@pytest.mark.timeout(60)
def test_still_image_pairs(shared: Path, tmp_path: Path) -> None:
    """still_prob=1: every example is one image (training frames / random regions), a
    positive pair whose best anchor lies on the box; the sources are recorded."""
    extra = {
        "still_prob": 1.0, "mot_prob": 0.0, "semantic_prob": 0.0, "generic_prob": 0.0,
        "still_sources": "sot,random", "search_shift": 0.0, "search_scale": 0.0,
    }  # fmt: skip
    trainer = _trainer(shared, tmp_path / "s", extra=extra)
    rng = np.random.default_rng(3)
    for _ in range(6):
        z, x, labels, _ = trainer.example(rng)
        assert z.shape == (127, 127, 3) and x.shape == (255, 255, 3)
        # no search shift: the target is at the crop centre, i.e. on cell (8, 8)
        k, i, j = np.argwhere(labels == 1).T
        assert (labels == 1).any() and (np.abs(i - 8) <= 1).all() and (np.abs(j - 8) <= 1).all()
    w = trainer.export()
    assert {"still:sot", "still:random"} <= set(w["trained_on"]["datasets"])
    with pytest.raises(ConfigError, match="still_sources"):
        _trainer(shared, tmp_path / "t", extra={"still_sources": "sot,coco"})
