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

__all__ = ["BAD_BOXES", "BAD_SCORES", "greedy_nms"]

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
    ranked = np.argsort(-scores, kind="mergesort")
    order = ranked[np.argsort(groups[ranked], kind="mergesort")]
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
    for p in range(n):
        if keep[ranked[p]]:
            out[m] = ranked[p]
            m += 1
    return out, 0
