"""Models, embedders, ONNX export, augmentations and the trainer (exact resume after a kill)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helpers.reid_data import REID_SIZE, reid_identities  # noqa: E402
from trackkit.errors import ConfigError, FormatError  # noqa: E402
from trackkit.reid.data.transforms import AugmentConfig, augment_batch  # noqa: E402
from trackkit.reid.embedder import TorchEmbedder  # noqa: E402
from trackkit.reid.models import (  # noqa: E402
    MODELS,
    ClassifierHead,
    build_model,
    load_model,
    save_model,
)
from trackkit.reid.training import TrainConfig, Trainer  # noqa: E402

SIZE = REID_SIZE


@pytest.mark.parametrize("name", MODELS.available())
def test_models_shapes_and_bnneck(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name, input_size=SIZE)
    x = torch.rand(4, 3, *SIZE) * 255
    feat, emb = model.forward_train(x)
    assert feat.shape == emb.shape == (4, model.embed_dim)
    assert not model.neck.bias.requires_grad
    head = ClassifierHead(model.embed_dim, 7)
    assert head(emb).shape == (4, 7)
    model.eval()
    assert model(x).shape == (4, model.embed_dim)


def test_part_pooling_features_are_global_then_stripes(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model("resnet-tiny", input_size=SIZE, parts=2).eval()
    plain = build_model("resnet-tiny", input_size=SIZE)
    assert model.embed_dim == 3 * plain.embed_dim
    x = torch.rand(2, 3, *SIZE) * 255
    feat, _ = model.forward_train(x)
    c = plain.embed_dim
    maps = model.body((x - model.mean) / model.std)
    half = maps.shape[2] // 2
    torch.testing.assert_close(feat[:, :c], maps.mean(dim=(2, 3)))
    torch.testing.assert_close(feat[:, c : 2 * c], maps[:, :, :half].mean(dim=(2, 3)))
    torch.testing.assert_close(feat[:, 2 * c :], maps[:, :, half:].mean(dim=(2, 3)))
    # a change confined to the lower half of the image moves the lower stripe most
    y = x.clone()
    y[:, :, SIZE[0] // 2 + 8 :] = 255 - y[:, :, SIZE[0] // 2 + 8 :]
    moved = (model.forward_train(y)[0] - feat).abs()
    assert moved[:, 2 * c :].mean() > moved[:, c : 2 * c].mean()
    save_model(model, tmp_path / "p.pt")
    again = load_model(tmp_path / "p.pt")
    assert again.parts == 2
    torch.testing.assert_close(model(x), again(x))


def test_gem_pooling_is_the_generalised_mean_with_a_learned_exponent(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model("resnet-tiny", input_size=SIZE, parts=2, pool="gem")
    x = torch.rand(2, 3, *SIZE) * 255
    feat, emb = model.forward_train(x)
    maps = model.body((x - model.mean) / model.std).clamp(min=1e-6)
    c, half = maps.shape[1], maps.shape[2] // 2
    torch.testing.assert_close(feat[:, :c], maps.pow(3).mean(dim=(2, 3)).pow(1 / 3))
    lower = maps[:, :, half:].pow(3).mean(dim=(2, 3)).pow(1 / 3)
    torch.testing.assert_close(feat[:, 2 * c :], lower)
    # between the average and the maximum of each channel
    assert bool((feat[:, :c] >= maps.mean(dim=(2, 3)) - 1e-5).all())
    assert bool((feat[:, :c] <= maps.amax(dim=(2, 3)) + 1e-5).all())
    emb.sum().backward()
    assert model.gem_p is not None and model.gem_p.grad is not None
    assert float(model.gem_p.grad.abs()) > 0
    model.eval()
    save_model(model, tmp_path / "g.pt")
    again = load_model(tmp_path / "g.pt")
    assert again.pool == "gem"
    torch.testing.assert_close(model(x), again(x))
    with pytest.raises(ValueError, match="pool"):
        build_model("resnet-tiny", input_size=SIZE, pool="max")


@pytest.mark.parametrize("name", ["resnet-tiny", "osnet-tiny"])
def test_embedding_option_picks_the_returned_feature(tmp_path: Path, name: str) -> None:
    x = torch.rand(3, 3, *SIZE) * 255
    models = {}
    for choice in ("centered", "pooled", "bnneck"):
        torch.manual_seed(0)
        models[choice] = build_model(name, input_size=SIZE, parts=2, embedding=choice).eval()
        # running statistics as after training (fresh ones make the BNNeck an identity)
        models[choice].neck.running_mean.fill_(0.1)
        models[choice].neck.running_var.fill_(4.0)
    assert build_model(name, input_size=SIZE).embedding == "centered"  # the default
    feat, emb = models["pooled"].forward_train(x)
    assert not torch.allclose(feat, emb)
    torch.testing.assert_close(models["pooled"](x), feat)
    assert bool((models["pooled"](x) >= 0).all())  # pooled ReLU maps
    torch.testing.assert_close(models["centered"](x), feat - 0.1)
    torch.testing.assert_close(models["bnneck"](x), emb)
    save_model(models["bnneck"], tmp_path / "b.pt")
    assert load_model(tmp_path / "b.pt").embedding == "bnneck"
    # a file saved before the option existed has no "embedding" key: it keeps the BNNeck output
    blob = torch.load(tmp_path / "b.pt", weights_only=True)
    del blob["config"]["embedding"]
    torch.save(blob, tmp_path / "old.pt")
    old = load_model(tmp_path / "old.pt")
    assert old.embedding == "bnneck"
    torch.testing.assert_close(old(x), emb)
    old.set_embedding("centered")  # as ``--embedding centered`` does
    torch.testing.assert_close(old(x), feat - 0.1)
    assert old.config["embedding"] == "centered"
    with pytest.raises(ValueError, match="embedding"):
        build_model(name, input_size=SIZE, embedding="neck")


def test_embedding_option_does_not_change_training(tmp_path: Path) -> None:
    images, crops = reid_identities()
    runs: list[torch.nn.Module] = []
    for choice in ("centered", "bnneck"):
        cfg = tiny_config(epochs=2, model_options={"parts": 2, "embedding": choice})
        runs.append(Trainer(cfg, images, tmp_path / choice, crops, progress=False).run())
    for (k, v), w in zip(runs[0].state_dict().items(), runs[1].state_dict().values()):
        torch.testing.assert_close(v, w, rtol=0, atol=0, msg=k)


def test_save_load_roundtrip_and_bad_file(tmp_path: Path) -> None:
    model = build_model("resnet-tiny", input_size=SIZE).eval()
    save_model(model, tmp_path / "m.pt")
    again = load_model(tmp_path / "m.pt")
    x = torch.rand(2, 3, *SIZE) * 255
    torch.testing.assert_close(model(x), again(x))
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    with pytest.raises(FormatError, match="bad.pt"):
        load_model(tmp_path / "bad.pt")


@pytest.mark.parametrize("pool", ["avg", "gem"])
def test_torch_and_onnx_embedders_agree(tmp_path: Path, pool: str) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from trackkit.reid.embedder import OnnxEmbedder
    from trackkit.reid.models import export_onnx

    model = build_model("resnet-tiny", input_size=SIZE, parts=2, pool=pool).eval()
    export_onnx(model, tmp_path / "m.onnx")
    frame = np.random.default_rng(0).integers(0, 255, (120, 80, 3), dtype=np.uint8)
    boxes = np.array([[10.0, 10.0, 30.0, 60.0], [40.0, 5.0, 70.0, 110.0], [0, 0, 80, 120]])
    a = TorchEmbedder(model).embed(frame, boxes)
    b = OnnxEmbedder(tmp_path / "m.onnx").embed(frame, boxes)
    assert a.shape == (3, model.embed_dim) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(a, b, atol=1e-4)
    assert TorchEmbedder(model).embed(frame, np.zeros((0, 4))).shape == (0, model.embed_dim)


def test_augment_batch_deterministic_and_flip() -> None:
    crops = np.random.default_rng(0).integers(0, 255, (4, *SIZE, 3), dtype=np.uint8)
    a = augment_batch(crops, AugmentConfig(), torch.Generator().manual_seed(3))
    b = augment_batch(crops, AugmentConfig(), torch.Generator().manual_seed(3))
    assert a.shape == (4, 3, *SIZE) and torch.equal(a, b)
    flipped = augment_batch(crops, AugmentConfig(1.0, 0, 0.0), torch.Generator())
    expect = torch.from_numpy(crops).permute(0, 3, 1, 2).float().flip(3)
    assert torch.equal(flipped, expect)


def tiny_config(**kw: object) -> TrainConfig:
    base = dict(
        epochs=3,
        p=3,
        k=2,
        warmup_epochs=1,
        input_size=SIZE,
        max_batches=2,
        threads=1,
        loss="triplet-hard+0.5*center+ce",
    )
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def test_resume_after_kill_matches_uninterrupted_run(tmp_path: Path) -> None:
    images, crops = reid_identities()
    full = Trainer(tiny_config(), images, tmp_path / "a", crops, progress=False).run()
    killed = Trainer(tiny_config(), images, tmp_path / "b", crops, progress=False)
    with pytest.raises(KeyboardInterrupt):
        killed.run(stop_after=3)  # mid-epoch 2
    assert (tmp_path / "b" / "checkpoint.pt").is_file()
    resumed = Trainer(tiny_config(), images, tmp_path / "b", crops, progress=False).run(resume=True)
    for (k, v), w in zip(full.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(v, w, rtol=0, atol=0, msg=k)
    rows = (tmp_path / "b" / "log.csv").read_text().splitlines()
    assert len(rows) == 4 and rows[0].startswith("epoch,lr,loss_triplet-hard")
    with pytest.raises(ConfigError, match="different settings"):
        Trainer(tiny_config(lr=0.5), images, tmp_path / "b", crops, progress=False).run(resume=True)


def test_mutual_learning_trains_a_peer(tmp_path: Path) -> None:
    images, crops = reid_identities()
    cfg = tiny_config(epochs=1, loss="ce+triplet-hard+dml-kl+dml-metric")
    trainer = Trainer(cfg, images, tmp_path, crops, progress=False)
    before = None
    trainer.run()
    assert trainer.peer is not None
    before = [p.clone() for p in trainer.peer.parameters()]
    trainer.cfg = tiny_config(epochs=2, loss=cfg.loss)
    trainer.run(resume=True)
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.peer.parameters()))


def test_training_learns_synthetic_identities(tmp_path: Path) -> None:
    images, crops = reid_identities(6, 6)
    cfg = tiny_config(epochs=6, max_batches=None, lr=3e-3, loss="triplet-hard+ce")
    model = Trainer(cfg, images, tmp_path, crops, progress=False).run()
    emb = TorchEmbedder(model).embed_resized(crops)
    labels = np.array([im.pid for im in images])
    sim = emb @ emb.T
    np.fill_diagonal(sim, -np.inf)
    assert (labels[sim.argmax(1)] == labels).mean() > 0.9


def test_sgd_optimizer_learns_and_bad_optimizer_rejected(tmp_path: Path) -> None:
    images, crops = reid_identities(6, 6)
    cfg = tiny_config(epochs=6, max_batches=None, lr=0.05, optimizer="sgd")
    trainer = Trainer(cfg, images, tmp_path, crops, progress=False)
    model = trainer.run()
    assert isinstance(trainer.optimizer, torch.optim.SGD)
    emb = TorchEmbedder(model).embed_resized(crops)
    labels = np.array([im.pid for im in images])
    sim = emb @ emb.T
    np.fill_diagonal(sim, -np.inf)
    assert (labels[sim.argmax(1)] == labels).mean() > 0.9
    with pytest.raises(ConfigError, match="optimizer"):
        tiny_config(optimizer="rmsprop")


def test_colour_augmentation_keeps_range_and_grays() -> None:
    crops = np.random.default_rng(1).integers(0, 255, (3, *SIZE, 3), dtype=np.uint8)
    cfg = AugmentConfig(flip_prob=0.0, pad=0, erase_prob=0.0, color_jitter=0.4, gray_prob=1.0)
    x = augment_batch(crops, cfg, torch.Generator().manual_seed(0))
    assert float(x.min()) >= 0.0 and float(x.max()) <= 255.0
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 1], x[:, 2])
