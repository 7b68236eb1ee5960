"""Fuzzing the MOTChallenge readers: a clear trackkit error or a valid, correct result."""

from pathlib import Path

import numpy as np
from fuzzlib import EXAMPLES, FUZZ, token
from hypothesis import given, settings
from hypothesis import strategies as st

from trackkit.errors import TrackkitError
from trackkit.io.mot_txt import read_mot_txt
from trackkit.io.numtext import _slow_parse, parse_numeric_table

#: deeper than the other readers': the results file is the most read input of trackkit
SETTINGS = settings(FUZZ, max_examples=max(60, EXAMPLES))
number = token


def check(path: Path) -> None:
    """Reading gives a TrackkitError or a table that satisfies every documented invariant."""
    try:
        t = read_mot_txt(path, "result")
    except TrackkitError:
        return
    assert np.all(np.isfinite(t.xyxy)) and np.all(t.xyxy[:, 2] >= t.xyxy[:, 0])
    assert np.all(t.xyxy[:, 3] >= t.xyxy[:, 1]) and np.all(t.frames >= 1) and np.all(t.ids >= 0)
    assert len(t.lines) == len(t)


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes(tmp_path: Path, data: bytes) -> None:
    p = tmp_path / "r.txt"
    p.write_bytes(data)
    check(p)


@SETTINGS
@given(
    st.lists(st.lists(number, min_size=0, max_size=12), max_size=6),
    st.sampled_from([",", " ", "\t", ", "]),
    st.sampled_from(["\n", "\r\n"]),
)
def test_random_tables(tmp_path: Path, rows: list[list[str]], sep: str, eol: str) -> None:
    p = tmp_path / "t.txt"
    p.write_text(eol.join(sep.join(r) for r in rows))
    check(p)


valid_row = st.tuples(
    st.integers(1, 10**6),
    st.integers(0, 2**40),
    st.floats(-1e4, 1e4, allow_nan=False),
    st.floats(-1e4, 1e4, allow_nan=False),
    st.floats(0, 1e4, allow_nan=False),
    st.floats(0, 1e4, allow_nan=False),
    st.floats(-1, 1, allow_nan=False),
)


@SETTINGS
@given(
    st.lists(valid_row, max_size=20),
    st.sampled_from([",", " "]),
    st.sampled_from(["repr", "fixed"]),
)
def test_valid_tables_round_trip_exactly(tmp_path: Path, rows: list, sep: str, style: str) -> None:
    fmt = repr if style == "repr" else (lambda x: f"{x:.4f}")
    lines = [
        sep.join([str(f), str(i), *(fmt(v) for v in vals), "-1", "-1", "-1"])
        for f, i, *vals in rows
    ]
    data = ("\n".join(lines) + "\n").encode()
    p = tmp_path / "v.txt"
    p.write_bytes(data)
    t = read_mot_txt(p, "result")
    assert len(t) == len(rows)
    for k, (f, i, x, y, w, h, c) in enumerate(rows):
        assert t.frames[k] == f and t.ids[k] == i
        x, y, w, h, c = (float(fmt(v)) for v in (x, y, w, h, c))
        assert t.xyxy[k].tolist() == [x, y, x + w, y + h] and t.conf[k] == c
    # The vectorised parser and the line-by-line parser agree bit for bit.
    fast = parse_numeric_table(data, p, (10,))
    slow = _slow_parse(data, p, (10,))
    assert np.array_equal(fast.values, slow.values) and np.array_equal(fast.lines, slow.lines)


@SETTINGS
@given(st.lists(valid_row, min_size=1, max_size=8), st.data())
def test_one_corrupted_cell_is_reported_at_its_line(tmp_path: Path, rows: list, data) -> None:
    lines = [
        ",".join([str(f), str(i), *(repr(v) for v in vals), "-1", "-1", "-1"])
        for f, i, *vals in rows
    ]
    bad_line = data.draw(st.integers(0, len(lines) - 1))
    col = data.draw(st.integers(0, 5))
    bad = data.draw(st.sampled_from(["nan", "inf", "x", "", "-1e300", "1.5", "-7"]))
    cells = lines[bad_line].split(",")
    cells[col] = bad
    lines[bad_line] = ",".join(cells)
    p = tmp_path / "c.txt"
    p.write_text("\n".join(lines))
    legal = {2: {"1.5", "-7", "-1e300"}, 3: {"1.5", "-7", "-1e300"}, 4: {"1.5"}, 5: {"1.5"}}
    try:
        t = read_mot_txt(p, "result")
    except TrackkitError as err:
        assert f"line {bad_line + 1}" in str(err)
        assert bad not in legal.get(col, set())
        return
    # No error: the value was legal for that column and must be read exactly.
    assert bad in legal.get(col, set())
    x, y = t.xyxy[bad_line, 0], t.xyxy[bad_line, 1]
    read = {2: x, 3: y, 4: t.xyxy[bad_line, 2] - x, 5: t.xyxy[bad_line, 3] - y}[col]
    assert read == float(bad) or col in (4, 5) and read == (x + float(bad)) - x
