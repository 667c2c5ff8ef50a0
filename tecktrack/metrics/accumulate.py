"""Precision/recall accumulation over matched detections, exactly as ``COCOeval.accumulate``.

Per class, detections of all images are ordered by descending score (ties: image order, then
rank within the image, as pycocotools' stable sort leaves them), cumulated into TP/FP counts
and read at the 101 recall thresholds after the monotone precision envelope.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tecktrack.metrics.matching import MatchResult

#: COCO recall thresholds 0.00:0.01:1.00 (the 101-point interpolation).
COCO_RECALL_THRESHOLDS: np.ndarray = np.linspace(0.0, 1.00, 101, endpoint=True)


def class_order(m: MatchResult) -> tuple[np.ndarray, np.ndarray]:
    """Detections sorted by class, then descending score, image and rank; with class bounds.

    Returns ``(order, bounds)``: class ``k`` owns ``order[bounds[k]:bounds[k + 1]]``.

    Examples
    --------
    >>> from tecktrack.detections import Detections
    >>> from tecktrack.metrics._inputs import flatten
    >>> from tecktrack.metrics.matching import match
    >>> g = {"a": Detections.empty(False)}
    >>> p = {"a": Detections([[0, 0, 1, 1]] * 3, [0, 1, 0], [0.2, 0.9, 0.7])}
    >>> order, bounds = class_order(match(flatten(g, p), [0.5]))
    >>> bounds.tolist()
    [0, 2, 3]
    """
    n_classes = m.n_positive.shape[1]
    order = np.lexsort((m.rank, m.image, -m.score, m.cls))
    bounds = np.searchsorted(m.cls[order], np.arange(n_classes + 1), side="left")
    return order, bounds


def _first_reaching(tp: np.ndarray, need: np.ndarray) -> np.ndarray:
    """Per row of ``tp`` (A, T, n) non-decreasing ints: first index with ``tp >= need[a, r]``.

    Integer search, so it reproduces ``np.searchsorted(tp / npos, rec_thr)`` exactly.
    """
    n_a, n_t, n = tp.shape
    stride = n + int(need.max(initial=0)) + 2
    offset = (np.arange(n_a * n_t) * stride).reshape(n_a, n_t, 1)
    flat = (tp + offset).ravel()
    query = (need[:, None, :] + offset).ravel()
    pos = np.searchsorted(flat, query, side="left").reshape(n_a, n_t, -1)
    return pos - (np.arange(n_a * n_t) * n).reshape(n_a, n_t, 1)


def class_curve(tp: np.ndarray, fp: np.ndarray, n_pos: np.ndarray,
                rec_thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interpolated precision, final recall and VOC all-point AP of one class.

    Parameters
    ----------
    tp, fp : (A, T, n) bool
        True/false positive flags of the class's detections in score order.
    n_pos : (A,) int
        Non-ignored ground truth per area range (all > 0).
    rec_thresholds : (R,) float
        Recall thresholds.

    Returns
    -------
    precision : (A, T, R), recall : (A, T), voc_ap : (A, T)

    Examples
    --------
    >>> tp = np.array([[[True, False, True]]]); fp = ~tp
    >>> p, r, voc = class_curve(tp, fp, np.array([2]), np.array([0.0, 0.5, 1.0]))
    >>> p.round(4).tolist(), r.tolist(), round(float(voc[0, 0]), 4)
    ([[[1.0, 1.0, 0.6667]]], [[1.0]], 0.8333)
    """
    n = tp.shape[2]
    if n == 0:
        zeros = np.zeros(tp.shape[:2])
        return np.zeros((*tp.shape[:2], len(rec_thresholds))), zeros, zeros
    tp_i = np.cumsum(tp, axis=2)
    tpc = tp_i.astype(np.float64)
    pr = tpc / (np.cumsum(fp, axis=2) + tpc + np.spacing(1))
    env = np.maximum.accumulate(pr[..., ::-1], axis=2)[..., ::-1]
    need = np.stack([np.searchsorted(np.arange(p + 1) / p, rec_thresholds, side="left")
                     for p in n_pos])
    pos = _first_reaching(tp_i, need)
    precision = np.where(pos < n, np.take_along_axis(env, np.minimum(pos, n - 1), axis=2), 0.0)
    recall = tpc[..., -1] / n_pos[:, None]
    # all-point AP: each true positive adds 1 / n_pos of recall at its envelope precision
    voc_ap = np.where(tp, env, 0.0).sum(axis=2) / n_pos[:, None]
    return precision, recall, voc_ap


def accumulate(m: MatchResult, max_dets: Sequence[int],
               rec_thresholds: np.ndarray = COCO_RECALL_THRESHOLDS
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """COCO precision ``(T, R, K, A, M)``, recall ``(T, K, A, M)`` and VOC AP ``(T, K, A, M)``.

    Entries are ``-1`` where a class has no non-ignored ground truth in an area range, as in
    ``COCOeval.eval``.

    Examples
    --------
    >>> from tecktrack.detections import Detections
    >>> from tecktrack.metrics._inputs import flatten
    >>> from tecktrack.metrics.matching import match
    >>> g = {"a": Detections([[0, 0, 10, 10]], [0])}
    >>> p = {"a": Detections([[0, 0, 10, 10]], [0], [0.9])}
    >>> prec, rec, voc = accumulate(match(flatten(g, p), [0.5], [(0, 1e10)]), [100])
    >>> round(float(prec.mean()), 12), float(rec[0, 0, 0, 0])
    (1.0, 1.0)
    """
    n_a, n_t = m.gt_match.shape[:2]
    n_k, n_m, n_r = m.n_positive.shape[1], len(max_dets), len(rec_thresholds)
    precision = -np.ones((n_t, n_r, n_k, n_a, n_m))
    recall = -np.ones((n_t, n_k, n_a, n_m))
    voc = -np.ones((n_t, n_k, n_a, n_m))
    order, bounds = class_order(m)
    tp_all, fp_all = m.true_positive[:, :, order], m.false_positive[:, :, order]
    rank = m.rank[order]
    for k in range(n_k):
        areas = np.flatnonzero(m.n_positive[:, k] > 0)
        if areas.size == 0:
            continue
        sl = slice(bounds[k], bounds[k + 1])
        tp_k, fp_k, rank_k = tp_all[areas, :, sl], fp_all[areas, :, sl], rank[sl]
        for mi, md in enumerate(max_dets):
            sel = rank_k < md
            p, r, v = class_curve(tp_k[:, :, sel], fp_k[:, :, sel], m.n_positive[areas, k],
                                  rec_thresholds)
            precision[:, :, k, areas, mi] = p.transpose(1, 2, 0)
            recall[:, k, areas, mi] = r.T
            voc[:, k, areas, mi] = v.T
    return precision, recall, voc
