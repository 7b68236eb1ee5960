"""LayeredBackbone: pretrained NanoTrack features at several depths."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from trackkit.errors import ConfigError, DataNotFoundError
from trackkit.sot.nets.layered import LAYER_STRIDES, LayeredBackbone, layer_channels, layer_stride

torch = pytest.importorskip("torch")


def _weights(shared: Path) -> Path:
    found = sorted((shared / "weights" / "nanotrack_v3").glob("*state_dict.pt"))
    if not found:
        pytest.skip("no NanoTrack v3 state dict in the shared folder")
    return found[0]


@pytest.mark.timeout(10)
def test_bad_layers_and_backbone_are_config_errors() -> None:
    for layers in [(), (9, 3), (3, 3, 9), (-1, 3), (3, 10)]:
        with pytest.raises(ConfigError, match="layers"):
            LayeredBackbone(layers=layers)
    with pytest.raises(ConfigError, match="layers"):
        LayeredBackbone("nanotrack_v2", layers=(3, 9))  # v2 ends at block 8
    with pytest.raises(ConfigError, match="backbone"):
        LayeredBackbone("vgg19")
    assert [layer_stride(i) for i in (1, 3, 6, 9)] == [4, 8, 16, 16]
    assert [layer_channels(i) for i in (1, 3, 6, 8, 9)] == [16, 24, 40, 48, 96]
    assert len(LAYER_STRIDES) == 10


@pytest.mark.timeout(10)
def test_missing_state_dict(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="none.pt"):
        LayeredBackbone(weights=tmp_path / "none.pt")


@pytest.mark.timeout(30)
def test_shapes_per_layer_and_gradients(shared: Path) -> None:
    net = LayeredBackbone(layers=(1, 3, 6, 9), weights=_weights(shared))
    assert net.strides == (4, 8, 16, 16) and net.channels == (16, 24, 40, 96)
    assert set(net.record) == {"backbone", "file", "sha256"} and len(net.record["sha256"]) == 64
    rng = np.random.default_rng(0)
    patch = rng.integers(0, 256, size=(72, 100, 3), dtype=np.uint8)
    before = patch.copy()
    feats = net(patch)
    np.testing.assert_array_equal(patch, before)
    assert len(feats) == 4
    for f, s, c in zip(feats, net.strides, net.channels, strict=True):
        assert f.dtype == np.float32
        assert f.shape == (c, math.ceil(72 / s), math.ceil(100 / s))
        assert np.all(np.isfinite(f)) and float(np.abs(f).max()) > 0
    batch = net(np.stack([patch, patch[:, ::-1]]))
    assert [b.shape for b in batch] == [(2, *f.shape) for f in feats]
    np.testing.assert_allclose(batch[0][0], feats[0], rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError):
        net(np.zeros((8, 8), np.uint8))
    # The forward pass is differentiable in its input, the network stays frozen.
    x = torch.from_numpy(patch.transpose(2, 0, 1).astype(np.float32))[None].requires_grad_(True)
    outs = net.forward(x)
    sum(o.square().mean() for o in outs).backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    assert all(p.grad is None and not p.requires_grad for p in net.net.parameters())
