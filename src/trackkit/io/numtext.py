"""Fast, strict parsing of delimited numeric text tables (the MOTChallenge / OTB layout).

A table is lines of numbers separated by commas (whitespace around them allowed) or, in a
file without commas, by spaces/tabs. Blank lines are skipped and a trailing delimiter is
allowed. The fast path hands the whole text to numpy's C parser; only when that fails is the
text scanned line by line to report the first problem with its line and column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from trackkit.errors import DataNotFoundError, FormatError

__all__ = ["NumericTable", "parse_numeric_table", "read_text"]


@dataclass(frozen=True)
class NumericTable:
    """Parsed rows: ``values`` ``(N, C)`` float64 and the 1-based file ``lines`` ``(N,)``."""

    values: NDArray[np.float64]
    lines: NDArray[np.int64]


def _decode(data: bytes, path: str | Path) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FormatError(path, "not a text file (invalid UTF-8 bytes)", line) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise FormatError(path, "not a text file (NUL byte)", line)
    return text


def read_text(path: str | Path) -> str:
    """The text of the annotation file ``path`` (UTF-8, a BOM allowed).

    Raises:
        DataNotFoundError: no such file.
        FormatError: a folder, an unreadable file, or bytes that are not text (with the line
            of the first bad byte).
    """
    p = Path(path)
    if not p.exists():
        raise DataNotFoundError(f"{p}: no such file")
    if p.is_dir():
        raise FormatError(p, "is a folder, expected a text file")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise FormatError(p, f"cannot be read: {exc.strerror or exc}") from None
    return _decode(data, p)


def _describe_columns(allowed: tuple[int, ...]) -> str:
    if len(allowed) == 1:
        return str(allowed[0])
    if list(allowed) == list(range(allowed[0], allowed[-1] + 1)):
        return f"{allowed[0]} to {allowed[-1]}"
    return " or ".join(str(a) for a in allowed)


_DIGIT, _DOT, _MINUS, _PLUS, _EXP, _SPACE, _COMMA, _NEWLINE, _OTHER = range(9)
_LUT = np.full(256, _OTHER, np.int8)
_LUT[ord("0") : ord("9") + 1] = _DIGIT
_LUT[ord(".")] = _DOT
_LUT[ord("-")] = _MINUS
_LUT[ord("+")] = _PLUS
_LUT[ord("e")] = _EXP
_LUT[ord("E")] = _EXP
_LUT[[ord(" "), ord("\t"), ord("\r")]] = _SPACE
_LUT[ord(",")] = _COMMA
_LUT[ord("\n")] = _NEWLINE
_POW10 = 10.0 ** np.arange(23)
_POW10_INT = 10 ** np.arange(19, dtype=np.int64)
_EXACT_INT = 2**53
_EXTENDED = np.finfo(np.longdouble).nmant >= 63  # x87 80-bit long double


def _long_mantissa(
    mantissa: NDArray[np.int64], frac: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """``mantissa / 10**frac`` for mantissas of 2**53 .. 10**18, correctly rounded.

    The quotient of two numbers exact in 64-bit-mantissa long double is rounded once to 64
    bits, then to 53: that double rounding can differ from rounding the true quotient only
    when the 64-bit result lies exactly half-way between two doubles; such tokens are marked
    ``ambiguous`` (for an exact parse elsewhere), as is everything without an 80-bit type.
    """
    if not _EXTENDED:
        return np.zeros(len(mantissa)), np.ones(len(mantissa), bool)
    q = mantissa.astype(np.longdouble) / (np.longdouble(10) ** frac.astype(np.longdouble))
    d = q.astype(np.float64)
    other = np.nextafter(d, np.where(q > d, np.inf, -np.inf))
    mid = (d.astype(np.longdouble) + other.astype(np.longdouble)) / 2
    return d, q == mid


def _gap_info(gap: bytes) -> tuple[int, bool]:
    """Newlines in a delimiter run and whether its commas are well placed."""
    parts = gap.split(b"\n")
    if len(parts) == 1:
        return 0, gap.count(b",") == 1
    ok = parts[0].count(b",") <= 1 and all(b"," not in q for q in parts[1:])
    return len(parts) - 1, ok


def _fast_parse(
    data: bytes, allowed: tuple[int, ...]
) -> tuple[NDArray[np.float64], NDArray[np.int64]] | None:
    """Vectorised parse of a well-formed table; ``None`` when anything is unusual.

    Exactness: a token made of an optional leading ``-``, digits (mantissa < 2**53) and at
    most one ``.`` is ``mantissa / 10**k`` with both operands exact in float64, so the one
    division is correctly rounded — the same double as ``float(token)``. All other tokens
    (exponents, ``+``, longer mantissas) go through numpy's C parser in one batch.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    buf = np.frombuffer(data, np.uint8)
    cls = np.take(_LUT, buf)
    if np.any(cls == _OTHER):
        return None
    is_tok = cls <= _EXP
    edges = np.diff(is_tok.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    n_tok = len(starts)
    if n_tok == 0:
        return np.zeros((0, 0)), np.zeros(0, np.int64)
    comma_file = b"," in data
    # Delimiter runs between tokens: newlines they hold, and comma placement.
    gap_len = starts[1:] - ends[:-1]
    first_byte = buf[ends[:-1]]
    gap_nl = (first_byte == ord("\n")).astype(np.int64)
    gap_ok = (first_byte == ord(",")) | (gap_nl == 1) if comma_file else np.ones(n_tok - 1, bool)
    for i in np.flatnonzero(gap_len != 1).tolist():
        nl, ok = _gap_info(data[ends[i] : starts[i + 1]])
        gap_nl[i] = nl
        gap_ok[i] = ok or not comma_file
    lead, trail = data[: starts[0]], data[ends[-1] :]
    if comma_file and (b"," in lead or not _gap_info(trail + b"\n")[1]):
        return None
    if not np.all(gap_ok):
        return None
    line_of_tok = np.empty(n_tok, np.int64)
    line_of_tok[0] = lead.count(b"\n")
    np.cumsum(gap_nl, out=line_of_tok[1:])
    line_of_tok[1:] += line_of_tok[0]
    first_of_line = np.ones(n_tok, bool)
    first_of_line[1:] = gap_nl > 0
    row_start = np.flatnonzero(first_of_line)
    per_row = np.diff(np.append(row_start, n_tok))
    ncol = int(per_row[0])
    if ncol not in allowed or np.any(per_row != ncol):
        return None
    # Token values: non-digit characters inside tokens decide which tokens are simple.
    marks = np.flatnonzero((cls >= _DOT) & is_tok)
    tok_of_byte = np.cumsum(edges[:-1] == 1, dtype=np.int32)
    mark_tok = tok_of_byte[marks].astype(np.int64) - 1
    del tok_of_byte
    mark_cls = cls[marks]
    n_marks = np.bincount(mark_tok, minlength=n_tok)
    n_digits = (ends - starts) - n_marks
    is_minus = mark_cls == _MINUS
    is_dot = mark_cls == _DOT
    special = np.bincount(mark_tok[~(is_minus | is_dot)], minlength=n_tok) > 0
    special |= np.bincount(mark_tok[is_dot], minlength=n_tok) > 1
    special |= np.bincount(mark_tok[is_minus], minlength=n_tok) > 1
    special[mark_tok[is_minus & (marks != starts[mark_tok])]] = True
    special |= (n_digits == 0) | (n_digits > 18)
    digits = buf[np.flatnonzero(cls == _DIGIT)]
    total = len(digits)
    cum_end = np.cumsum(n_digits)
    after = np.repeat(cum_end, n_digits) - np.arange(1, total + 1)
    np.minimum(after, 18, out=after)
    contrib = (digits - 48).astype(np.int64) * _POW10_INT[after]
    del after, digits
    has_digits = n_digits > 0
    mantissa = np.zeros(n_tok, np.int64)
    if np.any(has_digits):
        mantissa[has_digits] = np.add.reduceat(contrib, (cum_end - n_digits)[has_digits])
    frac = np.zeros(n_tok, np.int64)
    frac[mark_tok[is_dot]] = ends[mark_tok[is_dot]] - marks[is_dot] - 1
    np.minimum(frac, 22, out=frac)
    values = mantissa.astype(np.float64) / _POW10[frac]
    long = np.flatnonzero((mantissa >= _EXACT_INT) & ~special)
    if len(long):
        values[long], ambiguous = _long_mantissa(mantissa[long], frac[long])
        special[long[ambiguous]] = True
    values[np.bincount(mark_tok[is_minus], minlength=n_tok) > 0] *= -1.0
    odd = np.flatnonzero(special)
    if len(odd):
        joined = b",".join(data[s:e] for s, e in zip(starts[odd].tolist(), ends[odd].tolist()))
        try:
            parsed = np.fromstring(joined, sep=",")  # noqa: NPY201
        except ValueError:
            return None
        if len(parsed) != len(odd):
            return None
        values[odd] = parsed
    lines = line_of_tok[row_start] + 1
    return values.reshape(len(row_start), ncol), lines


def parse_numeric_table(
    data: bytes, path: str | Path, allowed_columns: tuple[int, ...]
) -> NumericTable:
    """Parse ``data`` (the bytes of ``path``) as a table of numbers.

    Args:
        data: the file's bytes (UTF-8; a BOM is allowed).
        path: the file's name, used in error messages.
        allowed_columns: the column counts a row may have; every row must have the same count.

    Returns:
        A :class:`NumericTable`; an empty or blank file gives ``(0, 0)`` values.

    Raises:
        FormatError: with the line and column of the first problem.
    """
    fast = _fast_parse(data, allowed_columns)
    if fast is not None:
        return NumericTable(*fast)
    return _slow_parse(data, path, allowed_columns)


def _slow_parse(data: bytes, path: str | Path, allowed_columns: tuple[int, ...]) -> NumericTable:
    text = _decode(data, path)
    comma = "," in text
    strip_chars = ", \t\r\f\v" if comma else " \t\r\f\v"
    rows: list[str] = []
    line_no: list[int] = []
    for i, line in enumerate(text.split("\n")):
        s = line.rstrip(strip_chars) if not comma else _strip_one_comma(line)
        if s.strip():
            rows.append(s)
            line_no.append(i + 1)
    if not rows:
        return NumericTable(np.zeros((0, 0)), np.zeros(0, np.int64))
    values: list[list[float]] = []
    first_count: int | None = None
    for text_row, ln in zip(rows, line_no):
        tokens = [t.strip() for t in text_row.split(",")] if comma else text_row.split()
        if len(tokens) not in allowed_columns:
            raise FormatError(
                path, f"{len(tokens)} columns, expected {_describe_columns(allowed_columns)}", ln
            )
        if first_count is None:
            first_count = len(tokens)
        elif len(tokens) != first_count:
            raise FormatError(
                path, f"{len(tokens)} columns where earlier lines have {first_count}", ln
            )
        row = []
        for col, tok in enumerate(tokens, start=1):
            if not tok:
                raise FormatError(path, "empty value", ln, col)
            try:
                row.append(float(tok))
            except ValueError:
                shown = tok if len(tok) <= 30 else tok[:27] + "..."
                raise FormatError(path, f"not a number: {shown!r}", ln, col) from None
        values.append(row)
    return NumericTable(np.asarray(values, np.float64), np.asarray(line_no, np.int64))


def _strip_one_comma(line: str) -> str:
    s = line.rstrip(" \t\r\f\v")
    return s[:-1] if s.endswith(",") else s
