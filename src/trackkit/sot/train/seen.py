"""Which sequences a tracker's weights were trained on: the "seen" sequences of
``trackkit eval sot`` (scored, marked, and left out of the mean unless ``--include-seen``).

Every weights file written by a trainer of :data:`trackkit.sot.train.base.SOT_TRAINERS`
records its training sequences (``trained_on["sequences"]``, the names
:func:`trackkit.sot.runner.find_sequences` gives them). trackkit's packaged SiamFC, GOTURN and
MDNet weights (``trackkit/assets``) predate that record; :data:`PACKAGED_TRAINED_ON` holds it
for them, keyed by the files' sha256 (a retrained asset in the current format carries its own
record). Published weights (DCFNet, UDT, NanoTrack) were trained on other data: nothing seen.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from trackkit.errors import TrackkitError
from trackkit.zoo.cache import sha256_file

__all__ = [
    "PACKAGED_TRAINED_ON",
    "SHARED_OTB_VOT",
    "is_seen",
    "seen_sequences",
    "trained_on",
    "trained_sequences",
    "tracker_weights",
]

#: The six sequences of ``../shared/data/otb`` and ``../shared/data/vot`` (as named by
#: :func:`~trackkit.sot.runner.find_sequences`).
SHARED_OTB_VOT = ("Car4", "Couple", "Crossing", "Jogging-1", "Jogging-2", "bag")

_OTB_VOT = {"datasets": ["otb", "vot"], "sequences": list(SHARED_OTB_VOT)}

#: sha256 of a packaged weights file in the old format -> its ``trained_on``. All three were
#: trained by the commands of docs/benchmarks.md ("SiamFC, GOTURN, MDNet trained by trackkit's
#: own command") with ``--data ../shared/data/otb,../shared/data/vot`` (the MDNet file's six
#: domains are those six sequences).
PACKAGED_TRAINED_ON: dict[str, dict[str, Any]] = {
    # siamfc.pt (width 0.25)
    "8eb2e9227e2168bb2493e0e56e721aa6ca87cc131adfbadc54db9becfe9057df": _OTB_VOT,
    # goturn.pt
    "9e0f051440bb566feb62a3033a2a66bf9c380a7f2204432fba196d95abac018c": _OTB_VOT,
    # mdnet.pt (6 domains)
    "045d88d7190dede92fbba6a8477784cb53ada23ba1cd655fc55eb73fb0d48b0a": _OTB_VOT,
}


def trained_on(path: str | Path) -> dict[str, Any]:
    """The ``trained_on`` record of a weights file (``{}`` when it has none, or for a folder
    such as a NanoTrack ONNX pair).

    Raises:
        FormatError: the file is not a readable weights file.
    """
    p = Path(path)
    if not p.is_file():
        return {}
    from trackkit.training.weights import read_weights

    w = read_weights(p)
    if w.trained_on:
        return dict(w.trained_on)
    if w.legacy:
        known = PACKAGED_TRAINED_ON.get(sha256_file(p), {})
        return {k: list(v) if isinstance(v, list) else v for k, v in known.items()}
    return {}


def trained_sequences(path: str | Path) -> frozenset[str]:
    """The names of the sequences the weights at ``path`` were trained on."""
    seqs = trained_on(path).get("sequences") or []
    return frozenset(str(s) for s in seqs)


def tracker_weights(name: str, config: Any) -> Path | None:
    """The weights file (or folder) tracker ``name`` with ``config`` loads; ``None`` for a
    tracker without a network or without default weights here.

    Args:
        name: a registered name of :data:`trackkit.sot.base.SOT_TRACKERS` (presets included).
        config: the tracker's configuration (its ``weights``, and for DCFNet its ``model``).
    """
    if not hasattr(config, "weights"):
        return None
    from trackkit.sot.base import SOT_TRACKERS
    from trackkit.sot.nets import resolve_weights

    base = name
    preset = SOT_TRACKERS.preset(base)
    while preset is not None:
        base = preset.base
        preset = SOT_TRACKERS.preset(base)
    kind = getattr(config, "model", None) or base
    try:
        return resolve_weights(config.weights, str(kind))
    except TrackkitError:  # no default weights for this tracker (or not installed here)
        return None


def is_seen(trained: str, sequence: str) -> bool:
    """Whether training name ``trained`` covers evaluation sequence ``sequence``.

    Supervised trainers record the sequence names themselves; UDT's unsupervised training
    records frame folders (``"Car4/img"``, ``"vot/bag"``, ``"Jogging/img"``): a folder covers
    the sequences named after one of its parts (``Jogging`` covers ``Jogging-1`` and
    ``Jogging-2``, the two targets of one OTB video).
    """
    if trained == sequence:
        return True
    if "/" not in trained:
        return False
    parts = set(trained.split("/"))
    return sequence in parts or re.sub(r"-\d+$", "", sequence) in parts


def seen_sequences(name: str, config: Any, sequences: Iterable[str]) -> frozenset[str]:
    """The names among ``sequences`` that the weights of tracker ``name`` (with ``config``)
    were trained on.

    A file that cannot be read counts as having seen nothing here: the tracker itself
    reports the problem when it loads it.
    """
    path = tracker_weights(name, config)
    if path is None:
        return frozenset()
    try:
        trained = trained_sequences(path)
    except TrackkitError:
        return frozenset()
    return frozenset(s for s in sequences if any(is_seen(t, s) for t in trained))
