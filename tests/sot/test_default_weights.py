"""Where trackers find their weights: trackkit's own models inside the package (so an
installed wheel works), published ones in the shared folder, names or paths alike."""

from __future__ import annotations

from pathlib import Path

import pytest

import trackkit
from trackkit.errors import ConfigError
from trackkit.sot.nets import default_weights, resolve_weights


@pytest.mark.parametrize("name", ["siamfc", "goturn", "mdnet", "goturn.pt"])
def test_own_models_ship_inside_the_package(name: str) -> None:
    path = default_weights(name)
    assert path.parent == Path(trackkit.__file__).resolve().parent / "assets"
    assert path.is_file()


def test_shared_models_and_names_or_paths(shared: Path, tmp_path: Path) -> None:
    assert default_weights("udt").resolve().is_relative_to(shared.resolve())
    assert resolve_weights(None, "dcfnet") == default_weights("dcfnet")
    assert resolve_weights("nanotrack_v3", "nanotrack_v2") == default_weights("nanotrack_v3")
    own = tmp_path / "mine.pt"
    own.write_bytes(b"x")
    assert resolve_weights(str(own), "siamfc") == own
    with pytest.raises(ConfigError, match="valid: "):
        default_weights("no-such-model")
