from dataclasses import dataclass

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
