"""Rank images by how likely their *labels* (not the detector) are wrong.

Each label box and each prediction can raise one suspicion, scored in [0, 1]:

==================  =====================================================  ======================
kind                when                                                   score
==================  =====================================================  ======================
unlabelled object   an unmatched prediction no label box accounts for       its confidence ``s``
                    (IoU < ``overlap``; see below)                         (look: ``sqrt(s s2)``)
wrong class         a matched pair whose classes differ                    ``s x (1 - s_label)``
misplaced box       an unmatched label box overlapped (IoU >= 0.1) by a     ``s x (1 - IoU)`` of
                    prediction that matched nothing else                    that prediction
unsupported label   an unmatched label box no prediction overlaps          ``w x`` support of its
                    (IoU < 0.1); with a second look, every unmatched one    kind (look: ``x (1-e)``)
==================  =====================================================  ======================

``s_label`` is the highest confidence of a prediction *of the labelled class* covering the
label box at IoU >= 0.5: a detector that says "barcode 0.75" and "freight container 0.6" on
the same box is unsure, not contradicting the label (0.75 x 0.4 = 0.30). A label of another
class that some prediction already matched accounts for an unmatched prediction only at the
match IoU: below it, the prediction is a second object on or beside the labelled one.

The image score is its largest suspicion (ties: more suspicions first, then name); the reason
names the kind, class and evidence. "Support of its kind" is the fraction of label boxes of
the same kind that some prediction overlaps (IoU >= 0.1) over the whole dataset, smoothed as
``(hits + 1) / (boxes + 2)``. A kind is a class, a size band (one of 5 area quantiles over all
labels) and whether the box lies at least half inside another label box (a plate on a
container, a code on a box): a box nothing points at, of a kind the detector almost always
sees, is more suspicious than a small or nested box of a kind it often overlooks.
Predictions kept down to a low confidence (e.g. ``--conf 0.05`` when predicting) make this
evidence much sharper. ``w`` is :data:`UNSUPPORTED_WEIGHT` (0.75), so contradictions rank
above silences.

**Second look** (``look=``, :mod:`tecktrack.mining.second_look`): the detector is re-run on a crop
4x the box around every unmatched label box and every unlabelled detection with
``s >= 0.25``. ``e`` is the best confidence of any class found there overlapping the label
at IoU >= 0.3 (a real object the detector overlooked at full scale is usually found; a
spurious label almost never is) and ``s2`` that of the detection's own class at the match
IoU. ``w`` is then :data:`LOOK_UNSUPPORTED_WEIGHT` (0.8): a checked silence is stronger
evidence.

Matching is the class-agnostic greedy rule of :mod:`tecktrack.mining.matching`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tecktrack.datasets.box_table import BoxTable
from tecktrack.detections import cxcywh_to_xyxy, paired_iou
from tecktrack.mining.matching import MatchResult, box_pairs, image_chunks, match_tables
from tecktrack.mining.second_look import SecondLook

__all__ = ["ISSUE_KINDS", "rank_label_issues", "box_suspicions"]

ISSUE_KINDS = ("unlabelled object", "wrong class", "misplaced box", "unsupported label")
_UNLABELLED, _WRONG_CLASS, _MISPLACED, _UNSUPPORTED = range(4)
_MIN_OVERLAP = 0.1
_SIZE_BANDS = 5
_NESTED = 0.5
#: Weight of an "unsupported label" suspicion without / with a second look.
UNSUPPORTED_WEIGHT = 0.75
LOOK_UNSUPPORTED_WEIGHT = 0.8
#: Unlabelled-object suspicions below this confidence get no second look (they cannot rank).
LOOK_MIN_SCORE = 0.25
#: IoU a second-look detection (any class) needs to support an unmatched label box.
LOOK_LABEL_IOU = 0.3


def box_suspicions(pred: BoxTable, gt: BoxTable, match: MatchResult, *, overlap: float = 0.3,
                   unsupported_weight: float | None = None, iou_threshold: float = 0.5,
                   look: SecondLook | None = None) -> pd.DataFrame:
    """Every suspicion of every image, one row each (vectorised).

    Returns columns ``image`` (index), ``score``, ``kind`` (index into :data:`ISSUE_KINDS`),
    ``label_class``, ``pred_class`` (-1 where not applicable), ``iou``, ``confidence`` (of
    the prediction involved, NaN if none), ``second_look`` (what the closer look found,
    NaN where none was taken), and ``pred_index`` / ``gt_index``: the row of the prediction
    and of the label box involved in ``pred`` / ``gt`` (-1 where none), so a reviewer can be
    shown the very boxes.

    Examples
    --------
    >>> gt = BoxTable(["a"], [0], [0], [[.2, .2, .1, .1]])
    >>> pred = BoxTable(["a"], [0, 0], [0, 1], [[.2, .2, .1, .1], [.8, .8, .1, .1]], [.9, .7])
    >>> s = box_suspicions(pred, gt, match_tables(pred, gt))
    >>> s[["kind", "score"]].round(2).values.tolist()
    [[0.0, 0.7]]
    """
    if unsupported_weight is None:
        unsupported_weight = LOOK_UNSUPPORTED_WEIGHT if look is not None else UNSUPPORTED_WEIGHT
    s = pred.scores.astype(np.float64)
    parts = [_unlabelled(pred, gt, match, s, overlap, iou_threshold, look)]
    p = match.matched_pred
    g = match.pred_gt[p]
    wrong = pred.class_ids[p] != gt.class_ids[g]
    p, g = p[wrong], g[wrong]
    backed = _label_class_support(pred, gt, match, s)[g]
    parts.append((pred.image[p], s[p] * (1.0 - backed), _WRONG_CLASS, gt.class_ids[g],
                  pred.class_ids[p],
                  paired_iou(cxcywh_to_xyxy(pred.boxes[p]), cxcywh_to_xyxy(gt.boxes[g])),
                  s[p], np.full(len(p), np.nan), p, g))
    parts.extend(_label_side(pred, gt, match, s, unsupported_weight, look))
    return pd.DataFrame({
        "image": np.concatenate([np.asarray(x[0], np.int64) for x in parts]),
        "score": np.concatenate([np.asarray(x[1], np.float64) for x in parts]),
        "kind": np.concatenate([np.full(len(x[0]), x[2], np.int64) for x in parts]),
        "label_class": np.concatenate([np.broadcast_to(x[3], len(x[0])) for x in parts]),
        "pred_class": np.concatenate([np.broadcast_to(x[4], len(x[0])) for x in parts]),
        "iou": np.concatenate([np.asarray(x[5], np.float64) for x in parts]),
        "confidence": np.concatenate([np.asarray(x[6], np.float64) for x in parts]),
        "second_look": np.concatenate([np.asarray(x[7], np.float64) for x in parts]),
        "pred_index": np.concatenate([np.asarray(x[8], np.int64) for x in parts]),
        "gt_index": np.concatenate([np.asarray(x[9], np.int64) for x in parts]),
    })


def _unlabelled(pred: BoxTable, gt: BoxTable, match: MatchResult, s: np.ndarray,
                overlap: float, iou_threshold: float, look: SecondLook | None) -> tuple:
    """Unmatched predictions no label box accounts for: scored ``s``, or ``sqrt(s x s2)``
    with a second look that finds the same class there with confidence ``s2``."""
    pred_best_iou = np.zeros(len(pred))
    np.maximum.at(pred_best_iou, match.pair_pred, match.pair_iou)
    # a label of another class that some prediction already matched is its own object:
    # it explains a prediction only when that prediction could have matched it
    claimed = ((pred.class_ids[match.pair_pred] != gt.class_ids[match.pair_gt])
               & (match.gt_pred[match.pair_gt] >= 0))
    need = np.where(claimed, iou_threshold, overlap)
    near = np.zeros(len(pred), bool)
    near[match.pair_pred[match.pair_iou >= need]] = True
    lone = np.flatnonzero((match.pred_gt < 0) & ~near)
    score, looked = s[lone], np.full(len(lone), np.nan)
    if look is not None:
        ask = np.flatnonzero(score >= LOOK_MIN_SCORE)
        q = lone[ask]
        looked[ask] = look.evidence([pred.stems[i] for i in pred.image[q]], pred.boxes[q],
                                    pred.class_ids[q], min_iou=iou_threshold)
        score[ask] = np.sqrt(score[ask] * looked[ask])
    return (pred.image[lone], score, _UNLABELLED, -1, pred.class_ids[lone], pred_best_iou[lone],
            s[lone], looked, lone, np.full(len(lone), -1))


def rank_label_issues(pred: BoxTable, gt: BoxTable, match: MatchResult | None = None, *,
                      iou_threshold: float = 0.5, overlap: float = 0.3,
                      unsupported_weight: float | None = None, top: int | None = None,
                      names: list[str] | None = None,
                      look: SecondLook | None = None) -> pd.DataFrame:
    """Images ranked by how likely their labels are wrong, most likely first.

    Parameters
    ----------
    pred, gt : BoxTable
        Aligned predictions (keep low-confidence ones: they are evidence) and labels.
    match : MatchResult, optional
        A matching already computed at ``iou_threshold``.
    overlap : float
        A prediction overlapping no label box by this IoU is an unlabelled object.
    unsupported_weight : float, optional
        Scale of the "unsupported label" score (so contradictions rank above silences);
        default :data:`UNSUPPORTED_WEIGHT`, or :data:`LOOK_UNSUPPORTED_WEIGHT` with ``look``.
    top : int, optional
        Keep only the first ``top`` images.
    names : list of str, optional
        Class names for the reasons.
    look : SecondLook, optional
        Re-check unmatched label boxes and confident unlabelled detections on zoomed crops
        (:mod:`tecktrack.mining.second_look`); needs the images and the model.

    Returns
    -------
    DataFrame
        Columns ``image, score, reason, n_issues``; images without suspicion are left out.

    Examples
    --------
    >>> gt = BoxTable(["a", "b"], [0, 1], [0, 0], [[.2, .2, .1, .1], [.5, .5, .2, .2]])
    >>> pred = BoxTable(["a", "b"], [0, 0, 1], [0, 0, 0],
    ...                 [[.2, .2, .1, .1], [.8, .8, .1, .1], [.5, .5, .2, .2]], [.9, .95, .9])
    >>> rank_label_issues(pred, gt)[["image", "reason"]].values.tolist()
    [['a', 'unlabelled object: 0 (confidence 0.95, best IoU 0.00)']]
    """
    match = match if match is not None else match_tables(pred, gt, iou_threshold)
    boxes = box_suspicions(pred, gt, match, overlap=overlap, unsupported_weight=unsupported_weight,
                           iou_threshold=iou_threshold, look=look)
    boxes = boxes[boxes["score"] > 0]
    if boxes.empty:
        return pd.DataFrame({"image": [], "score": [], "reason": [], "n_issues": []})
    n_issues = np.bincount(boxes["image"], minlength=pred.n_images)
    order = np.lexsort((boxes["image"].to_numpy(), -boxes["score"].to_numpy()))
    boxes = boxes.iloc[order]
    worst = boxes.drop_duplicates("image", keep="first")
    stems = np.asarray(pred.stems, dtype=object)
    frame = pd.DataFrame({"image": stems[worst["image"]], "score": worst["score"].to_numpy(),
                          "n_issues": n_issues[worst["image"]], "_row": np.arange(len(worst))})
    frame = frame.sort_values(["score", "n_issues", "image"], ascending=[False, False, True],
                              kind="stable")
    if top is not None:
        frame = frame.head(top)
    frame["reason"] = [_reason(worst.iloc[i], names) for i in frame["_row"]]
    return frame[["image", "score", "reason", "n_issues"]].reset_index(drop=True)


def _label_side(pred: BoxTable, gt: BoxTable, match: MatchResult, s: np.ndarray,
                unsupported_weight: float, look: SecondLook | None) -> list[tuple]:
    """Suspicions raised by unmatched label boxes: misplaced or unsupported."""
    unmatched_g = np.flatnonzero(match.gt_pred < 0)
    free_pair = (match.pred_gt[match.pair_pred] < 0) & (match.pair_iou >= _MIN_OVERLAP)
    pp, gg, iou = match.pair_pred[free_pair], match.pair_gt[free_pair], match.pair_iou[free_pair]
    order = np.lexsort((-s[pp], gg))              # per label box, its most confident overlap
    pp, gg, iou = pp[order], gg[order], iou[order]
    first = np.ones(len(gg), bool)
    first[1:] = gg[1:] != gg[:-1]
    best_pred = np.full(len(gt), -1, np.int64)
    best_iou = np.zeros(len(gt))
    best_pred[gg[first]], best_iou[gg[first]] = pp[first], iou[first]
    g_mis = unmatched_g[best_pred[unmatched_g] >= 0]
    p_mis = best_pred[g_mis]
    touched = _touched(match, len(gt))
    support = _kind_support(gt, touched)
    if look is None:
        g_uns = unmatched_g[(best_pred[unmatched_g] < 0) & ~touched[unmatched_g]]
        looked = np.full(len(g_uns), np.nan)
        score = unsupported_weight * support[g_uns]
    else:                     # every unmatched label, unless the closer look finds an object
        g_uns = unmatched_g
        looked = look.evidence([gt.stems[i] for i in gt.image[g_uns]], gt.boxes[g_uns],
                               min_iou=LOOK_LABEL_IOU)
        score = unsupported_weight * support[g_uns] * (1.0 - looked)
    return [
        (gt.image[g_mis], s[p_mis] * (1.0 - best_iou[g_mis]), _MISPLACED, gt.class_ids[g_mis],
         pred.class_ids[p_mis], best_iou[g_mis], s[p_mis], np.full(len(g_mis), np.nan),
         p_mis, g_mis),
        (gt.image[g_uns], score, _UNSUPPORTED, gt.class_ids[g_uns], -1, np.zeros(len(g_uns)),
         np.full(len(g_uns), np.nan), looked, np.full(len(g_uns), -1), g_uns),
    ]


def _label_class_support(pred: BoxTable, gt: BoxTable, match: MatchResult, s: np.ndarray,
                         min_iou: float = 0.5) -> np.ndarray:
    """Per label box: top confidence of a same-class prediction covering it at ``min_iou``."""
    same = ((pred.class_ids[match.pair_pred] == gt.class_ids[match.pair_gt])
            & (match.pair_iou >= min_iou))
    support = np.zeros(len(gt))
    np.maximum.at(support, match.pair_gt[same], s[match.pair_pred[same]])
    return support


def _touched(match: MatchResult, n_gt: int) -> np.ndarray:
    """True for label boxes some prediction overlaps by IoU >= 0.1."""
    touched = np.zeros(n_gt, bool)
    touched[match.pair_gt[match.pair_iou >= _MIN_OVERLAP]] = True
    return touched


def _nested(gt: BoxTable) -> np.ndarray:
    """True for label boxes lying at least half inside another label box of their image."""
    xyxy = cxcywh_to_xyxy(gt.boxes)
    area = np.maximum(gt.boxes[:, 2] * gt.boxes[:, 3], 1e-12)
    nested = np.zeros(len(gt), bool)
    for lo, hi in image_chunks(gt.counts() ** 2):
        a, b = box_pairs(gt, gt, lo, hi)
        other = a != b
        a, b = a[other], b[other]
        lt = np.maximum(xyxy[a, :2], xyxy[b, :2])
        rb = np.minimum(xyxy[a, 2:], xyxy[b, 2:])
        inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
        nested[a[inter >= _NESTED * area[a]]] = True
    return nested


def _kind_support(gt: BoxTable, touched: np.ndarray) -> np.ndarray:
    """Per label box: smoothed fraction of boxes of its kind (class, size band, nested or
    not) that are touched."""
    if not len(gt):
        return np.zeros(0)
    area = gt.boxes[:, 2] * gt.boxes[:, 3]
    edges = np.quantile(area, np.linspace(0, 1, _SIZE_BANDS + 1)[1:-1])
    kind = (gt.class_ids * _SIZE_BANDS + np.searchsorted(edges, area)) * 2 + _nested(gt)
    size = int(kind.max()) + 1
    boxes = np.bincount(kind, minlength=size)
    hits = np.bincount(kind[touched], minlength=size)
    return ((hits + 1) / (boxes + 2))[kind]


def _reason(row: pd.Series, names: list[str] | None) -> str:
    def name(c: int) -> str:
        c = int(c)
        return names[c] if names is not None and 0 <= c < len(names) else str(c)

    kind = ISSUE_KINDS[int(row["kind"])]
    looked = row["second_look"]
    if kind == "unlabelled object":
        closer = "" if np.isnan(looked) else f", {looked:.2f} on a closer look"
        return (f"{kind}: {name(row['pred_class'])} (confidence {row['confidence']:.2f}"
                f"{closer}, best IoU {row['iou']:.2f})")
    if kind == "wrong class":
        return (f"{kind}: labelled {name(row['label_class'])}, detector says "
                f"{name(row['pred_class'])} (confidence {row['confidence']:.2f})")
    if kind == "misplaced box":
        return (f"{kind}: {name(row['label_class'])} overlaps a "
                f"{name(row['pred_class'])} prediction only at IoU {row['iou']:.2f} "
                f"(confidence {row['confidence']:.2f})")
    if np.isnan(looked):
        return f"{kind}: {name(row['label_class'])} with no overlapping prediction"
    return (f"{kind}: {name(row['label_class'])} with no matching prediction, nor one on a "
            f"closer look (best {looked:.2f})")
