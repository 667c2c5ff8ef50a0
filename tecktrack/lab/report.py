"""Saving what the analyses show: figures as PNG and tables as CSV, at stable paths."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tecktrack.paths import results_dir

__all__ = ["flat_header", "notebook_setup", "save_figure", "save_table"]


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

    Multi-level column headers (``("model 1", "precision")``) are written as one header row
    with the levels joined by a space (``model 1 precision``), so the CSV reads back flat.

    Examples
    --------
    >>> import tempfile
    >>> save_table(pd.DataFrame({"a": [1]}), "t", tempfile.mkdtemp()).name
    't.csv'
    >>> wide = pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("m", "p"), ("m", "r")]))
    >>> list(pd.read_csv(save_table(wide, "w", tempfile.mkdtemp())).columns)
    ['m p', 'm r']
    """
    path = _out(out_dir, "tables") / f"{name}.csv"
    flat_header(table).to_csv(path, index=index)
    return path


def flat_header(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with multi-level column labels joined by spaces (unchanged if already flat).

    Examples
    --------
    >>> t = pd.DataFrame([[1]], columns=pd.MultiIndex.from_tuples([("model 1", "P")]))
    >>> list(flat_header(t).columns)
    ['model 1 P']
    """
    if not isinstance(table.columns, pd.MultiIndex):
        return table
    return table.set_axis([" ".join(str(level) for level in c) for c in table.columns], axis=1)


def notebook_setup(out_dir: str | Path, *, width: int = 120,
                   max_columns: int = 20) -> tuple[Path, Path]:
    """What every analysis notebook does first; returns its ``(figures, tables)`` folders.

    Builds the embedded default world under ``data/`` when it is missing (a fresh clone), and
    sets the pandas display options the notebooks' tables are laid out for.

    Examples
    --------
    >>> figures, tables = notebook_setup("../results")                 # doctest: +SKIP
    >>> figures.as_posix()                                              # doctest: +SKIP
    '../results/figures'
    """
    from tecktrack.synth import ensure_default_world

    ensure_default_world(quiet=True)
    pd.set_option("display.width", width)
    pd.set_option("display.max_columns", max_columns)
    return Path(out_dir) / "figures", Path(out_dir) / "tables"
