"""Shared pytest fixtures.

Tests that need the ``shared`` data folder use the ``shared`` fixture: it skips with a clear
reason when the folder is absent on a developer machine, and fails in CI (``CI=true``), where
the folder is always present.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from trackkit.shared import shared_dir

try:  # every hypothesis property draws the same examples on every run (no example database):
    # a test result depends on the code only. TRACKKIT_FUZZ_RANDOM=1 explores new examples.
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile(
        "trackkit", derandomize=not os.environ.get("TRACKKIT_FUZZ_RANDOM"), database=None
    )
    _hypothesis_settings.load_profile("trackkit")
except ImportError:  # hypothesis is a dev extra
    pass


@pytest.fixture(scope="session")
def shared() -> Path:
    """The ``shared`` folder (env ``TRACKKIT_SHARED``, default ``../shared``)."""
    root = shared_dir()
    if root is None:
        if os.environ.get("CI"):
            pytest.fail("CI runs need the shared data folder beside the repository")
        pytest.skip("shared data folder not found (set TRACKKIT_SHARED)")
    return root


@pytest.fixture(scope="session", autouse=True)
def _empty_model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test starts with an empty model cache (``TRACKKIT_HOME``), whatever the user's
    own cache holds, so defaults such as the best cached detector are the same everywhere."""
    home = tmp_path_factory.mktemp("trackkit_home")
    old = os.environ.get("TRACKKIT_HOME")
    os.environ["TRACKKIT_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("TRACKKIT_HOME", None)
    else:
        os.environ["TRACKKIT_HOME"] = old
