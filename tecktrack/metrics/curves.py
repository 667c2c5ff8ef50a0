"""Precision-recall curve points per class, for plotting."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import pandas as pd

from tecktrack.detections import Detections
from tecktrack.metrics._inputs import ExactBoxes, Names, flatten
from tecktrack.metrics.accumulate import COCO_RECALL_THRESHOLDS, class_order
from tecktrack.metrics.matching import AREA_RANGES, match


def pr_curves(gt: Mapping[Hashable, Detections], preds: Mapping[Hashable, Detections], *,
              iou: float = 0.5, names: Names = None, max_det: int | None = 100,
              areas: Mapping[Hashable, np.ndarray] | None = None,
              iscrowd: Mapping[Hashable, np.ndarray] | None = None,
              exact: ExactBoxes | None = None) -> pd.DataFrame:
    """One point per detection (descending score) of every class's precision-recall curve.

    The points are the ones COCO AP is read from (same matching and order, area "all", the
    top ``max_det`` per image and class, ignored detections left out). ``envelope`` is the
    monotone precision COCO interpolates. ``areas``, ``iscrowd`` and ``exact`` are as in
    :func:`tecktrack.metrics.evaluate`.

    Returns
    -------
    pandas.DataFrame
        Columns ``class_id, class, score, precision, recall, envelope``; ``recall`` is NaN
        for a class without ground truth. Plot with ``groupby("class")``.

    Examples
    --------
    >>> g = {"a": Detections([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 0])}
    >>> p = {"a": Detections([[0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 30]],
    ...                      [0, 0, 0], [0.9, 0.8, 0.7])}
    >>> c = pr_curves(g, p)
    >>> c["recall"].tolist(), c["precision"].round(3).tolist(), c["envelope"].round(3).tolist()
    ([0.5, 0.5, 1.0], [1.0, 0.5, 0.667], [1.0, 0.667, 0.667])
    """
    flat = flatten(gt, preds, names=names, areas=areas, iscrowd=iscrowd, exact=exact)
    m = match(flat, [iou], [AREA_RANGES["all"]], max_det=max_det)
    order, _ = class_order(m)
    order = order[~m.ignored[0, 0, order]]
    cls = m.cls[order]
    tp_flag = m.true_positive[0, 0, order].astype(np.int64)
    start = np.searchsorted(cls, cls, side="left")
    tp_cum = np.cumsum(tp_flag)
    tp = tp_cum - np.r_[0, tp_cum][start]
    seen = np.arange(len(cls)) - start + 1
    precision = tp / np.maximum(seen, 1)
    n_pos = m.n_positive[0][cls]
    recall = np.divide(tp, n_pos, out=np.full(len(tp), np.nan), where=n_pos > 0)
    envelope = precision.copy()
    bounds = np.r_[np.flatnonzero(np.r_[True, cls[1:] != cls[:-1]]), len(cls)]
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        envelope[lo:hi] = np.maximum.accumulate(precision[lo:hi][::-1])[::-1]
    return pd.DataFrame({
        "class_id": flat.class_ids[cls], "class": np.asarray(flat.names, dtype=object)[cls],
        "score": m.score[order], "precision": precision, "recall": recall,
        "envelope": envelope,
    })


def interpolated_pr(curves: pd.DataFrame, classes: Sequence[str] | None = None,
                    rec_thresholds: np.ndarray = COCO_RECALL_THRESHOLDS) -> pd.DataFrame:
    """COCO's interpolated precision at each recall threshold, one column per class.

    Reads a :func:`pr_curves` frame: precision at recall ``r`` is the envelope at the first
    point whose recall reaches ``r`` (0 when none does), so a column's mean is the class's
    COCO AP at that IoU. Classes without ground truth are left out; ``classes`` adds the ones
    that have no detection (all zeros) and fixes the column order.

    Examples
    --------
    >>> g = {"a": Detections([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 0])}
    >>> p = {"a": Detections([[0, 0, 10, 10]], [0], [0.9])}
    >>> t = interpolated_pr(pr_curves(g, p))
    >>> t.shape, round(float(t["0"].mean()), 4)
    ((101, 1), 0.505)
    """
    has_gt = curves["recall"].notna()
    columns = {}
    for cls, part in curves[has_gt].groupby("class", sort=False):
        recall = part["recall"].to_numpy(np.float64)
        env = part["envelope"].to_numpy(np.float64)
        first = np.searchsorted(recall, rec_thresholds, side="left")
        columns[str(cls)] = np.where(first < len(recall),
                                     env[np.minimum(first, len(recall) - 1)], 0.0)
    order = [str(c) for c in classes] if classes is not None else list(columns)
    zeros = np.zeros(len(rec_thresholds))
    return pd.DataFrame({c: columns.get(c, zeros) for c in order},
                        index=pd.Index(rec_thresholds, name="recall"))
