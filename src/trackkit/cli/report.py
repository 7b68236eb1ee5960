"""``trackkit report``: one self-contained HTML page per evaluation (MOT, SOT or ReID)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from trackkit.cli.options import add_verb
from trackkit.errors import ConfigError, TrackkitError

__all__ = ["add_parser"]

HELP = "one HTML page per evaluation: tables, plots, failures with thumbnails"
DESCRIPTION = (
    "Write one self-contained HTML page (style, script, data and images inline; no network) "
    "that shows an evaluation and where the tracker fails, with thumbnails of those moments."
)
EPILOG = """\
one of:
  MOT   --gt GT_ROOT --pred DIR[,DIR2 ...] [--images DIR]
        summary per sequence and combined (the values of `trackkit eval mot`), HOTA/DetA/AssA
        over alpha, a timeline of every ground-truth identity, sortable lists of identity
        switches, fragmentations and false-positive tracks; thumbnails where the frames exist
        (--images DIR/<seq>/img1, else GT_ROOT/<seq>/img1). A results folder may be named:
        --pred sort=out/sort,byte=out/bytetrack (default name: the folder's name).
  SOT   --sot DIR[,DIR2 ...] --gt ROOT
        DIR/<Seq>.txt OTB boxes (`trackkit eval sot --results DIR`); ROOT the sequences.
        Success and precision plots, per-sequence AUC, per-frame IoU, the frames where the
        target was lost with thumbnails. (`trackkit eval sot ... --report FILE` writes the
        page straight from a run.)
  ReID  --reid EVAL.json[,EVAL2.json ...]   files of `trackkit reid eval --report EVAL.json`
        CMC, rank-k/mAP/mINP, the worst queries with their top-10 gallery images.

checking the page: --check opens it in a headless Chromium (the distribution's package) and
prints its load time and any console error; --screenshot PNG saves a picture of it.

examples:
  trackkit report --gt data/MOT17/train --pred out/sort,out/bytetrack --out mot.html
  trackkit report --sot results/kcf --gt ../shared/data/otb --out sot.html
  trackkit report --reid cuhk03_eval.json --out reid.html --check
"""


def add_parser(sub: Any) -> None:
    parser = add_verb(sub, "report", HELP, DESCRIPTION, EPILOG)
    parser.add_argument("--out", required=True, type=Path, metavar="FILE.html", help="the page")
    kind = parser.add_mutually_exclusive_group(required=True)
    kind.add_argument("--pred", metavar="[NAME=]DIR,...", help="MOT results folder(s)")
    kind.add_argument("--sot", metavar="[NAME=]DIR,...", help="SOT results folder(s)")
    kind.add_argument("--reid", metavar="EVAL.json,...", help="ReID evaluation file(s)")
    parser.add_argument("--gt", type=Path, metavar="ROOT", help="ground truth (MOT and SOT)")
    parser.add_argument("--images", type=Path, metavar="DIR", help="MOT: DIR/<seq>/img1 frames")
    parser.add_argument("--benchmark", type=str.upper, help="MOT: MOT15/16/17/20 conventions")
    parser.add_argument("--seqs", nargs="+", metavar="NAME", help="only these sequences")
    parser.add_argument("--title", help="the page's title")
    parser.add_argument(
        "--max-thumbs", type=int, default=400, metavar="N", help="thumbnails at most (400)"
    )
    parser.add_argument(
        "--thumb-size", type=int, default=192, metavar="PX", help="longer side (192)"
    )
    parser.add_argument("--check", action="store_true", help="open it in headless Chromium")
    parser.add_argument("--screenshot", type=Path, metavar="PNG", help="save a screenshot")
    parser.set_defaults(func=run)


def _named_dirs(text: str, option: str) -> list[tuple[str, Path]]:
    """``NAME=DIR,DIR2`` -> ``[(NAME, DIR), (DIR2's name, DIR2)]`` with unique names."""
    out: list[tuple[str, Path]] = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        name, eq, folder = item.partition("=")
        path = Path(folder if eq else item)
        label = name if eq else (path.name or str(path))
        if any(label == n for n, _ in out):
            raise ConfigError(f"{option}: the name {label!r} is given twice; use NAME=DIR")
        if not path.is_dir():
            raise ConfigError(f"{option}: {path} is not a folder")
        out.append((label, path))
    if not out:
        raise ConfigError(f"{option}: give at least one folder")
    return out


def check_page(path: Path, screenshot: Path | None, check: bool) -> int:
    """Open the page in headless Chromium; print load time and errors; save a screenshot."""
    from trackkit.report.browser import Browser

    with Browser() as browser:
        load = browser.open(path)
        if screenshot is not None:
            from trackkit.io.atomic import write_bytes

            write_bytes(screenshot, browser.screenshot())
            print(f"screenshot: {screenshot}")
    if check:
        print(f"loaded in {load.seconds:.2f} s, {len(load.errors)} console error(s)")
        for line in load.errors:
            print(f"  {line}")
    return 1 if check and load.errors else 0


def run(args: argparse.Namespace) -> int:
    from trackkit.report.page import write_page
    from trackkit.report.thumbs import Thumbnails

    if args.max_thumbs < 0 or args.thumb_size < 16:
        raise ConfigError("--max-thumbs must be >= 0 and --thumb-size >= 16")
    thumbs = Thumbnails(max_count=args.max_thumbs, max_side=args.thumb_size)
    if args.pred is not None:
        from trackkit.report.mot import MOTTrackerRun, mot_section

        if args.gt is None:
            raise ConfigError("--pred needs --gt GT_ROOT (MOTChallenge ground truth)")
        runs = [MOTTrackerRun(n, p) for n, p in _named_dirs(args.pred, "--pred")]
        section = mot_section(
            args.gt,
            runs,
            benchmark=args.benchmark,
            images=args.images,
            seqs=args.seqs,
            thumbs=thumbs,
        )
        title = args.title or f"MOT report: {', '.join(r.name for r in runs)}"
    elif args.sot is not None:
        from trackkit.report.sot import read_sot_results, sot_section
        from trackkit.sot.runner import find_sequences

        if args.gt is None:
            raise ConfigError("--sot needs --gt ROOT (the annotated sequences)")
        seqs = find_sequences(args.gt)
        if args.seqs:
            seqs = [s for s in seqs if s.name in set(args.seqs)]
        named = _named_dirs(args.sot, "--sot")
        section = sot_section({n: read_sot_results(p, seqs) for n, p in named}, seqs, thumbs)
        title = args.title or f"SOT report: {', '.join(n for n, _ in named)}"
    else:
        from trackkit.report.reid import reid_section

        files = [Path(f.strip()) for f in args.reid.split(",") if f.strip()]
        for f in files:
            if not f.is_file():
                raise ConfigError(
                    f"--reid: {f} not found (write it with trackkit reid eval --report FILE)"
                )
        section = reid_section(files, thumbs)
        title = args.title or "ReID report"
    size = write_page(args.out, [section], thumbs.images, title)
    note = f", {thumbs.skipped} more left out (--max-thumbs)" if thumbs.skipped else ""
    print(f"wrote {args.out}: {size / 1e6:.2f} MB, {len(thumbs.images)} thumbnail(s){note}")
    if args.check or args.screenshot is not None:
        try:
            return check_page(args.out, args.screenshot, args.check)
        except TrackkitError as exc:
            print(f"cannot check the page: {exc}", file=sys.stderr)
            return 1
    return 0
