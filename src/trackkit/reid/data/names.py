"""File-name conventions of person re-identification datasets (no torch, no image IO).

Each parser turns one file name into a :class:`ReIDImage` (path, identity, camera) or raises
:class:`~trackkit.errors.FormatError` naming the file and the convention it breaks.

Conventions (cameras are returned 0-based):
- Market-1501 ``PPPP_cCsS_FFFFFF_BB.jpg`` (Zheng et al. ICCV 2015) and DukeMTMC-reID
  ``PPPP_cC_fFFFFFFF.jpg``: identity ``-1`` is junk, ``0000`` a distractor.
- CUHK03 ``PPPP_II.jpg``: image index ``II`` 00-04 camera A (0), 05-09 camera B (1).
- VIPeR ``PPP_ANGLE_CAM.png``: CAM 1 or 2.
- PRID2011 single-shot ``PPPP_a.png`` / ``PPPP_b.png``.
- CUHK01 ``PPPPIII.jpg``: III 001-002 camera A, 003-004 camera B.
- GRID ``PPPP_CAM_FRAME_x_y_w_h.jpeg``.
- CAVIAR4REID and i-LIDS (as in ../shared) ``PPPP_III.jpg``: no camera in the name (camera
  ``0``; their protocol gives each image its own camera, :mod:`.datasets`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from trackkit.errors import FormatError

__all__ = [
    "IMAGE_SUFFIXES",
    "PARSERS",
    "ReIDImage",
    "parse_cuhk01",
    "parse_cuhk03",
    "parse_grid",
    "parse_market",
    "parse_no_camera",
    "parse_prid2011",
    "parse_viper",
]

#: File suffixes treated as images when listing a folder.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass(frozen=True)
class ReIDImage:
    """One identity-labelled crop.

    Attributes:
        path: the image file.
        pid: identity label (dataset's own number; ``-1`` junk, ``0`` distractor for Market).
        camid: 0-based camera label.
    """

    path: Path
    pid: int
    camid: int


_MARKET = re.compile(r"^(-1|\d+)_c(\d+)(?:s\d+_\d+_\d+|_f\d+)\.(?:jpg|jpeg|png)$", re.I)
_CUHK03 = re.compile(r"^(\d+)_(\d{2})\.(?:jpg|jpeg|png|bmp)$", re.I)
_VIPER = re.compile(r"^(\d+)_(\d+)_([12])\.(?:png|bmp|jpg|jpeg)$", re.I)
_PRID = re.compile(r"^(\d+)_([ab])\.(?:png|jpg|jpeg|bmp)$", re.I)
_CUHK01 = re.compile(r"^(\d{4})(\d{3})\.(?:jpg|jpeg|png|bmp)$", re.I)
_NOCAM = re.compile(r"^(\d+)_(\d+)\.(?:jpg|jpeg|png|bmp)$", re.I)
_GRID = re.compile(r"^(\d+)_(\d+)_(\d+)_(\d+)_(\d+)_(\d+)_(\d+)\.(?:jpeg|jpg|png)$", re.I)


def _match(pattern: re.Pattern[str], path: Path, convention: str) -> re.Match[str]:
    """``pattern``'s match of the file name; a :class:`FormatError` naming the ``convention``
    when it does not match."""
    m = pattern.fullmatch(path.name)  # not match: "$" also matches before a final newline
    if not m:
        shown = path if str(path).isprintable() else repr(str(path))  # one line, always
        raise FormatError(shown, f"file name does not follow the {convention} convention")
    return m


def _camera_from_1(path: Path, number: str) -> int:
    """The 0-based camera of a camera ``number`` counted from 1."""
    cam = int(number)
    if cam < 1:
        raise FormatError(path, f"camera number must be >= 1, got {cam}")
    return cam - 1


def parse_market(path: Path) -> ReIDImage:
    """Market-1501 ``0002_c1s1_000451_03.jpg`` or DukeMTMC ``0001_c2_f0046182.jpg``."""
    m = _match(_MARKET, path, "Market-1501/DukeMTMC 'PPPP_cCsS_FFFFFF_BB.jpg'")
    return ReIDImage(path, int(m.group(1)), _camera_from_1(path, m.group(2)))


def parse_cuhk03(path: Path) -> ReIDImage:
    """CUHK03 ``PPPP_II.jpg``: II 00-04 camera A (0), 05-09 camera B (1)."""
    m = _match(_CUHK03, path, "CUHK03 'PPPP_II.jpg'")
    index = int(m.group(2))
    if index > 9:
        raise FormatError(path, f"CUHK03 image index must be 00-09, got {m.group(2)}")
    return ReIDImage(path, int(m.group(1)), 0 if index <= 4 else 1)


def parse_viper(path: Path) -> ReIDImage:
    """VIPeR ``PPP_ANGLE_CAM.png`` with CAM 1 or 2."""
    m = _match(_VIPER, path, "VIPeR 'PPP_ANGLE_CAM.png'")
    return ReIDImage(path, int(m.group(1)), int(m.group(3)) - 1)


def parse_prid2011(path: Path) -> ReIDImage:
    """PRID2011 single-shot ``PPPP_a.png`` (camera a = 0) or ``PPPP_b.png`` (camera b = 1)."""
    m = _match(_PRID, path, "PRID2011 'PPPP_a.png' / 'PPPP_b.png'")
    return ReIDImage(path, int(m.group(1)), 0 if m.group(2).lower() == "a" else 1)


def parse_cuhk01(path: Path) -> ReIDImage:
    """CUHK01 ``PPPPIII.jpg``: III 001-002 camera A (0), 003-004 camera B (1)."""
    m = _match(_CUHK01, path, "CUHK01 'PPPPIII.jpg'")
    index = int(m.group(2))
    if not 1 <= index <= 4:
        raise FormatError(path, f"CUHK01 image index must be 001-004, got {m.group(2)}")
    return ReIDImage(path, int(m.group(1)), 0 if index <= 2 else 1)


def parse_grid(path: Path) -> ReIDImage:
    """GRID ``PPPP_CAM_FRAME_x_y_w_h.jpeg`` (camera numbers from 1)."""
    m = _match(_GRID, path, "GRID 'PPPP_CAM_FRAME_x_y_w_h.jpeg'")
    return ReIDImage(path, int(m.group(1)), _camera_from_1(path, m.group(2)))


def parse_no_camera(path: Path) -> ReIDImage:
    """CAVIAR4REID / i-LIDS ``PPPP_III.jpg`` (identity, image number; camera 0)."""
    m = _match(_NOCAM, path, "'PPPP_III.jpg'")
    return ReIDImage(path, int(m.group(1)), 0)


#: Parser of each dataset's file names.
PARSERS: dict[str, Callable[[Path], ReIDImage]] = {
    "market1501": parse_market,
    "dukemtmc": parse_market,
    "cuhk03": parse_cuhk03,
    "viper": parse_viper,
    "prid2011": parse_prid2011,
    "cuhk01": parse_cuhk01,
    "grid": parse_grid,
    "caviar4reid": parse_no_camera,
    "ilids": parse_no_camera,
}
