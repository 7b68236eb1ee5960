from dataclasses import dataclass
from pathlib import Path

import pytest

from trackkit.config import make_config, parse_overrides
from trackkit.errors import ConfigError
from trackkit.registry import Registry


def test_registry_build_and_unknown_name_lists_valid() -> None:
    reg: Registry[object] = Registry("widget")

    @reg.register("alpha")
    class Alpha:
        """The alpha widget."""

        def __init__(self, size: int = 1) -> None:
            self.size = size

    assert reg.build("ALPHA", size=3).size == 3  # type: ignore[attr-defined]
    assert reg.available() == ["alpha"]
    assert reg.summary("alpha") == "The alpha widget."
    with pytest.raises(ConfigError, match="valid names: alpha"):
        reg.build("beta")
    with pytest.raises(ConfigError, match="bad configuration"):
        reg.build("alpha", colour=2)


def test_make_config_and_overrides() -> None:
    @dataclass(frozen=True)
    class Cfg:
        a: int = 1
        b: float = 0.5

    assert make_config(Cfg, **parse_overrides(["a=3", "b=0.25"])) == Cfg(3, 0.25)
    with pytest.raises(ConfigError, match="valid options: a, b"):
        make_config(Cfg, c=1)
    with pytest.raises(ConfigError):
        parse_overrides(["novalue"])
    assert parse_overrides(["x=true", "y=hello", "z=(1,2)"]) == {
        "x": True,
        "y": "hello",
        "z": (1, 2),
    }


def test_registry_loads_every_module_of_its_packages_lazily(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No hand-kept module list: a new module in the package registers itself; a module
    that cannot be imported is named in the error for an unknown name."""
    import sys

    pkg = tmp_path / "tkplugins"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "one.py").write_text(
        "from tests_registry_target import REG\n"
        "@REG.register('one')\n"
        "def one(x=1):\n    '''One.'''\n    return ('one', x)\n"
    )
    (pkg / "broken.py").write_text("import no_such_module_here\n")
    (pkg / "_private.py").write_text("raise RuntimeError('never imported')\n")
    target = tmp_path / "tests_registry_target.py"
    target.write_text(
        "from trackkit.registry import Registry\n"
        "REG = Registry('plugin', packages=('tkplugins',))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("tkplugins", "tests_registry_target"):
        sys.modules.pop(name, None)
    from tests_registry_target import REG  # type: ignore[import-not-found]

    assert "tkplugins.one" not in sys.modules  # nothing imported before the first lookup
    assert REG.available() == ["one"]
    REG.register_preset("one-big", "one", "One, big.", x=10)
    assert REG.build("one-big") == ("one", 10)
    assert REG.build("one-big", x=2) == ("one", 2)  # the caller's keys win
    assert REG.preset("one-big").overrides == {"x": 10}
    assert REG.summary("one-big") == "One, big."
    with pytest.raises(ConfigError, match=r"tkplugins\.broken could not be imported"):
        REG.build("two")
    with pytest.raises(ConfigError, match="registered twice"):
        REG.register_preset("one", "one", "again")


def test_config_base_checks_declared_ranges_and_relations() -> None:
    from typing import ClassVar

    from trackkit.config import Config, require

    @dataclass(frozen=True)
    class Window(Config):
        RANGES: ClassVar[str] = "low in [0, high]; high <= 1; step > 0; opt >= 2"

        low: float = 0.1
        high: float = 0.5
        step: int = 1
        opt: int | None = None
        mode: str = "a"

        def validate(self) -> None:
            require(self.mode in ("a", "b"), "mode: a or b")

    Window()
    Window(opt=3)
    for kw, msg in [
        ({"low": 0.6}, r"low must be in \[0, high\], got 0.6"),
        ({"high": 2.0}, "high must be <= 1, got 2.0"),
        ({"step": 0}, "step must be > 0, got 0"),
        ({"opt": 1}, "opt must be >= 2, got 1"),
        ({"mode": "c"}, "mode: a or b"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            Window(**kw)  # type: ignore[arg-type]
