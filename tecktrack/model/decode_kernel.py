"""Best-class decoding of YOLOv8 and Darknet outputs as compiled loops (numba).

:func:`~tecktrack.model.decoders.decode_yolov8` (one best class per box) and
:func:`~tecktrack.model.decoders.decode_darknet` call these: one pass over the class scores
finds each box's best class and score, and only the boxes above the threshold are gathered
and turned into corners. They give what the plain NumPy decoding gives, bit for bit: the
score is NumPy's ``max`` (a box with a NaN class score has a NaN score and is no candidate),
the class its ``argmax`` (the first of equal maxima), ``score > conf`` compared in float32,
and the corners ``c -/+ size / 2`` in float32. The tests run both on the same outputs.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from tecktrack.model.nms_kernel import kept_in_frame

__all__ = ["darknet_best", "darknet_kept", "yolov8_best", "yolov8_kept"]


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
    """Candidates of one ``(4 + nc, N)`` float32 output: corners, scores, best classes.

    Examples
    --------
    >>> out = np.zeros((6, 3), np.float32)
    >>> out[:4, 1] = [50, 40, 20, 10]; out[5, 1] = 0.9
    >>> xyxy, scores, classes = yolov8_best(out, np.float32(0.25))
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
    count = 0
    for j in range(n):
        count += best[j] > conf
    xyxy = np.empty((count, 4), np.float32)
    scores = np.empty(count, np.float32)
    classes = np.empty(count, np.int64)
    i = 0
    for j in range(n):
        if best[j] > conf:
            _corners(output[0, j], output[1, j], output[2, j], output[3, j], xyxy, i)
            scores[i] = best[j]
            classes[i] = arg[j]
            i += 1
    return xyxy, scores, classes


@njit(cache=True, nogil=True)
def darknet_best(rows: np.ndarray, maxima: np.ndarray, conf: np.float32, width: np.float32,
                 height: np.float32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidates of one Darknet layer's ``(N, 5 + nc)`` float32 region rows, with centres
    and sizes scaled from ``[0, 1]`` to the ``width x height`` network input.

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
    count = 0
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
        count += top > conf
    xyxy = np.empty((count, 4), np.float32)
    scores = np.empty(count, np.float32)
    classes = np.empty(count, np.int64)
    i = 0
    for j in range(n):
        if best[j] > conf:
            _corners(rows[j, 0] * width, rows[j, 1] * height, rows[j, 2] * width,
                     rows[j, 3] * height, xyxy, i)
            scores[i] = best[j]
            classes[i] = arg[j]
            i += 1
    return xyxy, scores, classes


@njit(cache=True, nogil=True)
def yolov8_kept(output: np.ndarray, conf: np.float32, agnostic: bool, cut: float, eps: float,
                max_det: int, offset: np.ndarray, scale: np.ndarray, limit: np.ndarray,
                clip: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """:func:`yolov8_best` and then :func:`~tecktrack.model.nms_kernel.kept_in_frame` in one
    call: a YOLOv8 output straight to the kept boxes in frame pixels, their classes, scores
    and the NMS status (what ``Model.predict`` computes in two steps).

    Examples
    --------
    >>> out = np.zeros((6, 2), np.float32)
    >>> out[:4, 1] = [50, 40, 20, 10]; out[5, 1] = 0.9
    >>> one = np.ones(4, np.float32)
    >>> xyxy, classes, scores, status = yolov8_kept(out, np.float32(0.25), False, 0.45,
    ...                                             2.2e-16, 300, 0 * one, one, 99 * one, True)
    >>> xyxy.tolist(), classes.tolist(), status
    ([[40.0, 35.0, 60.0, 45.0]], [1], 0)
    """
    xyxy, scores, classes = yolov8_best(output, conf)
    return kept_in_frame(xyxy, scores, classes, agnostic, cut, eps, max_det, offset, scale,
                         limit, clip)


@njit(cache=True, nogil=True)
def darknet_kept(layers: tuple, maxima: tuple, conf: np.float32, width: np.float32,
                 height: np.float32, agnostic: bool, cut: float, eps: float, max_det: int,
                 offset: np.ndarray, scale: np.ndarray, limit: np.ndarray,
                 clip: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """:func:`darknet_best` of every layer (a tuple of region-row arrays and a tuple of their
    ``cv2.reduce`` row maxima), the candidates joined in layer order, then
    :func:`~tecktrack.model.nms_kernel.kept_in_frame`: one call from outputs to detections.

    Examples
    --------
    >>> rows = np.array([[0.5, 0.5, 0.25, 0.5, 0.9, 0.0, 0.8]], np.float32)
    >>> one, size = np.ones(4, np.float32), np.float32(320)
    >>> xyxy, classes, scores, status = darknet_kept(
    ...     (rows, rows), (rows[:, 5:].max(1), rows[:, 5:].max(1)), np.float32(0.25), size,
    ...     size, False, 0.45, 2.2e-16, 300, 0 * one, one, 320 * one, True)
    >>> xyxy.tolist(), classes.tolist()
    ([[120.0, 80.0, 200.0, 240.0]], [1])
    """
    total = 0
    parts = []
    for k in range(len(layers)):
        part = darknet_best(layers[k], maxima[k], conf, width, height)
        total += part[1].shape[0]
        parts.append(part)
    xyxy = np.empty((total, 4), np.float32)
    scores = np.empty(total, np.float32)
    classes = np.empty(total, np.int64)
    at = 0
    for part in parts:
        m = part[1].shape[0]
        xyxy[at:at + m] = part[0]
        scores[at:at + m] = part[1]
        classes[at:at + m] = part[2]
        at += m
    return kept_in_frame(xyxy, scores, classes, agnostic, cut, eps, max_det, offset, scale,
                         limit, clip)
