"""Where TeckTrack finds models and data and writes results.

The project root is ``$TECKTRACK_HOME`` when set, else the nearest folder at or above the
current directory that holds a ``models/`` or ``pyproject.toml`` next to ``tecktrack/``,
else the folder above the installed package (an editable checkout), else the current directory.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def project_root() -> Path:
    """The project folder that holds ``data/``, ``models/`` and ``results/``.

    Examples
    --------
    >>> (project_root() / "models").name
    'models'
    """
    env = os.environ.get("TECKTRACK_HOME")
    if env:
        return Path(env).resolve()
    cwd = Path.cwd().resolve()
    for folder in (cwd, *cwd.parents):
        if (folder / "tecktrack").is_dir() and (folder / "models").is_dir():
            return folder
    checkout = PACKAGE_DIR.parent
    if (checkout / "models").is_dir():
        return checkout
    return cwd


def models_dir() -> Path:
    """``<root>/models``: one sub-folder per model."""
    return project_root() / "models"


def data_dir() -> Path:
    """``<root>/data``: datasets (generated or user-supplied)."""
    return project_root() / "data"


def results_dir() -> Path:
    """``<root>/results``: everything runs write."""
    return project_root() / "results"


def new_run_dir(parent: str | Path | None = None, prefix: str = "") -> Path:
    """Create and return a fresh, never-reused run folder under ``parent``.

    The id is a UTC timestamp plus a random suffix; the folder is created with
    ``exist_ok=False`` so two runs can never share one.

    Examples
    --------
    >>> import tempfile
    >>> d = new_run_dir(tempfile.mkdtemp())
    >>> d.is_dir()
    True
    """
    parent = Path(parent) if parent is not None else results_dir() / "runs"
    parent.mkdir(parents=True, exist_ok=True)
    while True:
        run_id = f"{prefix}{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"
        path = parent / run_id
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
