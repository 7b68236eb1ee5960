"""CI: every registered tracker runs with its default weights from a NON-editable install.

Run by ``.ci/run`` with the Python of a fresh virtual environment into which trackkit was
installed with ``pip install .`` (not ``-e``), from a folder outside the repository, so that
``import trackkit`` finds the installed copy and not ``src/``:

    python .ci/installed_smoke.py SHARED_DIR OUT_DIR

- SOT: ``trackkit sot <shared>/data/otb/Crossing --tracker NAME --max-frames 10`` for every
  registered SOT tracker and preset, through the real command line (no ``--weights``: the
  default weights, packaged in ``trackkit/assets`` or read from the shared folder);
- MOT: every registered MOT tracker on the first frames of MOT17-05 (its ``det/det.txt``
  detections plus appearance embeddings of the default ReID model, packaged in
  ``trackkit/assets``), through :func:`trackkit.pipeline.track_video`.

Exit status 0 when every tracker ran and produced output; 1 otherwise (each failure named).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from pathlib import Path


def _run(label: str, check: Callable[[], bool], failed: list[str]) -> None:
    """Run one tracker's check, print ``label: ok|FAILED`` (with the traceback of an
    exception) and record a failure; every tracker is tried before the script fails."""
    try:
        ok = check()
    except Exception:  # noqa: BLE001 - report every tracker, then fail
        traceback.print_exc()
        ok = False
    print(f"{label}: {'ok' if ok else 'FAILED'}", flush=True)
    if not ok:
        failed.append(label)


def _check_installed() -> Path:
    import trackkit

    pkg = Path(trackkit.__file__).resolve().parent
    if "site-packages" not in pkg.parts and "dist-packages" not in pkg.parts:
        raise SystemExit(f"trackkit imported from {pkg}, not from an installed wheel")
    for name in ("siamfc", "goturn", "mdnet", "adnet", "rolo", "memtrack"):
        from trackkit.sot.nets import default_weights

        path = default_weights(name)
        if not path.resolve().is_relative_to(pkg):
            raise SystemExit(f"{name} default weights {path} are not inside {pkg}")
    print(f"trackkit installed at {pkg}")
    return pkg


def _sot(shared: Path, out: Path) -> list[str]:
    from trackkit.cli.main import main
    from trackkit.sot import available

    seq = shared / "data" / "otb" / "Crossing"
    failed = []
    for name in available():
        boxes = out / f"sot-{name}.txt"

        def check(name: str = name, boxes: Path = boxes) -> bool:
            code = main(["sot", str(seq), "--tracker", name, "--max-frames", "10",
                         "--out", str(boxes)])  # fmt: skip
            return code == 0 and len(boxes.read_text().splitlines()) == 10

        _run(f"sot {name}", check, failed)
    return failed


def _mot(shared: Path, out: Path) -> list[str]:
    from trackkit.detectors import EmbeddingDetector, build_detector
    from trackkit.mot import available
    from trackkit.pipeline import mot_source, track_video
    from trackkit.reid.embedder import load_embedder

    seq = shared / "data" / "MOT17" / "train" / "MOT17-05-FRCNN"
    frames = len(list((seq / "img1").glob("*.jpg")))
    embedder = load_embedder("default", threads=1)
    failed = []
    for name in available():

        def check(name: str = name) -> bool:
            det = EmbeddingDetector(build_detector(f"file:{seq / 'det' / 'det.txt'}"), embedder)
            summary = track_video(
                mot_source(seq),
                detector=det,
                tracker=name,
                results=out / f"mot-{name}.txt",
                progress=False,
                max_frames=frames,
            )
            return summary.frames == frames and summary.tracks > 0

        _run(f"mot {name}", check, failed)
    return failed


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    shared, out = Path(argv[0]).resolve(), Path(argv[1]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    _check_installed()
    failed = _sot(shared, out) + _mot(shared, out)
    if failed:
        print(f"FAILED with default weights after a non-editable install: {', '.join(failed)}")
        return 1
    print("every SOT and MOT tracker ran with its default weights")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
