"""Shared pytest fixtures.

Tests that need the ``shared`` data folder use the ``shared`` fixture: it skips with a clear
reason when the folder is absent on a developer machine, and fails in CI (``CI=true``), where
the folder is always present.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from trackkit.shared import shared_dir


@pytest.fixture(scope="session")
def shared() -> Path:
    """The ``shared`` folder (env ``TRACKKIT_SHARED``, default ``../shared``)."""
    root = shared_dir()
    if root is None:
        if os.environ.get("CI"):
            pytest.fail("CI runs need the shared data folder beside the repository")
        pytest.skip("shared data folder not found (set TRACKKIT_SHARED)")
    return root
