"""Greedy prediction-to-label matching for many images at once, vectorised.

The rule is the one pycocotools uses, made class-agnostic so that a box with the wrong class
still counts as found (and as a misclassification): predictions are visited in order of
descending score inside their image, and each takes the still-free label box with the highest
IoU, if that IoU is at least the threshold.

Vectorisation: all (prediction, label) pairs of the same image are enumerated with index
arithmetic (no per-image loop), their IoUs computed in one call, and the greedy rule runs in
*rounds*: in each round every image commits its best-ranked prediction that still has a free
candidate. A round is one pass of NumPy over the live pairs, so the number of rounds is the
largest number of matches in any single image, not the number of images or boxes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tecktrack.datasets.box_table import BoxTable
from tecktrack.detections import cxcywh_to_xyxy, paired_iou

__all__ = ["MatchResult", "match_tables", "align_tables"]

#: Pairs enumerated per chunk of images (bounds the memory of one matching pass).
PAIRS_PER_CHUNK = 4_000_000


@dataclass(eq=False)
class MatchResult:
    """Outcome of :func:`match_tables`.

    Attributes
    ----------
    pred_gt : ndarray, shape (n_pred,)
        Index of the matched label box for each prediction, ``-1`` if unmatched.
    gt_pred : ndarray, shape (n_gt,)
        Index of the matched prediction for each label box, ``-1`` if unmatched.
    pair_pred, pair_gt, pair_iou : ndarray, shape (n_pairs,)
        Every same-image (prediction, label) pair with IoU > 0.
    """

    pred_gt: np.ndarray
    gt_pred: np.ndarray
    pair_pred: np.ndarray
    pair_gt: np.ndarray
    pair_iou: np.ndarray

    @property
    def matched_pred(self) -> np.ndarray:
        """Indices of matched predictions (ascending)."""
        return np.flatnonzero(self.pred_gt >= 0)



def align_tables(pred: BoxTable, gt: BoxTable) -> tuple[BoxTable, BoxTable, dict[str, int]]:
    """Restrict both tables to the stems they share, in the same (sorted) image order.

    Returns the two aligned tables and counts of the stems only one side had
    (``pred_only``, ``gt_only``), so callers can report what was left out.

    Examples
    --------
    >>> p = BoxTable(["a", "b"], [], [], np.zeros((0, 4)), [])
    >>> g = BoxTable(["b", "c"], [], [], np.zeros((0, 4)))
    >>> a, b, left = align_tables(p, g)
    >>> a.stems, b.stems, left
    (['b'], ['b'], {'pred_only': 1, 'gt_only': 1})
    """
    shared = sorted(set(pred.stems) & set(gt.stems))
    p_index = {s: i for i, s in enumerate(pred.stems)}
    g_index = {s: i for i, s in enumerate(gt.stems)}
    left = {"pred_only": pred.n_images - len(shared), "gt_only": gt.n_images - len(shared)}
    return (pred.take_images([p_index[s] for s in shared]),
            gt.take_images([g_index[s] for s in shared]), left)


def match_tables(pred: BoxTable, gt: BoxTable, iou_threshold: float = 0.5) -> MatchResult:
    """Greedy class-agnostic matching of predictions to labels, image by image, vectorised.

    Parameters
    ----------
    pred : BoxTable
        Predictions (with scores), aligned with ``gt`` (same ``stems``).
    gt : BoxTable
        Label boxes.
    iou_threshold : float
        Minimum IoU for a match.

    Examples
    --------
    >>> g = BoxTable(["a"], [0], [0], [[0.5, 0.5, 0.2, 0.2]])
    >>> p = BoxTable(["a"], [0, 0], [0, 1], [[0.5, 0.5, 0.2, 0.2], [0.51, 0.5, 0.2, 0.2]], [.6, .9])
    >>> match_tables(p, g).pred_gt      # the higher-scoring prediction takes the label
    array([-1,  0])
    """
    if pred.stems != gt.stems:
        raise ValueError("pred and gt must be aligned (same stems); use align_tables")
    if pred.scores is None:
        raise ValueError("predictions need scores")
    pred_gt = np.full(len(pred), -1, np.int64)
    gt_pred = np.full(len(gt), -1, np.int64)
    p_xyxy, g_xyxy = cxcywh_to_xyxy(pred.boxes), cxcywh_to_xyxy(gt.boxes)
    rank = _score_rank(pred)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for lo, hi in image_chunks(pred.counts() * gt.counts()):
        pp, gg = box_pairs(pred, gt, lo, hi)
        iou = paired_iou(p_xyxy[pp], g_xyxy[gg])
        keep = iou > 0
        pp, gg, iou = pp[keep], gg[keep], iou[keep]
        parts.append((pp, gg, iou))
        ok = iou >= iou_threshold
        _greedy_rounds(pred.image[pp[ok]], rank[pp[ok]], pp[ok], gg[ok], iou[ok], pred_gt, gt_pred)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    columns = zip(*(parts or [empty]), strict=True)
    pair_pred, pair_gt, pair_iou = (np.concatenate(c) for c in columns)
    return MatchResult(pred_gt, gt_pred, pair_pred.astype(np.int64), pair_gt.astype(np.int64),
                       pair_iou.astype(np.float64))


def _score_rank(pred: BoxTable) -> np.ndarray:
    """Rank of each prediction inside its image: 0 = highest score (stable on ties)."""
    order = np.lexsort((np.arange(len(pred)), -pred.scores.astype(np.float64), pred.image))
    rank = np.empty(len(pred), np.int64)
    rank[order] = np.arange(len(pred)) - np.repeat(pred.starts(), pred.counts())
    return rank


def image_chunks(pairs_per_image: np.ndarray) -> list[tuple[int, int]]:
    """Split images into consecutive ranges of at most ``PAIRS_PER_CHUNK`` pairs each."""
    cum = np.cumsum(pairs_per_image)
    bounds = [0]
    while bounds[-1] < len(pairs_per_image):
        base = cum[bounds[-1] - 1] if bounds[-1] else 0
        nxt = int(np.searchsorted(cum, base + PAIRS_PER_CHUNK, side="right"))
        bounds.append(max(nxt, bounds[-1] + 1))
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def box_pairs(pred: BoxTable, gt: BoxTable, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """All same-image (prediction, label) index pairs of images ``lo:hi``."""
    n_p, n_g = pred.counts()[lo:hi], gt.counts()[lo:hi]
    s_p, s_g = pred.starts()[lo:hi], gt.starts()[lo:hi]
    per_image = n_p * n_g
    img = np.repeat(np.arange(hi - lo), per_image)
    k = np.arange(int(per_image.sum())) - np.repeat(np.cumsum(per_image) - per_image, per_image)
    safe_g = np.maximum(n_g, 1)[img]
    return s_p[img] + k // safe_g, s_g[img] + k % safe_g


def _greedy_rounds(image: np.ndarray, rank: np.ndarray, pp: np.ndarray, gg: np.ndarray,
                   iou: np.ndarray, pred_gt: np.ndarray, gt_pred: np.ndarray) -> None:
    """Run the greedy rule on candidate pairs (IoU >= threshold), filling the match arrays."""
    order = np.lexsort((-iou, rank, image))
    image, pp, gg = image[order], pp[order], gg[order]
    while len(pp):
        first = np.ones(len(pp), bool)
        first[1:] = image[1:] != image[:-1]
        pred_gt[pp[first]] = gg[first]
        gt_pred[gg[first]] = pp[first]
        alive = (pred_gt[pp] < 0) & (gt_pred[gg] < 0)
        image, pp, gg = image[alive], pp[alive], gg[alive]
