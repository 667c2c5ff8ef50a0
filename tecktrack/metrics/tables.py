"""Precision/recall tables at a score threshold: per class, swept over thresholds, YOLO-style.

All of them count COCO-matched detections (greedy by score, one ground truth per detection,
crowd and out-of-range ground truth ignored) with every detection kept (no ``max_dets`` cap).
Precision of a class without detections is 0; recall of a class without ground truth is NaN.
Means run over the classes that have ground truth, like mAP.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import pandas as pd

from tecktrack.detections import Detections
from tecktrack.metrics._inputs import ExactBoxes, FlatInputs, Names, flatten
from tecktrack.metrics.matching import AREA_RANGES, MatchResult, match

#: The score thresholds of the seed's model-comparison table.
SWEEP_THRESHOLDS: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8)


def _counts_at(m: MatchResult, conf: float, t: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-class TP and FP counts of detections scoring at least ``conf`` (area 'all')."""
    n_k = m.n_positive.shape[1]
    keep = m.score >= conf
    tp = np.bincount(m.cls[keep & m.true_positive[0, t]], minlength=n_k)
    fp = np.bincount(m.cls[keep & m.false_positive[0, t]], minlength=n_k)
    return tp, fp


def _ratios(tp: np.ndarray, fp: np.ndarray, n_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    det = tp + fp
    precision = np.divide(tp, det, out=np.zeros(len(tp)), where=det > 0)
    recall = np.divide(tp, n_pos, out=np.full(len(tp), np.nan), where=n_pos > 0)
    return precision, recall


def pr_match(flat: FlatInputs, iou: float) -> MatchResult:
    """The matching the precision/recall tables count: one IoU, area 'all', no cap."""
    return match(flat, [iou], [AREA_RANGES["all"]], max_det=None)


def pr_counts(m: MatchResult, conf: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class TP, FP and ground-truth counts (K,) each of a :func:`pr_match` at ``conf``.

    Counts of disjoint image sets add up exactly (matching is per image), so shards can be
    counted apart and summed before :func:`pr_frame`.

    Examples
    --------
    >>> from tecktrack.metrics._inputs import flatten
    >>> g = {"a": Detections([[0, 0, 10, 10]], [0])}
    >>> p = {"a": Detections([[0, 0, 10, 10], [50, 50, 60, 60]], [0, 0], [0.9, 0.8])}
    >>> [c.tolist() for c in pr_counts(pr_match(flatten(g, p), 0.5), 0.5)]
    [[1], [1], [1]]
    """
    tp, fp = _counts_at(m, conf)
    return tp, fp, m.n_positive[0]


def pr_frame(class_ids: np.ndarray, names: Sequence[str], tp: np.ndarray, fp: np.ndarray,
             n_pos: np.ndarray) -> pd.DataFrame:
    """The :func:`precision_recall` table from per-class counts (see :func:`pr_counts`).

    ``precision_recall`` is ``pr_frame(flat.class_ids, flat.names, *pr_counts(pr_match(flat,
    iou), conf))``.

    Examples
    --------
    >>> pr_frame(np.array([0]), ["cat"], np.array([1]), np.array([1]), np.array([2])
    ...          ).loc["cat", ["precision", "recall"]].tolist()
    [0.5, 0.5]
    """
    precision, recall = _ratios(tp, fp, n_pos)
    frame = pd.DataFrame({
        "class_id": pd.array(class_ids, dtype="Int64"),
        "instances": n_pos, "detections": tp + fp, "tp": tp, "fp": fp, "fn": n_pos - tp,
        "precision": precision, "recall": recall,
    }, index=pd.Index(list(names), name="class"))
    has_gt = n_pos > 0
    mean = {
        "class_id": pd.NA, "instances": n_pos.sum(), "detections": (tp + fp).sum(),
        "tp": tp.sum(), "fp": fp.sum(), "fn": (n_pos - tp).sum(),
        "precision": precision[has_gt].mean() if has_gt.any() else np.nan,
        "recall": recall[has_gt].mean() if has_gt.any() else np.nan,
    }
    frame.loc["mean"] = mean
    return frame


def precision_recall(gt: Mapping[Hashable, Detections], preds: Mapping[Hashable, Detections], *,
                     conf: float = 0.5, iou: float = 0.5, names: Names = None,
                     areas: Mapping[Hashable, np.ndarray] | None = None,
                     iscrowd: Mapping[Hashable, np.ndarray] | None = None,
                     exact: ExactBoxes | None = None) -> pd.DataFrame:
    """Per-class precision and recall at a score and an IoU threshold, plus a ``mean`` row.

    Parameters
    ----------
    gt, preds : Mapping
        ``{image: Detections}`` ground truth and scored predictions.
    conf : float
        Detections scoring at least ``conf`` count.
    iou : float
        IoU a match needs (COCO greedy matching).
    names, areas, iscrowd, exact
        As in :func:`tecktrack.metrics.evaluate`.

    Returns
    -------
    pandas.DataFrame
        Indexed by class name (last row ``mean``): ``class_id, instances, detections, tp, fp,
        fn, precision, recall``. The mean row sums the counts and averages precision and recall
        over the classes that have ground truth.

    Examples
    --------
    >>> g = {"a": Detections([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 1])}
    >>> p = {"a": Detections([[0, 0, 10, 10], [50, 50, 60, 60]], [0, 1], [0.9, 0.8])}
    >>> t = precision_recall(g, p, names=["cat", "dog"])
    >>> t[["tp", "fp", "precision", "recall"]].to_dict("index")["mean"]
    {'tp': 1, 'fp': 1, 'precision': 0.5, 'recall': 0.5}
    """
    flat = flatten(gt, preds, names=names, areas=areas, iscrowd=iscrowd, exact=exact)
    return pr_frame(flat.class_ids, flat.names, *pr_counts(pr_match(flat, iou), conf))


def threshold_sweep(models: Mapping[str, Mapping[Hashable, Detections]],
                    gt: Mapping[Hashable, Detections],
                    thresholds: Sequence[float] = SWEEP_THRESHOLDS, iou: float = 0.5, *,
                    names: Names = None) -> pd.DataFrame:
    """Mean precision and recall of several models over score thresholds, side by side.

    Parameters
    ----------
    models : Mapping
        ``{model name: {image: Detections}}``.
    gt : Mapping
        Ground truth ``{image: Detections}``.
    thresholds : sequence of float
        Score thresholds (rows).
    iou : float
        IoU a match needs.
    names : list or mapping, optional
        Class names (define the class set).

    Returns
    -------
    pandas.DataFrame
        Index ``threshold``; columns ``(model, "precision" | "recall")``: the class-mean
        precision and recall of :func:`precision_recall` at each threshold.

    Examples
    --------
    >>> g = {"a": Detections([[0, 0, 10, 10]], [0])}
    >>> p = {"a": Detections([[0, 0, 10, 10], [30, 30, 40, 40]], [0, 0], [0.9, 0.3])}
    >>> threshold_sweep({"m": p}, g, thresholds=[0.2, 0.5])["m"]["precision"].tolist()
    [0.5, 1.0]
    """
    columns = {}
    for model, preds in models.items():
        flat = flatten(gt, preds, names=names)
        m = pr_match(flat, iou)
        n_pos = m.n_positive[0]
        has_gt = n_pos > 0
        rows = [_ratios(*_counts_at(m, c), n_pos) for c in thresholds]
        columns[(model, "precision")] = [p[has_gt].mean() if has_gt.any() else np.nan
                                         for p, _ in rows]
        columns[(model, "recall")] = [r[has_gt].mean() if has_gt.any() else np.nan
                                      for _, r in rows]
    frame = pd.DataFrame(columns, index=pd.Index(list(thresholds), name="threshold"))
    frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["model", "metric"])
    return frame


def f1_optimal_pr(m: MatchResult, t: int, grid: np.ndarray | None = None
                  ) -> tuple[float, np.ndarray, np.ndarray]:
    """The score threshold maximising class-mean F1 and per-class P, R there (YOLO's P, R).

    Uses area range 0 and IoU threshold index ``t`` of ``m``; thresholds come from ``grid``
    (default ``0, 0.001, ..., 1``); of equally good thresholds the highest wins.

    Returns
    -------
    conf : float, precision : (K,), recall : (K,)

    Examples
    --------
    >>> from tecktrack.metrics._inputs import flatten
    >>> g = {"a": Detections([[0, 0, 10, 10]], [0])}
    >>> p = {"a": Detections([[0, 0, 10, 10], [30, 30, 40, 40]], [0, 0], [0.9, 0.3])}
    >>> conf, prec, rec = f1_optimal_pr(match(flatten(g, p), [0.5], [(0, 1e10)]), 0)
    >>> round(conf, 3), prec.tolist(), rec.tolist()
    (0.899, [1.0], [1.0])
    """
    grid = np.linspace(0.0, 1.0, 1001) if grid is None else np.asarray(grid, np.float64)
    n_k, n_g = m.n_positive.shape[1], len(grid)
    n_pos = m.n_positive[0]
    tp_flag, fp_flag = m.true_positive[0, t], m.false_positive[0, t]
    slot = np.searchsorted(grid, m.score, side="right") - 1
    ok = (slot >= 0) & (tp_flag | fp_flag)
    key = m.cls[ok] * n_g + slot[ok]

    def at_least(flags: np.ndarray) -> np.ndarray:
        hist = np.bincount(key[flags[ok]], minlength=n_k * n_g).reshape(n_k, n_g)
        return np.cumsum(hist[:, ::-1], axis=1)[:, ::-1]

    tp, det = at_least(tp_flag), at_least(tp_flag | fp_flag)
    precision = np.divide(tp, det, out=np.zeros(tp.shape), where=det > 0)
    recall = np.divide(tp, n_pos[:, None], out=np.zeros(tp.shape), where=n_pos[:, None] > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros(tp.shape), where=total > 0)
    has_gt = n_pos > 0
    mean_f1 = f1[has_gt].mean(axis=0) if has_gt.any() else np.zeros(n_g)
    best = n_g - 1 - int(np.argmax(mean_f1[::-1]))
    rec = np.where(has_gt, recall[:, best], np.nan)
    return float(grid[best]), precision[:, best], rec
