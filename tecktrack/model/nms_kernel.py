"""Hard NMS as one compiled greedy loop (numba): OpenCV's rules at compiled speed.

:func:`greedy_nms` is what :func:`tecktrack.model.nms.nms_indices` runs when numba is
installed (a runtime dependency; ``TECKTRACK_NMS_KERNEL=0`` turns it off). It computes, for
every box, the same float64 operations as the NumPy strategies of ``nms.py`` (plain widths,
inverted boxes as zero area, two boxes whose areas sum to at most float64 eps overlapping
fully, ``iou > cut`` with the float32-exact cut of :func:`~tecktrack.model.nms._iou_cut`), so
the keeps are the same; the tests run every input through both.

The loop visits boxes class by class in descending score order (stable) and tests each against
the boxes its class has kept so far, the most recent first: ``O(n * kept)`` arithmetic and no
NumPy call per box, which is what bounds the vectorised strategies on small inputs (~0.5 us per
NumPy call whatever its size). The first call in a process loads the compiled code from numba's
cache (compiled once per machine, about 2-4 s, into ``__pycache__``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["BAD_BOXES", "BAD_SCORES", "greedy_nms", "kept_in_frame"]

#: Status codes of :func:`greedy_nms` besides 0 (done).
BAD_BOXES, BAD_SCORES = 1, 2


@njit(cache=True, nogil=True)
def _all_finite(values: np.ndarray) -> bool:
    for v in values.ravel():
        if not np.isfinite(v):
            return False
    return True


@njit(cache=True, nogil=True)
def greedy_nms(xyxy: np.ndarray, scores: np.ndarray, groups: np.ndarray, cut: float,
               eps: float) -> tuple[np.ndarray, int]:
    """Kept indices in descending score order (ties in input order), and a status.

    Parameters
    ----------
    xyxy : numpy.ndarray
        ``(n, 4)`` C-contiguous float64 corners.
    scores : numpy.ndarray
        ``(n,)`` float32 scores.
    groups : numpy.ndarray
        ``(n,)`` int64 classes (all equal for agnostic NMS).
    cut : float
        Largest IoU that is kept (``iou > cut`` suppresses), below 1.
    eps : float
        float64 epsilon: two boxes whose areas sum to at most this overlap fully.

    Returns
    -------
    kept : numpy.ndarray
        int64 indices (empty unless the status is 0).
    status : int
        0, :data:`BAD_BOXES` (a NaN or infinite corner) or :data:`BAD_SCORES`.

    Examples
    --------
    >>> boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10]], np.float64)
    >>> greedy_nms(boxes, np.array([0.9, 0.8, 0.7], np.float32),
    ...            np.array([0, 0, 1]), 0.45, 2.2e-16)
    (array([0, 2]), 0)
    """
    n = xyxy.shape[0]
    empty = np.empty(0, np.int64)
    if not _all_finite(xyxy):
        return empty, BAD_BOXES
    if not _all_finite(scores):
        return empty, BAD_SCORES
    order = _class_major_order(scores, groups)
    kept_rows = np.empty((n, 5), np.float64)
    keep = np.zeros(n, np.bool_)
    n_kept = 0
    start = 0  # where the current class's kept boxes start in kept_rows
    for p in range(n):
        j = order[p]
        if p == 0 or groups[j] != groups[order[p - 1]]:
            start = n_kept
        x1, y1, x2, y2 = xyxy[j, 0], xyxy[j, 1], xyxy[j, 2], xyxy[j, 3]
        area = max(x2 - x1, 0.0) * max(y2 - y1, 0.0)
        suppressed = False
        for t in range(n_kept - 1, start - 1, -1):
            union = kept_rows[t, 4] + area
            if union <= eps:
                suppressed = True
                break
            w = max(min(kept_rows[t, 2], x2) - max(kept_rows[t, 0], x1), 0.0)
            h = max(min(kept_rows[t, 3], y2) - max(kept_rows[t, 1], y1), 0.0)
            inter = w * h
            if inter / (union - inter) > cut:
                suppressed = True
                break
        if not suppressed:
            kept_rows[n_kept, 0] = x1
            kept_rows[n_kept, 1] = y1
            kept_rows[n_kept, 2] = x2
            kept_rows[n_kept, 3] = y2
            kept_rows[n_kept, 4] = area
            n_kept += 1
            keep[j] = True
    out = np.empty(n_kept, np.int64)
    m = 0
    for j in range(n):
        if keep[j]:
            out[m] = j
            m += 1
    return out[_descending(scores[out])], 0


#: Most boxes a class sorts by insertion (beyond it a merge sort is faster).
_INSERTION_MAX = 32
#: Widest class-id range sorted by counting (beyond it a merge sort by class).
_COUNTING_MAX = 1 << 16


@njit(cache=True, nogil=True)
def _descending(scores: np.ndarray) -> np.ndarray:
    """Indices sorting ``scores`` high to low, equal scores in index order (a stable sort)."""
    order = np.arange(scores.shape[0])
    _sort_part(order, scores, 0, order.shape[0])
    return order


@njit(cache=True, nogil=True)
def _sort_part(order: np.ndarray, scores: np.ndarray, start: int, stop: int) -> None:
    """Stably sort ``order[start:stop]`` (indices) by descending ``scores``, in place."""
    if stop - start > _INSERTION_MAX:
        part = order[start:stop]
        order[start:stop] = part[np.argsort(-scores[part], kind="mergesort")]
        return
    for i in range(start + 1, stop):
        j = order[i]
        s = scores[j]
        k = i
        while k > start and scores[order[k - 1]] < s:
            order[k] = order[k - 1]
            k -= 1
        order[k] = j


@njit(cache=True, nogil=True)
def _class_major_order(scores: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Box indices class by class (ascending class), each class high score first, equal
    scores in index order: what a stable sort by descending score and then a stable sort
    by class give, with a counting sort by class and small per-class sorts instead."""
    n = scores.shape[0]
    if n == 0:
        return np.empty(0, np.int64)
    low, high = groups.min(), groups.max()
    if high - low >= _COUNTING_MAX:
        ranked = np.argsort(-scores, kind="mergesort")
        return ranked[np.argsort(groups[ranked], kind="mergesort")]
    starts = np.zeros(high - low + 2, np.int64)
    for j in range(n):
        starts[groups[j] - low + 1] += 1
    for g in range(1, starts.shape[0]):
        starts[g] += starts[g - 1]
    order = np.empty(n, np.int64)
    fill = starts[:-1].copy()
    for j in range(n):
        g = groups[j] - low
        order[fill[g]] = j
        fill[g] += 1
    for g in range(starts.shape[0] - 1):
        _sort_part(order, scores, starts[g], starts[g + 1])
    return order


@njit(cache=True, nogil=True)
def kept_in_frame(xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, agnostic: bool,
                  cut: float, eps: float, max_det: int, offset: np.ndarray, scale: np.ndarray,
                  limit: np.ndarray, clip: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                          int]:
    """:func:`greedy_nms` on float32 candidates, then the first ``max_det`` kept boxes mapped
    back to the frame, in one call: ``(xyxy - offset) / scale`` in float32, clipped to
    ``[0, limit]`` as ``np.clip`` does when ``clip``; with their classes, scores and the status.

    The same float32 operations as :func:`tecktrack.model.preprocess.unmap_kept`.

    Examples
    --------
    >>> boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10]], np.float32)
    >>> one, zero = np.ones(4, np.float32), np.zeros(4, np.float32)
    >>> xyxy, classes, scores, status = kept_in_frame(
    ...     boxes, np.array([0.9, 0.8, 0.7], np.float32), np.array([0, 0, 1]), False, 0.45,
    ...     2.2e-16, 300, zero, one + one, np.full(4, 4, np.float32), True)
    >>> xyxy.tolist(), classes.tolist(), status
    ([[0.0, 0.0, 4.0, 4.0], [0.0, 0.0, 4.0, 4.0]], [0, 1], 0)
    """
    n = xyxy.shape[0]
    boxes = np.empty((n, 4), np.float64)
    for i in range(n):
        for k in range(4):
            boxes[i, k] = xyxy[i, k]
    groups = np.zeros(n, np.int64) if agnostic else class_ids
    kept, status = greedy_nms(boxes, scores, groups, cut, eps)
    m = min(kept.shape[0], max_det)
    out = np.empty((m, 4), np.float32)
    classes = np.empty(m, np.int64)
    kept_scores = np.empty(m, np.float32)
    zero = np.float32(0.0)
    for i in range(m):
        j = kept[i]
        classes[i] = class_ids[j]
        kept_scores[i] = scores[j]
        for k in range(4):
            v = (xyxy[j, k] - offset[k]) / scale[k]
            if clip:  # np.clip: min(max(v, 0), limit), -0.0 becoming 0.0 as NumPy's does
                v = v if v > zero else zero
                v = v if v < limit[k] else limit[k]
            out[i, k] = v
    return out, classes, kept_scores, status
