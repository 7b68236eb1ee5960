"""trackkit's one weights-file format, and the one loader that also reads the older ones.

A weights file (``model.pt``) written by any trackkit trainer is a dict of tensors and plain
types, loadable with ``torch.load(weights_only=True)``::

    {"format": "trackkit-weights", "version": 1,
     "task": "reid" | "sot",
     "arch": "resnet-tiny" | "siamfc" | ...,       # the registered network name
     "config": {...},                             # the network's constructor options
     "state_dict": {...},
     "trained_on": {"datasets": [...], "identities" | "sequences": [...]},
     "command": "trackkit reid train ...",        # the command line that produced it
     "from_pretrained": {"name", "file", "sha256", "keys"}}  # optional, see below

Tensors that are verbatim copies of a pretrained file's (a frozen backbone from ../shared or
the model cache) are not stored: :func:`save_weights` replaces them, when ``trained_on``
records that file (``{"pretrained": {"backbone": NAME, "sha256": ...}}``), by references
``{"keys": {state key: pretrained key}}``, and :func:`read_weights` fills them in again from
the file of that name (checked against the recorded sha256). A weights file then holds only
what its training produced, never a copy of someone else's weights.

:func:`read_weights` returns a :class:`Weights` for that format and for every older one:

- ``{"format": "trackkit-reid", "arch", "config", "state_dict"}`` (ReID models, e.g. the
  packaged ``reid_resnet_w32_parts_cuhk03.pt``);
- ``{"arch": {"model": NAME, ...options}, "state_dict"}`` (the packaged SiamFC, GOTURN and
  MDNet weights);
- ``{"model": state_dict}`` (DCFNet/UDT weights trained before this format) and training
  checkpoints (old and new: their model's weights are read);
- a bare state dict (the published DCFNet ``param.pth`` and UDT weights).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trackkit.errors import DataNotFoundError, FormatError, TrackkitError
from trackkit.training.io import atomic_save, load_trusted

__all__ = ["FORMAT", "VERSION", "Weights", "make_weights", "read_weights", "save_weights"]

FORMAT = "trackkit-weights"
VERSION = 1
_REID_FORMAT = "trackkit-reid"
CHECKPOINT_FORMAT = "trackkit-checkpoint"


@dataclass(frozen=True)
class Weights:
    """The content of a weights file, whatever its format.

    Attributes:
        task: ``"reid"`` or ``"sot"`` (``""`` when an old file does not say).
        arch: network name (``""`` when an old file does not say, e.g. a bare state dict).
        config: the network's constructor options.
        state_dict: the tensors.
        trained_on: ``{"datasets": [...], "identities" | "sequences": [...]}`` (empty for
            old files).
        command: the command line that produced the file (``""`` for old files).
        legacy: the format was an older one.
    """

    task: str
    arch: str
    config: dict[str, Any]
    state_dict: dict[str, Any]
    trained_on: dict[str, Any] = field(default_factory=dict)
    command: str = ""
    legacy: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The file content in the current format."""
        return make_weights(
            self.task, self.arch, self.config, self.state_dict, self.trained_on, self.command
        )


def make_weights(
    task: str,
    arch: str,
    config: Mapping[str, Any],
    state_dict: Mapping[str, Any],
    trained_on: Mapping[str, Any] | None = None,
    command: str | None = None,
) -> dict[str, Any]:
    """A weights-file dict in the current format (see the module docstring)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "task": task,
        "arch": arch,
        "config": dict(config),
        "state_dict": dict(state_dict),
        "trained_on": _plain(dict(trained_on or {})),
        "command": command or "",
    }


def save_weights(path: str | Path, weights: Mapping[str, Any] | Weights) -> Path:
    """Write a weights file atomically (:func:`trackkit.training.io.atomic_save`), with the
    tensors copied verbatim from its recorded pretrained file stored as references."""
    blob = weights.to_dict() if isinstance(weights, Weights) else dict(weights)
    if blob.get("format") != FORMAT:
        raise ValueError("save_weights expects make_weights(...) output")
    return atomic_save(_omit_pretrained(blob), path)


def read_weights(path: str | Path, task: str | None = None, arch: str | None = None) -> Weights:
    """Read a weights file of any trackkit format (or a checkpoint, or a bare state dict)
    with ``torch.load(weights_only=True)``.

    Args:
        path: the file.
        task, arch: when given, a file that names another task / network is refused (old
            files that name none are accepted).

    Raises:
        DataNotFoundError: no such file.
        FormatError: unreadable, unsafe, or holding another network's weights.
    """
    w = parse_weights(load_trusted(path, "weights file"), path)
    if task is not None and w.task and w.task != task:
        raise FormatError(path, f"holds {w.task!r} weights, not {task!r}")
    if arch is not None and w.arch and w.arch != arch:
        raise FormatError(path, f"holds {w.arch!r} weights, not {arch!r}")
    return w


def parse_weights(blob: Any, path: str | Path = "<weights>") -> Weights:
    """:func:`read_weights` on an already loaded object; content of the wrong shape (a
    hostile or foreign file) is one :class:`FormatError`, never a traceback."""
    try:
        return _parse(blob, path)
    except FormatError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as exc:  # hostile
        problem = f"{type(exc).__name__}: {str(exc).splitlines()[0][:80] if str(exc) else ''}"
        raise FormatError(
            path, f"not a trackkit weights file (unexpected content, {problem})"
        ) from None


def _parse(blob: Any, path: str | Path) -> Weights:
    if not isinstance(blob, dict):
        raise FormatError(path, f"expected a dict, got {type(blob).__name__}")
    fmt = blob.get("format")
    if fmt == FORMAT:
        state = dict(blob["state_dict"])
        refs = blob.get("from_pretrained")
        if refs:
            state.update(_pretrained_tensors(refs, path))
        return Weights(
            task=str(blob.get("task", "")),
            arch=str(blob.get("arch", "")),
            config=dict(blob.get("config") or {}),
            state_dict=state,
            trained_on=dict(blob.get("trained_on") or {}),
            command=str(blob.get("command") or ""),
        )
    if fmt == CHECKPOINT_FORMAT:
        return parse_weights(blob["weights"], path)
    if fmt == _REID_FORMAT:
        return Weights("reid", str(blob["arch"]), dict(blob["config"]), dict(blob["state_dict"]),
                       legacy=True)  # fmt: skip
    if isinstance(blob.get("state_dict"), dict):
        arch = blob.get("arch")
        if isinstance(arch, dict):
            options = {k: v for k, v in arch.items() if k != "model"}
            name = str(arch.get("model", ""))
            return Weights("sot", name, options, dict(blob["state_dict"]), legacy=True)
        return Weights("", str(arch or ""), {}, dict(blob["state_dict"]), legacy=True)
    inner = blob.get("model")
    if isinstance(inner, dict):
        if inner.get("format") in (_REID_FORMAT, FORMAT):
            return parse_weights(inner, path)  # an old ReID training checkpoint
        return Weights("sot", "", {}, dict(inner), legacy=True)  # {"model": state_dict}
    if blob and all(hasattr(v, "shape") for v in blob.values()):
        return Weights("", "", {}, dict(blob), legacy=True)  # a bare state dict
    raise FormatError(path, "not a trackkit weights file (no format tag, no state_dict)")


def _plain(value: Any) -> Any:
    """``value`` with tuples as lists, paths as strings, numpy scalars as Python numbers."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, Sequence):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value


def _digest(t: Any) -> tuple[str, tuple[int, ...], str]:
    import hashlib

    data = t.detach().contiguous().cpu().numpy().tobytes()
    return (str(t.dtype), tuple(t.shape), hashlib.sha256(data).hexdigest())


def _pretrained_file(name: str, file_name: str, sha256: str, path: str | Path) -> dict[str, Any]:
    """The tensors of pretrained weights ``name`` (resolved like a tracker's ``weights``:
    model cache or ../shared; ``file_name`` inside a model folder), after checking the
    file's sha256."""
    import hashlib

    from trackkit.sot.nets import default_weights

    try:
        file = default_weights(name)
    except DataNotFoundError as exc:
        raise DataNotFoundError(f"{path}: its frozen layers come from {name}: {exc}") from None
    if file.is_dir():
        file = file / file_name
    if not file.is_file():
        raise DataNotFoundError(f"{path}: its frozen layers come from {file}, which is missing")
    if hashlib.sha256(file.read_bytes()).hexdigest() != sha256:
        raise FormatError(
            path,
            f"its frozen layers come from {name} with sha256 {sha256[:12]}..., "
            f"but {file} is another file; install that one",
        )
    blob = load_trusted(file, "pretrained weights")
    inner = blob.get("state_dict", blob) if isinstance(blob, dict) else {}
    return {str(k): v for k, v in inner.items() if hasattr(v, "shape")}


def _pretrained_tensors(refs: Any, path: str | Path) -> dict[str, Any]:
    if not isinstance(refs, dict) or not isinstance(refs.get("keys"), dict):
        raise FormatError(path, "from_pretrained must be {name, file, sha256, keys}")
    pre = _pretrained_file(str(refs["name"]), str(refs.get("file", "")), str(refs["sha256"]), path)
    missing = sorted(set(refs["keys"].values()) - set(pre))
    if missing:
        raise FormatError(path, f"{refs['name']} lacks the tensors {missing[:3]}")
    return {str(k): pre[v] for k, v in refs["keys"].items()}


def _omit_pretrained(blob: dict[str, Any]) -> dict[str, Any]:
    """``blob`` with the tensors equal (dtype, shape, bytes) to one of its recorded
    pretrained file's replaced by references (unchanged when it records none or the file
    cannot be found)."""
    rec = blob.get("trained_on", {}).get("pretrained")
    if blob.get("from_pretrained") or not isinstance(rec, Mapping):
        return blob
    name, file_name, sha = rec.get("backbone"), rec.get("file", ""), rec.get("sha256")
    if not name or not sha:
        return blob
    try:
        pre = _pretrained_file(str(name), str(file_name), str(sha), "<weights>")
    except TrackkitError:  # not a SOT pretrained name (e.g. a detector's), or not found
        return blob
    index = {_digest(v): k for k, v in pre.items()}
    state = blob["state_dict"]
    keys = {
        k: index[d] for k, v in state.items() if hasattr(v, "shape") and (d := _digest(v)) in index
    }
    if not keys:
        return blob
    out = dict(blob)
    out["state_dict"] = {k: v for k, v in state.items() if k not in keys}
    out["from_pretrained"] = {"name": str(name), "file": str(file_name), "sha256": str(sha),
                              "keys": keys}  # fmt: skip
    return out
