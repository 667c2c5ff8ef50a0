"""Class-balanced oversampling: how many augmented copies each image needs.

The plan is greedy and deterministic. The distance of the dataset from balance is
``sum_c |target - count_c|`` over the classes present (box counts). Each step adds one copy
of the image (with copies left) whose boxes reduce that distance the most - its rare-class
boxes close gaps, its boxes of classes already at the target count against it - and stops
when no copy reduces it. Ties go to the image with fewer copies so far, then the first by
name. Copying an image also copies its common-class boxes, so classes move *toward* balance
rather than to exact equality; the projected counts are returned so the plan can be judged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tecktrack.datasets.box_table import BoxTable

__all__ = ["oversampling_plan", "class_count_matrix"]


def class_count_matrix(gt: BoxTable, n_classes: int | None = None) -> np.ndarray:
    """Boxes per (image, class), shape ``(n_images, n_classes)``, int64.

    Examples
    --------
    >>> t = BoxTable(["a", "b"], [0, 0, 1], [0, 2, 2], [[.5, .5, .1, .1]] * 3)
    >>> class_count_matrix(t)
    array([[1, 0, 1],
           [0, 0, 1]])
    """
    n_classes = n_classes or (int(gt.class_ids.max()) + 1 if len(gt) else 0)
    flat = gt.image * n_classes + gt.class_ids
    return np.bincount(flat, minlength=gt.n_images * n_classes).reshape(gt.n_images, n_classes)


def oversampling_plan(gt: BoxTable, *, target: str | int = "max", max_copies: int = 4,
                      names: Sequence[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Plan augmented copies per image to bring class box counts toward ``target``.

    Parameters
    ----------
    gt : BoxTable
        Labels of the dataset (one image per row of the plan).
    target : "max", "median" or int
        Box count each class should reach: the largest class's count, the median class
        count, or a number.
    max_copies : int
        At most this many copies of any one image.
    names : sequence of str, optional
        Class names for the summary.

    Returns
    -------
    plan : DataFrame
        ``image, copies, classes`` for images with at least one copy, most copies first.
    summary : DataFrame
        ``class, before, after, target`` per class present in the data.

    Examples
    --------
    >>> t = BoxTable(["a", "b", "c", "d"], [0, 1, 2, 3], [0, 0, 0, 1], [[.5, .5, .1, .1]] * 4)
    >>> plan, summary = oversampling_plan(t)
    >>> plan.values.tolist(), summary["after"].tolist()
    ([['d', 2, '1']], [3, 3])
    """
    if max_copies < 0:
        raise ValueError(f"max_copies must be >= 0, got {max_copies}")
    counts = class_count_matrix(gt)
    before = counts.sum(axis=0)
    present = before > 0
    goal = _target(before[present], target)
    copies = np.zeros(gt.n_images, np.int64)
    current = np.where(present, before, goal).astype(np.int64)   # absent classes never count
    while True:
        room = np.flatnonzero(copies < max_copies)
        if not len(room):
            break
        gain = (np.abs(goal - (current + counts[room])) - np.abs(goal - current)).sum(axis=1)
        best = room[np.lexsort((room, copies[room], gain))[0]]
        if gain[np.searchsorted(room, best)] >= 0:
            break
        copies[best] += 1
        current += counts[best]
    current = np.where(present, current, 0)
    return _plan_frame(gt, counts, copies, names), _summary(before, current, goal, present, names)


def _target(counts: np.ndarray, target: str | int) -> int:
    if isinstance(target, str):
        if target == "max":
            return int(counts.max()) if len(counts) else 0
        if target == "median":
            return int(np.median(counts)) if len(counts) else 0
        raise ValueError(f"target must be 'max', 'median' or a number, got {target!r}")
    return int(target)


def _label(names: Sequence[str] | None, c: int) -> str:
    return names[c] if names is not None and c < len(names) else str(c)


def _plan_frame(gt: BoxTable, counts: np.ndarray, copies: np.ndarray,
                names: Sequence[str] | None) -> pd.DataFrame:
    chosen = np.flatnonzero(copies > 0)
    order = chosen[np.lexsort((chosen, -copies[chosen]))]
    rows = [{"image": gt.stems[i], "copies": int(copies[i]),
             "classes": ",".join(_label(names, c) for c in np.flatnonzero(counts[i]))}
            for i in order]
    return pd.DataFrame(rows, columns=["image", "copies", "classes"])


def _summary(before: np.ndarray, after: np.ndarray, goal: int, present: np.ndarray,
             names: Sequence[str] | None) -> pd.DataFrame:
    ids = np.flatnonzero(present)
    return pd.DataFrame({"class": [_label(names, c) for c in ids], "before": before[ids],
                         "after": after[ids], "target": goal})
