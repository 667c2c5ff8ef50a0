"""Shared pytest fixtures and the `real` marker's skip logic."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# The real-browser tests (tests/browser) need Chromium and JupyterLab: `make test-browser`
# runs them (it sets TECKTRACK_BROWSER_TESTS=1); plain `make test` does not collect them.
collect_ignore = [] if os.environ.get("TECKTRACK_BROWSER_TESTS") else ["browser"]


def _real_root() -> Path | None:
    env = os.environ.get("TECKTRACK_REAL_DATA")
    if not env:
        return None
    path = Path(env)
    if not path.is_absolute():
        path = (REPO_ROOT / path).resolve()
    return path if path.is_dir() else None


def pytest_collection_modifyitems(config, items):
    if _real_root() is not None:
        return
    skip = pytest.mark.skip(reason="TECKTRACK_REAL_DATA unset or missing (see ../shared/real)")
    for item in items:
        if "real" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def real_data() -> Path:
    """Root of ../shared/real (read-only). Tests using it must be marked `real`."""
    root = _real_root()
    if root is None:
        pytest.skip("TECKTRACK_REAL_DATA unset")
    return root


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT
