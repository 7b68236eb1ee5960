"""Batch-norm adaptation (AdaBN) of a ReID network to unlabelled images of new cameras."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from trackkit.errors import ConfigError, TrackkitError  # noqa: E402
from trackkit.reid.adapt import adapt_batchnorm  # noqa: E402
from trackkit.reid.embedder import HistogramEmbedder, TorchEmbedder  # noqa: E402
from trackkit.reid.evaluate import embed_adapted  # noqa: E402
from trackkit.reid.models import build_model  # noqa: E402

SIZE = (32, 16)


def crops(n: int, seed: int, cast: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 255, (n, *SIZE, 3)).astype(np.float64) * np.array(cast)
    return np.clip(x, 0, 255).astype(np.uint8)


def test_statistics_are_the_target_images_and_weights_stay() -> None:
    torch.manual_seed(0)
    model = build_model("resnet-tiny", input_size=SIZE, parts=2).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    target = crops(8, 1, cast=(0.5, 1.0, 1.5))
    adapted = adapt_batchnorm(model, target, batch_size=4)  # two equal batches
    assert not adapted.training
    for k, v in model.state_dict().items():  # the original is untouched
        assert torch.equal(v, before[k]), k
    params = dict(adapted.named_parameters())
    for k, v in model.named_parameters():  # learned weights are the same
        assert torch.equal(v, params[k]), k
    # the stem's BatchNorm now holds the channel means of its input over the target images:
    # the stem convolution of the normalised crops (computed here by hand)
    x = torch.from_numpy(target).permute(0, 3, 1, 2).float()
    stem_conv, stem_bn = model.body[0][0], adapted.body[0][1]
    conv_out = stem_conv((x - model.mean) / model.std)
    torch.testing.assert_close(stem_bn.running_mean, conv_out.mean(dim=(0, 2, 3)))
    assert stem_bn.momentum == model.body[0][1].momentum  # restored after the adaptation
    # a colour cast changes the statistics: they differ from another camera's
    other = adapt_batchnorm(model, crops(8, 1), batch_size=4)
    assert not torch.allclose(other.body[0][1].running_mean, stem_bn.running_mean)
    # the centered embedding is centred on the target images' pooled mean
    assert not torch.equal(adapted.neck.running_mean, model.neck.running_mean)


def test_a_lone_last_image_joins_the_previous_batch() -> None:
    model = build_model("resnet-tiny", input_size=SIZE, parts=2).eval()
    adapted = adapt_batchnorm(model, crops(3, 2), batch_size=2)  # 2 + 1 -> one batch of 3
    assert int(adapted.neck.num_batches_tracked) == 1
    adapted = adapt_batchnorm(model, crops(5, 2), batch_size=2)  # 2 + 2 + 1 -> 2 + 3
    assert int(adapted.neck.num_batches_tracked) == 2
    with pytest.raises(ValueError, match="batch_size"):
        adapt_batchnorm(model, crops(5, 2), batch_size=1)


def test_bad_input_is_a_clear_error() -> None:
    model = build_model("resnet-tiny", input_size=SIZE).eval()
    with pytest.raises(TrackkitError, match="at least 2 images"):
        adapt_batchnorm(model, crops(1, 0))
    with pytest.raises(TrackkitError, match="the model takes 32x16"):
        adapt_batchnorm(model, np.zeros((4, 20, 10, 3), dtype=np.uint8))
    with pytest.raises(ConfigError, match="trackkit .pt model"):
        embed_adapted(HistogramEmbedder(), [Path("a.jpg")], [0])


def test_each_camera_is_embedded_by_its_own_adaptation(tmp_path: Path) -> None:
    import cv2

    torch.manual_seed(0)
    model = build_model("resnet-tiny", input_size=SIZE, parts=2).eval()
    images = np.concatenate([crops(4, 3), crops(4, 4, cast=(0.4, 1.0, 1.6))])
    paths = []
    for i, img in enumerate(images):
        paths.append(tmp_path / f"{i}.png")
        cv2.imwrite(str(paths[-1]), img)
    cams = [0] * 4 + [1] * 4
    emb = embed_adapted(TorchEmbedder(model), paths, cams)
    for rows in (slice(0, 4), slice(4, 8)):
        expect = TorchEmbedder(adapt_batchnorm(model, images[rows])).embed_resized(images[rows])
        np.testing.assert_allclose(emb[rows], expect, atol=1e-6)
    assert not np.allclose(emb, TorchEmbedder(model).embed_resized(images), atol=1e-3)
