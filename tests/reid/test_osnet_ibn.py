"""OSNet-IBN (``ibn=True``): instance normalisation in conv1 and in the first block of conv2
and conv3, a plain torchreid release loading into it (--init), the option surviving a save /
load round trip, and the ONNX export."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from trackkit.errors import FormatError  # noqa: E402
from trackkit.reid.models import (  # noqa: E402
    OSNet,
    build_model,
    export_onnx,
    load_model,
    load_torchreid_state,
    save_model,
)
from trackkit.reid.models.osnet_full import OmniBlock  # noqa: E402

pytestmark = pytest.mark.timeout(60)

SIZE = (64, 32)
NEEDS_ONNX = pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None,
    reason="needs onnx and onnxruntime",
)


def _release_state(seed: int = 0) -> dict[str, Any]:
    """A plain OSNet x0.25 under torchreid's names (with BN statistics and a classifier),
    random so that every tensor differs from a fresh model's."""
    torch.manual_seed(seed)
    plain = build_model("osnet-x0.25", input_size=SIZE)
    out = {}
    for k, v in plain.state_dict().items():
        if k.startswith("neck."):
            continue
        v = v.clone()
        if v.is_floating_point():
            v = v + 0.1 * torch.rand_like(v)
        out[k[5:] if k.startswith("body.") else k] = v
    out["classifier.weight"] = torch.zeros(3, 512)
    return out


def test_tiny_input_shapes_and_where_the_instance_norms_are() -> None:
    torch.manual_seed(0)
    model = build_model("osnet-x0.25", ibn=True, input_size=SIZE).eval()
    with torch.no_grad():
        emb = model(torch.rand(2, 3, *SIZE) * 255)
        feat, neck = model.forward_train(torch.rand(3, 3, *SIZE) * 255)
    assert emb.shape == (2, 512) and emb.dtype == torch.float32
    assert feat.shape == neck.shape == (3, 512)
    body: Any = model.body
    inorms = sorted(n for n, m in body.named_modules() if isinstance(m, nn.InstanceNorm2d))
    assert inorms == ["conv1.bn", "conv2.0.inorm", "conv3.0.inorm"]
    assert all(m.affine for m in body.modules() if isinstance(m, nn.InstanceNorm2d))
    assert body.conv2[0].inorm.num_features == 64 and body.conv3[0].inorm.num_features == 96
    # stage 4 and the second blocks untouched
    assert body.conv2[1].inorm is None and body.conv4[0].inorm is None
    assert isinstance(body.conv5.bn, nn.BatchNorm2d)
    # the plain network is unchanged and does not record the option
    plain = build_model("osnet-x0.25", input_size=SIZE)
    assert "ibn" not in plain.config and model.config["ibn"] is True
    assert not any(isinstance(m, nn.InstanceNorm2d) for m in plain.modules())


def test_block_normalises_each_image_before_its_relu() -> None:
    torch.manual_seed(1)
    block: Any = OmniBlock(8, 16, instance=True).eval()
    with torch.no_grad():
        block.inorm.weight.copy_(torch.linspace(0.5, 2.0, 16))
        block.inorm.bias.copy_(torch.linspace(-1.0, 1.0, 16))
        x = torch.rand(2, 8, 6, 4)
        y = block(x)
        # by hand: the residual sum, normalised over H x W per image and channel
        z = block.conv1(x)
        agg = sum(
            block.gate(s(z)) for s in (block.conv2a, block.conv2b, block.conv2c, block.conv2d)
        )
        s = block.conv3(agg) + block.downsample(x)
        mu = s.mean(dim=(2, 3), keepdim=True)
        var = ((s - mu) ** 2).mean(dim=(2, 3), keepdim=True)
        w = block.inorm.weight.view(1, -1, 1, 1)
        b = block.inorm.bias.view(1, -1, 1, 1)
        expected = torch.relu((s - mu) / torch.sqrt(var + 1e-5) * w + b)
    torch.testing.assert_close(y, expected, rtol=1e-5, atol=1e-5)
    # the same block without the option: the plain sum (the unchanged path)
    plain = OmniBlock(8, 16).eval()
    plain.load_state_dict({k: v for k, v in block.state_dict().items() if "inorm" not in k})
    with torch.no_grad():
        assert torch.equal(plain(x), torch.relu(s))


def test_a_plain_release_starts_the_ibn_network() -> None:
    state = _release_state()
    model: Any = build_model("osnet-x0.25", ibn=True, input_size=SIZE)
    assert isinstance(model, OSNet)
    supplied = load_torchreid_state(model, state, "rel.pth")
    mine = model.state_dict()
    # what the file supplied: all but the BNNeck and the added InstanceNorms (the trainer's
    # ``init_lr_factor`` slows exactly these)
    added = {
        f"body.{n}.{p}" for n in ("conv2.0.inorm", "conv3.0.inorm") for p in ("weight", "bias")
    }
    assert supplied == {k for k in mine if not k.startswith("neck.")} - added
    # conv1's InstanceNorm takes the replaced BN's affine; its statistics are dropped
    assert torch.equal(mine["body.conv1.bn.weight"], state["conv1.bn.weight"])
    assert torch.equal(mine["body.conv1.bn.bias"], state["conv1.bn.bias"])
    assert "body.conv1.bn.running_mean" not in mine
    # the added InstanceNorms start at weight 1 / bias 0
    for name in ("conv2.0.inorm", "conv3.0.inorm"):
        assert torch.equal(
            mine[f"body.{name}.weight"], torch.ones_like(mine[f"body.{name}.weight"])
        )
        assert torch.equal(mine[f"body.{name}.bias"], torch.zeros_like(mine[f"body.{name}.bias"]))
    # every other tensor is the release's
    for k, v in state.items():
        if k.startswith("classifier.") or k.startswith("conv1.bn."):
            continue
        key = k if k.startswith("fc.") else "body." + k
        assert torch.equal(mine[key], v), key
    # anything else missing is still an error
    broken = {k: v for k, v in state.items() if k != "conv2.0.conv3.bn.weight"}
    with pytest.raises(FormatError, match="rel.pth.*missing"):
        load_torchreid_state(build_model("osnet-x0.25", ibn=True), broken, "rel.pth")  # type: ignore[arg-type]


def test_saved_ibn_model_loads_back_to_the_same_embeddings(tmp_path: Path) -> None:
    torch.manual_seed(2)
    model: Any = build_model("osnet-x0.25", ibn=True, input_size=SIZE, embedding="centered")
    load_torchreid_state(model, _release_state(3), "rel.pth")
    model.train()
    with torch.no_grad():  # move the BN statistics (and the centring mean) off their start
        for _ in range(2):
            model.forward_train(torch.rand(4, 3, *SIZE) * 255)
        model.body.conv2[0].inorm.bias.add_(0.3)
    model.eval()
    save_model(model, tmp_path / "ibn.pt", command="test")
    back: Any = load_model(tmp_path / "ibn.pt")
    assert back.config["ibn"] is True
    assert isinstance(back.body.conv1.bn, nn.InstanceNorm2d)
    x = torch.rand(3, 3, *SIZE) * 255
    with torch.no_grad():
        assert torch.equal(model(x), back(x))


@NEEDS_ONNX
def test_onnx_export_of_the_ibn_network(tmp_path: Path) -> None:
    import onnxruntime as ort

    torch.manual_seed(4)
    model = build_model("osnet-x0.25", ibn=True, input_size=SIZE, embedding="centered").eval()
    export_onnx(model, tmp_path / "ibn.onnx")
    session = ort.InferenceSession(str(tmp_path / "ibn.onnx"), providers=["CPUExecutionProvider"])
    x = (torch.rand(5, 3, *SIZE) * 255).numpy()
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    got = session.run(None, {"images": x})[0]
    assert got.shape == (5, 512)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@NEEDS_ONNX
def test_load_embedder_runs_a_saved_ibn_file_through_onnxruntime(tmp_path: Path) -> None:
    from trackkit.reid.embedder import load_embedder

    torch.manual_seed(5)
    model = build_model("osnet-x0.25", ibn=True, input_size=SIZE, embedding="centered").eval()
    save_model(model, tmp_path / "ibn.pt")
    embedder = load_embedder(str(tmp_path / "ibn.pt"), threads=1)
    assert embedder.runtime == "onnx"  # type: ignore[attr-defined]
    crops = np.random.default_rng(0).integers(0, 256, (4, *SIZE, 3), dtype=np.uint8)
    got = embedder.embed_resized(crops)
    with torch.no_grad():
        raw = model(torch.from_numpy(crops).permute(0, 3, 1, 2).float())
    expected = torch.nn.functional.normalize(raw, dim=1).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
