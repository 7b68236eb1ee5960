"""SiamFC on a pretrained backbone (issue 20, item 1): shapes, the published tensors loaded,
frozen blocks, a few training steps and the record of the pretrained file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from helpers import deep_sot
from trackkit.errors import ConfigError
from trackkit.sot.nets.siamfc_net import SiamFCNet, load_siamfc
from trackkit.training.weights import read_weights

torch = pytest.importorskip("torch")


@pytest.mark.parametrize(("name", "channels"), [("nanotrack_v2", 48), ("nanotrack_v3", 96)])
def test_shapes_on_tiny_input(name: str, channels: int) -> None:
    torch.manual_seed(0)
    net = SiamFCNet(backbone=name, neck=16).eval()
    z, x = torch.rand(2, 3, 127, 127) * 255, torch.rand(2, 3, 255, 255) * 255
    assert net.embed.backbone(z).shape == (2, channels, 8, 8)
    zf, xf = net.embed(z), net.embed(x)
    assert zf.shape == (2, 16, 8, 8) and xf.shape == (2, 16, 16, 16)
    with torch.no_grad():
        resp = net(z, x)
    assert resp.shape == (2, 1, 17, 17)  # the AlexNet net's grid: the tracker is unchanged
    assert SiamFCNet(width=0.125)(z, x).shape == (2, 1, 17, 17)
    # the 9x9 stride-16 correlation is on the even cells of the 17x17 response
    with torch.no_grad():
        raw = net.adjust(torch.nn.functional.conv2d(xf[:1], zf[:1]))
        torch.testing.assert_close(net.correlate(zf[:1], xf[:1])[..., ::2, ::2], raw)


def test_unknown_backbone() -> None:
    from trackkit.sot.train.base import TrainOptions, build_trainer

    with pytest.raises(ConfigError, match="nanotrack_v2"):
        build_trainer("siamfc", TrainOptions(data=(Path("."),), out=Path("o"),
                                             extra={"backbone": "resnet"}))  # fmt: skip


def test_published_backbone_loads(shared: Path) -> None:
    from trackkit.sot.nets.backbones import freeze, load_pretrained, pretrained_file
    from trackkit.sot.nets.nanotrack_torch import load_nanotrack_state_dict

    net = SiamFCNet(backbone="nanotrack_v2")
    record = load_pretrained(net.embed.backbone, "nanotrack_v2")
    path = pretrained_file("nanotrack_v2")
    assert record == {
        "backbone": "nanotrack_v2",
        "file": path.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }
    x = torch.rand(1, 3, 127, 127) * 255
    net.eval()
    with torch.no_grad():
        ref = load_nanotrack_state_dict(path).backbone(x)
        torch.testing.assert_close(net.embed.backbone(x), ref)
    freeze(net.embed.backbone, 2)
    blocks = list(net.embed.backbone.features)
    assert not any(p.requires_grad for b in blocks[:-2] for p in b.parameters())
    assert all(p.requires_grad for b in blocks[-2:] for p in b.parameters())
    net.train()
    assert not blocks[0].training and blocks[-1].training and net.embed.neck.training


@pytest.mark.timeout(90)
def test_few_steps_lower_the_loss_and_record_the_file(shared: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    extra = {"backbone": "nanotrack_v2", "train_blocks": 1, "neck": 32}
    options = dict(epochs=1, steps_per_epoch=1, batch_size=4, lr=5e-2)
    trainer = deep_sot.trainer_on_synthetic("siamfc", tmp_path, (1,), 12, extra=extra, **options)
    fixed = {k: v.clone() for k, v in trainer.model.embed.backbone.features[0].state_dict().items()}
    batch = trainer.make_batch(np.random.default_rng(0))
    first, last = deep_sot.train_on_batch(trainer, batch, 12, eval_loss=False)
    assert last < 0.8 * first
    for k, v in trainer.model.embed.backbone.features[0].state_dict().items():
        torch.testing.assert_close(v, fixed[k])  # frozen: weights and BN statistics
    net = deep_sot.assert_round_trip(trainer, tmp_path / "fc.pt", load_siamfc, batch[0], batch[1])
    assert net.backbone == "nanotrack_v2" and net.neck == 32
    w = read_weights(tmp_path / "fc.pt")
    assert w.config == {"width": 0.5, "backbone": "nanotrack_v2", "neck": 32}
    assert w.trained_on["pretrained"] == trainer.pretrained
    assert len(w.trained_on["pretrained"]["sha256"]) == 64 and w.trained_on["sequences"] == ["S1"]
