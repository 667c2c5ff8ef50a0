"""Confusion matrix with a background row and column (missed objects, false detections)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import pandas as pd

from tecktrack.detections import Detections
from tecktrack.errors import EvaluationError
from tecktrack.metrics._inputs import ExactBoxes, FlatInputs, Names, flatten
from tecktrack.metrics.iou import corner_iou

BACKGROUND = "background"


def image_pairs(flat: FlatInputs, det: np.ndarray, gt: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (detection, ground truth) pairs in the same image, class-agnostic, with IoU."""
    g_img = flat.gt_image[gt]                        # sorted: flat arrays are in image order
    d_img = flat.dt_image[det]
    start = np.searchsorted(g_img, d_img, side="left")
    count = np.searchsorted(g_img, d_img, side="right") - start
    p_det = np.repeat(det, count)
    shift = np.repeat(start - (np.cumsum(count) - count), count)
    p_gt = gt[np.arange(int(count.sum())) + shift]
    iou = corner_iou(flat.dt_corners[p_det], flat.gt_corners[p_gt], flat.dt_wh_area[p_det],
                     flat.gt_wh_area[p_gt])
    return p_det, p_gt, iou


def _one_to_one(p_det: np.ndarray, p_gt: np.ndarray, iou: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Highest-IoU pair per detection, then per ground truth (as Ultralytics resolves them)."""
    order = np.argsort(-iou, kind="stable")
    p_det, p_gt, iou = p_det[order], p_gt[order], iou[order]
    _, first = np.unique(p_det, return_index=True)
    keep = np.sort(first)                               # still in descending-IoU order
    p_det, p_gt = p_det[keep], p_gt[keep]
    _, first = np.unique(p_gt, return_index=True)
    return p_det[first], p_gt[first]


def confusion_matrix(gt: Mapping[Hashable, Detections], preds: Mapping[Hashable, Detections],
                     *, conf: float = 0.25, iou: float = 0.5, n_classes: int | None = None,
                     names: Names = None,
                     iscrowd: Mapping[Hashable, np.ndarray] | None = None,
                     exact: ExactBoxes | None = None) -> pd.DataFrame:
    """Counts of true class (rows) against predicted class (columns), plus background.

    Detections scoring at least ``conf`` are paired with ground truth of any class in the same
    image at IoU >= ``iou``; each detection keeps its best-IoU box, then each ground truth its
    best-IoU detection. A matched pair counts at ``[true, predicted]``; an unmatched ground
    truth at ``[true, background]`` (missed); an unmatched detection at
    ``[background, predicted]`` (false detection). Crowd ground truth is left out.

    Parameters
    ----------
    gt, preds : Mapping
        ``{image: Detections}``.
    conf, iou : float
        Score and IoU thresholds.
    n_classes : int, optional
        Classes are ``0..n_classes-1`` (names default to the ids); ids outside are an error.
    names : list or mapping, optional
        Class names (take precedence over ``n_classes``).
    iscrowd : Mapping, optional
        Per-image crowd flags of the ground truth.
    exact : ExactBoxes, optional
        Float64 boxes and scores read from files (see :func:`tecktrack.metrics.evaluate`).

    Returns
    -------
    pandas.DataFrame
        Square int64 table, index ``true`` and columns ``predicted``, both the class names
        followed by ``"background"``.

    Examples
    --------
    >>> g = {"a": Detections([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 1])}
    >>> p = {"a": Detections([[0, 0, 10, 10], [50, 50, 60, 60]], [1, 0], [0.9, 0.8])}
    >>> confusion_matrix(g, p, names=["cat", "dog"]).to_numpy().tolist()
    [[0, 1, 0], [0, 0, 1], [1, 0, 0]]
    """
    if names is None and n_classes is not None:
        if n_classes < 1:
            raise EvaluationError(f"n_classes must be positive, got {n_classes}")
        names = [str(i) for i in range(n_classes)]
    flat = flatten(gt, preds, names=names, iscrowd=iscrowd, exact=exact)
    return confusion_frame(confusion_counts(flat, conf=conf, iou=iou), flat.names)


def confusion_counts(flat: FlatInputs, *, conf: float = 0.25, iou: float = 0.5) -> np.ndarray:
    """The ``(K + 1, K + 1)`` int64 counts of :func:`confusion_matrix` (last: background).

    Pairing is per image, so the counts of disjoint image sets add up exactly.

    Examples
    --------
    >>> from tecktrack.metrics._inputs import flatten
    >>> g = {"a": Detections([[0, 0, 10, 10]], [0])}
    >>> confusion_counts(flatten(g, {"a": Detections([[0, 0, 10, 10]], [0], [0.9])})).tolist()
    [[1, 0], [0, 0]]
    """
    det = np.flatnonzero(flat.dt_score >= conf)
    truth = np.flatnonzero(~flat.gt_crowd)
    p_det, p_gt, p_iou = image_pairs(flat, det, truth)
    keep = p_iou >= iou
    m_det, m_gt = _one_to_one(p_det[keep], p_gt[keep], p_iou[keep])
    k = flat.n_classes
    counts = np.zeros((k + 1, k + 1), dtype=np.int64)
    np.add.at(counts, (flat.gt_class[m_gt], flat.dt_class[m_det]), 1)
    missed = np.setdiff1d(truth, m_gt)
    false = np.setdiff1d(det, m_det)
    counts[:k, k] += np.bincount(flat.gt_class[missed], minlength=k)
    counts[k, :k] += np.bincount(flat.dt_class[false], minlength=k)
    return counts


def confusion_frame(counts: np.ndarray, names: Sequence[str]) -> pd.DataFrame:
    """Label a :func:`confusion_counts` array with the class names and ``background``.

    Examples
    --------
    >>> confusion_frame(np.array([[1, 0], [2, 0]]), ["cat"]).index.tolist()
    ['cat', 'background']
    """
    labels = [*names, BACKGROUND]
    return pd.DataFrame(counts, index=pd.Index(labels, name="true"),
                        columns=pd.Index(labels, name="predicted"))
