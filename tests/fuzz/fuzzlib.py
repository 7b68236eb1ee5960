"""Shared pieces of the fuzz tests (imported as ``fuzzlib``): bounded hypothesis settings,
number-like tokens, and the one property every reader must have — a valid result, or one
:class:`~trackkit.errors.TrackkitError` whose message is a single line naming the file."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from trackkit.errors import TrackkitError

T = TypeVar("T")

#: Every fuzz test: few examples, no per-example deadline (the machine is shared), tmp_path
#: reused across examples (each example writes its own file names).
#: The test suite draws the same examples on every run (a fixed seed), so that a test result
#: depends on the code only; the exploring search is a separate, explicit run:
#: ``TRACKKIT_FUZZ_RANDOM=1 TRACKKIT_FUZZ_EXAMPLES=500 python -m pytest tests/fuzz`` draws new
#: examples each time (docs/reliability.md). Default: 40 examples a property.
EXAMPLES = int(os.environ.get("TRACKKIT_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
    derandomize=not os.environ.get("TRACKKIT_FUZZ_RANDOM"),
)


def clean(fn: Callable[[], T], *names: str | Path) -> T | None:
    """``fn()``'s result, or ``None`` when it raises a :class:`TrackkitError` whose message is
    one line naming one of ``names`` (a file or folder). Any other exception fails the test."""
    try:
        return fn()
    except TrackkitError as exc:
        message = str(exc)
        assert message and "\n" not in message, f"not one line: {message!r}"
        shown = [str(n) for n in names] + [repr(str(n)) for n in names]  # odd names: repr
        assert any(n in message for n in shown), f"{message!r} names none of {names}"
        return None


#: Cells of a numeric text file: numbers of every form and the usual ways to get one wrong.
token = st.one_of(
    st.integers(-(10**5), 10**5).map(str),
    st.floats(-1e5, 1e5, allow_nan=False).map(repr),
    st.floats(0, 2000, allow_nan=False).map(lambda x: f"{x:.2f}"),
    st.sampled_from(
        [
            "nan",
            "NaN",
            "inf",
            "-inf",
            "1e400",
            "0x10",
            "",
            "-",
            ".",
            "1.2.3",
            "abc",
            "1e",
            "\u00e9",
            "9" * 30,
            "0",
            "-0",
            "1_000",
            "  3  ",
            "--1",
            "1,",
        ]
    ),
)


def table(
    width: st.SearchStrategy[int], delimiters: list[str], max_rows: int = 8
) -> st.SearchStrategy[str]:
    """Text of up to ``max_rows`` lines of ``width`` tokens joined by one of ``delimiters``
    (sometimes a blank or ragged line)."""

    @st.composite
    def build(draw: st.DrawFn) -> str:
        sep = draw(st.sampled_from(delimiters))
        eol = draw(st.sampled_from(["\n", "\r\n"]))
        rows = []
        for _ in range(draw(st.integers(0, max_rows))):
            n = draw(width)
            rows.append(sep.join(draw(st.lists(token, min_size=n, max_size=n))))
        return eol.join(rows) + draw(st.sampled_from(["", eol, eol + eol]))

    return build()


ini_value = st.one_of(
    st.integers(-5, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", "abc", "1e9", "30.0", "img1", ".jpg", "0x1F", "%(x)s", "1e400"]),
)
ini_key = st.sampled_from(
    ["name", "imDir", "frameRate", "seqLength", "imWidth", "imHeight", "imExt", "other"]
)


#: ``seqinfo.ini`` texts: odd sections, keys, values and separators, stray lines.
@st.composite
def ini_text(draw: st.DrawFn) -> str:
    section = draw(st.sampled_from(["[Sequence]", "[sequence]", "[Other]", "", "[Sequence"]))
    items = draw(st.dictionaries(ini_key, ini_value, max_size=8))
    sep = draw(st.sampled_from(["=", ":", " = ", " "]))
    lines = [section] + [f"{k}{sep}{v}" for k, v in items.items()]
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(["x", "=", "[a]"])))
    return "\n".join(lines)
