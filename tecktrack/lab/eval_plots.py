"""Evaluation figures that stay readable at 80 classes: mean PR curves with a band and the
best/worst classes named, small multiples per class, TIDE dAP bars, per-class AP differences
with their bootstrap intervals.

Examples
--------
>>> import matplotlib; matplotlib.use("Agg")
>>> e = pd.DataFrame({"A": [0.1, 0.0], "B": [0.05, 0.02]}, index=["Cls", "Loc"])
>>> [t.get_text() for t in error_bars_plot(e).axes[0].get_yticklabels()]
['Cls', 'Loc']
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tecktrack.metrics.curves import interpolated_pr

__all__ = ["class_diff_plot", "error_bars_plot", "mean_pr_plot", "pr_curves_grid",
           "pr_curves_summary"]


def _tables(curves: Mapping[str, pd.DataFrame], maps: Mapping[str, pd.Series] | None
            ) -> dict[str, tuple[pd.DataFrame, pd.Series]]:
    """Per model: interpolated precision per class and the AP50 used to rank classes."""
    out = {}
    for model, frame in curves.items():
        given = maps[model].dropna() if maps is not None else None
        table = interpolated_pr(frame, classes=given.index if given is not None else None)
        ap = given.reindex(table.columns) if given is not None else table.mean()
        out[model] = (table, ap.fillna(table.mean()))
    return out


def _band(ax, table: pd.DataFrame, colour, label: str) -> None:
    recall = table.index.to_numpy(np.float64)
    values = table.to_numpy(np.float64)
    if values.shape[1] == 0:
        return
    lo, hi = np.percentile(values, [25, 75], axis=1)
    ax.fill_between(recall, lo, hi, color=colour, alpha=0.18, lw=0)
    ax.plot(recall, values.mean(axis=1), color=colour, lw=2.2, label=label)


def pr_curves_summary(curves: Mapping[str, pd.DataFrame],
                      maps: Mapping[str, pd.Series] | None = None, n_named: int = 3) -> Figure:
    """One panel per model: class-mean interpolated PR curve with the inter-quartile band of
    the classes, and the ``n_named`` best and worst classes by AP50 drawn and named.

    ``curves`` holds :func:`tecktrack.metrics.pr_curves` frames; ``maps`` optionally each
    model's per-class AP50 indexed by class name (otherwise the curves' own AP50). The legend
    has at most ``2 * n_named + 1`` entries, whatever the number of classes.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> c = pd.DataFrame({"class_id": [0, 0, 1], "class": ["a", "a", "b"],
    ...                   "recall": [0.5, 1.0, 1.0], "envelope": [1.0, 0.5, 0.3]})
    >>> fig = pr_curves_summary({"m1": c, "m2": c}, n_named=1)
    >>> [ax.get_title() for ax in fig.axes], len(fig.axes[0].get_legend().texts)
    (['m1 (mAP50 0.526)', 'm2 (mAP50 0.526)'], 3)
    """
    tables = _tables(curves, maps)
    fig, axes = plt.subplots(1, len(tables), figsize=(5.8 * len(tables), 4.8), squeeze=False)
    for ax, (model, (table, ap)) in zip(axes.flat, tables.items(), strict=True):
        _band(ax, table, "black", f"mean of {table.shape[1]} classes (band: middle half)")
        ranked = ap.sort_values(ascending=False)
        best = list(ranked.index[:n_named])
        worst = [c for c in ranked.index[::-1][:n_named] if c not in best][::-1]
        for i, cls in enumerate(best):
            ax.plot(table.index, table[cls], color=plt.cm.Greens(0.9 - 0.2 * i), lw=1.2,
                    label=f"best: {cls} ({ap[cls]:.2f})")
        for i, cls in enumerate(worst):
            ax.plot(table.index, table[cls], color=plt.cm.Reds(0.5 + 0.2 * i), lw=1.2,
                    label=f"worst: {cls} ({ap[cls]:.2f})")
        mean_ap = float(table.mean().mean()) if table.shape[1] else float("nan")
        ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision",
               title=f"{model} (mAP50 {mean_ap:.3f})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower left", framealpha=0.85)
    fig.tight_layout()
    return fig


def pr_curves_grid(curves: Mapping[str, pd.DataFrame],
                   maps: Mapping[str, pd.Series] | None = None, ncols: int = 8) -> Figure:
    """Small multiples: one panel per class (sorted by the first model's AP50), every model
    overlaid, AP50 in the panel title. Readable at 80 classes (10 rows of 8).

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> c = pd.DataFrame({"class_id": [0, 1], "class": ["a", "b"], "recall": [1.0, 1.0],
    ...                   "envelope": [1.0, 0.5]})
    >>> [ax.get_title() for ax in pr_curves_grid({"m": c}).axes]
    ['a 1.00', 'b 0.50']
    """
    tables = _tables(curves, maps)
    first_table, first_ap = next(iter(tables.values()))
    classes = list(first_ap.sort_values(ascending=False).index)
    n = max(len(classes), 1)
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.9 * ncols, 1.75 * nrows + 0.6),
                             sharex=True, sharey=True, squeeze=False)
    for ax in axes.flat[len(classes):]:
        ax.axis("off")
    for ax, cls in zip(axes.flat, classes, strict=False):
        aps = []
        for i, (table, ap) in enumerate(tables.values()):
            if cls in table:
                ax.plot(table.index, table[cls], color=f"C{i}", lw=1.1)
                aps.append(f"{ap[cls]:.2f}")
        ax.set_title(f"{cls} {'/'.join(aps)}", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set(xlim=(0, 1), ylim=(0, 1.02))
        ax.grid(alpha=0.25)
    handles = [plt.Line2D([], [], color=f"C{i}", lw=1.5) for i in range(len(tables))]
    fig.legend(handles, list(tables), loc="upper center", ncol=len(tables), fontsize=8,
               frameon=False)
    fig.supxlabel("recall", fontsize=8)
    fig.supylabel("precision", fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (1.75 * nrows + 0.6)))
    return fig


def mean_pr_plot(curves: Mapping[str, pd.DataFrame],
                 maps: Mapping[str, pd.Series] | None = None) -> Figure:
    """Every model's class-mean PR curve in one panel, each with its inter-quartile band.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> c = pd.DataFrame({"class_id": [0], "class": ["a"], "recall": [1.0], "envelope": [0.8]})
    >>> len(mean_pr_plot({"A": c, "B": c}).axes[0].lines)
    2
    """
    fig, ax = plt.subplots(figsize=(6.2, 4.8))
    for i, (model, (table, _)) in enumerate(_tables(curves, maps).items()):
        mean_ap = float(table.mean().mean()) if table.shape[1] else float("nan")
        _band(ax, table, f"C{i}", f"{model} (mAP50 {mean_ap:.3f})")
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision",
           title="class-mean precision-recall at IoU 0.5 (bands: middle half of the classes)")
    ax.title.set_fontsize(9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def error_bars_plot(errors: pd.DataFrame, title: str = "TIDE: AP50 gained by fixing each "
                                                        "error type") -> Figure:
    """Grouped horizontal bars of dAP (rows: error types, columns: models).

    ``errors`` is ``Comparison.errors_table()`` (an ``AP50 (TIDE)`` row is left out) or a
    frame built from ``ErrorBreakdown.to_dict()``.
    """
    frame = errors.drop(index=["AP50 (TIDE)"], errors="ignore")
    n_rows, n_models = frame.shape
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * n_rows * n_models + 1.6))
    height = 0.8 / max(n_models, 1)
    y = np.arange(n_rows)
    for i, model in enumerate(frame.columns):
        values = frame[model].to_numpy(np.float64)
        ax.barh(y + (i - (n_models - 1) / 2) * height, values, height, color=f"C{i}",
                label=str(model))
        for yi, v in zip(y, values, strict=True):
            ax.annotate(f"{v:.3f}", (max(v, 0), yi + (i - (n_models - 1) / 2) * height),
                        xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)
    ax.set_yticks(y, [str(i) for i in frame.index])
    ax.invert_yaxis()
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("dAP (AP50 points as a fraction)")
    ax.set_title(title, fontsize=10)
    ax.margins(x=0.15)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def class_diff_plot(table: pd.DataFrame, title: str | None = None) -> Figure:
    """Per-class difference ``B - A`` with its interval, sorted; one row per class.

    ``table`` is ``Comparison.class_table()`` (columns ``diff``, ``diff lo``, ``diff hi``);
    intervals that exclude 0 are drawn dark. Classes without ground truth are left out.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> t = pd.DataFrame({"diff": [0.1, -0.2], "diff lo": [0.05, -0.3],
    ...                   "diff hi": [0.2, 0.1]}, index=["a", "b"])
    >>> [t.get_text() for t in class_diff_plot(t).axes[0].get_yticklabels()]
    ['a', 'b']
    """
    frame = table.dropna(subset=["diff"]).sort_values("diff", ascending=False)
    n = len(frame)
    fig, ax = plt.subplots(figsize=(7.0, 0.2 * n + 1.6))
    y = np.arange(n)
    diff = frame["diff"].to_numpy(np.float64)
    lo = frame["diff lo"].to_numpy(np.float64)
    hi = frame["diff hi"].to_numpy(np.float64)
    sure = (lo > 0) | (hi < 0)
    colour = np.where(diff >= 0, "C2", "C3")
    for mask, alpha in ((sure, 1.0), (~sure, 0.35)):
        if mask.any():
            err = np.vstack([diff[mask] - lo[mask], hi[mask] - diff[mask]])
            err = np.where(np.isnan(err), 0.0, err)
            ax.errorbar(diff[mask], y[mask], xerr=err, fmt="none", ecolor="grey", alpha=alpha,
                        lw=1)
            ax.scatter(diff[mask], y[mask], c=list(colour[mask]), alpha=alpha, s=14, zorder=3)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, [str(i) for i in frame.index], fontsize=7 if n > 30 else 9)
    ax.invert_yaxis()
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xlabel("AP difference (B - A); dark: interval excludes 0")
    ax.set_title(title or "per-class AP difference with 95% interval", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
