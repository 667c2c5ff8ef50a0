"""TIDE error breakdown: why AP50 is lost, as the ``tidecv`` package measures it.

Every detection that is not a true positive at IoU 0.5 gets one of five types, tested in this
order (IoU with non-crowd ground truth of the same image; "fg" = 0.5, "bg" = 0.1):

* ``Bkg`` the image has no (non-crowd) ground truth at all;
* ``Loc`` right class, best same-class IoU in ``[bg, fg]``;
* ``Cls`` wrong class, IoU >= fg with a box of another class;
* ``Dupe`` right class, IoU >= fg with a box that a higher-scoring detection already took;
* ``Bkg`` IoU <= bg with every box;
* ``Both`` anything else (wrong class and badly placed).

A ground-truth box that no detection matched and no ``Loc``/``Cls`` error points at is
``Miss``. Each type's dAP is the AP50 gained by fixing only that type (a ``Loc`` or ``Cls``
error becomes a true positive when it is the highest-scoring error on a free box, else it
is dropped; other false positives are dropped; a fixed miss leaves the ground truth).
``FalsePos`` is the AP50 with every false positive scored below every true positive,
``FalseNeg`` the AP50 without the ground truth nobody found.

The semantics, including TIDE's own AP (101 recall points ``i / 100``, classes present in
ground truth *or* predictions averaged, ``max_dets`` per image over all classes, crowd boxes
as class-specific ignore regions, ties resolved in input order), follow ``tidecv`` 1.0.1, so
the numbers equal ``TIDE().evaluate(...)`` to within 1e-9 (as fractions, not percent).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tecktrack.detections import Detections
from tecktrack.errors import EvaluationError
from tecktrack.metrics._inputs import ExactBoxes, FlatInputs, Names, flatten
from tecktrack.metrics.iou import corner_iou

#: The six TIDE error types in TIDE's order.
ERROR_TYPES: tuple[str, ...] = ("Cls", "Loc", "Both", "Dupe", "Bkg", "Miss")
#: TIDE's two special errors: perfect precision, perfect recall.
SPECIAL_ERRORS: tuple[str, ...] = ("FalsePos", "FalseNeg")
#: Every key of :attr:`ErrorBreakdown.dap` (and of ``evaluate --errors`` JSON ``"errors"``).
ERROR_KEYS: tuple[str, ...] = ERROR_TYPES + SPECIAL_ERRORS

_CLS, _LOC, _BOTH, _DUPE, _BKG, _MISS = range(6)
_TP, _FP, _IGNORED = 1, 0, -1
_RECALL_POINTS = np.arange(101) / 100  # TIDE's x / 100, not np.linspace


@dataclass(frozen=True)
class ErrorBreakdown:
    """Result of :func:`error_breakdown`.

    Attributes
    ----------
    ap50 : float
        TIDE's AP at the foreground IoU (a fraction).
    dap : dict
        AP gained by fixing each type alone (``ERROR_KEYS``, fractions; the six main ones are
        clipped at 0 as TIDE does, the two special ones are not).
    counts : dict
        Number of errors of each main type (``Miss`` counts ground-truth boxes).
    detection_type : ndarray (n,) of str
        For each input detection (flat order, images in ground-truth order): ``"TP"``, its
        error type (also for detections inside a crowd region, which AP does not count but
        TIDE still classifies), or ``""`` beyond ``max_dets``, where TIDE does not look.
    pos_threshold, background_threshold : float
        The IoU thresholds used.
    """

    ap50: float
    dap: dict[str, float]
    counts: dict[str, int]
    detection_type: np.ndarray
    pos_threshold: float
    background_threshold: float

    def table(self) -> pd.DataFrame:
        """One row per error type: ``dAP`` and ``count`` (special errors have no count).

        Examples
        --------
        >>> g = {"a": Detections([[0, 0, 10, 10]], [0])}
        >>> p = {"a": Detections([[0, 0, 10, 10]], [1], [0.9])}
        >>> error_breakdown(g, p).table().loc["Cls"].tolist()
        [1.0, 1.0]
        """
        return pd.DataFrame({
            "dAP": [self.dap[k] for k in ERROR_KEYS],
            "count": [float(self.counts[k]) if k in self.counts else np.nan for k in ERROR_KEYS],
        }, index=pd.Index(ERROR_KEYS, name="error"))

    def to_dict(self) -> dict[str, float]:
        """The eight dAP values keyed as ``ERROR_KEYS`` (fractions), JSON-ready.

        Examples
        --------
        >>> g = {"a": Detections([[0, 0, 10, 10]], [0])}
        >>> list(error_breakdown(g, {}).to_dict())[:3]
        ['Cls', 'Loc', 'Both']
        """
        return {k: float(self.dap[k]) for k in ERROR_KEYS}

    def report(self) -> dict[str, Any]:
        """``to_dict()`` plus ``ap50``, ``counts`` and the thresholds (for JSON outputs)."""
        return {"dap": self.to_dict(), "ap50": float(self.ap50),
                "counts": {k: int(v) for k, v in self.counts.items()},
                "pos_threshold": self.pos_threshold,
                "background_threshold": self.background_threshold}


@dataclass(frozen=True)
class _Pairs:
    """Every (kept detection, ground truth) pair of the same image with its IoU."""

    det: np.ndarray
    gt: np.ndarray
    iou: np.ndarray
    same: np.ndarray
    crowd: np.ndarray


def _keep_top(flat: FlatInputs, max_dets: int) -> np.ndarray:
    """Detections TIDE looks at, in its order: by image, descending score, input order."""
    n = len(flat.dt_score)
    order = np.lexsort((np.arange(n), -flat.dt_score, flat.dt_image))
    img = flat.dt_image[order]
    rank = np.arange(n) - np.searchsorted(img, img, side="left")
    return order[rank < max_dets]


def _pairs(flat: FlatInputs, det: np.ndarray) -> _Pairs:
    g_order = np.argsort(flat.gt_image, kind="stable")
    g_img = flat.gt_image[g_order]
    d_img = flat.dt_image[det]
    start = np.searchsorted(g_img, d_img, side="left")
    count = np.searchsorted(g_img, d_img, side="right") - start
    p_det = np.repeat(np.arange(len(det)), count)
    shift = np.repeat(start - (np.cumsum(count) - count), count)
    p_gt = g_order[np.arange(int(count.sum())) + shift]
    crowd = flat.gt_crowd[p_gt]
    d = det[p_det]
    iou = corner_iou(flat.dt_corners[d], flat.gt_corners[p_gt], flat.dt_wh_area[d],
                     flat.gt_wh_area[p_gt], crowd)
    same = flat.dt_class[det[p_det]] == flat.gt_class[p_gt]
    return _Pairs(p_det, p_gt, iou, same, crowd)


def _best(p: _Pairs, mask: np.ndarray, n_det: int) -> tuple[np.ndarray, np.ndarray]:
    """Per detection: the highest IoU among the masked pairs and its first ground truth.

    No pair gives IoU 0 and ground truth -1 (TIDE's ``argmax`` over a row of zeros).
    """
    d, g, v = p.det[mask], p.gt[mask], p.iou[mask]
    order = np.lexsort((g, -v, d))
    d, g, v = d[order], g[order], v[order]
    first = np.flatnonzero(np.r_[True, d[1:] != d[:-1]]) if len(d) else np.zeros(0, np.int64)
    best_iou, best_gt = np.zeros(n_det), np.full(n_det, -1, np.int64)
    best_iou[d[first]] = v[first]
    best_gt[d[first]] = g[first]
    return best_iou, best_gt


def _match(flat: FlatInputs, det: np.ndarray, p: _Pairs, pos: float) -> np.ndarray:
    """TIDE's greedy match: by score within each image, the best free same-class box."""
    n_det = len(det)
    group = flat.dt_image[det] * max(flat.n_classes, 1) + flat.dt_class[det]
    g_sorted = np.argsort(group, kind="stable")
    rank = np.empty(n_det, np.int64)
    grp = group[g_sorted]
    rank[g_sorted] = np.arange(n_det) - np.searchsorted(grp, grp, side="left")
    cand = p.same & ~p.crowd & (p.iou >= pos)
    d, g, v = p.det[cand], p.gt[cand], p.iou[cand]
    order = np.lexsort((g, -v, d, rank[d]))
    d, g = d[order], g[order]
    rounds = rank[d]
    bounds = np.searchsorted(rounds, np.arange(int(rounds.max(initial=-1)) + 2), side="left")
    taken = np.zeros(len(flat.gt_area), bool)
    matched = np.full(n_det, -1, np.int64)
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        rd, rg = d[lo:hi], g[lo:hi]
        free = ~taken[rg]
        rd, rg = rd[free], rg[free]
        _, first = np.unique(rd, return_index=True)
        matched[rd[first]] = rg[first]
        taken[rg[first]] = True
    return matched


@dataclass(frozen=True)
class _Assigned:
    """Per kept detection: status, error type, fixed class; per ground truth: used/usable."""

    status: np.ndarray
    error: np.ndarray
    fixable: np.ndarray
    fixed_class: np.ndarray
    gt_used: np.ndarray
    gt_usable: np.ndarray


def _classify(flat: FlatInputs, det: np.ndarray, p: _Pairs, matched: np.ndarray, pos: float,
              bg: float) -> _Assigned:
    n_det = len(det)
    used = np.zeros(len(flat.gt_area), bool)
    used[matched[matched >= 0]] = True
    status = np.where(matched >= 0, _TP, _FP)
    ignore = p.crowd & p.same & (p.iou > pos) & (matched[p.det] < 0)
    status[np.unique(p.det[ignore])] = _IGNORED
    nc = ~p.crowd
    m_cls, g_cls = _best(p, nc & p.same, n_det)
    m_non, g_non = _best(p, nc & ~p.same, n_det)
    m_used, _ = _best(p, nc & p.same & used[p.gt], n_det)
    m_all, _ = _best(p, nc, n_det)
    n_regular = np.bincount(flat.gt_image[~flat.gt_crowd], minlength=len(flat.image_keys))
    has_gt = n_regular[flat.dt_image[det]] > 0
    error = np.select(
        [~has_gt, (m_cls >= bg) & (m_cls <= pos), m_non >= pos, m_used >= pos, m_all <= bg],
        [_BKG, _LOC, _CLS, _DUPE, _BKG], default=_BOTH)
    error = np.where(status == _TP, -1, error)
    target = np.select([error == _LOC, error == _CLS], [g_cls, g_non], default=-1)
    # TIDE's BestGTMatch: the highest-scoring Loc/Cls error on a free box is the one fixed
    cand = np.flatnonzero((target >= 0) & ~used[np.maximum(target, 0)])
    order = np.lexsort((cand, -flat.dt_score[det[cand]], target[cand]))
    cand = cand[order]
    first = cand[np.r_[True, target[cand][1:] != target[cand][:-1]]] if len(cand) else cand
    fixable = np.zeros(n_det, bool)
    fixable[first] = True
    usable = np.zeros(len(flat.gt_area), bool)
    usable[target[cand]] = True
    fixed_class = np.where(error == _CLS, flat.gt_class[np.maximum(target, 0)],
                           flat.dt_class[det])
    return _Assigned(status, error, fixable, fixed_class, used, usable)


def _class_ap(score: np.ndarray, tp: np.ndarray, n_pos: int) -> float:
    """TIDE's ``APDataObject.get_ap`` (fraction): points already in TIDE's sorted order."""
    if n_pos == 0:
        return 0.0
    n_true = np.cumsum(tp)
    precision = n_true / np.arange(1, len(tp) + 1)
    recall = n_true / n_pos
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    idx = np.searchsorted(recall, _RECALL_POINTS, side="left")
    if len(tp) == 0:
        return 0.0
    y = np.where(idx < len(tp), precision[np.minimum(idx, len(tp) - 1)], 0.0)
    return float(y.sum() / len(y))


def _tide_map(cls: np.ndarray, score: np.ndarray, tp: np.ndarray, key: np.ndarray,
              n_pos: np.ndarray, present: np.ndarray) -> float:
    """TIDE's ``get_mAP``: mean AP over present classes that still have points or positives."""
    order = np.lexsort((key, -score, cls))
    cls, score, tp = cls[order], score[order], tp[order]
    bounds = np.searchsorted(cls, np.arange(len(n_pos) + 1), side="left")
    aps = []
    for k in np.flatnonzero(present):
        lo, hi = bounds[k], bounds[k + 1]
        if hi == lo and n_pos[k] == 0:
            continue
        aps.append(_class_ap(score[lo:hi], tp[lo:hi], int(n_pos[k])))
    return float(sum(aps) / len(aps)) if aps else 0.0


def _fixed_map(flat: FlatInputs, det: np.ndarray, a: _Assigned, n_pos: np.ndarray,
               present: np.ndarray, fix: frozenset[int] = frozenset(), *,
               perfect_scores: bool = False, drop_false_negatives: bool = False) -> float:
    """TIDE's ``fix_errors(...).get_mAP()``: errors' points first, then the true positives."""
    seq = np.arange(len(det))
    cls, score = flat.dt_class[det], flat.dt_score[det]
    err = a.status != _TP
    fixed = err & np.isin(a.error, list(fix))
    becomes_tp = fixed & a.fixable & np.isin(a.error, [_LOC, _CLS])
    keep_err = (err & ~fixed & (a.status == _FP)) | becomes_tp
    e_idx = np.flatnonzero(keep_err)
    t_idx = np.flatnonzero(a.status == _TP)
    p_cls = np.r_[np.where(becomes_tp, a.fixed_class, cls)[e_idx], cls[t_idx]]
    p_tp = np.r_[becomes_tp[e_idx], np.ones(len(t_idx), bool)]
    p_score = np.r_[score[e_idx], score[t_idx]]
    if perfect_scores:
        p_score = p_tp.astype(np.float64)
    key = np.r_[seq[e_idx], len(det) + seq[t_idx]]
    n_pos = n_pos.copy()
    regular = ~flat.gt_crowd
    if _MISS in fix:
        n_pos -= np.bincount(flat.gt_class[regular & ~a.gt_used & ~a.gt_usable],
                             minlength=len(n_pos))
    if drop_false_negatives:
        n_pos -= np.bincount(flat.gt_class[regular & ~a.gt_used], minlength=len(n_pos))
    return _tide_map(p_cls, p_score, p_tp, key, n_pos, present)


def error_breakdown(gt: Mapping[Hashable, Detections], preds: Mapping[Hashable, Detections], *,
                    names: Names = None, iscrowd: Mapping[Hashable, np.ndarray] | None = None,
                    pos_threshold: float = 0.5, background_threshold: float = 0.1,
                    max_dets: int = 100, exact: ExactBoxes | None = None) -> ErrorBreakdown:
    """TIDE's six error types and their dAP, plus the FalsePos and FalseNeg dAP.

    Parameters
    ----------
    gt, preds : Mapping
        ``{image: Detections}`` as for :func:`tecktrack.metrics.evaluate` (the ground truth's
        order is the image order).
    names : list or mapping, optional
        Class names (define the class set; TIDE itself averages only classes that occur).
    iscrowd : Mapping, optional
        Per-image crowd flags: crowd boxes are ignore regions of their class (a detection
        inside one, by intersection over its own area > ``pos_threshold``, is not counted).
    pos_threshold, background_threshold : float
        TIDE's foreground (0.5) and background (0.1) IoU thresholds.
    max_dets : int
        Highest-scoring detections TIDE keeps per image, over all classes (100).
    exact : ExactBoxes, optional
        The float64 boxes and scores the ``Detections`` were read from, as for
        :func:`tecktrack.metrics.evaluate` (IoU as pycocotools and tidecv compute it).

    Returns
    -------
    ErrorBreakdown

    Examples
    --------
    >>> g = {"a": Detections([[0, 0, 10, 10], [20, 20, 40, 40]], [0, 0])}
    >>> p = {"a": Detections([[0, 0, 10, 10], [0, 0, 10, 4], [60, 60, 70, 70]], [0, 0, 0],
    ...                      [0.9, 0.8, 0.7])}
    >>> e = error_breakdown(g, p)
    >>> e.counts
    {'Cls': 0, 'Loc': 1, 'Both': 0, 'Dupe': 0, 'Bkg': 1, 'Miss': 1}
    >>> round(e.ap50, 3), round(e.dap["Miss"], 3), e.detection_type.tolist()
    (0.505, 0.495, ['TP', 'Loc', 'Bkg'])
    """
    if not 0.0 <= background_threshold <= pos_threshold <= 1.0:
        raise EvaluationError("thresholds must satisfy 0 <= background <= foreground <= 1, got "
                              f"{background_threshold} and {pos_threshold}")
    if max_dets < 1:
        raise EvaluationError(f"max_dets must be a positive int, got {max_dets}")
    flat = flatten(gt, preds, names=names, iscrowd=iscrowd, exact=exact)
    det = _keep_top(flat, int(max_dets))
    p = _pairs(flat, det)
    matched = _match(flat, det, p, pos_threshold)
    a = _classify(flat, det, p, matched, pos_threshold, background_threshold)
    k = flat.n_classes
    regular = ~flat.gt_crowd
    n_pos = np.bincount(flat.gt_class[regular], minlength=k)
    counted = a.status != _IGNORED
    present = (n_pos > 0) | (np.bincount(flat.dt_class[det][counted], minlength=k) > 0)
    key = np.arange(len(det))
    base = _tide_map(flat.dt_class[det][counted], flat.dt_score[det][counted],
                     (a.status == _TP)[counted], key[counted], n_pos, present)
    dap = {}
    for code, name in enumerate(ERROR_TYPES):
        dap[name] = max(_fixed_map(flat, det, a, n_pos, present, frozenset({code})) - base, 0.0)
    dap["FalsePos"] = _fixed_map(flat, det, a, n_pos, present, perfect_scores=True) - base
    dap["FalseNeg"] = _fixed_map(flat, det, a, n_pos, present, drop_false_negatives=True) - base
    counts = {name: int(np.sum(a.error == code)) for code, name in enumerate(ERROR_TYPES[:5])}
    counts["Miss"] = int(np.sum(regular & ~a.gt_used & ~a.gt_usable))
    labels = np.array(ERROR_TYPES[:5], dtype=object)
    kept_type = np.where(a.status == _TP, "TP", labels[np.maximum(a.error, 0)])
    detection_type = np.full(len(flat.dt_score), "", dtype=object)
    detection_type[det] = kept_type
    return ErrorBreakdown(ap50=base, dap=dap, counts=counts, detection_type=detection_type,
                          pos_threshold=float(pos_threshold),
                          background_threshold=float(background_threshold))
