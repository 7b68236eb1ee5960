"""Fuzzing the file-name conventions of every ReID dataset, and the options every verb takes
(``--set KEY=VALUE`` and configuration values): a valid result or one error that names the
file or the option."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from fuzzlib import FUZZ, clean
from hypothesis import given
from hypothesis import strategies as st

from trackkit.config import parse_overrides
from trackkit.errors import ConfigError, TrackkitError
from trackkit.reid.data.names import PARSERS

pytestmark = pytest.mark.timeout(60)  # the whole fuzz folder runs in well under a minute

name_chars = st.sampled_from(list("0123456789_-abcsfx.") + ["jpg", "png", ".jpeg", "c", "s"])
names = st.one_of(
    st.lists(name_chars, max_size=14).map("".join),
    st.text(max_size=20),
    st.from_regex(r"-?\d{1,5}_c\d{1,2}(s\d_\d{1,6}_\d{1,2}|_f\d{1,7})\.(jpg|png)", fullmatch=True),
    st.from_regex(r"\d{1,4}_\d{1,3}(_\d{1,3})?\.(jpg|png|bmp)", fullmatch=True),
    st.from_regex(r"\d{4,8}\.(jpg|png)", fullmatch=True),
    st.from_regex(r"\d{1,4}_[abc]\.png", fullmatch=True),
    st.from_regex(r"\d{1,4}(_\d{1,4}){6}\.jpeg", fullmatch=True),
)


@FUZZ
@given(st.sampled_from(sorted(PARSERS)), names)
def test_reid_file_names(dataset: str, name: str) -> None:
    if "/" in name or "\x00" in name or name in ("", ".", ".."):
        return
    path = Path("data") / dataset / name
    item = clean(lambda: PARSERS[dataset](path), path)
    if item is not None:
        assert item.path == path and item.camid >= 0 and isinstance(item.pid, int)
        assert item.pid >= -1
        digits = "".join(ch for ch in path.stem.split("_")[0] if ch.isdigit())
        if dataset not in ("cuhk01",) and item.pid >= 0:
            assert int(digits) == item.pid


def _trackers() -> list[tuple[str, str, type]]:
    from trackkit import mot, sot

    out = []
    for family, module in (("sot", sot), ("mot", mot)):
        registry = sot.SOT_TRACKERS if family == "sot" else mot.MOT_TRACKERS
        for name in module.available():
            cls = getattr(registry.get(name), "config_class", None)
            if dataclasses.is_dataclass(cls):
                out.append((family, name, cls))
    return out


value_text = st.one_of(
    st.sampled_from(["abc", "sixty", "", "None", "true", "1e400", "nan", "-1", "0", "(1, 2)",
                     "[1]", "{}", "'x'", "3.5", "1_0", "0x10", "inf", "-inf", "__import__"]),
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=True).map(repr),
    st.text(max_size=6),
)  # fmt: skip


@pytest.mark.parametrize("family,name,cls", _trackers(), ids=lambda x: getattr(x, "__name__", x))
def test_set_options_of_every_tracker(family: str, name: str, cls: type) -> None:
    """``--set KEY=VALUE`` for a tracker: it builds, or one ConfigError naming the key."""
    from trackkit import mot, sot

    keys = [f.name for f in dataclasses.fields(cls) if f.init and f.name != "weights"]
    keys += ["not_an_option"]

    @FUZZ
    @given(st.sampled_from(keys), value_text)
    def run(key: str, text: str) -> None:
        try:
            options = parse_overrides([f"{key}={text}"])
        except ConfigError as exc:
            assert key in str(exc) or text in str(exc)
            return
        build = sot.build if family == "sot" else mot.build
        try:
            build(name, **options)
        except TrackkitError as exc:  # one line naming the option (or the one it conflicts with)
            message = str(exc)
            assert "\n" not in message and any(k in message for k in keys), message
        except (TypeError, ValueError) as exc:  # a raw Python error: the option is not named
            raise AssertionError(f"{name} {key}={text!r}: {type(exc).__name__}: {exc}") from exc

    run()


@FUZZ
@given(st.text(max_size=30))
def test_parse_overrides_never_executes_or_crashes(text: str) -> None:
    try:
        out = parse_overrides([text])
    except ConfigError as exc:
        assert "\n" not in str(exc).strip() or "\n" in text
        return
    assert len(out) == 1
