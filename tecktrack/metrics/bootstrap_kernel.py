"""One IoU threshold of one (area, class) curve over a chunk of resamples, as a compiled loop.

:func:`~tecktrack.metrics.bootstrap._accumulate_curve` calls :func:`threshold_curve` once
per IoU threshold. The NumPy steps it replaces (cumulative true positives, ignored
detections subtracted, precision, the envelope, the recall thresholds each true positive
reaches, the dot product, the recall lost to ``maxDets``) each made a pass over a
``(true positives, resamples)`` array; here one pass forward and one back do all of it, in
the same float64 operations (the envelope's products are summed in the same forward order as
``einsum``), so the numbers are the NumPy ones.

The first call in a process loads the compiled code from numba's cache.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["threshold_curve"]

_EPS = np.spacing(1.0)


@njit(cache=True, nogil=True)
def threshold_curve(w: np.ndarray, total: np.ndarray, pos: np.ndarray, ignored: np.ndarray,
                    ranks: np.ndarray, max_dets: np.ndarray, table: np.ndarray,
                    row_start: np.ndarray, summed: np.ndarray, late: np.ndarray,
                    found: np.ndarray) -> None:
    """The AP sum, true positives found and true positives beyond each ``maxDets`` of one threshold.

    Parameters
    ----------
    w, total : ndarray (n_det, B) int32
        Each detection's weight in each resample, and its cumulative sum down the
        score-ordered detections.
    pos, ignored : ndarray int64
        Ascending rows of the true positives and of the ignored detections.
    ranks : ndarray int64
        Each true positive's rank within its image (for ``maxDets``).
    max_dets : ndarray int64
    table, row_start : ndarray
        The flattened recall-threshold lookup ``F[p, x]`` and each resample's row start in it
        (``_served``).
    summed, found : ndarray (B,) float64 / int64
        Written: the envelope summed over the 101 recall thresholds (divided by 101: the AP)
        and the true positives found.
    late : ndarray (M, B) int64
        Written: the true positives ranked at or beyond each ``maxDets``.

    Examples
    --------
    >>> w = np.ones((2, 1), np.int32); total = np.cumsum(w, axis=0, dtype=np.int32)
    >>> table = np.array([1, 51, 101], np.int16)       # one positive kind: F[2, x]
    >>> summed, late, found = np.zeros(1), np.zeros((1, 1), np.int64), np.zeros(1, np.int64)
    >>> threshold_curve(w, total, np.array([1]), np.zeros(0, np.int64), np.array([0]),
    ...                 np.array([100]), table, np.zeros(1, np.int32), summed, late, found)
    >>> float(summed[0]), int(found[0])                    # one TP after one FP: precision 0.5
    (25.5, 1)
    """
    n_p = pos.shape[0]
    n_b = w.shape[1]
    tpc = np.zeros(n_b, np.int32)
    igc = np.zeros(n_b, np.int32)
    before = np.zeros(n_b, np.int32)
    late[:] = 0
    envelope = np.empty((n_p, n_b))
    reached = np.empty((n_p, n_b), np.int32)
    j = 0
    for i in range(n_p):
        p = pos[i]
        while j < ignored.shape[0] and ignored[j] < p:
            row = w[ignored[j]]
            for b in range(n_b):
                igc[b] += row[b]
            j += 1
        weights = w[p]
        seen = total[p]
        for b in range(n_b):
            tpc[b] += weights[b]
            envelope[i, b] = tpc[b] / (np.float64(seen[b] - igc[b]) + _EPS)
            now = np.int32(table[row_start[b] + tpc[b]])
            reached[i, b] = now - before[b]
            before[b] = now
        for m in range(max_dets.shape[0]):
            if ranks[i] >= max_dets[m]:
                for b in range(n_b):
                    late[m, b] += weights[b]
    for i in range(n_p - 2, -1, -1):  # the envelope: the best precision from here on
        for b in range(n_b):
            envelope[i, b] = max(envelope[i, b], envelope[i + 1, b])
    for b in range(n_b):
        summed[b] = 0.0
        found[b] = tpc[b]
    for i in range(n_p):
        for b in range(n_b):
            summed[b] += envelope[i, b] * reached[i, b]
