"""``trackkit models``: the models trackkit can run, by name, and their cache.

``list`` shows every model with its task, size and where it is (packaged, cached, shared,
missing); ``info NAME`` everything the registry knows; ``fetch NAME... | --all [--from
DIR|URL]`` installs into the cache (sha256 checked, atomic); ``path NAME`` prints the file a
model option would load; ``verify`` re-hashes the cached files.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from trackkit.cli.options import add_verb
from trackkit.errors import ConfigError, TrackkitError

__all__ = ["add_parser"]

HELP = "list, describe, install (fetch) and check the models trackkit runs by name"
DESCRIPTION = (
    "Every detector, single-object tracker and re-identification model trackkit can run, by "
    "name. Any --detector, --weights, --reid or --model option accepts these names as well as "
    "paths; fetch installs a model into the cache (TRACKKIT_HOME, default the user cache "
    "folder) after checking its sha256."
)
EPILOG = """\
examples:
  trackkit models list
  trackkit models info picodet-s
  trackkit models fetch yolox-nano --from ../shared/weights
  trackkit models fetch --all --from ../shared/weights      # every model, from a local folder
  trackkit models fetch picodet-s --from file:///mnt/mirror/weights
  trackkit models path yolox-nano
  trackkit models verify

A mirror (folder or URL, also the TRACKKIT_MIRROR variable) is laid out like ../shared/weights:
MIRROR/<folder>/<file> (trackkit models info NAME shows both).
"""


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def _list(args: argparse.Namespace) -> int:
    from trackkit.zoo import MODELS, cache_dir, status

    rows = [
        (m.name, m.task, _size(m.size), status(m)[0], m.licence)
        for m in MODELS.values()
        if args.task is None or m.task == args.task
    ]
    widths = [max(len(r[i]) for r in rows + [("name", "task", "size", "where", "")])
              for i in range(4)]  # fmt: skip
    head = ("name", "task", "size", "where", "licence")
    for row in [head, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4])
    print(f"cache: {cache_dir()}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from trackkit.zoo import get_model, status
    from trackkit.zoo.cache import fetch_command

    m = get_model(args.name)
    where, path = status(m)
    print(f"name        {m.name}")
    print(f"task        {m.task}" + (f" (detector '{m.kind}')" if m.kind else ""))
    print(f"licence     {m.licence}")
    print(f"release     {m.release}")
    print(f"input       {m.convention}")
    print(f"where       {where}" + (f": {path}" if path is not None else ""))
    if m.folder:
        print(f"mirror      <MIRROR>/{m.folder}/")
    for f in m.files:
        print(f"file        {f.name}  {f.size} bytes  sha256 {f.sha256}")
        if f.url:
            print(f"            {f.url}")
    if where == "missing":
        print(f"install     {fetch_command(m)}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from trackkit.zoo import MODELS, fetch

    if args.all == bool(args.names):
        raise ConfigError("trackkit models fetch: give model names or --all (not both)")
    names = [m.name for m in MODELS.values() if not m.packaged] if args.all else args.names
    failed = 0
    for name in names:
        try:
            r = fetch(name, args.source, force=args.force, progress=not args.quiet)
        except TrackkitError as exc:
            if not args.all:
                raise
            print(f"trackkit: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        said = {"installed": f"installed from {r.source}", "present": "already in the cache",
                "packaged": "shipped with trackkit"}[r.action]  # fmt: skip
        print(f"{r.name}: {said} -> {r.path}")
    return 2 if failed else 0


def _path(args: argparse.Namespace) -> int:
    from trackkit.zoo import resolve

    print(resolve(args.name))
    return 0


def _verify(args: argparse.Namespace) -> int:
    from trackkit.zoo import MODELS, get_model
    from trackkit.zoo.cache import cache_dir, cached_path, check_file, packaged_path

    models = [get_model(n) for n in args.names] if args.names else list(MODELS.values())
    bad = checked = 0
    for m in models:
        base = packaged_path(m) if m.packaged else cached_path(m)
        if not base.exists():
            if args.names:
                print(f"{m.name}: not installed")
                bad += 1
            continue
        paths = [base / f.name for f in m.files] if m.is_folder else [base]
        problems = [f"{f.name}: {p}" for path, f in zip(paths, m.files)
                    if (p := check_file(path, f)) is not None]  # fmt: skip
        checked += 1
        if problems:
            bad += 1
            print(f"{m.name}: DAMAGED ({'; '.join(problems)}); "
                  f"reinstall: trackkit models fetch {m.name} --force")  # fmt: skip
        else:
            print(f"{m.name}: ok")
    print(f"{checked} installed model(s) checked in {cache_dir()}, {bad} with problems")
    return 1 if bad else 0


def _handler(args: argparse.Namespace) -> int:
    if args.action is None:
        args.parser.print_help()
        return 2
    handler: Any = {"list": _list, "info": _info, "fetch": _fetch, "path": _path,
                    "verify": _verify}[args.action]  # fmt: skip
    return int(handler(args))


def add_parser(sub: Any) -> None:
    parser = add_verb(sub, "models", HELP, DESCRIPTION, EPILOG)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    p = actions.add_parser("list", help="every model: task, size, where it is")
    p.add_argument("--task", choices=("detect", "sot", "reid"), help="only this task's models")
    p = actions.add_parser("info", help="everything about one model")
    p.add_argument("name", metavar="NAME")
    p = actions.add_parser("fetch", help="install models into the cache (sha256 checked)")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--all", action="store_true", help="every model (not the packaged ones)")
    p.add_argument("--from", dest="source", metavar="DIR|URL",
                   help="a mirror folder or file:// / http(s) URL (default: TRACKKIT_MIRROR, "
                   "else each file's release URL)")  # fmt: skip
    p.add_argument("--force", action="store_true", help="reinstall even if cached")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p = actions.add_parser("path", help="print the file (or folder) a model name loads")
    p.add_argument("name", metavar="NAME")
    p = actions.add_parser("verify", help="re-hash the installed models' files")
    p.add_argument("names", nargs="*", metavar="NAME")
    parser.set_defaults(func=_handler, parser=parser)
