"""trackkit's ReID networks (torch; no torchvision), their registry, saving and loading.

Registered names (``MODELS.build(name, **config)``):
- ``resnet-tiny``: ResNet-style, last stride 1, BNNeck, 128-d (:mod:`.resnet`), fast enough
  to train on 2 CPU cores (the project's default model is this architecture with widths
  32-64-128-256 and two stripes, ``parts=2``);
- ``resnet-tiny-ibn``: resnet-tiny with IBN-a normalisation (generalises better to unseen
  cameras and datasets);
- ``resnet-small``: a wider and deeper ResNet-style network, 256-d;
- ``osnet-tiny``: a small OSNet-like network, 192-d (:mod:`.osnet`);
- ``osnet-x0.25``, ``osnet-x0.5``, ``osnet-x0.75``, ``osnet-x1.0``: OSNet as published
  (Zhou et al. ICCV 2019), 512-d, 256x128 input, loading torchreid state_dicts
  (:mod:`.osnet_full`, :func:`load_pretrained`); ``ibn=true`` adds instance norm in the low
  layers (OSNet-IBN; measured on unseen cameras in docs/reid.md).

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
from trackkit.reid.models.osnet_full import (
    OSNET_WIDTHS,
    OSNet,
    load_torchreid_state,
    torchreid_width,
)
from trackkit.reid.models.resnet import ResNetReID

__all__ = [
    "MODELS",
    "ClassifierHead",
    "OSNet",
    "OSNetReID",
    "ReIDNet",
    "ResNetReID",
    "build_model",
    "export_onnx",
    "load_model",
    "load_pretrained",
    "save_model",
    "torchreid_osnet_state",
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


def _osnet_factory(width: str) -> Any:
    def make(**cfg: Any) -> ReIDNet:
        return OSNet(**{**cfg, "width": width})

    make.__doc__ = f"OSNet {width} (Zhou et al. ICCV 2019), torchreid layout, 512-d, 256x128."
    return make


for _width in OSNET_WIDTHS:
    MODELS.register(f"osnet-{_width}")(_osnet_factory(_width))


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


def load_pretrained(path: str | Path) -> ReIDNet:
    """A model from ``path``: a trackkit weights file (:func:`load_model`) or a torchreid
    OSNet state_dict (``osnet_x0_25_msmt17.pth``...; width read from the file, classifier
    dropped), in eval mode. Only ``torch.load(weights_only=True)`` reads it.

    Raises:
        DataNotFoundError: no such file.
        FormatError: neither a trackkit ReID model nor an OSNet state_dict.
    """
    from trackkit.training.io import load_trusted

    blob = load_trusted(path, "ReID model")
    state = torchreid_osnet_state(blob)
    if state is not None:
        width = torchreid_width(state, path)
        model = build_model(f"osnet-{width}")
        load_torchreid_state(model, state, path)  # type: ignore[arg-type]
        return model.eval()
    return load_model(path)


def torchreid_osnet_state(blob: Any) -> dict[str, Any] | None:
    """The state_dict of a loaded torchreid OSNet file (``{"state_dict": ...}`` or the
    state_dict itself, keys optionally prefixed ``module.``), or ``None`` when ``blob`` is
    not one (a trackkit weights file, another network)."""
    if not isinstance(blob, dict):
        return None
    state = blob.get("state_dict", blob)
    if not isinstance(state, dict):
        return None
    keys = {k[7:] if isinstance(k, str) and k.startswith("module.") else k for k in state}
    return state if "conv1.conv.weight" in keys else None


def export_onnx(model: ReIDNet, path: str | Path, opset: int = 17) -> None:
    """Export to ONNX: input ``images`` (N, 3, H, W) float BGR 0..255 (dynamic N), output
    ``embeddings`` (N, D)."""
    model = model.eval()
    h, w = model.input_size
    dummy = torch.zeros(1, 3, h, w)
    # the TorchScript-based exporter needs only the ``onnx`` package (the torch.export-based
    # one also needs onnxscript); silence its deprecation notice, and its notice that instance
    # norm (OSNet-IBN) always uses the input's own statistics, which is what it does in eval too
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*instance_norm.*", category=UserWarning)
        # instance norm's input-shape checks, traced as constants (shapes are fixed but N)
        warnings.filterwarnings(
            "ignore",
            category=torch.jit.TracerWarning,
            module=r"torch\.nn\.(modules\.instancenorm|functional)",
        )
        _export(model, dummy, path, opset)


def _export(model: ReIDNet, dummy: torch.Tensor, path: str | Path, opset: int) -> None:
    from trackkit.io.atomic import atomic_path

    with atomic_path(path) as tmp:  # a killed export never leaves half a model
        _export_to(model, dummy, tmp, opset)


def _export_to(model: ReIDNet, dummy: torch.Tensor, path: str | Path, opset: int) -> None:
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
