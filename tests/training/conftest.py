"""Fixtures of the training-framework tests: a tiny synthetic annotated sequence and tiny
ReID identities (seconds of training on the CPU)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import helpers.reid_data

_SPEC = importlib.util.spec_from_file_location(
    "_training_deep_synthetic", Path(__file__).parents[1] / "sot" / "deep_synthetic.py"
)
assert _SPEC is not None and _SPEC.loader is not None
deep_synthetic: Any = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(deep_synthetic)

#: crop size of the ReID identities
REID_SIZE = helpers.reid_data.REID_SIZE

#: tiny configurations of every SOT trainer: (model, --set options)
SOT_TINY: dict[str, tuple[str, dict[str, Any]]] = {
    "siamfc": ("siamfc", {"width": 0.125}),
    "goturn": ("goturn", {"size": 64, "width": 8, "paste_prob": 0.3, "flip_prob": 0.5}),
    "mdnet": ("mdnet", {"size": 32, "width": 8, "fc": 32, "pos": 2, "neg": 4}),
    "dcfnet-udt": ("dcfnet", {"mode": "udt", "crop_size": 49}),
    "dcfnet-supervised": ("dcfnet", {"mode": "supervised", "crop_size": 49}),
}


@pytest.fixture(scope="session")
def sot_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding two short synthetic OTB sequences (``Syn1``, ``Syn2``)."""
    root = tmp_path_factory.mktemp("sot_data")
    for k in (1, 2):
        frames, boxes = deep_synthetic.moving_target(n=10, seed=k)
        deep_synthetic.write_otb(root / f"Syn{k}", frames, boxes)
    return root


def reid_identities(n_ids: int = 6, per_id: int = 4) -> tuple[list[Any], np.ndarray]:
    """``n_ids`` identities (10, 11, ...) of ``per_id`` noisy single-colour crops each."""
    return helpers.reid_data.reid_identities(n_ids, per_id, first_pid=10)
