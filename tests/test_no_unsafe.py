"""Nothing in trackkit runs code that comes from a data file or from a shell string.

The source tree (``src/`` and ``benchmarks/``) is parsed and searched for

- ``torch.load`` without ``weights_only=True`` (and any ``weights_only=False``): unpickling a
  checkpoint or weights file a user passes could run arbitrary code;
- ``pickle`` / ``marshal`` / ``shelve`` / ``dill`` / ``joblib`` loading, ``numpy.load(...,
  allow_pickle=True)``, ``yaml.load`` / ``yaml.unsafe_load``;
- the builtins ``eval``, ``exec``, ``compile``, ``__import__``;
- ``shell=True`` and ``os.system`` / ``os.popen``.

The tests' own helpers are not scanned: they build hostile files on purpose.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("src", "benchmarks")
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "joblib"}
UNSAFE_BUILTINS = {"eval", "exec", "compile", "__import__"}


def _dotted(node: ast.AST) -> str:
    """``a.b.c`` for an attribute chain, ``""`` for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def _is_const(node: ast.expr | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def unsafe_uses(source: str, filename: str = "<source>") -> list[str]:
    """``"file:line: what"`` for every unsafe construct in ``source``."""
    found: list[str] = []
    tree = ast.parse(source, filename)
    for node in ast.walk(tree):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in UNSAFE_MODULES:
                    found.append(f"{where}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            if (node.module or "").split(".")[0] in UNSAFE_MODULES:
                found.append(f"{where}: from {node.module} import ...")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            last = name.rsplit(".", 1)[-1]
            if isinstance(node.func, ast.Name) and name in UNSAFE_BUILTINS:
                found.append(f"{where}: {name}()")
            if _is_const(_keyword(node, "shell"), True):
                found.append(f"{where}: shell=True")
            if name in ("os.system", "os.popen"):
                found.append(f"{where}: {name}()")
            if _is_const(_keyword(node, "weights_only"), False):
                found.append(f"{where}: weights_only=False")
            if name.endswith("torch.load") and not _is_const(_keyword(node, "weights_only"), True):
                found.append(f"{where}: torch.load without weights_only=True")
            if last == "load" and _is_const(_keyword(node, "allow_pickle"), True):
                found.append(f"{where}: allow_pickle=True")
            if name in ("yaml.load", "yaml.unsafe_load", "yaml.full_load"):
                found.append(f"{where}: {name}()")
    return found


def _files() -> list[Path]:
    out: list[Path] = []
    for folder in SCANNED:
        out.extend(sorted((ROOT / folder).rglob("*.py")))
    return out


def test_the_scanner_finds_every_kind_of_unsafe_use() -> None:
    bad = """
import pickle
from marshal import loads
import torch, yaml, subprocess, os, numpy as np
torch.load("a.pt")
torch.load("a.pt", weights_only=False)
eval("1")
exec("x = 1")
subprocess.run("ls", shell=True)
os.system("ls")
np.load("a.npy", allow_pickle=True)
yaml.load(open("c.yaml"))
"""
    kinds = sorted(f.split(": ", 1)[1] for f in unsafe_uses(bad))
    assert kinds == sorted(
        [
            "import pickle",
            "from marshal import ...",
            "torch.load without weights_only=True",
            "weights_only=False",
            "torch.load without weights_only=True",
            "eval()",
            "exec()",
            "shell=True",
            "os.system()",
            "allow_pickle=True",
            "yaml.load()",
        ]
    )
    safe = """
import torch, re
torch.load("a.pt", map_location="cpu", weights_only=True)
model.eval()
re.compile("x")
subprocess.run(["ls"], check=True)
"""
    assert unsafe_uses(safe) == []


@pytest.mark.timeout(60)
def test_source_tree_has_no_unsafe_loading_or_execution() -> None:
    files = _files()
    assert len(files) > 50, "the source tree was not found"
    found: list[str] = []
    for path in files:
        found += unsafe_uses(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert not found, "unsafe constructs:\n" + "\n".join(found)


@pytest.mark.timeout(60)
def test_no_weights_only_false_anywhere() -> None:
    """Also as text (comments, docstrings, strings passed around), in code and docs."""
    me = Path(__file__).resolve()
    hits = []
    for folder in ("src", "benchmarks", "tests", "docs", ".ci"):
        base = ROOT / folder
        if not base.exists():
            continue
        for path in base.rglob("*"):
            if path.suffix in (".py", ".md", ".sh", ".toml", ".cfg", "") and path.is_file():
                if path.resolve() == me or path.name == "reliability.md":
                    continue
                text = path.read_text(encoding="utf-8", errors="replace")
                if "weights_only=False" in text.replace(" ", ""):
                    hits.append(str(path.relative_to(ROOT)))
    assert not hits, f"weights_only=False in {hits}"
