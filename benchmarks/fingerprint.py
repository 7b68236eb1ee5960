"""Behaviour fingerprint: sha256 of every tracker's output, through the command line.

A refactor that claims "outputs unchanged" runs this before and after and compares the two
JSON files (``--compare OLD.json``). It drives the ``trackkit`` command, not the Python API,
so it survives modules moving around:

- every registered MOT tracker on the seven MOT17 train sequences (public detections), online
  and with ``--offline`` (``tracktor`` needs frames: it runs on the demo scene only);
- every registered MOT tracker on the synthetic demo scene (``trackkit demo``);
- every registered SOT tracker on the first ``--sot-frames`` frames of every labelled
  sequence in ../shared (otb, vot, sot-extra), each tracker run twice to expose
  non-determinism.

    .venv/bin/python benchmarks/fingerprint.py --out fp.json [--compare old.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from trackkit.shared import shared_dir

FRAMES_TOOLS = {"tracktor"}  # MOT trackers that need every frame's image


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "missing"


def _run(args: list[str]) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "trackkit.cli.main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    return "" if proc.returncode == 0 else f"rc={proc.returncode}: {proc.stderr.strip()[-300:]}"


def _list(verb: list[str]) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-m", "trackkit.cli.main", *verb],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [m.group(1) for m in re.finditer(r"^\s*([a-z][a-z0-9_.-]*)\s", out, re.M)]


def mot_jobs(tmp: Path, trackers: list[str]) -> dict[str, tuple[list[str], list[Path]]]:
    """Job name -> (CLI arguments, files whose digests are recorded)."""
    train = shared_dir() / "data" / "MOT17" / "train"
    seqs = sorted(p.name for p in train.iterdir() if p.is_dir())
    jobs: dict[str, tuple[list[str], list[Path]]] = {}
    for name in trackers:
        for offline in (False, True):
            if name in FRAMES_TOOLS:
                continue
            key = f"mot17/{name}{'-offline' if offline else ''}"
            out = tmp / key.replace("/", "_")
            args = ["track", str(train), "--tracker", name, "--out", str(out), "-q"]
            jobs[key] = (
                args + (["--offline"] if offline else []),
                [out / f"{s}.txt" for s in seqs],
            )
        key = f"demo/{name}"
        out = tmp / key.replace("/", "_")
        jobs[key] = (
            ["demo", "--tracker", name, "--frames", "60", "--size", "320x240", "--out", str(out)],
            [out / "results" / "SYNTH-01.txt"],
        )
    return jobs


def sot_sequences(tmp: Path, frames: int) -> list[Path]:
    """Copies (hard links) of the first ``frames`` frames of each shared SOT sequence."""
    data = shared_dir() / "data"
    out: list[Path] = []
    for seq in sorted((data / "otb").iterdir()) + sorted((data / "sot-extra").iterdir()):
        gt = seq / "groundtruth_rect.txt"
        if not gt.is_file():
            continue
        dst = tmp / "sot" / seq.name
        (dst / "img").mkdir(parents=True)
        for img in sorted((seq / "img").iterdir())[:frames]:
            os.link(img, dst / "img" / img.name)
        lines = gt.read_text().splitlines()[:frames]
        (dst / "groundtruth_rect.txt").write_text("\n".join(lines) + "\n")
        out.append(dst)
    bag = data / "vot" / "bag"
    dst = tmp / "sot" / "bag"
    dst.mkdir(parents=True)
    for img in sorted(bag.glob("*.jpg"))[:frames]:
        os.link(img, dst / img.name)
    lines = (bag / "groundtruth.txt").read_text().splitlines()[:frames]
    (dst / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    out.append(dst)
    return out


def sot_jobs(
    tmp: Path, trackers: list[str], seqs: list[Path], repeats: int
) -> dict[str, tuple[list[str], list[Path]]]:
    jobs: dict[str, tuple[list[str], list[Path]]] = {}
    for name in trackers:
        for seq in seqs:
            for r in range(repeats):
                key = f"sot/{name}/{seq.name}" + (f"#{r}" if r else "")
                out = tmp / (key.replace("/", "_").replace("#", "_") + ".txt")
                jobs[key] = (["sot", str(seq), "--tracker", name, "--out", str(out)], [out])
    return jobs


def _group(key: str) -> str:
    first = key.split("/")[0]
    return "mot" if first == "mot17" else first


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="JSON file of digests")
    ap.add_argument("--compare", type=Path, help="an earlier JSON to compare with")
    ap.add_argument("--sot-frames", type=int, default=40)
    ap.add_argument("--only", default="mot,demo,sot", help="which groups to run")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--trackers", default="", help="only these trackers (comma-separated)")
    args = ap.parse_args(argv)
    groups = set(args.only.split(","))
    results: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        jobs: dict[str, tuple[list[str], list[Path]]] = {}
        if groups & {"mot", "demo"}:
            mot = mot_jobs(tmp, _list(["track", "--list"]))
            jobs.update({k: v for k, v in mot.items() if _group(k) in groups})
        if "sot" in groups:
            seqs = sot_sequences(tmp, args.sot_frames)
            import trackkit.sot

            jobs.update(sot_jobs(tmp, trackkit.sot.available(), seqs, 2))

        if args.trackers:
            keep = set(args.trackers.split(","))
            jobs = {k: v for k, v in jobs.items() if k.split("/")[1].split("-offline")[0] in keep}

        def one(item: tuple[str, tuple[list[str], list[Path]]]) -> tuple[str, str]:
            key, (cli, files) = item
            err = _run(cli)
            if err:
                return key, err
            return key, ",".join(_digest(f) for f in files)

        with ThreadPoolExecutor(args.workers) as pool:
            for key, value in pool.map(one, sorted(jobs.items())):
                results[key] = value
                print(f"{key:40s} {value[:70]}", flush=True)
    args.out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    if args.compare:
        old = json.loads(args.compare.read_text())
        old = {
            k: v
            for k, v in old.items()
            if _group(k) in groups and (k in results or not args.trackers)
        }
        same = sum(old.get(k) == v for k, v in results.items())
        print(f"\n{same}/{len(results)} identical to {args.compare}")
        for k in sorted(set(old) | set(results)):
            if old.get(k) != results.get(k):
                print(f"  DIFF {k}: {old.get(k, 'absent')[:40]} -> {results.get(k, 'absent')[:40]}")
        return 0 if same == len(results) == len(old) else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
