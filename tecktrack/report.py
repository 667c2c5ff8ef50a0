"""Saving what the analyses show: figures as PNG and tables as CSV, at stable paths."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tecktrack.paths import results_dir


def _out(out_dir: str | Path | None, default: str) -> Path:
    path = Path(out_dir) if out_dir is not None else results_dir() / default
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_figure(fig, name: str, out_dir: str | Path | None = None, dpi: int = 100) -> Path:
    """Save a matplotlib figure as ``<out_dir>/<name>.png`` (default ``results/figures``).

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt, tempfile
    >>> fig, ax = plt.subplots(); _ = ax.plot([0, 1])
    >>> save_figure(fig, "line", tempfile.mkdtemp()).suffix
    '.png'
    """
    path = _out(out_dir, "figures") / f"{name}.png"
    fig.savefig(path, dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return path


def save_table(table: pd.DataFrame, name: str, out_dir: str | Path | None = None,
               index: bool = False) -> Path:
    """Save a DataFrame as ``<out_dir>/<name>.csv`` (default ``results/tables``).

    Examples
    --------
    >>> import tempfile
    >>> save_table(pd.DataFrame({"a": [1]}), "t", tempfile.mkdtemp()).name
    't.csv'
    """
    path = _out(out_dir, "tables") / f"{name}.csv"
    table.to_csv(path, index=index)
    return path
