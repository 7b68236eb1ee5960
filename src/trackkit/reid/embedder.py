"""Appearance embedders: crops (or boxes in a frame) -> L2-normalised embeddings.

Every embedder has ``embed_crops(crops)`` for ``(N, H, W, 3)`` uint8 BGR crops of any size
and ``embed(frame_bgr_uint8, boxes_xyxy)`` for boxes cut out of a frame (what DeepSORT-style
trackers call); both return ``(N, D)`` float32 rows of unit L2 norm, so the cosine distance
is ``1 - a @ b.T`` and the squared Euclidean distance ``2 - 2 a @ b.T``.

- :class:`OnnxEmbedder`: an ONNX model through onnxruntime. Open Model Zoo person
  re-identification models (``person-reidentification-retail-0248/0287/0288``, OSNet family)
  take NHWC ``[1, 256, 128, 3]`` BGR 0..255 with the batch of 1 fixed in the graph; models
  exported by trackkit take NCHW ``[N, 3, H, W]`` BGR 0..255 with a dynamic batch. The
  layout is read from the graph's input shape.
- :class:`TorchEmbedder`: a trackkit torch model (:mod:`trackkit.reid.models`).
- :class:`HistogramEmbedder`: colour histograms, the no-learning baseline.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from trackkit.errors import ConfigError, DataNotFoundError
from trackkit.reid.data.images import crop_boxes, resize_crop

__all__ = [
    "Embedder",
    "HistogramEmbedder",
    "OnnxEmbedder",
    "TorchEmbedder",
    "default_model_path",
    "previous_default_model_path",
    "l2_normalize",
    "load_embedder",
]

_OMZ = ("0248", "0287", "0288")

log = logging.getLogger(__name__)


def l2_normalize(x: NDArray[Any], eps: float = 1e-12) -> NDArray[np.float32]:
    """Rows of ``x`` scaled to unit L2 norm (float32)."""
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), eps)


class Embedder:
    """Base class: subclasses set ``input_size = (H, W)`` and implement ``_embed_resized``."""

    input_size: tuple[int, int] = (256, 128)
    batch_size: int = 32

    def _embed_resized(self, crops: NDArray[np.uint8]) -> NDArray[np.float32]:
        """``(n, H, W, 3)`` uint8 BGR crops at ``input_size`` -> ``(n, D)`` raw features."""
        raise NotImplementedError

    def embed_crops(
        self, crops: NDArray[np.uint8] | list[NDArray[np.uint8]]
    ) -> NDArray[np.float32]:
        """``(N, h, w, 3)`` uint8 BGR crops (or a list of crops of any size) -> ``(N, D)``."""
        items = [np.asarray(c) for c in crops]
        if not items:
            return np.empty((0, self.dim), dtype=np.float32)
        return self.embed_resized(np.stack([resize_crop(c, self.input_size) for c in items]))

    def embed_resized(self, crops: NDArray[np.uint8]) -> NDArray[np.float32]:
        """Crops already at ``input_size`` -> ``(N, D)`` float32 L2-normalised embeddings."""
        if crops.shape[0] == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        parts = [
            self._embed_resized(crops[i : i + self.batch_size])
            for i in range(0, crops.shape[0], self.batch_size)
        ]
        return l2_normalize(np.concatenate(parts, axis=0))

    def embed(
        self, frame_bgr_uint8: NDArray[np.uint8], boxes_xyxy: ArrayLike
    ) -> NDArray[np.float32]:
        """Embeddings of the boxes (``(N, 4)`` xyxy, continuous pixels) in a BGR frame."""
        crops = crop_boxes(frame_bgr_uint8, boxes_xyxy, self.input_size)
        return self.embed_resized(crops)

    @property
    def dim(self) -> int:
        """Embedding dimension ``D``."""
        raise NotImplementedError


class OnnxEmbedder(Embedder):
    """An ONNX ReID model (OMZ NHWC batch-1 models or trackkit NCHW exports).

    Args:
        path: the ``.onnx`` file.
        threads: onnxruntime intra-op threads (0 = its default).
    """

    def __init__(self, path: str | Path, threads: int = 1, batch_size: int = 32) -> None:
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise DataNotFoundError(f"{path}: ONNX model not found")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        shape = list(inp.shape)
        if len(shape) != 4:
            raise ConfigError(f"{path}: expected a 4-D image input, got shape {shape}")
        self.nhwc = shape[3] == 3
        h, w = (shape[1], shape[2]) if self.nhwc else (shape[2], shape[3])
        if not (isinstance(h, int) and isinstance(w, int)):
            raise ConfigError(f"{path}: input height/width must be fixed, got {shape}")
        self.input_size = (h, w)
        self.fixed_batch = shape[0] if isinstance(shape[0], int) else None
        self.batch_size = self.fixed_batch or batch_size
        out_shape = self.session.get_outputs()[0].shape
        self._dim = int(out_shape[-1])
        self.path = path

    @property
    def dim(self) -> int:
        return self._dim

    def _embed_resized(self, crops: NDArray[np.uint8]) -> NDArray[np.float32]:
        x = crops.astype(np.float32)
        if not self.nhwc:
            x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        out = self.session.run(None, {self.input_name: x})[0]
        return np.asarray(out, dtype=np.float32).reshape(crops.shape[0], -1)


class TorchEmbedder(Embedder):
    """A trackkit torch ReID model (input NCHW BGR 0..255 float, normalised inside).

    Args:
        model: a :class:`torch.nn.Module` whose ``input_size`` attribute is ``(H, W)``; it is
            put in eval mode and its weights stored channels-last, in place.
        flip: also embed the mirrored crop and average (test-time augmentation).
        threads: torch intra-op threads to use (``None`` keeps torch's setting).
        runtime: ``"torch"``, or ``"onnx"``: the model exported to ONNX in memory and run by
            onnxruntime (the same embeddings up to float rounding; OSNet's depthwise
            convolutions run ~20x faster there than in torch on CPU, benchmarks/reid.py).
            ``self.model`` stays the torch model either way.
    """

    def __init__(
        self,
        model: Any,
        flip: bool = False,
        batch_size: int = 32,
        threads: int | None = None,
        runtime: str = "torch",
    ) -> None:
        import torch

        from trackkit.reid.models.common import channels_last

        if threads is not None:
            torch.set_num_threads(threads)
        # channels-last weights match the NHWC view of the crops (oneDNN's fast path on CPU)
        self.model = channels_last(model.eval())
        self.input_size = tuple(model.input_size)  # type: ignore[assignment]
        self.flip = flip
        self.batch_size = batch_size
        self._dim = int(model.embed_dim)
        if runtime not in ("torch", "onnx"):
            raise ConfigError(f"runtime must be 'torch' or 'onnx', got {runtime!r}")
        self.runtime = runtime
        self._session: Any = None
        if runtime == "onnx":
            self._session = _onnx_session(self.model, threads or torch.get_num_threads())

    @property
    def dim(self) -> int:
        return self._dim

    def _embed_resized(self, crops: NDArray[np.uint8]) -> NDArray[np.float32]:
        import torch

        if self._session is not None:
            nchw = np.ascontiguousarray(crops.transpose(0, 3, 1, 2), dtype=np.float32)
            emb_np = self._session.run(None, {"images": nchw})[0]
            if self.flip:
                mirrored = np.ascontiguousarray(nchw[..., ::-1])
                emb_np = l2_normalize(emb_np) + l2_normalize(
                    self._session.run(None, {"images": mirrored})[0]
                )
            return np.asarray(emb_np, dtype=np.float32)
        with torch.inference_mode():
            x = torch.from_numpy(crops).permute(0, 3, 1, 2).float()
            emb = self.model(x)
            if self.flip:
                emb = torch.nn.functional.normalize(emb, dim=1) + torch.nn.functional.normalize(
                    self.model(x.flip(3)), dim=1
                )
        return np.asarray(emb.numpy(), dtype=np.float32)


def _onnx_session(model: Any, threads: int) -> Any:
    """An onnxruntime session of ``model`` exported in memory (:func:`export_onnx`'s graph:
    input ``images`` (N, 3, H, W) BGR 0..255)."""
    import tempfile

    import onnxruntime as ort

    from trackkit.reid.models import export_onnx

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        export_onnx(model, path)
        data = path.read_bytes()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])


class HistogramEmbedder(Embedder):
    """Colour histograms in horizontal stripes (HSV), square-rooted: a no-learning baseline.

    Each crop is resized to ``input_size``, split into ``stripes`` horizontal bands; each band
    gives a joint H x S histogram (``bins`` x ``bins``) and a V histogram (``bins``), each
    L1-normalised, then square-rooted (Hellinger kernel), concatenated and L2-normalised.
    """

    def __init__(self, stripes: int = 6, bins: int = 8, input_size: tuple[int, int] = (128, 48)):
        self.stripes = stripes
        self.bins = bins
        self.input_size = input_size
        self.batch_size = 256

    @property
    def dim(self) -> int:
        return self.stripes * (self.bins * self.bins + self.bins)

    def _embed_resized(self, crops: NDArray[np.uint8]) -> NDArray[np.float32]:
        out = np.empty((crops.shape[0], self.dim), dtype=np.float32)
        b = self.bins
        bounds = np.linspace(0, crops.shape[1], self.stripes + 1).astype(int)
        for i, crop in enumerate(crops):
            hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)
            feats = []
            for s in range(self.stripes):
                band = hsv[bounds[s] : bounds[s + 1]]
                hs = cv2.calcHist([band], [0, 1], None, [b, b], [0, 180, 0, 256]).ravel()
                v = cv2.calcHist([band], [2], None, [b], [0, 256]).ravel()
                feats.append(np.sqrt(hs / max(hs.sum(), 1.0)))
                feats.append(np.sqrt(v / max(v.sum(), 1.0)))
            out[i] = np.concatenate(feats)
        return out


def default_model_path() -> Path:
    """The project's default ReID model: OSNet x0.25 (160x80 input, 512-d, cosine distance on
    the L2-normalised feature centred on its training mean) fine-tuned from the torchreid
    MSMT17 release with distillation from OMZ 0248 on CUHK03 train, Market-1501 train,
    CAVIAR4REID and i-LIDS by ``trackkit reid train`` (docs/reid.md, "The default model").
    The previous default (ResNet, CUHK03 train only) is :func:`previous_default_model_path`."""
    return Path(__file__).resolve().parents[1] / "assets" / "reid_osnet_x0_25_distilled.pt"


def previous_default_model_path() -> Path:
    """The default model until issue 14: ResNet-style, widths 32-64-128-256, two stripes,
    160x64, 768-d, trained on CUHK03 train only (still loadable by this path)."""
    return Path(__file__).resolve().parents[1] / "assets" / "reid_resnet_w32_parts_cuhk03.pt"


def load_embedder(
    spec: str = "default",
    flip: bool = False,
    threads: int = 2,
    batch_size: int = 32,
    embedding: str | None = None,
    runtime: str | None = None,
) -> Embedder:
    """An embedder by name or path.

    ``spec``: ``"default"`` (the project's model), a trackkit ``.pt`` file (torch), a
    torchreid OSNet state_dict (``osnet:PATH`` or the path itself, e.g.
    ``osnet_x0_25_msmt17.pth``: :func:`~trackkit.reid.models.load_pretrained`), an
    ``.onnx`` file, ``"omz-0248"`` / ``"omz-0287"`` / ``"omz-0288"`` (Open Model Zoo models in
    the shared weights folder) or ``"histogram"`` (colour histograms, no learning).
    ``embedding``: ``"centered"``, ``"pooled"`` or ``"bnneck"`` overrides which feature a
    trackkit ``.pt`` model returns (:class:`~trackkit.reid.models.ReIDNet`); ``None`` keeps the
    model's own. ``runtime``: how a torch model runs (:class:`TorchEmbedder`); ``None`` picks
    ``"onnx"`` for OSNet models when onnxruntime and onnx are installed (the default model is
    one), ``"torch"`` otherwise.
    """
    low = spec.lower()
    if embedding is not None and (
        low == "histogram" or low.startswith("omz-") or low.endswith(".onnx")
    ):
        raise ConfigError(
            f"--embedding applies to trackkit .pt models only, not {spec!r} (an ONNX graph "
            "has its output fixed; export with 'trackkit reid export --embedding')"
        )
    if low == "histogram":
        return HistogramEmbedder()
    from trackkit.zoo import is_model_name, resolve

    if not Path(spec).exists() and is_model_name(spec):  # `trackkit models list`: cache, shared
        spec = str(resolve(spec, "reid"))
        low = spec.lower()
    if low.startswith("omz-"):
        if low[4:] not in _OMZ:
            raise ConfigError(f"unknown OMZ model {spec!r}; valid: omz-{', omz-'.join(_OMZ)}")
        from trackkit.shared import shared_path

        name = f"person-reidentification-retail-{low[4:]}.onnx"
        found = shared_path("weights", "omz_person_reid", name)
        if found is None:
            raise DataNotFoundError(f"{name}: not found in the shared weights folder")
        return OnnxEmbedder(found, threads=threads)
    if low.startswith("osnet:"):  # a torchreid OSNet state_dict (or any trackkit .pt)
        spec = spec[len("osnet:") :]
    path = default_model_path() if low == "default" else Path(spec)
    if path.suffix.lower() == ".onnx":
        return OnnxEmbedder(path, threads=threads, batch_size=batch_size)
    if not path.is_file():
        raise DataNotFoundError(f"{path}: model file not found")
    from trackkit.reid.models import load_pretrained

    model = load_pretrained(path)
    if embedding is not None:
        model.set_embedding(embedding)
    if runtime is None:
        from trackkit.reid.models import OSNet

        runtime = "onnx" if isinstance(model, OSNet) and _has_onnxruntime() else "torch"
    return TorchEmbedder(model, flip=flip, batch_size=batch_size, threads=threads, runtime=runtime)


def _has_onnxruntime() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxruntime"))
