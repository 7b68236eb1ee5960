"""NanoTrack networks (v2 / v3) behind one small interface, from ONNX or from a state_dict.

NanoTrack (H. Chu, 2022-2023) is a SiamBAN-style anchor-free Siamese tracker: a MobileNetV3
backbone (stride 16) embeds the 127x127 exemplar (8x8 features) and the 255x255 search region
(16x16 features); the head correlates them (pixel-wise correlation, plus depth-wise correlation
in v3) and predicts, per output cell, a foreground score and the distances ``(l, t, r, b)`` in
search-crop pixels from the cell's point to the box sides.

Inputs are BGR crops with values 0..255 (no normalisation), NCHW float32.

Two interchangeable implementations of :class:`NanoTrackNet`:

- :class:`OnnxNanoTrack` runs the released ``*backbone*.onnx`` + ``*head*.onnx`` pair with
  onnxruntime (the backbone's spatial input dims are made dynamic in memory);
- :class:`TorchNanoTrack` runs trackkit's own PyTorch modules
  (:mod:`trackkit.sot.nets.nanotrack_torch`) loaded from the released state_dict.
"""

from __future__ import annotations

import abc
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from trackkit.errors import DataNotFoundError, FormatError

__all__ = ["NanoTrackNet", "OnnxNanoTrack", "TorchNanoTrack", "find_onnx_pair", "load_nanotrack"]


def _to_blob(crop: NDArray[np.uint8]) -> NDArray[np.float32]:
    """``(H, W, 3)`` uint8 BGR -> ``(1, 3, H, W)`` float32 0..255."""
    return np.ascontiguousarray(crop.transpose(2, 0, 1)[None], dtype=np.float32)


class NanoTrackNet(abc.ABC):
    """A Siamese network with a stored template: ``set_template`` then ``track`` per frame.

    Attributes:
        version: ``"v2"`` or ``"v3"``.
        score_size: side ``n`` of the output maps (16 for v2, 15 for v3).
    """

    version: str
    score_size: int

    @abc.abstractmethod
    def embed(self, crop: NDArray[np.uint8]) -> NDArray[np.float32]:
        """Backbone features ``(1, C, h, w)`` float32 of a ``(S, S, 3)`` uint8 BGR crop."""

    @abc.abstractmethod
    def head(
        self, zf: NDArray[np.float32], xf: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Head on exemplar features ``zf (1, C, 8, 8)`` and search features ``xf (1, C, 16, 16)``.

        Returns:
            ``score (n, n)`` foreground probability and ``ltrb (4, n, n)`` distances in
            search-crop pixels.
        """

    def set_template(self, crop: NDArray[np.uint8]) -> NDArray[np.float32]:
        """Embed and store the ``(127, 127, 3)`` exemplar crop; returns its features."""
        self.zf = self.embed(crop)
        return self.zf

    def track(
        self, crop: NDArray[np.uint8], zf: NDArray[np.float32] | None = None
    ) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
        """Score a ``(255, 255, 3)`` search crop against the stored (or given) template.

        Returns:
            ``(score (n, n), ltrb (4, n, n), xf)`` with ``xf`` the search features.
        """
        xf = self.embed(crop)
        score, ltrb = self.head(self.zf if zf is None else zf, xf)
        return score, ltrb, xf


def _softmax_fg(cls: NDArray[np.float32]) -> NDArray[np.float32]:
    """Foreground probability of ``(1, 2, n, n)`` logits (softmax over the 2 channels)."""
    d = cls[0, 1] - cls[0, 0]
    out: NDArray[np.float32] = (1.0 / (1.0 + np.exp(-d))).astype(np.float32)
    return out


def find_onnx_pair(folder: Path) -> tuple[Path, Path]:
    """The ``(backbone, head)`` ONNX files of a NanoTrack folder.

    Raises:
        DataNotFoundError: the folder or one of the two files is missing.
    """
    if not folder.is_dir():
        raise DataNotFoundError(f"{folder}: weights folder not found")
    onnx = sorted(folder.glob("*.onnx"))
    backbones = [p for p in onnx if "backbone" in p.name.lower()]
    heads = [p for p in onnx if "head" in p.name.lower()]
    if len(backbones) != 1 or len(heads) != 1:
        raise DataNotFoundError(
            f"{folder}: expected one '*backbone*.onnx' and one '*head*.onnx' "
            f"(found {[p.name for p in onnx]})"
        )
    return backbones[0], heads[0]


class OnnxNanoTrack(NanoTrackNet):
    """NanoTrack backbone + head ONNX files run by onnxruntime on ``threads`` CPU threads."""

    def __init__(self, folder: str | Path, threads: int = 1) -> None:
        from trackkit.sot.nets.onnx_io import onnx_session

        backbone, head = find_onnx_pair(Path(folder))
        self.backbone = onnx_session(backbone, dynamic_inputs=["input"], threads=threads)
        self.head_sess = onnx_session(head, threads=threads)
        self._bb_in = self.backbone.get_inputs()[0].name
        ins = self.head_sess.get_inputs()
        if len(ins) != 2 or len(ins[0].shape) != 4:
            raise FormatError(head, "expected a head with two 4-D inputs (template, search)")
        self._z_in, self._x_in = ins[0].name, ins[1].name
        channels = ins[0].shape[1]
        outs = self.head_sess.get_outputs()
        if len(outs) != 2:
            raise FormatError(head, "expected a head with two outputs (cls, loc)")
        bb_channels = self.backbone.get_outputs()[0].shape[1]
        if isinstance(channels, int) and isinstance(bb_channels, int) and channels != bb_channels:
            raise FormatError(
                head,
                f"head expects {channels} channels, backbone {backbone.name} gives "
                f"{bb_channels}: mismatched pair",
            )
        n = outs[0].shape[2]
        self.score_size = int(n) if isinstance(n, int) else 16
        self.version = "v3" if self.score_size == 15 else "v2"

    def embed(self, crop: NDArray[np.uint8]) -> NDArray[np.float32]:
        out: NDArray[np.float32] = self.backbone.run(None, {self._bb_in: _to_blob(crop)})[0]
        return out

    def head(
        self, zf: NDArray[np.float32], xf: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        cls, loc = self.head_sess.run(None, {self._z_in: zf, self._x_in: xf})
        return _softmax_fg(cls), loc[0]


class TorchNanoTrack(NanoTrackNet):
    """trackkit's PyTorch NanoTrack modules loaded from a released state_dict file."""

    def __init__(self, path: str | Path, threads: int | None = 1) -> None:
        import torch

        from trackkit.sot.nets.nanotrack_torch import load_nanotrack_state_dict

        if threads is not None:
            torch.set_num_threads(threads)
        self.model = load_nanotrack_state_dict(Path(path))
        self.version = self.model.version
        self.score_size = self.model.score_size
        self._torch = torch

    def embed(self, crop: NDArray[np.uint8]) -> NDArray[np.float32]:
        with self._torch.inference_mode():
            out = self.model.backbone(self._torch.from_numpy(_to_blob(crop)))
        return out.numpy()

    def head(
        self, zf: NDArray[np.float32], xf: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        with self._torch.inference_mode():
            cls, loc = self.model.head(self._torch.from_numpy(zf), self._torch.from_numpy(xf))
        return _softmax_fg(cls.numpy()), loc.numpy()[0]


def load_nanotrack(path: str | Path, backend: str = "auto", threads: int = 1) -> NanoTrackNet:
    """Load NanoTrack from a folder of ONNX files or a state_dict file.

    Args:
        path: a folder with ``*backbone*.onnx`` + ``*head*.onnx`` (backend ``onnx``), a
            ``.pt``/``.pth`` state_dict (backend ``torch``), or a folder holding one state_dict
            when ``backend="torch"``.
        backend: ``"auto"`` (by what ``path`` is), ``"onnx"`` or ``"torch"``.
        threads: CPU threads for inference.

    Raises:
        DataNotFoundError: ``path`` or the files it should contain are missing.
        FormatError: the files are not NanoTrack networks.
    """
    p = Path(path)
    if not p.exists():
        raise DataNotFoundError(f"{p}: NanoTrack weights not found")
    if backend == "auto":
        backend = "onnx" if p.is_dir() else "torch"
    if backend == "onnx":
        return OnnxNanoTrack(p, threads=threads)
    if backend == "torch":
        if p.is_dir():
            pts = sorted(p.glob("*.pt")) + sorted(p.glob("*.pth"))
            if len(pts) != 1:
                raise DataNotFoundError(f"{p}: expected one state_dict (*.pt / *.pth) file")
            p = pts[0]
        return TorchNanoTrack(p, threads=threads)
    raise FormatError(str(path), f"unknown backend {backend!r} (auto, onnx, torch)")
