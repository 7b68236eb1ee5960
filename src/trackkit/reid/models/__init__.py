"""trackkit's ReID networks (torch; no torchvision), their registry, saving and loading.

Registered names (``MODELS.build(name, **config)``):
- ``resnet-tiny``: ResNet-style, last stride 1, BNNeck, 128-d (:mod:`.resnet`), fast enough
  to train on 2 CPU cores (the project's default model is this architecture with widths
  32-64-128-256 and two stripes, ``parts=2``);
- ``resnet-tiny-ibn``: resnet-tiny with IBN-a normalisation (generalises better to unseen
  cameras and datasets);
- ``resnet-small``: a wider and deeper ResNet-style network, 256-d;
- ``osnet-tiny``: a small OSNet-like network, 192-d (:mod:`.osnet`).

A saved model (``.pt``) is a trackkit weights file (:mod:`trackkit.training.weights`:
``{"format": "trackkit-weights", "task": "reid", "arch", "config", "state_dict",
"trained_on", "command", ...}``); :func:`load_model` rebuilds it, or one of the older
``{"format": "trackkit-reid", ...}`` files, or a training checkpoint, without unpickling
arbitrary objects (``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from trackkit.errors import FormatError
from trackkit.registry import Registry
from trackkit.reid.models.common import ClassifierHead, ReIDNet
from trackkit.reid.models.osnet import OSNetReID
from trackkit.reid.models.resnet import ResNetReID

__all__ = [
    "MODELS",
    "ClassifierHead",
    "OSNetReID",
    "ReIDNet",
    "ResNetReID",
    "build_model",
    "export_onnx",
    "load_model",
    "save_model",
]

MODELS: Registry[ReIDNet] = Registry("ReID model")


@MODELS.register("resnet-tiny-ibn")
def resnet_tiny_ibn(**cfg: Any) -> ReIDNet:
    """resnet-tiny with IBN-a normalisation in its first three stages, 128-d."""
    cfg = {"widths": (16, 32, 64, 128), "blocks": (1, 1, 1, 1), "stem": 16, "ibn": True, **cfg}
    return ResNetReID(**cfg)


@MODELS.register("resnet-small")
def resnet_small(**cfg: Any) -> ReIDNet:
    """ResNet-style (32-64-128-256, blocks 2-2-2-1), last stride 1, BNNeck, 256-d."""
    return ResNetReID(**cfg)


@MODELS.register("resnet-tiny")
def resnet_tiny(**cfg: Any) -> ReIDNet:
    """Narrow ResNet-style (16-32-64-128, blocks 1-1-1-1), last stride 1, BNNeck, 128-d."""
    cfg = {"widths": (16, 32, 64, 128), "blocks": (1, 1, 1, 1), "stem": 16, **cfg}
    return ResNetReID(**cfg)


@MODELS.register("osnet-tiny")
def osnet_tiny(**cfg: Any) -> ReIDNet:
    """Small OSNet-like network (64-128-192, 2 blocks per stage), BNNeck, 192-d."""
    return OSNetReID(**cfg)


def build_model(name: str, **cfg: Any) -> ReIDNet:
    """Build a registered model; ``cfg`` overrides its constructor's defaults."""
    model = MODELS.build(name, **cfg)
    model.config = {**model.config, "arch": name.lower()}
    return model


def save_model(
    model: ReIDNet,
    path: str | Path,
    trained_on: dict[str, Any] | None = None,
    command: str | None = None,
) -> None:
    """Save architecture name, configuration and weights as a trackkit weights file
    (atomic rename), with what it was trained on and the command that made it."""
    from trackkit.training.weights import make_weights, save_weights

    cfg = dict(model.config)
    arch = cfg.pop("arch")
    save_weights(path, make_weights("reid", arch, cfg, model.state_dict(), trained_on, command))


def load_model(path: str | Path) -> ReIDNet:
    """Rebuild a model saved by :func:`save_model` (any trackkit format, or a training
    checkpoint), in eval mode.

    Raises:
        DataNotFoundError: no such file.
        FormatError: not a trackkit ReID model (or an unsafe / unreadable file).
    """
    from trackkit.training.weights import read_weights

    w = read_weights(path, task="reid")
    if not w.arch or w.task != "reid":
        raise FormatError(path, "not a trackkit ReID model (missing format tag)")
    cfg = dict(w.config)
    if "input_size" in cfg:
        cfg["input_size"] = tuple(cfg["input_size"])
    # files saved before the ``embedding`` option existed returned the BNNeck output
    cfg.setdefault("embedding", "bnneck")
    model = build_model(w.arch, **cfg)
    model.load_state_dict(w.state_dict)
    return model.eval()


def export_onnx(model: ReIDNet, path: str | Path, opset: int = 17) -> None:
    """Export to ONNX: input ``images`` (N, 3, H, W) float BGR 0..255 (dynamic N), output
    ``embeddings`` (N, D)."""
    model = model.eval()
    h, w = model.input_size
    dummy = torch.zeros(1, 3, h, w)
    # the TorchScript-based exporter needs only the ``onnx`` package (the torch.export-based
    # one also needs onnxscript); silence its deprecation notice
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        _export(model, dummy, path, opset)


def _export(model: ReIDNet, dummy: torch.Tensor, path: str | Path, opset: int) -> None:
    torch.onnx.export(
        model,
        (dummy,),
        str(path),
        input_names=["images"],
        output_names=["embeddings"],
        dynamic_axes={"images": {0: "batch"}, "embeddings": {0: "batch"}},
        opset_version=opset,
        dynamo=False,
    )
