"""Shared pytest fixtures and the `real` marker's skip logic."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

REPO_ROOT = Path(__file__).resolve().parents[1]

# The real-browser tests (tests/browser) need Chromium and JupyterLab: `make test-browser`
# runs them (it sets TECKTRACK_BROWSER_TESTS=1); plain `make test` does not collect them.
collect_ignore = [] if os.environ.get("TECKTRACK_BROWSER_TESTS") else ["browser"]

# Property tests: the same examples on every run (derived from each test, no example database,
# no deadline: a loaded 2-core CI machine must not fail a test for being slow). For new
# random examples on each run: HYPOTHESIS_PROFILE=explore .venv/bin/pytest tests/test_nms.py
settings.register_profile("tecktrack", deadline=None, derandomize=True, database=None)
settings.register_profile("explore", deadline=None, max_examples=2_000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "tecktrack"))


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
