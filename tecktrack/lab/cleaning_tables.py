"""Tables the cleaning notebook shows: the dry-run move plan, outcome counts over confidence
thresholds, a seeded pick of images per outcome, and a seeded subset of a cleaning layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from tecktrack.cleaning.plan import FolderLayout, classify_images, misfiled_scores, outcome_counts

__all__ = ["cleaning_sweep", "move_plan", "pick_examples", "sample_layout"]

_OUTCOMES = ("TP", "TN", "FP", "FN")


def move_plan(frame: pd.DataFrame, root: str | Path) -> pd.DataFrame:
    """The moves a cleaning run proposes, paths relative to the layout ``root`` (dry run).

    Parameters
    ----------
    frame : DataFrame
        :func:`tecktrack.cleaning.classify_images` output.
    root : path
        The folder holding ``background/`` and the positive folder.

    Returns
    -------
    DataFrame
        ``outcome, source, destination, score`` for FN and FP images, highest score first
        within each outcome (FP first).

    Examples
    --------
    >>> f = pd.DataFrame({"image": ["/d/pos/a.jpg", "/d/background/b.jpg"],
    ...                   "move_to": ["", "/d/pos/b.jpg"], "outcome": ["TP", "FP"],
    ...                   "score": [0.9, 0.8]})
    >>> move_plan(f, "/d").values.tolist()
    [['FP', 'background/b.jpg', 'pos/b.jpg', 0.8]]
    """
    root = Path(root)
    moves = frame[frame["move_to"] != ""]
    plan = pd.DataFrame({
        "outcome": moves["outcome"].to_numpy(),
        "source": [Path(p).relative_to(root).as_posix() for p in moves["image"]],
        "destination": [Path(p).relative_to(root).as_posix() for p in moves["move_to"]],
        "score": moves["score"].to_numpy(np.float64),
    })
    plan = plan.sort_values(["outcome", "score", "source"], ascending=[True, False, True],
                            kind="stable", key=lambda c: c.map({"FP": 0, "FN": 1})
                            if c.name == "outcome" else c)
    return plan.reset_index(drop=True)


def cleaning_sweep(layout: FolderLayout, scores: np.ndarray, thresholds: Sequence[float],
                   truth_manifest: str | Path | None = None) -> pd.DataFrame:
    """TP/TN/FP/FN (and, with the manifest, move precision/recall) at several thresholds.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> for f in ("pos/a.jpg", "background/b.jpg"):
    ...     (d / f).parent.mkdir(exist_ok=True); (d / f).touch()
    >>> from tecktrack.cleaning import folder_layout
    >>> sweep = cleaning_sweep(folder_layout(d), np.array([0.9, 0.1]), [0.05, 0.5])
    >>> sweep[["TP", "TN", "FP", "FN"]].values.tolist()   # images: background/b, pos/a
    [[1, 0, 1, 0], [0, 0, 1, 1]]
    """
    rows = []
    for conf in thresholds:
        frame = classify_images(layout, scores, float(conf))
        row = {"conf": float(conf), **outcome_counts(frame)}
        if truth_manifest is not None:
            s = misfiled_scores(frame, truth_manifest)
            row.update(move_precision=s["precision"], move_recall=s["recall"])
        rows.append(row)
    return pd.DataFrame(rows)


def pick_examples(frame: pd.DataFrame, per_outcome: int, seed: int = 0) -> pd.DataFrame:
    """A seeded sample of up to ``per_outcome`` rows of each outcome (TP, TN, FP, FN order).

    Examples
    --------
    >>> f = pd.DataFrame({"name": list("abcd"), "outcome": ["TP", "TP", "FN", "TP"]})
    >>> pick_examples(f, 2, seed=0)[["name", "outcome"]].values.tolist()
    [['b', 'TP'], ['d', 'TP'], ['c', 'FN']]
    """
    if per_outcome < 1:
        raise ValueError(f"per_outcome must be at least 1, got {per_outcome}")
    rng = np.random.default_rng(seed)
    parts = []
    for outcome in _OUTCOMES:
        rows = np.flatnonzero(frame["outcome"].to_numpy() == outcome)
        if len(rows) > per_outcome:
            rows = np.sort(rng.choice(rows, size=per_outcome, replace=False))
        parts.append(frame.iloc[rows])
    return pd.concat(parts).reset_index(drop=True)


def sample_layout(layout: FolderLayout, n_images: int | None, seed: int = 0) -> FolderLayout:
    """The layout restricted to a seeded sample of ``n_images`` images (``None``: all).

    Examples
    --------
    >>> lay = FolderLayout(Path("d"), Path("d/p"), Path("d/background"),
    ...                    tuple(Path(f"d/p/{i}.jpg") for i in range(5)))
    >>> [p.name for p in sample_layout(lay, 2, seed=0).images]
    ['3.jpg', '4.jpg']
    """
    if n_images is None or n_images >= len(layout.images):
        return layout
    if n_images < 1:
        raise ValueError(f"n_images must be at least 1, got {n_images}")
    chosen = np.random.default_rng(seed).choice(len(layout.images), size=int(n_images),
                                                replace=False)
    return replace(layout, images=tuple(layout.images[i] for i in np.sort(chosen)))
