"""A MOTChallenge sequence folder written from detection rows, for CLI tests."""

from __future__ import annotations

from pathlib import Path


def write_mot_sequence(root: Path, name: str, rows: list[str], length: int) -> Path:
    """``root/name`` with a 640x480, 30 fps ``seqinfo.ini`` of ``length`` frames and
    ``det/det.txt`` holding ``rows`` (``frame,-1,x,y,w,h,score`` lines); returns the folder."""
    seq = root / name
    (seq / "det").mkdir(parents=True)
    (seq / "seqinfo.ini").write_text(
        f"[Sequence]\nname={name}\nframeRate=30\nseqLength={length}\n"
        "imWidth=640\nimHeight=480\nimDir=img1\nimExt=.jpg\n"
    )
    (seq / "det" / "det.txt").write_text("".join(r + "\n" for r in rows))
    return seq
