"""COCO matching of predictions to ground truth, vectorised over every image-class group.

pycocotools walks each image and class, each IoU threshold and each detection in Python. Here
the detections of all groups are ranked once; the greedy match is then replayed in *rounds*:
round ``r`` takes the ``r``-th candidate detection of every group at once and settles it for
all IoU thresholds and area ranges together. A group's earlier detections are settled in
earlier rounds, so the result equals the sequential greedy match of pycocotools exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tecktrack.errors import EvaluationError
from tecktrack.metrics._inputs import FlatInputs
from tecktrack.metrics.iou import corner_iou

#: COCO area ranges (inclusive bounds in pixels squared), as pycocotools defines them.
AREA_RANGES: dict[str, tuple[float, float]] = {
    "all": (0.0, 1e5**2),
    "small": (0.0, 32.0**2),
    "medium": (32.0**2, 96.0**2),
    "large": (96.0**2, 1e5**2),
}


@dataclass(frozen=True)
class MatchResult:
    """Matched detections: kept detections (at most ``max_det`` per image-class group).

    Attributes
    ----------
    det_index : (n,) int
        Index of each kept detection in the flat prediction arrays, ordered by group
        (image, class) and then by descending score (input order breaks ties).
    image, cls, rank : (n,) int
        Image number, class number and rank within its group (0 = highest score).
    score : (n,) float64
        Detection scores.
    gt_match : (A, T, n) int
        Index of the matched ground-truth box in the flat arrays, ``-1`` when unmatched.
    ignored : (A, T, n) bool
        Detection matched to an ignored (crowd or out-of-range) ground truth, or unmatched
        and itself outside the area range: counted neither as TP nor FP.
    gt_ignored : (A, n_gt) bool
        Ground truth ignored per area range (crowd or area outside the range).
    n_positive : (A, K) int
        Number of non-ignored ground-truth boxes per area range and class.
    """

    det_index: np.ndarray
    image: np.ndarray
    cls: np.ndarray
    rank: np.ndarray
    score: np.ndarray
    gt_match: np.ndarray
    ignored: np.ndarray
    gt_ignored: np.ndarray
    n_positive: np.ndarray

    @property
    def matched(self) -> np.ndarray:
        """``(A, T, n)`` bool: the detection matched some ground truth."""
        return self.gt_match >= 0

    @property
    def true_positive(self) -> np.ndarray:
        """``(A, T, n)`` bool: matched and not ignored."""
        return (self.gt_match >= 0) & ~self.ignored

    @property
    def false_positive(self) -> np.ndarray:
        """``(A, T, n)`` bool: unmatched and not ignored."""
        return (self.gt_match < 0) & ~self.ignored



def _rank_detections(flat: FlatInputs, max_det: int | None) -> tuple[np.ndarray, ...]:
    """Order detections by group then descending score; keep the top ``max_det`` per group."""
    group = flat.dt_image * flat.n_classes + flat.dt_class
    order = np.lexsort((np.arange(len(group)), -flat.dt_score, group))
    g_sorted = group[order]
    rank = np.arange(len(order)) - np.searchsorted(g_sorted, g_sorted, side="left")
    keep = rank < max_det if max_det is not None else np.ones(len(order), bool)
    return order[keep], g_sorted[keep], rank[keep]


def _candidate_pairs(flat: FlatInputs, det: np.ndarray, det_group: np.ndarray,
                     min_iou: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (detection, ground truth) pairs of the same group with IoU >= ``min_iou``.

    Returns pair arrays ``(p_det, p_gt, p_iou)``: ``p_det`` indexes ``det`` (non-decreasing),
    ``p_gt`` the flat ground truth (input order within a group).
    """
    g_group = flat.gt_image * flat.n_classes + flat.gt_class
    g_order = np.argsort(g_group, kind="stable")
    g_sorted = g_group[g_order]
    start = np.searchsorted(g_sorted, det_group, side="left")
    count = np.searchsorted(g_sorted, det_group, side="right") - start
    total = int(count.sum())
    p_det = np.repeat(np.arange(len(det)), count)
    shift = np.repeat(start - (np.cumsum(count) - count), count)
    p_gt = g_order[np.arange(total) + shift]
    d = det[p_det]
    p_iou = corner_iou(flat.dt_corners[d], flat.gt_corners[p_gt], flat.dt_wh_area[d],
                       flat.gt_wh_area[p_gt], flat.gt_crowd[p_gt])
    keep = p_iou >= min_iou
    return p_det[keep], p_gt[keep], p_iou[keep]


def _rounds(p_det: np.ndarray, det_group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order pairs into rounds: round ``r`` holds the ``r``-th candidate detection per group.

    Returns the pair permutation and the round boundaries into it.
    """
    new = np.ones(len(p_det), bool)
    new[1:] = p_det[1:] != p_det[:-1]
    cand = p_det[new]
    cand_group = det_group[cand]
    cand_rank = np.arange(len(cand)) - np.searchsorted(cand_group, cand_group, side="left")
    p_round = cand_rank[np.cumsum(new) - 1]
    perm = np.argsort(p_round, kind="stable")
    n_rounds = int(p_round.max()) + 1 if len(p_round) else 0
    bounds = np.searchsorted(p_round[perm], np.arange(n_rounds + 1), side="left")
    return perm, bounds


def _settle_round(p_det: np.ndarray, p_gt: np.ndarray, p_iou: np.ndarray, thr: np.ndarray,
                  gt_ig: np.ndarray, crowd: np.ndarray, gt_taken: np.ndarray,
                  gt_match: np.ndarray) -> None:
    """Match one detection per group (the pairs given) for every area range and threshold.

    Mirrors pycocotools: an available ground truth is unmatched or crowd; a detection takes
    the best-IoU available non-ignored ground truth at or above the threshold (the last one
    on ties), and only falls back to ignored ground truth when no such one exists.
    """
    n = len(p_det)
    starts = np.flatnonzero(np.r_[True, p_det[1:] != p_det[:-1]])
    counts = np.diff(np.r_[starts, n])
    ig = gt_ig[:, None, p_gt]                                           # (A, 1, P)
    valid = (~gt_taken[:, :, p_gt] | crowd[p_gt]) & (p_iou >= thr[:, None])  # (A, T, P)
    has_regular = np.logical_or.reduceat(valid & ~ig, starts, axis=2)
    cand = valid & (~ig | ~np.repeat(has_regular, counts, axis=2))
    key = np.where(cand, p_iou, -1.0)
    best = np.repeat(np.maximum.reduceat(key, starts, axis=2), counts, axis=2)
    pos = np.where(cand & (key == best), np.arange(n), -1)
    choice = np.maximum.reduceat(pos, starts, axis=2)
    a, t, s = np.nonzero(choice >= 0)
    g = p_gt[choice[a, t, s]]
    gt_taken[a, t, g] = True
    gt_match[a, t, p_det[starts[s]]] = g


def _outside(area: np.ndarray, ranges: np.ndarray) -> np.ndarray:
    """``(A, n)`` bool: area below or above each inclusive range."""
    return (area[None] < ranges[:, :1]) | (area[None] > ranges[:, 1:])


def _greedy(flat: FlatInputs, det: np.ndarray, det_group: np.ndarray, thr: np.ndarray,
            gt_ig: np.ndarray) -> np.ndarray:
    """``(A, T, n)`` matched ground-truth index per kept detection (-1: none), round by round."""
    n_a, n_t = len(gt_ig), len(thr)
    gt_match = np.full((n_a, n_t, len(det)), -1, dtype=np.int64)
    if n_t == 0:
        return gt_match
    p_det, p_gt, p_iou = _candidate_pairs(flat, det, det_group, float(thr.min()))
    perm, bounds = _rounds(p_det, det_group)
    gt_taken = np.zeros((n_a, n_t, len(flat.gt_area)), bool)
    for r in range(len(bounds) - 1):
        sl = perm[bounds[r]:bounds[r + 1]]
        _settle_round(p_det[sl], p_gt[sl], p_iou[sl], thr, gt_ig, flat.gt_crowd, gt_taken,
                      gt_match)
    return gt_match


def match(flat: FlatInputs, iou_thresholds: Sequence[float],
          area_ranges: Sequence[tuple[float, float]] = tuple(AREA_RANGES.values()),
          max_det: int | None = 100) -> MatchResult:
    """Greedy COCO matching for every IoU threshold and area range at once.

    Parameters
    ----------
    flat : FlatInputs
        Output of :func:`tecktrack.metrics._inputs.flatten`.
    iou_thresholds : sequence of float
        IoU thresholds ``T`` (a match needs IoU >= ``min(t, 1 - 1e-10)``).
    area_ranges : sequence of (low, high)
        Inclusive area bounds ``A``; ground truth outside is ignored.
    max_det : int or None
        Keep the top ``max_det`` detections per image and class (``None``: keep all).

    Examples
    --------
    >>> from tecktrack.detections import Detections
    >>> from tecktrack.metrics._inputs import flatten
    >>> g = {"a": Detections([[0, 0, 10, 10]], [0])}
    >>> p = {"a": Detections([[0, 0, 10, 10], [0, 0, 10, 8]], [0, 0], [0.5, 0.9])}
    >>> m = match(flatten(g, p), [0.5], [(0, 1e10)])
    >>> m.score.tolist(), m.gt_match[0, 0].tolist()
    ([0.8999999761581421, 0.5], [0, -1])
    """
    thr = np.minimum(np.asarray(iou_thresholds, np.float64), 1 - 1e-10)
    rng = np.asarray(area_ranges, np.float64).reshape(-1, 2)
    if len(rng) == 0:
        raise EvaluationError("match needs at least one area range")
    det, det_group, rank = _rank_detections(flat, max_det)
    gt_ig = _outside(flat.gt_area, rng) | flat.gt_crowd[None]
    gt_match = _greedy(flat, det, det_group, thr, gt_ig)
    matched = gt_match >= 0
    match_ig = gt_ig[np.arange(len(rng))[:, None, None], np.maximum(gt_match, 0)] if len(
        flat.gt_area) else np.zeros_like(matched)
    ignored = np.where(matched, match_ig, _outside(flat.dt_area[det], rng)[:, None, :])
    n_positive = np.stack([np.bincount(flat.gt_class[~ig], minlength=flat.n_classes)
                           for ig in gt_ig]).reshape(len(rng), flat.n_classes)
    return MatchResult(
        det_index=det, image=flat.dt_image[det], cls=flat.dt_class[det], rank=rank,
        score=flat.dt_score[det], gt_match=gt_match, ignored=ignored, gt_ignored=gt_ig,
        n_positive=n_positive,
    )
