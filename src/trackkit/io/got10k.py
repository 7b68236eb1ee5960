"""GOT-10k sequences (Huang, Zhao, Huang: GOT-10k, TPAMI 2019).

Layout: ``<root>/<split>/list.txt`` names the sequences of a split (``train``, ``val``,
``test``); each sequence folder holds ``00000001.jpg ...``, ``groundtruth.txt`` (``x,y,w,h``
per frame, comma separated, continuous 0-based pixels), and, in train/val,
``absence.label`` (``1`` where the target is absent), ``cover.label`` and ``meta_info.ini``.
The test split annotates only the first frame: the other frames get NaN rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trackkit.core.boxes import xywh_to_xyxy
from trackkit.errors import DataNotFoundError, FormatError
from trackkit.io.images import SOTSequence, list_images
from trackkit.io.numtext import read_text
from trackkit.io.otb import parse_box_lines

__all__ = ["is_got10k_sequence", "list_got10k_split", "load_got10k_sequence"]


def is_got10k_sequence(folder: str | Path) -> bool:
    """Whether ``folder`` looks like a GOT-10k sequence (``groundtruth.txt`` + ``meta_info.ini``
    or ``absence.label``)."""
    p = Path(folder)
    return (p / "groundtruth.txt").is_file() and (
        (p / "meta_info.ini").is_file() or (p / "absence.label").is_file()
    )


def _read_labels(path: Path, n: int) -> np.ndarray:
    values = parse_box_lines(path, read_text(path), ncols=(1,))[:, 0]
    if len(values) != n:
        raise FormatError(path, f"{len(values)} labels for {n} annotated frames")
    return values


def load_got10k_sequence(folder: str | Path) -> SOTSequence:
    """Load one GOT-10k sequence folder.

    Raises:
        DataNotFoundError: missing ``groundtruth.txt`` or frames.
        FormatError: malformed annotation or label files.
    """
    root = Path(folder)
    gt = root / "groundtruth.txt"
    if not gt.is_file():
        raise DataNotFoundError(f"{root}: no groundtruth.txt (GOT-10k layout)")
    images = list_images(root)
    xywh = parse_box_lines(gt, read_text(gt))
    if len(xywh) > len(images):
        raise FormatError(gt, f"{len(xywh)} annotation lines but only {len(images)} frames")
    boxes = xywh_to_xyxy(xywh)
    bad = ~np.all(np.isfinite(boxes), axis=1)
    bad |= (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])
    absence = root / "absence.label"
    if absence.is_file():
        bad |= _read_labels(absence, len(boxes)) > 0
    boxes[bad] = np.nan
    if not np.all(np.isfinite(boxes[0])):
        raise FormatError(gt, "the first frame's box is missing or has zero size", line=1)
    if len(boxes) == 1 and len(images) > 1:  # test split: only the first frame is annotated
        boxes = np.vstack([boxes, np.full((len(images) - 1, 4), np.nan)])
    return SOTSequence(
        name=root.name,
        frames=tuple(images[: len(boxes)]),
        boxes=boxes,
        source="got10k",
        meta={"groundtruth": str(gt)},
    )


def list_got10k_split(split_dir: str | Path) -> list[Path]:
    """The sequence folders of a split, in the order of its ``list.txt`` (else sorted)."""
    root = Path(split_dir)
    if not root.is_dir():
        raise DataNotFoundError(f"{root}: no such folder")
    listing = root / "list.txt"
    if listing.is_file():
        names = [ln.strip() for ln in read_text(listing).splitlines()]
        folders = [root / n for n in names if n]
        missing = [str(f) for f in folders if not f.is_dir()]
        if missing:
            raise DataNotFoundError(f"{listing}: sequence folder(s) missing: {missing[:3]}")
        return folders
    return sorted(p for p in root.iterdir() if is_got10k_sequence(p))
