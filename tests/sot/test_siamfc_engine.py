"""SiamFC's inference path (issue 20): batch norms folded into the convolutions, the embedding
on onnxruntime (same features, same boxes), the old weights format still loading, and the
record of the packaged default weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trackkit.errors import ConfigError
from trackkit.sot import build
from trackkit.sot.nets import default_weights
from trackkit.sot.trackers.siamfc import SiamFCTracker

torch = pytest.importorskip("torch")

from trackkit.sot.nets.siamfc_net import (  # noqa: E402
    SiamFCNet,
    embedding_session,
    fuse_conv_bn,
    load_siamfc,
)
from trackkit.training.weights import make_weights  # noqa: E402

pytestmark = pytest.mark.timeout(60)


def _trained_like(net: SiamFCNet) -> SiamFCNet:
    """``net`` with non-trivial batch-norm statistics and affine parameters (eval mode)."""
    g = torch.Generator().manual_seed(0)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g))
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g))
    return net.eval()


@pytest.mark.parametrize("kind", [{"width": 0.125}, {"backbone": "nanotrack_v3", "neck": 8}])
def test_fused_network_computes_the_same_function(kind: dict[str, object]) -> None:
    torch.manual_seed(0)
    net = _trained_like(SiamFCNet(**kind))  # type: ignore[arg-type]
    z, x = torch.rand(1, 3, 127, 127) * 255, torch.rand(2, 3, 255, 255) * 255
    with torch.no_grad():
        ref = net(z, x)
        fused = fuse_conv_bn(net)
        out = fused(z, x)
    bns = [m for m in fused.embed.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert not bns  # every conv-bn pair of the embedding folded
    assert isinstance(fused.adjust, torch.nn.BatchNorm2d)  # the response's scale is no conv's
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))
    with pytest.raises(ValueError, match="eval"):
        fuse_conv_bn(SiamFCNet(width=0.125).train())


def _save(net: SiamFCNet, path: Path, arch: dict[str, object]) -> Path:
    torch.save(make_weights("sot", "siamfc", arch, net.state_dict()), path)
    return path


def test_onnx_embedding_matches_torch_and_is_reused(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    net = _trained_like(SiamFCNet(backbone="nanotrack_v3", neck=8))
    path = _save(net, tmp_path / "w.pt", {"backbone": "nanotrack_v3", "neck": 8})
    fused = fuse_conv_bn(load_siamfc(path))
    sess = embedding_session(fused.embed, path, 1)
    for shape in ((1, 3, 127, 127), (3, 3, 255, 255)):
        x = torch.rand(*shape) * 255
        with torch.no_grad():
            ref = fused.embed(x).numpy()
        got = sess.run(None, {"x": x.numpy()})[0]
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * float(np.abs(ref).max()))
    assert embedding_session(fused.embed, path, 1) is sess  # exported once per file


def test_engines_give_the_same_boxes(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from deep_synthetic import moving_target

    torch.manual_seed(0)
    net = _trained_like(SiamFCNet(width=0.125))
    path = _save(net, tmp_path / "w.pt", {"width": 0.125})
    frames, boxes = moving_target(n=8)
    runs = []
    for engine in ("onnx", "torch"):
        t = build("siamfc", weights=str(path), engine=engine)
        t.init(frames[0], boxes[0])
        runs.append(np.array([t.update(f).box for f in frames[1:]]))
    np.testing.assert_allclose(runs[0], runs[1], atol=0.05)
    with pytest.raises(ConfigError, match="engine"):
        build("siamfc", engine="tensorrt")


def test_fixed_exemplar_by_default(tmp_path: Path) -> None:
    """The paper's fixed exemplar is the default; ``template_lr > 0`` averages it."""
    from deep_synthetic import moving_target

    torch.manual_seed(0)
    path = _save(_trained_like(SiamFCNet(width=0.125)), tmp_path / "w.pt", {"width": 0.125})
    frames, boxes = moving_target(n=5)
    for lr, moves in ((None, False), (0.5, True)):
        t = build("siamfc", weights=str(path), engine="torch", update_score=0.0,
                  **({} if lr is None else {"template_lr": lr}))  # fmt: skip
        assert isinstance(t, SiamFCTracker)
        t.init(frames[0], boxes[0])
        z0 = t._zf.clone()
        for f in frames[1:]:
            t.update(f)
        assert bool((t._zf - z0).abs().max() > 0) == moves


def test_old_format_weights_still_load(tmp_path: Path) -> None:
    """The first packaged siamfc.pt's format (``{"arch": {"model", "width"}, "state_dict"}``,
    no training record) loads and tracks."""
    from deep_synthetic import moving_target

    torch.manual_seed(0)
    net = _trained_like(SiamFCNet(width=0.25))
    path = tmp_path / "old.pt"
    torch.save({"arch": {"model": "siamfc", "width": 0.25}, "state_dict": net.state_dict()}, path)
    loaded = load_siamfc(path)
    assert loaded.width == 0.25 and not loaded.backbone
    frames, boxes = moving_target(n=4)
    t = build("siamfc", weights=str(path))
    t.init(frames[0], boxes[0])
    assert np.all(np.isfinite(t.update(frames[1]).box))


def test_packaged_weights_record_their_recipe() -> None:
    """The default siamfc.pt: NanoTrack v3 + 2 fine-tuned blocks, trained on the 13 shared
    sequences by the command of ``folds.RECIPES["siamfc"]``, with the pretrained file's sha256."""
    from trackkit.sot.train.folds import RECIPES
    from trackkit.training.weights import read_weights

    path = default_weights("siamfc")
    w = read_weights(path, arch="siamfc")
    assert w.config["backbone"] == "nanotrack_v3"
    assert len(w.trained_on["sequences"]) == 13
    pre = w.trained_on["pretrained"]
    assert pre["backbone"] == "nanotrack_v3" and len(pre["sha256"]) == 64
    recipe = RECIPES["siamfc"]
    for key, value in recipe.extra.items():
        assert f"{key}={value}" in w.command
    assert f"--epochs {recipe.epochs} --steps {recipe.steps}" in w.command
    assert path.stat().st_size < 10_000_000
