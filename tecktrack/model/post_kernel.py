"""Post-processing as compiled loops (numba): outputs to detections, NMS included.

One file on purpose: numba caches compiled code per source file, and a kernel that calls a
kernel of another file keeps its own compiled copy of it, which an edit to that other file
does not invalidate. Kernels that call each other therefore live together here.

**NMS.** :func:`greedy_nms` is what :func:`tecktrack.model.nms.nms_indices` runs when numba
is installed (a runtime dependency; ``TECKTRACK_NMS_KERNEL=0`` turns it off). It computes, for
every box, the same float64 operations as the NumPy strategies of ``nms.py`` (plain widths,
inverted boxes as zero area, two boxes whose areas sum to at most float64 eps overlapping
fully, ``iou > cut`` with the float32-exact cut of :func:`~tecktrack.model.nms._iou_cut`), so
the keeps are the same; the tests run every input through both. The loop visits boxes class
by class in descending score order (stable; a counting sort by class and insertion sorts of
small classes) and tests each against the boxes its class has kept so far, the most recent
first: ``O(n * kept)`` arithmetic and no NumPy call per box, which is what bounds the
vectorised strategies on small inputs (~0.5 us per NumPy call whatever its size).
:func:`kept_rows` adds Ultralytics' class offsets and :func:`kept_in_frame` maps the kept
boxes back to the frame in the same call.

**Decoding.** :func:`yolov8_best` and :func:`darknet_best` (called by
:func:`~tecktrack.model.decoders.decode_yolov8` and
:func:`~tecktrack.model.decoders.decode_darknet`) find each box's best class and score in one
pass and gather only the boxes above the threshold, giving what the plain NumPy decoding
gives, bit for bit: the score is NumPy's ``max`` (a box with a NaN class score has a NaN
score and is no candidate), the class its ``argmax`` (the first of equal maxima),
``score > conf`` compared in float32, and the corners ``c -/+ size / 2`` in float32.
:func:`yolov8_kept` and :func:`darknet_kept` run decoding, NMS and the way back as one call
for ``Model.predict``.

The first call in a process loads the compiled code from numba's cache (compiled once per
machine, a few seconds, into ``__pycache__``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["BAD_BOXES", "BAD_SCORES", "darknet_best", "darknet_candidates", "darknet_kept",
           "greedy_nms", "kept_in_frame", "kept_rows", "yolov8_best", "yolov8_kept"]

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
                  class_offset: np.float32, cut: float, eps: float, max_det: int,
                  offset: np.ndarray, scale: np.ndarray, limit: np.ndarray,
                  clip: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """:func:`kept_rows` on float32 candidates, then the first ``max_det`` kept boxes mapped
    back to the frame, in one call: ``(xyxy - offset) / scale`` in float32, clipped to
    ``[0, limit]`` as ``np.clip`` does when ``clip``; with their classes, scores and the status.

    The same float32 operations as :func:`tecktrack.model.preprocess.unmap_kept`.

    Examples
    --------
    >>> boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10]], np.float32)
    >>> one, zero = np.ones(4, np.float32), np.zeros(4, np.float32)
    >>> xyxy, classes, scores, status = kept_in_frame(
    ...     boxes, np.array([0.9, 0.8, 0.7], np.float32), np.array([0, 0, 1]), False,
    ...     np.float32(0), 0.45, 2.2e-16, 300, zero, one + one, np.full(4, 4, np.float32), True)
    >>> xyxy.tolist(), classes.tolist(), status
    ([[0.0, 0.0, 4.0, 4.0], [0.0, 0.0, 4.0, 4.0]], [0, 1], 0)
    """
    kept, status = kept_rows(xyxy, scores, class_ids, agnostic, class_offset, cut, eps)
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


@njit(cache=True, nogil=True)
def kept_rows(xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, agnostic: bool,
              class_offset: np.float32, cut: float, eps: float) -> tuple[np.ndarray, int]:
    """:func:`greedy_nms` of float32 candidates per class (all together when ``agnostic``),
    and with ``class_offset > 0`` (not agnostic) as Ultralytics runs it: on corners shifted
    by ``class * class_offset`` in float32, where a box with no positive width or height
    neither suppresses nor is suppressed (torchvision's IoU for it is 0 or NaN) and stays,
    in descending score order among the kept ones.

    Examples
    --------
    >>> boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [5, 5, 5, 9]], np.float32)
    >>> kept_rows(boxes, np.array([0.9, 0.8, 0.85], np.float32), np.array([0, 0, 0]),
    ...           False, np.float32(7680), 0.45, 2.2e-16)
    (array([0, 2]), 0)
    """
    n = xyxy.shape[0]
    shift = class_offset > 0 and not agnostic
    boxes = np.empty((n, 4), np.float64)
    proper = np.ones(n, np.bool_)
    n_proper = n
    for i in range(n):
        lift = np.float32(class_ids[i]) * class_offset if shift else np.float32(0.0)
        for k in range(4):
            boxes[i, k] = xyxy[i, k] + lift if shift else xyxy[i, k]
        if shift:
            x1, y1 = xyxy[i, 0] + lift, xyxy[i, 1] + lift
            proper[i] = (xyxy[i, 2] + lift > x1) and (xyxy[i, 3] + lift > y1)
            n_proper -= not proper[i]
    groups = np.zeros(n, np.int64) if agnostic else class_ids
    if n_proper == n:
        return greedy_nms(boxes, scores, groups, cut, eps)
    inside = np.flatnonzero(proper)
    kept, status = greedy_nms(boxes[inside], scores[inside], groups[inside], cut, eps)
    if status:
        return kept, status
    both = np.concatenate((inside[kept], np.flatnonzero(~proper)))
    return both[_descending(scores[both])], 0


@njit(cache=True, nogil=True)
def _corners(cx: np.float32, cy: np.float32, w: np.float32, h: np.float32,
             out: np.ndarray, i: int) -> None:
    half_w = w / np.float32(2.0)
    half_h = h / np.float32(2.0)
    out[i, 0] = cx - half_w
    out[i, 1] = cy - half_h
    out[i, 2] = cx + half_w
    out[i, 3] = cy + half_h


@njit(cache=True, nogil=True)
def yolov8_best(output: np.ndarray, conf: np.float32) -> tuple[np.ndarray, np.ndarray,
                                                                 np.ndarray]:
    """Candidates of one ``(4 + nc, N)`` float32 output: corners, best classes, scores (the
    order of :func:`~tecktrack.model.trusted.trusted_detections`).

    Examples
    --------
    >>> out = np.zeros((6, 3), np.float32)
    >>> out[:4, 1] = [50, 40, 20, 10]; out[5, 1] = 0.9
    >>> xyxy, classes, scores = yolov8_best(out, np.float32(0.25))
    >>> xyxy.tolist(), classes.tolist()
    ([[40.0, 35.0, 60.0, 45.0]], [1])
    """
    n = output.shape[1]
    best = output[4].copy()
    arg = np.zeros(n, np.int32)
    for r in range(5, output.shape[0]):
        row = output[r]
        c = np.int32(r - 4)
        for j in range(n):
            v = row[j]
            if v > best[j] or v != v:  # a NaN sticks: NumPy's max is NaN, no candidate
                best[j] = v
                arg[j] = c
    one = np.float32(1.0)  # x * 1 is x in float32: the corners as NumPy computes them
    return _gathered(best, arg, conf, output[:4].T, one, one)


@njit(cache=True, nogil=True)
def _gathered(best: np.ndarray, classes_of: np.ndarray, conf: np.float32, boxes: np.ndarray,
              width: np.float32, height: np.float32) -> tuple[np.ndarray, np.ndarray,
                                                             np.ndarray]:
    """The candidates ``best > conf``: corners of their ``(n, 4)`` centre/size ``boxes``
    scaled by ``width, height``, their classes and scores."""
    count = 0
    for j in range(best.shape[0]):
        count += best[j] > conf
    xyxy = np.empty((count, 4), np.float32)
    scores = np.empty(count, np.float32)
    classes = np.empty(count, np.int64)
    i = 0
    for j in range(best.shape[0]):
        if best[j] > conf:
            _corners(boxes[j, 0] * width, boxes[j, 1] * height, boxes[j, 2] * width,
                     boxes[j, 3] * height, xyxy, i)
            scores[i] = best[j]
            classes[i] = classes_of[j]
            i += 1
    return xyxy, classes, scores


@njit(cache=True, nogil=True)
def darknet_best(rows: np.ndarray, maxima: np.ndarray, conf: np.float32, width: np.float32,
                 height: np.float32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidates of one Darknet layer's ``(N, 5 + nc)`` float32 region rows, with centres
    and sizes scaled from ``[0, 1]`` to the ``width x height`` network input: corners, best
    classes, scores.

    ``maxima`` are the rows' class maxima as ``cv2.reduce(..., REDUCE_MAX)`` gives them
    (several times faster than a loop; its verdict on a row holding a NaN is not NumPy's,
    so every row it puts above ``conf`` is checked again here, and a row with a NaN is never
    a candidate, whatever it says about it).

    Examples
    --------
    >>> rows = np.array([[0.5, 0.5, 0.25, 0.5, 0.9, 0.0, 0.8]], np.float32)
    >>> size = np.float32(320)
    >>> darknet_best(rows, rows[:, 5:].max(1), np.float32(0.25), size, size)[0].tolist()
    [[120.0, 80.0, 200.0, 240.0]]
    """
    n, cols = rows.shape
    best = np.empty(n, np.float32)
    arg = np.zeros(n, np.int64)
    for j in range(n):
        if not maxima[j] > conf:  # no candidate, or a NaN row (never one)
            best[j] = np.float32(np.nan)
            continue
        row = rows[j]
        top = row[5]
        at = 0
        for c in range(6, cols):
            v = row[c]
            if v > top or v != v:  # a NaN sticks
                top = v
                at = c - 5
        best[j] = top
        arg[j] = at
    return _gathered(best, arg, conf, rows[:, :4], width, height)


@njit(cache=True, nogil=True)
def yolov8_kept(output: np.ndarray, conf: np.float32, agnostic: bool, class_offset: np.float32,
                cut: float, eps: float, max_det: int, offset: np.ndarray, scale: np.ndarray,
                limit: np.ndarray, clip: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """:func:`yolov8_best` and then :func:`kept_in_frame` in one
    call: a YOLOv8 output straight to the kept boxes in frame pixels, their classes, scores
    and the NMS status (what ``Model.predict`` computes in two steps).

    Examples
    --------
    >>> out = np.zeros((6, 2), np.float32)
    >>> out[:4, 1] = [50, 40, 20, 10]; out[5, 1] = 0.9
    >>> one = np.ones(4, np.float32)
    >>> xyxy, classes, scores, status = yolov8_kept(out, np.float32(0.25), False, np.float32(0),
    ...                                             0.45, 2.2e-16, 300, 0 * one, one, 99 * one,
    ...                                             True)
    >>> xyxy.tolist(), classes.tolist(), status
    ([[40.0, 35.0, 60.0, 45.0]], [1], 0)
    """
    xyxy, classes, scores = yolov8_best(output, conf)
    return kept_in_frame(xyxy, scores, classes, agnostic, class_offset, cut, eps, max_det,
                         offset, scale, limit, clip)


@njit(cache=True, nogil=True)
def darknet_candidates(layers: tuple, maxima: tuple, conf: np.float32, width: np.float32,
                       height: np.float32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`darknet_best` of every layer (a tuple of region-row arrays and a tuple of their
    ``cv2.reduce`` row maxima), the candidates joined in layer order: corners, classes, scores.

    Examples
    --------
    >>> rows = np.array([[0.5, 0.5, 0.25, 0.5, 0.9, 0.0, 0.8]], np.float32)
    >>> size = np.float32(320)
    >>> xyxy, classes, scores = darknet_candidates(
    ...     (rows, rows), (rows[:, 5:].max(1), rows[:, 5:].max(1)), np.float32(0.25), size, size)
    >>> xyxy.tolist(), classes.tolist()
    ([[120.0, 80.0, 200.0, 240.0], [120.0, 80.0, 200.0, 240.0]], [1, 1])
    """
    total = 0
    parts = []
    for k in range(len(layers)):
        part = darknet_best(layers[k], maxima[k], conf, width, height)
        total += part[1].shape[0]
        parts.append(part)
    xyxy = np.empty((total, 4), np.float32)
    classes = np.empty(total, np.int64)
    scores = np.empty(total, np.float32)
    at = 0
    for part in parts:
        m = part[1].shape[0]
        xyxy[at:at + m] = part[0]
        classes[at:at + m] = part[1]
        scores[at:at + m] = part[2]
        at += m
    return xyxy, classes, scores


@njit(cache=True, nogil=True)
def darknet_kept(layers: tuple, maxima: tuple, conf: np.float32, width: np.float32,
                 height: np.float32, agnostic: bool, class_offset: np.float32, cut: float,
                 eps: float, max_det: int, offset: np.ndarray, scale: np.ndarray,
                 limit: np.ndarray, clip: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """:func:`darknet_candidates` and then :func:`kept_in_frame`: one call from outputs to
    detections.

    Examples
    --------
    >>> rows = np.array([[0.5, 0.5, 0.25, 0.5, 0.9, 0.0, 0.8]], np.float32)
    >>> one, size = np.ones(4, np.float32), np.float32(320)
    >>> xyxy, classes, scores, status = darknet_kept(
    ...     (rows, rows), (rows[:, 5:].max(1), rows[:, 5:].max(1)), np.float32(0.25), size,
    ...     size, False, np.float32(0), 0.45, 2.2e-16, 300, 0 * one, one, 320 * one, True)
    >>> xyxy.tolist(), classes.tolist()
    ([[120.0, 80.0, 200.0, 240.0]], [1])
    """
    xyxy, classes, scores = darknet_candidates(layers, maxima, conf, width, height)
    return kept_in_frame(xyxy, scores, classes, agnostic, class_offset, cut, eps, max_det,
                         offset, scale, limit, clip)
