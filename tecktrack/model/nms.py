"""Non-maximum suppression: class-aware, agnostic and Soft-NMS, vectorised and OpenCV-exact.

Hard NMS keeps exactly the boxes ``cv2.dnn.NMSBoxes`` keeps when it is run per class on the
same boxes (``cv2.dnn.NMSBoxesBatched`` in one call), in the same order. What that takes,
read from OpenCV's ``nms.inl.hpp`` / ``jaccardDistance`` and checked in tests/test_nms.py:

* candidates are ordered by descending float32 score with a *stable* sort, so ties keep
  input order;
* IoU uses plain widths (``x2 - x1``, no ``+1`` pixel), in float64, and the result is passed
  through float32 (``1.f - float(1 - iou)``) before the comparison;
* a box is suppressed when that overlap is ``> iou_threshold`` (equal is kept);
* two boxes whose areas sum to at most float64 epsilon (both zero-area) have IoU 1, so
  within one class the first zero-area box suppresses all later zero-area boxes (for
  ``iou_threshold < 1``); a zero-area box never suppresses a box with area.

Deliberate differences: inverted boxes (``x2 < x1`` or ``y2 < y1``) count as zero-area here,
where OpenCV would use a signed negative area; no score threshold is applied (OpenCV drops
scores ``<= score_threshold``, so it agrees with any threshold below the lowest score);
``max_det`` caps the *output*, where OpenCV's ``top_k`` for hard NMS caps the candidates.

Four exact strategies, cross-checked against each other and against OpenCV in the tests:

* up to 32 boxes (class-aware or not): a plain-Python greedy loop over Python floats, the
  same arithmetic operation for operation; NumPy's per-call cost (~0.5 us, whatever the size)
  would exceed the whole loop there;
* class-aware, more boxes: sort by (class, rank); the best box of every class drops what it
  overlaps in one vectorised step; the boxes left form an NMS problem of their own, which
  - up to 40 boxes (usually) the same Python loop finishes;
  - up to 256 boxes and 2,048 same-class pairs, the IoU of every same-class pair at once
    resolves, from those suppression edges, in a few vectorised rounds (one per link of the
    longest kept/suppressed chain);
  - beyond, greedy suppression runs for every class at the same time, each round keeping the
    best remaining box of each class and dropping, with one vectorised IoU row per class,
    what it overlaps; rounds = boxes kept by the busiest class, not boxes;
* one class (``agnostic`` or no class ids): 32 candidates at a time, resolved exactly from
  their pairs, whose kept boxes then drop every remaining box they overlap in one matrix.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np

from tecktrack.detections import Detections

__all__ = ["NMS", "check_status", "compiled_settings", "nms_in_frame", "nms_indices", "soft_nms"]

_EPS = float(np.finfo(np.float64).eps)
# Native dtypes are singletons: ``a.dtype is _F32`` is the cheapest exact dtype test.
_F32, _F64, _I64 = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64)
_F32_ONE = np.float32(1.0)
SoftMethod = Literal["linear", "gaussian"]


# -- small helpers ---------------------------------------------------------------------------
# NMS often runs on ~100 boxes, where NumPy's Python-level wrappers (``np.take``, ``.any()``,
# ``.min()``, ``np.flatnonzero`` ...) cost more than the work itself (~0.8 us each); the hot
# paths therefore call the C-level array methods directly.
def _all(mask: np.ndarray) -> bool:
    """``mask.all()`` through ``argmin`` (first False)."""
    flat = mask.ravel()
    return flat.size == 0 or bool(flat[flat.argmin()])


def _any(mask: np.ndarray) -> bool:
    """``mask.any()`` through ``argmax`` (first True)."""
    flat = mask.ravel()
    return flat.size > 0 and bool(flat[flat.argmax()])


def _smallest(values: np.ndarray) -> float:
    """``values.min()`` of a non-empty array through ``argmin``."""
    return float(values[values.argmin()])


# -- input handling --------------------------------------------------------------------------
def _finite(values: np.ndarray) -> bool:
    """Whether every entry is finite (no warning for NaN or infinity, unlike arithmetic)."""
    return _all(np.isfinite(values))


def _corners(xyxy: np.ndarray) -> np.ndarray:
    """``(n, 4)`` corners as float32 or float64 (other dtypes become float64), not yet checked
    for NaN: both convert exactly to float64, so every later step sees the same values."""
    if type(xyxy) is np.ndarray and xyxy.ndim == 2 and xyxy.shape[1] == 4 \
            and (xyxy.dtype is _F32 or xyxy.dtype is _F64):
        return xyxy  # what a detector hands over: nothing to convert
    b = np.asarray(xyxy)
    if b.dtype is not _F32 and b.dtype is not _F64:
        b = b.astype(_F64)
    if b.size == 0:
        b = b.reshape(0, 4)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"xyxy must have shape (n, 4), got {b.shape}")
    return b


_BAD_XYXY = "xyxy contains NaN or infinite coordinates"
_BAD_SCORES = "scores contain NaN or infinite values"


def _xyxy64(xyxy: np.ndarray) -> np.ndarray:
    """Validated float64 ``(n, 4)`` corners."""
    b = _corners(xyxy)
    if not _finite(b):
        raise ValueError(_BAD_XYXY)
    return b.astype(np.float64, copy=False)


def _box_rows(xyxy64: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Boxes in ``order`` as float64 rows ``x1, y1, x2, y2, area``, shape ``(5, n)``.

    Rows rather than columns, so every vectorised step runs over long contiguous rows and a
    gather is one ``take``. Inverted boxes get area 0.
    """
    out = np.empty((5, len(order)), dtype=np.float64)
    xyxy64.T.take(order, axis=1, out=out[:4])
    wh = out[2:4] - out[:2]
    np.maximum(wh, 0.0, out=wh)
    np.multiply(wh[0], wh[1], out=out[4])
    return out


def _scores(scores: np.ndarray, n: int) -> np.ndarray:
    """float32 scores of shape ``(n,)``, not yet checked for NaN."""
    if type(scores) is np.ndarray and scores.dtype is _F32 and scores.shape == (n,):
        return scores  # what a detector hands over: nothing to convert
    s = np.asarray(scores, dtype=np.float32).reshape(-1)
    if s.shape != (n,):
        raise ValueError(f"scores must have shape ({n},), got {s.shape}")
    return s


def _scores32(scores: np.ndarray, n: int) -> np.ndarray:
    s = _scores(scores, n)
    if not _finite(s):
        raise ValueError(_BAD_SCORES)
    return s


def _classes(class_ids: np.ndarray | None, n: int, agnostic: bool) -> np.ndarray | None:
    """Class ids as int64, or ``None`` when every box is in one group."""
    if class_ids is None or agnostic:
        return None
    if type(class_ids) is np.ndarray and class_ids.dtype is _I64 and class_ids.shape == (n,):
        return class_ids
    c = np.asarray(class_ids).reshape(-1)
    if c.shape != (n,):
        raise ValueError(f"class_ids must have shape ({n},), got {c.shape}")
    if c.dtype.kind not in "iub" and c.size:
        if c.dtype.kind != "f" or not _all(np.isfinite(c)) or _any(c != np.round(c)):
            raise ValueError("class_ids must be integers")
    return c.astype(np.int64, copy=False)


def _check_threshold(name: str, value: float) -> float:
    v = float(value)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return v


def _check_max_det(max_det: int | None) -> int | None:
    if max_det is None:
        return None
    if isinstance(max_det, bool) or int(max_det) != max_det or max_det < 1:
        raise ValueError(f"max_det must be a positive integer or None, got {max_det!r}")
    return int(max_det)


# -- OpenCV's overlap, exactly -----------------------------------------------------------------
def _f32_overlap(iou: np.ndarray | float) -> np.ndarray:
    """OpenCV's ``1.f - (float)(1.0 - iou)``: the float32 overlap it compares and decays with."""
    return _F32_ONE - (1.0 - np.asarray(iou, dtype=np.float64)).astype(np.float32)


def _double_from_bits(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<q", bits))[0]


@lru_cache(maxsize=128)
def _iou_cut(threshold: float) -> float:
    """Largest float64 IoU that OpenCV keeps at ``threshold`` (overlap32 <= float32(threshold)).

    The float32 round trip is monotone in the IoU, so ``overlap32 > thr32`` is exactly
    ``iou > cut``; comparing float64 IoUs with ``cut`` avoids two casts per pair.

    Examples
    --------
    >>> _iou_cut(0.5) >= 0.5 and float(_f32_overlap(_iou_cut(0.5))) <= 0.5
    True
    """
    thr32 = np.float32(threshold)
    lo = 0  # bit pattern of 0.0: always kept since thr >= 0
    hi = struct.unpack("<q", struct.pack("<d", 1.0))[0]
    if _f32_overlap(1.0) <= thr32:
        return 1.0
    while hi - lo > 1:  # invariant: f(lo) <= thr32 < f(hi); doubles >= 0 order like their bits
        mid = (lo + hi) // 2
        if _f32_overlap(_double_from_bits(mid)) <= thr32:
            lo = mid
        else:
            hi = mid
    return _double_from_bits(lo)


_CUTS: dict[float, float] = {}


def _cut_at(iou_threshold: float) -> float:
    """:func:`_iou_cut` of a checked threshold, memoised on the value the caller passes."""
    cut = _CUTS.get(iou_threshold) if type(iou_threshold) is float else None
    if cut is None:
        cut = _iou_cut(_check_threshold("iou_threshold", iou_threshold))
        if type(iou_threshold) is float and len(_CUTS) < 256:
            _CUTS[iou_threshold] = cut
    return cut


def _pair_iou(a: np.ndarray, b: np.ndarray, degenerate: bool) -> np.ndarray:
    """OpenCV's float64 IoU of paired ``(5, m)`` boxes from :func:`_box_rows` (``(5, 1)``
    broadcasts).

    With ``degenerate=True``, pairs whose areas sum to <= float64 eps get IoU 1 as in
    ``cv::jaccardDistance``; callers pass ``False`` when no box has area <= eps (then the
    union is always positive).
    """
    lt = np.maximum(a[:2], b[:2])
    wh = np.minimum(a[2:4], b[2:4])
    wh -= lt
    np.maximum(wh, 0.0, out=wh)
    inter = wh[0] * wh[1]
    union = a[4] + b[4]
    if not degenerate:
        union -= inter
        return np.divide(inter, union, out=inter)
    tiny = union <= _EPS
    union -= inter
    union[tiny] = 1.0
    iou = np.divide(inter, union, out=inter)
    iou[tiny] = 1.0
    return iou


# -- ordering and groups -----------------------------------------------------------------------
def _rank_order(scores32: np.ndarray) -> np.ndarray:
    """Indices by descending score, ties in input order (OpenCV's ``std::stable_sort``)."""
    return (-scores32).argsort(kind="stable")


def _segment_heads(groups: np.ndarray) -> np.ndarray:
    """Boolean mask of the first element of every run of equal values in ``groups``."""
    head = np.empty(len(groups), dtype=bool)
    if len(groups):
        head[0] = True
        np.not_equal(groups[1:], groups[:-1], out=head[1:])
    return head


# -- hard NMS: exact greedy outcome from explicit pairs --------------------------------------
def _resolve_edges(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Greedy outcome given every suppression edge ``i -> j`` (i ranked above j): kept mask.

    Edges only ever join undecided boxes. Each round, the boxes no edge points at are kept
    (nothing left can suppress them) and the boxes they point at are suppressed; the
    rounds follow the longest kept/suppressed chain, usually one or two.
    """
    kept = np.empty(n, dtype=bool)
    kept.fill(True)
    while i.size:
        blocked = np.zeros(n, dtype=bool)
        blocked[j] = True
        live = blocked[i]  # edges whose source is still undecided
        kept[j[~live]] = False
        if not _any(live):
            break
        live &= kept[i]
        live &= kept[j]
        i, j = i[live], j[live]
    return kept


def _overlapping(boxes: np.ndarray, i: np.ndarray, j: np.ndarray, cut: float,
                 degenerate: bool) -> tuple[np.ndarray, np.ndarray]:
    """The pairs ``(i, j)`` whose IoU exceeds ``cut``: the suppression edges."""
    over = _pair_iou(boxes.take(i, axis=1), boxes.take(j, axis=1), degenerate) > cut
    return i[over], j[over]


# -- tiny inputs: the greedy loop itself, in plain Python ----------------------------------------
#: Up to this many boxes, NMS runs as a plain-Python greedy loop over Python floats: each NumPy
#: call costs ~0.5 us whatever its size, and the vectorised paths need 30 to 40 of them, more
#: than the loop spends on a few dozen detector candidates (~0.1 us per IoU test). Worst case,
#: 32 boxes of one class that all survive (496 tests), it costs about what those paths do.
_PY_MAX = 32


def _greedy_python(rows: list[list[float]], order: list[int] | range,
                   groups: list[int] | None, cut: float) -> tuple[list[int], float]:
    """Greedy NMS on Python floats, visiting ``rows`` (``x1, y1, x2, y2``) in ``order`` (rank
    order within each group): the indices kept, in visiting order, and the sum of every box's
    ``x2 - x1 + y2 - y1`` (not finite when a corner is NaN or infinite).

    The same arithmetic as :func:`_box_rows` and :func:`_pair_iou`, operation for operation
    (Python floats are IEEE doubles), so the outcome is that of the vectorised paths; a pair
    whose areas sum to at most float64 eps has IoU 1.
    """
    eps = _EPS
    if groups is None:
        groups = [0] * len(rows)
    kept_by_group: dict[int, list[tuple[float, float, float, float, float]]] = {}
    keep: list[int] = []
    check = 0.0
    for i in order:
        x1, y1, x2, y2 = rows[i]
        w = x2 - x1
        h = y2 - y1
        check += w + h
        area = w * h if w > 0.0 and h > 0.0 else 0.0
        group = groups[i]
        kept = kept_by_group.get(group)
        if kept is None:
            kept_by_group[group] = [(x1, y1, x2, y2, area)]
            keep.append(i)
            continue
        for box in kept:
            k1, l1, k2, l2, k_area = box
            w = (k2 if k2 < x2 else x2) - (k1 if k1 > x1 else x1)
            if w > 0.0:
                h = (l2 if l2 < y2 else y2) - (l1 if l1 > y1 else y1)
                if h > 0.0:
                    union = k_area + area
                    if union <= eps:
                        break  # both (near) zero-area: IoU 1 > cut
                    inter = w * h
                    if inter / (union - inter) > cut:
                        if box is not kept[0]:  # test the last suppressor first next time
                            kept.remove(box)
                            kept.insert(0, box)
                        break
                    continue
            if k_area + area <= eps:
                break
        else:
            kept.append((x1, y1, x2, y2, area))
            keep.append(i)
    return keep, check


def _ranked(scores: list[float]) -> list[int]:
    """Indices by descending score, ties in input order (``reverse=True`` keeps sort
    stability), like :func:`_rank_order`."""
    return sorted(range(len(scores)), key=scores.__getitem__, reverse=True)


# -- class-aware: each class's best box at once, then the rest ---------------------------------
#: Most boxes left after the leader pass that the plain-Python greedy finishes; more go
#: through the all-pairs path (a Python test costs ~0.1 us, so 40 boxes of one class that all
#: survive, 780 tests, still cost about what the vectorised path does).
_TAIL_MAX = 40
#: Most boxes left after the leader pass that go through the all-pairs path; more go through
#: :func:`_nms_by_rounds` (same-class pairs grow with the square of the boxes, rounds do not).
_PAIRS_MAX = 256
#: Most same-class pairs the all-pairs path evaluates; a busy class (a detector's 150
#: candidates of one class leave 11,000 pairs) goes through :func:`_nms_by_rounds` instead,
#: whose rounds follow the boxes it keeps, not the pairs.
_PAIRS_BUDGET = 2048


def _pair_count(groups: np.ndarray) -> int:
    """Same-group pairs ``i < j`` of a group-sorted array: the sum of ``k (k - 1) / 2``."""
    starts = _segment_heads(groups).nonzero()[0]
    sizes = np.diff(starts, append=len(groups))
    return int(sizes.dot(sizes - 1)) // 2


def _nms_by_leaders(boxes: np.ndarray, groups: np.ndarray, cut: float,
                    degenerate: bool) -> np.ndarray:
    """Greedy NMS on boxes sorted by (group, rank); returns the kept positions, ascending.

    The first box of every group is kept and drops every box of its group it overlaps, all
    groups in one vectorised step. What is left can only be suppressed by what is left (a
    dropped box suppresses nothing), so it is an NMS problem of its own, usually a handful of
    boxes: the plain-Python greedy finishes it; more go through :func:`_nms_by_pairs`, many
    more through :func:`_nms_by_rounds`.
    """
    start = groups.searchsorted(groups)  # where each box's group starts (groups ascend)
    head = start == _positions(len(groups))
    over = _pair_iou(boxes.take(start, axis=1), boxes, degenerate) > cut
    over |= head
    rest = (~over).nonzero()[0]
    if rest.size:
        rest_boxes = boxes.take(rest, axis=1)
        if rest.size <= _TAIL_MAX:
            kept, _ = _greedy_python(rest_boxes[:4].T.tolist(), range(rest.size),
                                     groups.take(rest).tolist(), cut)
        else:
            rest_groups = groups.take(rest)
            if rest.size <= _PAIRS_MAX and _pair_count(rest_groups) <= _PAIRS_BUDGET:
                kept = _nms_by_pairs(rest_boxes, rest_groups, cut, degenerate)
            else:
                kept = _nms_by_rounds(rest_boxes, rest_groups, cut, degenerate)
        head[rest.take(kept)] = True
    return head.nonzero()[0]


_ARANGE = np.arange(1024)
_ARANGE.setflags(write=False)


def _positions(n: int) -> np.ndarray:
    """``np.arange(n)``, as a read-only view of a cached array for small ``n``."""
    return _ARANGE[:n] if n <= len(_ARANGE) else np.arange(n)


# -- class-aware, many boxes left after the leaders: every same-class pair at once -------------
def _group_pairs(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``i < j`` in the same run of a group-sorted array: each ``j`` pairs with
    the positions from its run's start up to ``j - 1``."""
    idx = np.arange(len(groups))
    start = np.maximum.accumulate(idx * _segment_heads(groups))
    count = idx - start
    first = np.add.accumulate(count)
    total = int(first[-1])
    first -= count
    first -= start
    return np.arange(total) - first.repeat(count), idx.repeat(count)


def _nms_by_pairs(boxes: np.ndarray, groups: np.ndarray, cut: float,
                  degenerate: bool) -> np.ndarray:
    """Exact greedy NMS from the IoU of every same-group pair, for boxes sorted by
    (group, rank); returns the kept positions, ascending."""
    i, j = _overlapping(boxes, *_group_pairs(groups), cut, degenerate)
    return _resolve_edges(boxes.shape[1], i, j).nonzero()[0]


# -- one class (agnostic): blocks of the best remaining boxes ----------------------------------
_BLOCK = 32


@lru_cache(maxsize=1)
def _block_pairs(size: int = _BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """Every position pair ``i < j < size``, ordered by ``j``, so that the pairs among the
    first ``k`` positions are the first ``k * (k - 1) / 2`` entries."""
    j, i = np.tril_indices(size, -1)
    return i, j


def _nms_blocked(boxes: np.ndarray, cut: float, degenerate: bool) -> np.ndarray:
    """Greedy NMS of rank-sorted boxes in one group, ``_BLOCK`` candidates at a time.

    The best remaining boxes are resolved exactly among themselves (earlier kept boxes
    have already removed what they suppress), then the boxes they keep remove, in one
    IoU matrix, every remaining box they overlap. Returns kept positions, ascending.
    """
    pos = np.arange(boxes.shape[1])
    i_all, j_all = _block_pairs()
    kept: list[np.ndarray] = []
    while pos.size:
        head, pos = pos[:_BLOCK], pos[_BLOCK:]
        m = head.size * (head.size - 1) // 2
        head_boxes = boxes.take(head, axis=1)
        i, j = _overlapping(head_boxes, i_all[:m], j_all[:m], cut, degenerate)
        new = head[_resolve_edges(head.size, i, j)]
        kept.append(new)
        if pos.size:
            iou = _pair_iou(boxes.take(new, axis=1)[:, :, None],
                            boxes.take(pos, axis=1)[:, None, :], degenerate)
            pos = pos[~(iou > cut).any(axis=0)]
    return np.concatenate(kept)


# -- class-aware, large inputs: one round per kept box of the busiest class -------------------
def _nms_by_rounds(boxes: np.ndarray, groups: np.ndarray, cut: float,
                   degenerate: bool) -> np.ndarray:
    """Greedy NMS on boxes sorted by (group, rank), all groups at once: each round keeps the
    best remaining box of every group and drops the boxes of that group it overlaps.

    Returns the kept positions, ascending.
    """
    pos = np.arange(boxes.shape[1])
    kept: list[np.ndarray] = []
    while pos.size:
        head = _segment_heads(groups.take(pos))
        starts = head.nonzero()[0]
        owner = boxes.take(pos[starts], axis=1).repeat(np.diff(starts, append=pos.size), axis=1)
        kept.append(pos[head])
        head |= _pair_iou(owner, boxes.take(pos, axis=1), degenerate) > cut
        pos = pos[~head]
    kept_all = np.concatenate(kept)
    kept_all.sort()
    return kept_all


def _nms_tiny(boxes: np.ndarray, scores32: np.ndarray, classes: np.ndarray | None,
              cut: float, cap: int | None) -> np.ndarray:
    """:func:`nms_indices` for at most ``_PY_MAX`` boxes, NaN checks included, in plain Python."""
    score_list = scores32.tolist()
    if not math.isfinite(sum(score_list)):  # float32 values: the sum cannot overflow
        raise ValueError(_BAD_SCORES)
    if cut >= 1.0:
        if not _finite(boxes):
            raise ValueError(_BAD_XYXY)
        kept = _ranked(score_list)
    else:
        kept, check = _greedy_python(boxes.tolist(), _ranked(score_list),
                                     None if classes is None else classes.tolist(), cut)
        # ``check`` is finite unless a corner is NaN or infinite, or the sum overflows.
        if not math.isfinite(check) and not _all(np.isfinite(boxes)):
            raise ValueError(_BAD_XYXY)
    return np.array(kept[:cap], dtype=np.int64)


# -- the compiled greedy loop (numba), when it is installed -----------------------------------
_UNSET = object()
_KERNEL: object = _UNSET


def _kernel():
    """:func:`tecktrack.model.post_kernel.greedy_nms`, or ``None`` without numba or with
    ``TECKTRACK_NMS_KERNEL=0`` (then the NumPy strategies above run)."""
    global _KERNEL
    if _KERNEL is _UNSET:
        _KERNEL = None
        if os.environ.get("TECKTRACK_NMS_KERNEL", "1") != "0":
            try:
                from tecktrack.model.post_kernel import greedy_nms
            except ImportError:
                pass
            else:
                _KERNEL = greedy_nms
    return _KERNEL


def _nms_compiled(kernel, boxes: np.ndarray, scores32: np.ndarray,
                  classes: np.ndarray | None, cut: float) -> np.ndarray:
    """:func:`nms_indices` through the compiled loop (same keeps, same errors)."""
    groups = np.zeros(len(boxes), np.int64) if classes is None \
        else np.ascontiguousarray(classes)
    kept, status = kernel(np.ascontiguousarray(boxes, dtype=np.float64),
                          np.ascontiguousarray(scores32), groups, cut, _EPS)
    check_status(status)
    return kept


def nms_in_frame(xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray,
                 iou_threshold: float, agnostic: bool, max_det: int | None, offset: np.ndarray,
                 scale: np.ndarray, limit: np.ndarray, clip: bool,
                 class_offset: float | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """:func:`nms_indices` on a detector's float32 candidates and the kept rows mapped back to
    the frame, in one compiled call: ``(xyxy, class_ids, scores)`` of the kept boxes, their
    corners ``(xyxy - offset) / scale`` in float32 (clipped to ``[0, limit]`` when ``clip``),
    as :func:`tecktrack.model.preprocess.unmap_kept` computes them.

    ``xyxy`` ``(n, 4)`` (taken as float32, what the decoders make), ``scores`` and
    ``class_ids`` ``(n,)``. ``class_offset`` (not agnostic): suppress as Ultralytics
    does, on corners shifted by ``class * class_offset`` in float32, boxes with no positive
    width or height kept as they are (see ``Model``). ``None`` when the compiled loop is off
    (``TECKTRACK_NMS_KERNEL=0``) or the threshold keeps everything: use :func:`nms_indices`.

    Raises
    ------
    ValueError
        On NaN or infinite corners or scores, as :func:`nms_indices`.

    Examples
    --------
    >>> boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10]], np.float32)
    >>> one = np.ones(4, np.float32)
    >>> xyxy, classes, scores = nms_in_frame(boxes, np.array([0.9, 0.8], np.float32),
    ...                                      np.array([0, 0]), 0.45, False, 300, 0 * one,
    ...                                      one, 100 * one, True)
    >>> xyxy.tolist(), classes.tolist()
    ([[0.0, 0.0, 10.0, 10.0]], [0])
    """
    settings = compiled_settings(iou_threshold, max_det, len(xyxy))
    if settings is None:
        return None
    from tecktrack.model.post_kernel import kept_in_frame

    lift = np.float32(class_offset or 0.0)
    *kept, status = kept_in_frame(np.ascontiguousarray(xyxy, np.float32),
                                  np.ascontiguousarray(scores, np.float32),
                                  np.ascontiguousarray(class_ids, np.int64), bool(agnostic),
                                  lift, *settings, offset, scale, limit, bool(clip))
    check_status(status)
    return tuple(kept)


def compiled_settings(iou_threshold: float, max_det: int | None,
                      n: int) -> tuple[float, float, int] | None:
    """``(cut, eps, max_det)`` as the compiled NMS kernels take them for ``n`` boxes, or
    ``None`` when the compiled loop is off (``TECKTRACK_NMS_KERNEL=0``, no numba) or the
    threshold keeps every box.

    Examples
    --------
    >>> compiled_settings(0.45, None, 7)[2], compiled_settings(1.0, 300, 7)
    (7, None)
    """
    cut = _cut_at(iou_threshold)
    if cut >= 1.0 or _kernel() is None:
        return None
    return cut, _EPS, n if max_det is None else _check_max_det(max_det)


def check_status(status: int) -> None:
    """Raise the ``ValueError`` of :func:`nms_indices` for a compiled kernel's error status.

    Examples
    --------
    >>> check_status(0)
    """
    if status:
        from tecktrack.model.post_kernel import BAD_BOXES

        raise ValueError(_BAD_XYXY if status == BAD_BOXES else _BAD_SCORES)


def nms_indices(xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray | None = None,
                iou_threshold: float = 0.45, agnostic: bool = False, *,
                max_det: int | None = None) -> np.ndarray:
    """Indices of the boxes hard NMS keeps, in descending score order (stable for ties).

    Identical to ``cv2.dnn.NMSBoxes`` run per class (``cv2.dnn.NMSBoxesBatched``) with a
    score threshold below every score: see the module docstring for the exact rules.

    Parameters
    ----------
    xyxy : array-like, shape (n, 4)
        Pixel corners ``x1, y1, x2, y2``.
    scores : array-like, shape (n,)
        Confidences; compared as float32, like OpenCV.
    class_ids : array-like, shape (n,), optional
        Integer classes; boxes only suppress boxes of their own class. ``None`` means one class.
    iou_threshold : float
        A box is dropped when its IoU with a kept, higher-ranked box is ``> iou_threshold``.
    agnostic : bool
        Ignore ``class_ids`` and suppress across classes.
    max_det : int, optional
        Keep at most this many (the highest-scoring) of the surviving boxes.

    Returns
    -------
    np.ndarray
        int64 indices into the inputs.

    Examples
    --------
    >>> boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10]], dtype=np.float32)
    >>> nms_indices(boxes, [0.9, 0.8, 0.7], class_ids=[0, 0, 1])
    array([0, 2])
    >>> nms_indices(boxes, [0.9, 0.8, 0.7], class_ids=[0, 0, 1], agnostic=True)
    array([0])
    """
    boxes = _corners(xyxy)
    n = len(boxes)
    scores32 = _scores(scores, n)
    classes = _classes(class_ids, n, agnostic)
    cap = _check_max_det(max_det)
    cut = _cut_at(iou_threshold)
    kernel = _kernel()
    if kernel is not None and cut < 1.0:
        return _nms_compiled(kernel, boxes, scores32, classes, cut)[:cap]
    if n <= _PY_MAX:
        return _nms_tiny(boxes, scores32, classes, cut, cap)
    if not _finite(boxes):
        raise ValueError(_BAD_XYXY)
    ranked = _rank_order(scores32)
    # The sort puts +inf first, -inf and NaN last: the two ends tell whether all are finite.
    if not (math.isfinite(scores32[ranked[0]]) and math.isfinite(scores32[ranked[-1]])):
        raise ValueError(_BAD_SCORES)
    if cut >= 1.0:
        return ranked[:cap]
    # Class-major order: a stable sort by class of the ranked boxes keeps rank order in a class.
    by_class = None if classes is None else classes.take(ranked).argsort(kind="stable")
    order = ranked if by_class is None else ranked.take(by_class)
    rows = _box_rows(boxes.astype(np.float64, copy=False), order)
    degenerate = _smallest(rows[4]) <= _EPS
    if by_class is None:
        return ranked.take(_nms_blocked(rows, cut, degenerate)[:cap])
    kept = _nms_by_leaders(rows, classes.take(order), cut, degenerate)
    # Back from class-major to global score order: the kept boxes' ranks, ascending.
    kept = by_class.take(kept)
    kept.sort()
    return ranked.take(kept[:cap])


# -- Soft-NMS ----------------------------------------------------------------------------------
def _decay(scores: np.ndarray, iou: np.ndarray, method: SoftMethod, thr32: np.float32,
           sigma32: np.float32) -> np.ndarray:
    """OpenCV's float32 score update: linear ``s *= 1 - ov`` when ``ov > thr``; Gaussian
    ``s *= exp(-ov^2 / sigma)``, with ``ov`` the float32 overlap."""
    ov = _f32_overlap(iou)
    if method == "linear":
        return scores * np.where(ov > thr32, _F32_ONE - ov, _F32_ONE)
    ov *= ov
    ov /= -sigma32
    return scores * np.exp(ov)


def soft_nms(xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray | None = None, *,
             method: SoftMethod = "gaussian", iou_threshold: float = 0.3, sigma: float = 0.5,
             score_floor: float = 0.001, agnostic: bool = False,
             max_det: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Soft-NMS (Bodla et al. 2017): decay overlapping scores instead of dropping boxes.

    Repeatedly takes the highest remaining score of each class (ties: lowest index), keeps it,
    and multiplies the scores of the other boxes of its class by ``1 - IoU`` when ``IoU >
    iou_threshold`` (``"linear"``) or by ``exp(-IoU**2 / sigma)`` (``"gaussian"``, which
    ignores ``iou_threshold``). Boxes whose score falls below ``score_floor`` are dropped.
    Per class this is ``cv2.dnn.softNMSBoxes`` (same IoU, order and update rules).

    Parameters
    ----------
    xyxy, scores, class_ids, agnostic, max_det
        As in :func:`nms_indices`.
    method : {"linear", "gaussian"}
        Score decay.
    iou_threshold : float
        Overlap above which the linear decay applies.
    sigma : float
        Gaussian width (> 0).
    score_floor : float
        Boxes whose (decayed) score is below this are removed.

    Returns
    -------
    indices : np.ndarray
        int64 indices of kept boxes, by descending updated score (ties: lower index first).
    updated_scores : np.ndarray
        float32 decayed scores of those boxes.

    Examples
    --------
    >>> boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 5]], dtype=np.float32)
    >>> idx, s = soft_nms(boxes, [0.9, 0.8], method="linear", iou_threshold=0.3)
    >>> idx, s.round(3)
    (array([0, 1]), array([0.9, 0.4], dtype=float32))
    """
    if method not in ("linear", "gaussian"):
        raise ValueError(f"method must be 'linear' or 'gaussian', got {method!r}")
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma!r}")
    if not score_floor >= 0:
        raise ValueError(f"score_floor must be >= 0, got {score_floor!r}")
    xyxy64 = _xyxy64(xyxy)
    n = len(xyxy64)
    scores32 = _scores32(scores, n)
    classes = _classes(class_ids, n, agnostic)
    cap = _check_max_det(max_det)
    thr32 = np.float32(_check_threshold("iou_threshold", iou_threshold))
    by_index = np.arange(n) if classes is None else classes.argsort(kind="stable")
    boxes = _box_rows(xyxy64, by_index)
    kept, kept_scores = _soft_rounds(
        boxes, None if classes is None else classes.take(by_index), scores32.take(by_index),
        method, thr32, np.float32(sigma), np.float32(score_floor),
        n > 0 and _smallest(boxes[4]) <= _EPS)
    kept = by_index[kept]
    final = np.lexsort((kept, -kept_scores))[:cap]
    return kept[final], kept_scores[final]


def _soft_single(boxes: np.ndarray, cur: np.ndarray, method: SoftMethod, thr32: np.float32,
                 sigma32: np.float32, floor32: np.float32,
                 degenerate: bool) -> tuple[np.ndarray, np.ndarray]:
    """Soft-NMS of one group (boxes in input order): one pick per kept box, each a vectorised
    decay of every remaining score."""
    alive = cur >= floor32
    pos = alive.nonzero()[0]
    cur, rows = cur[alive], boxes.compress(alive, axis=1)
    kept: list[int] = []
    kept_scores: list[np.float32] = []
    while pos.size:
        k = int(cur.argmax())  # first maximum: the lowest index among ties, like OpenCV
        kept.append(int(pos[k]))
        kept_scores.append(cur[k])
        cur = _decay(cur, _pair_iou(rows[:, k:k + 1], rows, degenerate), method, thr32,
                     sigma32)
        alive = cur >= floor32
        alive[k] = False
        pos, cur, rows = pos[alive], cur[alive], rows.compress(alive, axis=1)
    return np.array(kept, dtype=np.int64), np.array(kept_scores, dtype=np.float32)


def _soft_rounds(boxes: np.ndarray, groups: np.ndarray | None, cur: np.ndarray,
                 method: SoftMethod, thr32: np.float32, sigma32: np.float32,
                 floor32: np.float32, degenerate: bool) -> tuple[np.ndarray, np.ndarray]:
    """Soft-NMS rounds on boxes sorted by (group, index): one pick per group per round."""
    if groups is None:
        return _soft_single(boxes, cur, method, thr32, sigma32, floor32, degenerate)
    alive = cur >= floor32
    pos = np.flatnonzero(alive)
    cur = cur[alive]
    kept: list[np.ndarray] = []
    kept_scores: list[np.ndarray] = []
    while pos.size:
        seg = _segment_heads(groups[pos])
        starts = np.flatnonzero(seg)
        counts = np.diff(np.append(starts, pos.size))
        best = np.repeat(np.maximum.reduceat(cur, starts), counts)
        ties = np.flatnonzero(cur == best)
        first = ties[_segment_heads(np.cumsum(seg)[ties] - 1)]
        kept.append(pos[first])
        kept_scores.append(cur[first])
        owner = np.repeat(np.take(boxes, pos[first], axis=1), counts, axis=1)
        iou = _pair_iou(owner, np.take(boxes, pos, axis=1), degenerate)
        cur = _decay(cur, iou, method, thr32, sigma32)
        alive = cur >= floor32
        alive[first] = False
        pos, cur = pos[alive], cur[alive]
    if not kept:
        return pos, cur
    return np.concatenate(kept), np.concatenate(kept_scores)


# -- the object the detector uses ------------------------------------------------------------
@dataclass(frozen=True)
class NMS:
    """Non-maximum suppression over :class:`~tecktrack.detections.Detections`.

    Parameters
    ----------
    iou_threshold : float
        Boxes overlapping a kept box of the same class by IoU ``> iou_threshold`` are
        removed (hard NMS) or decayed (linear Soft-NMS).
    agnostic : bool
        Suppress across classes instead of within each class.
    max_det : int, optional
        Keep at most this many detections (the highest-scoring); ``None`` keeps all.
    soft : {"linear", "gaussian"}, optional
        Use Soft-NMS with this decay instead of hard NMS; scores in the result are the
        decayed scores.
    sigma : float
        Gaussian Soft-NMS width.
    score_floor : float
        Soft-NMS drops boxes whose decayed score falls below this.

    Examples
    --------
    >>> d = Detections([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10]], [0, 0, 1],
    ...                [0.9, 0.8, 0.7])
    >>> NMS(iou_threshold=0.45).filter(d).class_ids
    array([0, 1])
    >>> NMS(agnostic=True).filter(d).scores
    array([0.9], dtype=float32)
    >>> NMS(soft="gaussian", sigma=0.5).filter(d).scores.round(3)
    array([0.9  , 0.7  , 0.215], dtype=float32)
    """

    iou_threshold: float = 0.45
    agnostic: bool = False
    max_det: int | None = None
    soft: SoftMethod | None = None
    sigma: float = 0.5
    score_floor: float = 0.001

    def __post_init__(self) -> None:
        _check_threshold("iou_threshold", self.iou_threshold)
        _check_max_det(self.max_det)
        if self.soft not in (None, "linear", "gaussian"):
            raise ValueError(f"soft must be None, 'linear' or 'gaussian', got {self.soft!r}")
        if not self.sigma > 0:
            raise ValueError(f"sigma must be > 0, got {self.sigma!r}")
        if not self.score_floor >= 0:
            raise ValueError(f"score_floor must be >= 0, got {self.score_floor!r}")

    def filter(self, detections: Detections) -> Detections:
        """The detections that survive, ordered by descending (possibly decayed) score.

        The input is not modified. Raises ``ValueError`` for detections without scores.
        """
        if detections.scores is None:
            raise ValueError("NMS needs scored detections (predictions), got ground truth")
        if self.soft is None:
            keep = nms_indices(detections.xyxy, detections.scores, detections.class_ids,
                               self.iou_threshold, self.agnostic, max_det=self.max_det)
            return detections[keep]
        keep, scores = soft_nms(
            detections.xyxy, detections.scores, detections.class_ids, method=self.soft,
            iou_threshold=self.iou_threshold, sigma=self.sigma, score_floor=self.score_floor,
            agnostic=self.agnostic, max_det=self.max_det)
        return Detections(detections.xyxy[keep], detections.class_ids[keep], scores)
