"""CREST (Song et al., ICCV 2017): the online network, its training, and the tracker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from deep_synthetic import iou, moving_target

from trackkit.errors import ConfigError
from trackkit.sot import build
from trackkit.sot.trackers.crest import CRESTConfig

torch = pytest.importorskip("torch")

from trackkit.sot.nets.crest_net import (  # noqa: E402
    build_crest_net,
    kernel_size,
    pca_basis,
    regression_loss,
    train_steps,
)


def _weights(shared: Path) -> str:
    found = sorted((shared / "weights" / "nanotrack_v3").glob("*state_dict.pt"))
    if not found:
        pytest.skip("no NanoTrack v3 state dict in the shared folder")
    return str(found[0])


@pytest.mark.timeout(30)
def test_net_shapes_on_tiny_inputs() -> None:
    assert kernel_size((4.0, 1.2)) == (5, 3)
    net = build_crest_net(8, (3, 5), seed=0)
    x = torch.randn(2, 8, 7, 9)
    out = net(x)
    assert out.shape == (2, 1, 7, 9) and out.dtype == torch.float32
    maps = net.maps(x)
    assert set(maps) == {"base", "spatial", "temporal"}
    assert all(m.shape == (2, 1, 7, 9) for m in maps.values())
    torch.testing.assert_close(out, sum(maps.values()))
    assert net.base.weight.shape == (1, 8, 3, 5)
    with pytest.raises(ValueError, match="odd kernel"):
        build_crest_net(8, (4, 5))
    # the same seed, the same network; another seed, other residual weights
    again = build_crest_net(8, (3, 5), seed=0)
    other = build_crest_net(8, (3, 5), seed=1)
    w0, w1, w2 = (n.spatial[0].weight for n in (net, again, other))
    assert torch.equal(w0, w1) and not torch.equal(w0, w2)


@pytest.mark.timeout(30)
def test_one_training_step_lowers_the_loss() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, 16, 15, 15, generator=gen)
    yy, xx = torch.meshgrid(torch.arange(15.0), torch.arange(15.0), indexing="ij")
    label = torch.exp(-((yy - 7) ** 2 + (xx - 7) ** 2) / 2.0)[None, None]
    net = build_crest_net(16, (5, 5), seed=0)
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    with torch.no_grad():
        before = float(regression_loss(net(x), label))
    losses = train_steps(net, opt, x, label, 1)
    with torch.no_grad():
        after = float(regression_loss(net(x), label))
    assert losses == [pytest.approx(before)]
    assert after < before
    more = train_steps(net, opt, x, label, 20)
    assert more[-1] < after


@pytest.mark.timeout(30)
def test_temporal_residual_is_frozen_by_freeze_temporal() -> None:
    net = build_crest_net(8, (3, 3), seed=0)
    x, y = torch.randn(1, 8, 9, 9), torch.rand(1, 1, 9, 9)
    train_steps(net, torch.optim.SGD(net.parameters(), lr=1e-2), x, y, 3)
    net.freeze_temporal()
    kept = [p.detach().clone() for p in net.temporal.parameters()]
    base = net.base.weight.detach().clone()
    opt = torch.optim.SGD(net.online_parameters(), lr=1e-2, momentum=0.9)
    train_steps(net, opt, x, y, 3)
    assert all(torch.equal(a, b) for a, b in zip(kept, net.temporal.parameters()))
    assert not torch.equal(base, net.base.weight)


@pytest.mark.timeout(30)
def test_pca_basis_is_orthonormal_and_deterministic() -> None:
    gen = torch.Generator().manual_seed(3)
    feat = torch.randn(12, 6, 7, generator=gen)
    feat[11] *= 20.0  # channel 11 carries almost all of the variance
    b = pca_basis(feat, 5)
    assert b.shape == (5, 12) and b.dtype == torch.float32
    torch.testing.assert_close(b @ b.T, torch.eye(5), atol=1e-5, rtol=0)
    assert torch.equal(b, pca_basis(feat.clone(), 5))
    # the first axis follows the channel with the largest variance (channel 11)
    assert int(b[0].abs().argmax()) == 11
    with pytest.raises(ValueError):
        pca_basis(feat, 13)


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "bad, match",
    [
        ({"scales": (0.95, 1.0)}, "scales"),
        ({"pca_channels": 200}, "pca_channels"),
        ({"layer": 2}, "layer"),
        ({"crop_size": 32, "cell_size": 8}, "cell"),
        ({"scale_damping": 1.5}, "scale_damping"),
        ({"momentum": 1.0}, "momentum"),
        ({"update_interval": 0}, "update_interval"),
        ({"init_lr": "fast"}, "init_lr"),
        ({"no_such": 1}, "valid options"),
    ],
)
def test_config_validation(bad: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        build("crest", **bad)


def test_config_defaults_are_frozen() -> None:
    cfg = CRESTConfig()
    assert cfg.scales == (1.0, 0.95, 1.05) and cfg.update_interval == 2
    with pytest.raises(AttributeError):
        cfg.layer = 6  # type: ignore[misc]


@pytest.mark.timeout(120)
def test_tracks_a_moving_textured_square_and_keeps_the_temporal_residual(shared: Path) -> None:
    frames, boxes = moving_target(n=16, size=(192, 144), box=(36.0, 28.0))
    tracker = build("crest", weights=_weights(shared), init_iters=30)
    first, box0 = frames[0].copy(), boxes[0].copy()
    tracker.init(frames[0], boxes[0])
    assert np.array_equal(frames[0], first) and np.array_equal(boxes[0], box0)  # not mutated
    assert tracker.init_losses[-1] < tracker.init_losses[0]
    temporal = [p.detach().clone() for p in tracker._crest.temporal.parameters()]
    base = tracker._crest.base.weight.detach().clone()
    results = [tracker.update(f) for f in frames[1:]]
    ious = [iou(r.box, b) for r, b in zip(results, boxes[1:])]
    assert np.mean(ious) > 0.5 and min(ious) > 0.2, np.round(ious, 2)
    after = list(tracker._crest.temporal.parameters())
    assert all(torch.equal(a, b) for a, b in zip(temporal, after))  # fixed after frame 1
    assert not torch.equal(base, tracker._crest.base.weight)  # the base layer was updated
    tracker.reset()
    assert not tracker.initialized


@pytest.mark.timeout(180)
def test_on_a_shared_sequence_and_deterministic(shared: Path) -> None:
    from trackkit.core.boxes import iou_matrix
    from trackkit.io.otb import load_otb_sequences

    seq = load_otb_sequences(shared / "data" / "otb" / "Crossing")[0]
    frames = [f for _, f in zip(range(16), seq.iter_frames())]
    weights = _weights(shared)

    def run(threads: int, n: int) -> list[np.ndarray]:
        tracker = build("crest", weights=weights, threads=threads)
        tracker.init(frames[0], seq.init_box)
        return [tracker.update(f).box for f in frames[1:n]]

    boxes = run(1, 16)
    ious = iou_matrix(np.array(boxes), seq.boxes[1:16]).diagonal()
    assert ious.mean() > 0.6 and ious.min() > 0.4, np.round(ious, 2)
    # bit-identical with the scale passes on 2 threads
    np.testing.assert_array_equal(boxes[:5], run(2, 6))
