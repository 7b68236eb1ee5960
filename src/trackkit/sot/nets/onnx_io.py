"""Loading ONNX networks with onnxruntime, including a minimal ONNX model patcher.

Some released tracking backbones declare a fixed input size (e.g. NanoTrack's backbone
declares ``[1, 3, 255, 255]``) although they are fully convolutional and are also run on the
127x127 exemplar. onnxruntime checks the declared shape, so :func:`make_dims_dynamic` rewrites
the ``ModelProto`` protobuf: the chosen dimensions of the named graph inputs and of all graph
outputs become symbolic, and the stored intermediate shapes (``value_info``) are dropped.

The rewrite works on the protobuf wire format directly (field numbers from ``onnx.proto``:
``ModelProto.graph = 7``; ``GraphProto.input = 11, output = 12, value_info = 13``;
``ValueInfoProto.name = 1, type = 2``; ``TypeProto.tensor_type = 1``;
``TypeProto.Tensor.shape = 2``; ``TensorShapeProto.dim = 1``;
``Dimension.dim_value = 1, dim_param = 2``), so neither ``onnx`` nor ``protobuf`` is needed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from trackkit.errors import DataNotFoundError, FormatError, TrackkitError

__all__ = ["make_dims_dynamic", "onnx_session"]

_Field = tuple[int, int, Any]  # (field number, wire type, int or bytes)


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _parse(buf: bytes) -> list[_Field]:
    """Split a serialized protobuf message into its top-level fields."""
    fields: list[_Field] = []
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, pos = _read_varint(buf, pos)
            fields.append((num, wt, val))
        elif wt == 1:
            fields.append((num, wt, buf[pos : pos + 8]))
            pos += 8
        elif wt == 2:
            n, pos = _read_varint(buf, pos)
            if pos + n > len(buf):
                raise ValueError("truncated length-delimited field")
            fields.append((num, wt, buf[pos : pos + n]))
            pos += n
        elif wt == 5:
            fields.append((num, wt, buf[pos : pos + 4]))
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wt}")
    return fields


def _serialize(fields: Iterable[_Field]) -> bytes:
    out = bytearray()
    for num, wt, val in fields:
        out += _varint((num << 3) | wt)
        if wt == 0:
            out += _varint(int(val))
        elif wt == 2:
            out += _varint(len(val))
            out += val
        else:
            out += val
    return bytes(out)


def _map_sub(fields: list[_Field], num: int, fn: Any) -> list[_Field]:
    """Apply ``fn`` to the serialized sub-message(s) of field ``num``."""
    return [(n, wt, fn(v) if n == num and wt == 2 else v) for n, wt, v in fields]


def _dynamic_value_info(buf: bytes, axes: tuple[int, ...], prefix: str) -> bytes:
    def shape_fn(shape: bytes) -> bytes:
        out: list[_Field] = []
        axis = 0
        for n, wt, v in _parse(shape):
            if n == 1 and wt == 2:
                if axis in axes:
                    v = _serialize([(2, 2, f"{prefix}_{axis}".encode())])
                axis += 1
            out.append((n, wt, v))
        return _serialize(out)

    def tensor_fn(tensor: bytes) -> bytes:
        return _serialize(_map_sub(_parse(tensor), 2, shape_fn))

    def type_fn(typ: bytes) -> bytes:
        return _serialize(_map_sub(_parse(typ), 1, tensor_fn))

    return _serialize(_map_sub(_parse(buf), 2, type_fn))


def _value_info_name(buf: bytes) -> str:
    for n, wt, v in _parse(buf):
        if n == 1 and wt == 2:
            return bytes(v).decode("utf-8", "replace")
    return ""


def make_dims_dynamic(model: bytes, inputs: Iterable[str], axes: tuple[int, ...] = (2, 3)) -> bytes:
    """Return ``model`` (serialized ONNX) with ``axes`` of the named inputs made symbolic.

    All graph outputs get the same axes made symbolic and ``value_info`` is removed, so
    onnxruntime re-infers every intermediate shape from the actual input.
    """
    names = set(inputs)

    def graph_fn(graph: bytes) -> bytes:
        out: list[_Field] = []
        for n, wt, v in _parse(graph):
            if n == 13:  # value_info: drop
                continue
            if wt == 2 and (n == 12 or (n == 11 and _value_info_name(v) in names)):
                v = _dynamic_value_info(v, axes, "in" if n == 11 else "out")
            out.append((n, wt, v))
        return _serialize(out)

    return _serialize(_map_sub(_parse(model), 7, graph_fn))


def onnx_session(path: str | Path, dynamic_inputs: Iterable[str] = (), threads: int = 1) -> Any:
    """An onnxruntime ``InferenceSession`` on the CPU for the ONNX file ``path``.

    Args:
        path: the ``.onnx`` file.
        dynamic_inputs: graph inputs whose spatial axes (2, 3) are made symbolic first.
        threads: intra-op threads (1 = one core, as trackkit's speed figures use).

    Raises:
        DataNotFoundError: the file does not exist.
        FormatError: the file is not a readable ONNX model.
        TrackkitError: onnxruntime is not installed.
    """
    try:
        import onnxruntime as ort
    except ImportError:
        raise TrackkitError(
            "onnxruntime is needed for ONNX networks: pip install 'trackkit[onnx]'"
        ) from None
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"{p}: ONNX file not found")
    data = p.read_bytes()
    if not data:
        raise FormatError(p, "empty file, not an ONNX model (re-export or re-download it)")
    names = list(dynamic_inputs)
    if names:
        try:
            data = make_dims_dynamic(data, names)
        except ValueError as exc:
            raise FormatError(p, f"not a valid ONNX protobuf ({exc})") from None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        reason = " ".join(str(exc).split())[:300]  # one line, whatever onnxruntime says
        raise FormatError(p, f"not a usable ONNX model (onnxruntime: {reason})") from None
