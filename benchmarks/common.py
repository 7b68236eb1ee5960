"""What the benchmark scripts share: the ``shared`` folder and the models in it."""

from __future__ import annotations

import sys
from pathlib import Path

from trackkit.shared import shared_dir

#: YOLOX-Nano (416x416 ONNX), relative to the shared folder
YOLOX_NANO = Path("weights") / "yolox_nano" / "yolox_nano_416x416.onnx"


def require_shared() -> Path:
    """The ``shared`` folder; without it, say so and exit with status 2."""
    root = shared_dir()
    if root is None:
        print("shared folder not found (set TRACKKIT_SHARED)", file=sys.stderr)
        raise SystemExit(2)
    return root
