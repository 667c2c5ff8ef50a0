"""NMS: exact agreement with OpenCV's NMSBoxes / NMSBoxesBatched / softNMSBoxes, plus hand cases."""

from __future__ import annotations

from unittest import mock

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nms_support import detector_candidates

from tecktrack.detections import Detections
from tecktrack.model import nms
from tecktrack.model.nms import NMS, nms_indices, soft_nms

SOFT_METHODS = {
    "linear": cv2.dnn.SOFT_NMSMETHOD_SOFTNMS_LINEAR,
    "gaussian": cv2.dnn.SOFT_NMSMETHOD_SOFTNMS_GAUSSIAN,
}


# -- OpenCV references -------------------------------------------------------------------------
def _xywh(xyxy: np.ndarray) -> list[list[float]]:
    b = np.asarray(xyxy, dtype=np.float64)
    return np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1).tolist()


def cv_per_class(xyxy, scores, class_ids, thr: float) -> np.ndarray:
    """cv2.dnn.NMSBoxes run on each class separately, merged in stable descending score order."""
    scores = np.asarray(scores, np.float32)
    kept = []
    for c in np.unique(class_ids):
        idx = np.flatnonzero(class_ids == c)
        got = cv2.dnn.NMSBoxes(_xywh(xyxy[idx]), scores[idx].tolist(), 0.0, thr)
        kept.append(idx[np.asarray(got, dtype=np.int64).reshape(-1)])
    kept_all = np.concatenate(kept) if kept else np.zeros(0, np.int64)
    kept_all.sort()
    return kept_all[np.argsort(-scores[kept_all], kind="stable")]


def cv_batched(xyxy, scores, class_ids, thr: float) -> np.ndarray:
    got = cv2.dnn.NMSBoxesBatched(_xywh(xyxy), np.asarray(scores, np.float32).tolist(),
                                  [int(c) for c in class_ids], 0.0, thr)
    return np.asarray(got, dtype=np.int64).reshape(-1)



def both_paths(*args, **kwargs) -> np.ndarray:
    """nms_indices through each strategy, which must agree exactly: the compiled loop (the
    default where numba is installed); the NumPy strategies' own choice; the plain-Python
    greedy on everything; after the class-aware leader pass, the Python loop, all pairs or
    rounds; one-class blocks of 32 vs blocks of 3."""
    default = nms_indices(*args, **kwargs)
    strategies = {
        "numpy": {"_KERNEL": None},
        "python": {"_KERNEL": None, "_PY_MAX": 10**6},
        "leaders+pairs": {"_KERNEL": None, "_PY_MAX": 0, "_TAIL_MAX": 0, "_PAIRS_MAX": 10**6,
                          "_PAIRS_BUDGET": 10**9, "_BLOCK": 3},
        "leaders+rounds": {"_KERNEL": None, "_PY_MAX": 0, "_TAIL_MAX": 0, "_PAIRS_MAX": 0,
                           "_BLOCK": 1},
    }
    for name, knobs in strategies.items():
        with mock.patch.multiple(nms, **knobs):
            np.testing.assert_array_equal(nms_indices(*args, **kwargs), default, err_msg=name)
    return default


# -- hand cases --------------------------------------------------------------------------------
def test_iou_equal_to_threshold_is_kept_and_above_is_suppressed():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 5]], np.float32)  # IoU exactly 0.5
    assert nms_indices(boxes, [0.9, 0.8], iou_threshold=0.5).tolist() == [0, 1]
    assert nms_indices(boxes, [0.9, 0.8], iou_threshold=0.4999).tolist() == [0]


def test_no_plus_one_pixel_widths():
    # Touching boxes share no area with plain widths (they would share a column with +1).
    touching = np.array([[0, 0, 10, 10], [10, 0, 20, 10]], np.float32)
    assert nms_indices(touching, [0.9, 0.8], iou_threshold=0.0).tolist() == [0, 1]
    # Plain IoU 0.44 (kept at 0.45); with +1 widths it would be 55/121 ~ 0.4545 (dropped).
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 4.4]], np.float32)
    assert nms_indices(boxes, [0.9, 0.8], iou_threshold=0.45).tolist() == [0, 1]
    assert cv_batched(boxes, [0.9, 0.8], [0, 0], 0.45).tolist() == [0, 1]


def test_overlap_goes_through_float32_like_opencv():
    # IoU = 1933/2559 sits just above its float32 rounding: float64 would suppress, OpenCV keeps.
    boxes = np.array([[0, 0, 2366, 2559], [0, 0, 2366, 1933]], np.float32)
    iou = 1933 / 2559
    thr = float(np.float32(iou))
    assert iou > thr
    assert cv_batched(boxes, [0.9, 0.8], [0, 0], thr).tolist() == [0, 1]
    assert nms_indices(boxes, [0.9, 0.8], iou_threshold=thr).tolist() == [0, 1]


def test_ties_keep_input_order():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60], [50, 50, 60, 60]])
    scores = [0.5, 0.5, 0.5, 0.7]
    assert nms_indices(boxes, scores).tolist() == [3, 0]
    assert nms_indices(boxes, [0.5] * 4).tolist() == [0, 2]


def test_zero_area_boxes_follow_opencv_and_never_nan():
    boxes = np.array([[5, 5, 5, 5], [100, 100, 100, 100], [0, 0, 10, 10], [3, 3, 3, 8],
                      [1, 1, 9, 9]], np.float32)
    scores = [0.9, 0.8, 0.7, 0.6, 0.5]
    expected = cv_per_class(boxes, scores, np.zeros(5, np.int64), 0.45)
    with np.errstate(all="raise"):
        got = both_paths(boxes, scores, iou_threshold=0.45)
    # The first zero-area box suppresses the other zero-area ones; it never hides a box with area.
    assert got.tolist() == expected.tolist() == [0, 2]
    assert nms_indices(boxes, scores, iou_threshold=1.0).tolist() == [0, 1, 2, 3, 4]


def test_zero_area_boxes_do_not_cross_classes_unlike_batched():
    boxes = np.array([[5, 5, 5, 5], [100, 100, 100, 100]], np.float32)
    assert nms_indices(boxes, [0.9, 0.8], [0, 1]).tolist() == [0, 1]
    assert cv_per_class(boxes, [0.9, 0.8], np.array([0, 1]), 0.45).tolist() == [0, 1]
    # NMSBoxesBatched's offset trick cannot separate empty boxes (IoU 1 by definition).
    assert cv_batched(boxes, [0.9, 0.8], [0, 1], 0.45).tolist() == [0]


def test_inverted_boxes_count_as_zero_area():
    boxes = np.array([[10, 10, 0, 0], [0, 0, 10, 10], [20, 20, 20, 20]], np.float32)
    assert nms_indices(boxes, [0.9, 0.8, 0.7]).tolist() == [0, 1]


def test_empty_input():
    got = nms_indices(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64))
    assert got.dtype == np.int64 and got.shape == (0,)
    out = NMS().filter(Detections.empty())
    assert len(out) == 0 and out.scores is not None
    idx, s = soft_nms(np.zeros((0, 4)), np.zeros(0))
    assert idx.shape == (0,) and s.shape == (0,)


def test_class_aware_agnostic_and_max_det():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [40, 40, 50, 50]])
    scores = [0.6, 0.9, 0.8, 0.7]
    classes = [0, 0, 1, 1]
    assert nms_indices(boxes, scores, classes).tolist() == [1, 2, 3]
    assert nms_indices(boxes, scores, classes, agnostic=True).tolist() == [1, 3]
    assert nms_indices(boxes, scores).tolist() == [1, 3]
    assert nms_indices(boxes, scores, classes, max_det=2).tolist() == [1, 2]
    with mock.patch.multiple(nms, _KERNEL=None, _PY_MAX=0, _TAIL_MAX=0, _PAIRS_MAX=0,
                             _BLOCK=1):
        assert nms_indices(boxes, scores, classes, max_det=2).tolist() == [1, 2]
        assert nms_indices(boxes, scores, classes, agnostic=True).tolist() == [1, 3]


def test_filter_keeps_detections_columns_and_leaves_input_alone():
    d = Detections([[0, 0, 10, 10], [1, 1, 11, 11], [40, 40, 50, 50]], [3, 3, 7], [0.5, 0.9, 0.4])
    before = (d.xyxy.copy(), d.class_ids.copy(), d.scores.copy())
    out = NMS(iou_threshold=0.45, agnostic=False, max_det=300).filter(d)
    np.testing.assert_array_equal(out.xyxy, [[1, 1, 11, 11], [40, 40, 50, 50]])
    assert out.class_ids.tolist() == [3, 7]
    np.testing.assert_array_equal(out.scores, np.float32([0.9, 0.4]))
    for a, b in zip(before, (d.xyxy, d.class_ids, d.scores), strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(NMS(max_det=1).filter(d)) == 1


@pytest.mark.parametrize("kwargs", [
    {"iou_threshold": -0.1}, {"iou_threshold": 1.5}, {"max_det": 0}, {"max_det": 2.5},
    {"soft": "cubic"}, {"soft": "gaussian", "sigma": 0.0}, {"score_floor": -1.0},
])
def test_bad_settings_are_rejected(kwargs):
    with pytest.raises(ValueError):
        NMS(**kwargs)


def test_bad_arrays_name_the_field():
    with pytest.raises(ValueError, match="xyxy"):
        nms_indices(np.zeros((3, 5)), np.zeros(3))
    with pytest.raises(ValueError, match="scores"):
        nms_indices(np.zeros((3, 4)), np.zeros(2))
    with pytest.raises(ValueError, match="class_ids"):
        nms_indices(np.zeros((3, 4)), np.zeros(3), [0.5, 1, 2])
    with pytest.raises(ValueError, match="NaN"):
        nms_indices(np.full((1, 4), np.nan), np.zeros(1))
    with pytest.raises(ValueError, match="ground truth"):
        NMS().filter(Detections([[0, 0, 1, 1]], [0]))


# -- randomized equivalence with OpenCV -------------------------------------------------------
coords = st.integers(0, 60)
box = st.tuples(coords, coords, st.integers(0, 30), st.integers(0, 30)).map(
    lambda t: (t[0], t[1], t[0] + t[2], t[1] + t[3]))
candidates = st.lists(st.tuples(box, st.sampled_from([0.1, 0.25, 0.5, 0.75, 0.9]),
                                st.integers(0, 3)), max_size=40)
thresholds = st.one_of(st.sampled_from([0.0, 0.3, 0.45, 0.5, 1.0]),
                       st.floats(0.0, 1.0, allow_nan=False))


def _unpack(items):
    xyxy = np.array([b for b, _, _ in items], np.float32).reshape(-1, 4)
    scores = np.array([s for _, s, _ in items], np.float32)
    classes = np.array([c for _, _, c in items], np.int64)
    return xyxy, scores, classes


@settings(max_examples=300)
@given(candidates, thresholds)
def test_matches_opencv_nmsboxes_per_class(items, thr):
    xyxy, scores, classes = _unpack(items)
    expected = cv_per_class(xyxy, scores, classes, thr)
    assert both_paths(xyxy, scores, classes, iou_threshold=thr).tolist() == expected.tolist()
    agnostic = cv_per_class(xyxy, scores, np.zeros_like(classes), thr)
    assert both_paths(xyxy, scores, classes, thr, agnostic=True).tolist() == agnostic.tolist()


@settings(max_examples=200)
@given(candidates, thresholds)
def test_matches_opencv_nmsboxes_batched_for_boxes_with_area(items, thr):
    xyxy, scores, classes = _unpack(items)
    has_area = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
    xyxy, scores, classes = xyxy[has_area], scores[has_area], classes[has_area]
    expected = cv_batched(xyxy, scores, classes, thr)
    assert both_paths(xyxy, scores, classes, iou_threshold=thr).tolist() == expected.tolist()


@pytest.mark.parametrize(("n", "seed"), [(3000, 0), (3000, 1), (200, 2), (256, 3), (257, 4)])
def test_matches_batched_on_clustered_float_boxes(n, seed):
    xyxy, scores, classes = detector_candidates(n, 80, seed)
    expected = cv_batched(xyxy, scores, classes, 0.45)
    np.testing.assert_array_equal(nms_indices(xyxy, scores, classes, 0.45), expected)
    quantised = np.ceil(scores * 10) / 10  # many ties, none at 0 (OpenCV drops score 0)
    np.testing.assert_array_equal(nms_indices(xyxy, quantised, classes, 0.6),
                                  cv_batched(xyxy, quantised, classes, 0.6))
    one_class = np.zeros_like(classes)
    np.testing.assert_array_equal(nms_indices(xyxy, quantised, classes, 0.5, agnostic=True),
                                  cv_per_class(xyxy, quantised, one_class, 0.5))


# -- the fast paths at their cut-overs, against OpenCV -----------------------------------------
def annotated_candidates(n: int, n_classes: int, seed: int) -> tuple[np.ndarray, ...]:
    """Detector-like candidates as annotation tools and exporters write them: corners with two
    decimals (not float32-exact), scores with two decimals (many ties), every fifth box a
    duplicate of another, a few zero-area boxes."""
    rng = np.random.default_rng(seed)
    xyxy, scores, classes = detector_candidates(n, n_classes, seed)
    xyxy = np.round(xyxy.astype(np.float64), 2).astype(np.float32)
    scores = np.maximum(np.round(scores, 2), 0.01).astype(np.float32)
    dup = rng.choice(n, n // 5, replace=False)
    xyxy[dup] = xyxy[rng.integers(0, n, len(dup))]
    flat = rng.choice(n, max(1, n // 25), replace=False)
    xyxy[flat, 2] = xyxy[flat, 0]
    return xyxy, scores, classes


@pytest.mark.parametrize("n", [nms._PY_MAX - 1, nms._PY_MAX, nms._PY_MAX + 1, 64, 100, 600])
@pytest.mark.parametrize("n_classes", [1, 3, 80])
def test_cutover_sizes_match_opencv_per_class(n, n_classes):
    for seed in range(3):
        xyxy, scores, classes = annotated_candidates(n, n_classes, seed)
        for thr in (0.3, 0.45, 0.7):
            expected = cv_per_class(xyxy, scores, classes, thr)
            got = both_paths(xyxy, scores, classes, iou_threshold=thr)
            assert got.tolist() == expected.tolist(), (n, n_classes, seed, thr)
            has_area = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
            keep = np.flatnonzero(has_area)
            batched = keep[cv_batched(xyxy[keep], scores[keep], classes[keep], thr)]
            assert keep[nms_indices(xyxy[keep], scores[keep], classes[keep], thr)].tolist() \
                == batched.tolist()


def _tail_case(left: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class 0: a best box far from the rest, then ``left`` boxes it does not overlap, in
    overlapping pairs (so the greedy on what is left has work); classes 1-3: near-copies of
    one box each, all dropped by their best box. So exactly ``left`` boxes are left."""
    lead = [[0.0, 0.0, 10.0, 10.0]]
    rest = [[100.0 + 30 * (k // 2), 100.0 + 0.5 * (k % 2), 120.0 + 30 * (k // 2), 120.31]
            for k in range(left)]
    others = [[60.0 * c + 0.01 * k, 300.0, 60.0 * c + 20.25 + 0.01 * k, 320.5]
              for c in (1, 2, 3) for k in range(15)]
    xyxy = np.array(lead + rest + others, np.float32)
    scores = np.concatenate([[0.99], np.linspace(0.9, 0.2, left), np.linspace(0.95, 0.05, 45)])
    classes = np.concatenate([np.zeros(1 + left), np.repeat([1, 2, 3], 15)])
    return xyxy, scores.astype(np.float32), classes.astype(np.int64)


@pytest.mark.parametrize("left", [1, nms._TAIL_MAX - 1, nms._TAIL_MAX, nms._TAIL_MAX + 1, 64,
                                  65, nms._PAIRS_MAX, nms._PAIRS_MAX + 1])
def test_boxes_left_after_the_leaders_python_pairs_or_rounds(left):
    xyxy, scores, classes = _tail_case(left)
    assert len(xyxy) > nms._PY_MAX
    with mock.patch.object(nms, "_nms_by_pairs", wraps=nms._nms_by_pairs) as pairs, \
            mock.patch.object(nms, "_nms_by_rounds", wraps=nms._nms_by_rounds) as rounds, \
            mock.patch.object(nms, "_KERNEL", None):
        got = nms_indices(xyxy, scores, classes, 0.45)
    # The Python loop finishes up to _TAIL_MAX boxes, all pairs up to _PAIRS_MAX boxes and
    # _PAIRS_BUDGET same-class pairs (64 boxes of one class: 2,016; 65: 2,080), rounds more.
    all_pairs = nms._TAIL_MAX < left <= nms._PAIRS_MAX \
        and left * (left - 1) // 2 <= nms._PAIRS_BUDGET
    assert pairs.called == all_pairs
    assert rounds.called == (left > nms._TAIL_MAX and not all_pairs)
    assert got.tolist() == cv_batched(xyxy, scores, classes, 0.45).tolist()
    assert both_paths(xyxy, scores, classes, iou_threshold=0.45).tolist() == got.tolist()


@pytest.mark.parametrize("n", [2, nms._PY_MAX + 8, 300])
@pytest.mark.parametrize("in_the_rest", [False, True])
def test_iou_at_the_float32_threshold_on_every_path(n, in_the_rest):
    # IoU 1933/2559 rounds (through float32) to exactly the threshold: OpenCV keeps both.
    pair = [[0, 0, 2366, 2559], [0, 0, 2366, 1933]]
    thr = float(np.float32(1933 / 2559))
    best = [[5000, 5000, 5100, 5100]] if in_the_rest else []  # same class, overlaps neither
    filler = [[10.0 * k, 9000, 10.0 * k + 8.5, 9008.5] for k in range(max(0, n - 3))]
    xyxy = np.array(best + pair + filler, np.float32)[:max(n, len(best) + 2)]
    scores = np.linspace(0.95, 0.1, len(xyxy)).astype(np.float32)
    classes = np.array([0] * (len(best) + 2) + [1 + k % 5 for k in range(len(xyxy))])
    classes = classes[:len(xyxy)].astype(np.int64)
    got = both_paths(xyxy, scores, classes, iou_threshold=thr)
    assert got.tolist() == cv_batched(xyxy, scores, classes, thr).tolist()
    assert {len(best), len(best) + 1} <= set(got.tolist())
    # One float32 step lower, the overlap is above the threshold: the smaller box goes.
    below = float(np.nextafter(np.float32(thr), np.float32(0)))
    got_below = both_paths(xyxy, scores, classes, iou_threshold=below)
    assert got_below.tolist() == cv_batched(xyxy, scores, classes, below).tolist()
    assert len(best) + 1 not in got_below.tolist()


decimal = st.integers(0, 6000).map(lambda v: v / 100)
extent = st.integers(0, 2500).map(lambda v: v / 100)
decimal_box = st.tuples(decimal, decimal, extent, extent).map(
    lambda t: (t[0], t[1], t[0] + t[2], t[1] + t[3]))
many_candidates = st.lists(st.tuples(decimal_box, st.integers(1, 8).map(lambda v: v / 8),
                                     st.integers(0, 2)), min_size=nms._PY_MAX - 4, max_size=120)


@settings(max_examples=120)
@given(many_candidates, thresholds)
def test_matches_opencv_on_two_decimal_boxes_past_the_python_cutover(items, thr):
    """Two-decimal corners (not float32-exact), ties, zero-area boxes, big classes: sizes on
    both sides of ``_PY_MAX``, with many boxes left after the leader pass."""
    xyxy, scores, classes = _unpack(items)
    expected = cv_per_class(xyxy, scores, classes, thr)
    assert both_paths(xyxy, scores, classes, iou_threshold=thr).tolist() == expected.tolist()


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
def test_nan_and_inf_are_rejected_on_every_path(compiled):
    kernel = nms._kernel() if compiled else None
    if compiled and kernel is None:
        pytest.skip("numba is not installed")
    with mock.patch.object(nms, "_KERNEL", kernel):
        for n in (3, nms._PY_MAX + 5, 300):
            xyxy, scores, classes = detector_candidates(n, 5, 0)
            for bad in (np.nan, np.inf, -np.inf):
                broken = xyxy.copy()
                broken[n // 2, 2] = bad
                with pytest.raises(ValueError, match="xyxy contains NaN"):
                    nms_indices(broken, scores, classes)
                with pytest.raises(ValueError, match="scores contain NaN"):
                    nms_indices(xyxy, np.where(np.arange(n) == n - 1, bad, scores), classes)
        # Finite corners whose width overflows (the plain-Python path's cheap check) pass.
        huge = np.array([[-1.5e308, 0, 1.5e308, 10], [0, 0, 10, 10], [1, 1, 9, 9]])
        assert nms_indices(huge, [0.9, 0.8, 0.7], [0, 0, 0]).tolist() == [0, 1]


def test_the_compiled_loop_runs_by_default_and_the_environment_turns_it_off(monkeypatch):
    pytest.importorskip("numba")
    from tecktrack.model.post_kernel import greedy_nms

    monkeypatch.setattr(nms, "_KERNEL", nms._UNSET)
    assert nms._kernel() is greedy_nms
    xyxy, scores, classes = detector_candidates(100, 80, 0)
    with mock.patch.object(nms, "_nms_by_leaders", side_effect=AssertionError) as numpy_path:
        kept = nms_indices(xyxy, scores, classes)
    assert not numpy_path.called and kept.tolist() == cv_batched(xyxy, scores, classes,
                                                                 0.45).tolist()
    monkeypatch.setattr(nms, "_KERNEL", nms._UNSET)
    monkeypatch.setenv("TECKTRACK_NMS_KERNEL", "0")
    assert nms._kernel() is None
    with mock.patch.object(nms, "_nms_by_leaders", wraps=nms._nms_by_leaders) as numpy_path:
        assert nms_indices(xyxy, scores, classes).tolist() == kept.tolist()
    assert numpy_path.called


@pytest.mark.parametrize("n", [0, 1, 10, 100, 1000, 20000])
def test_the_compiled_loop_keeps_what_opencv_keeps_at_every_size(n):
    """Detector-like candidates (three seeds) and a busy class (one class holds most boxes)."""
    if nms._kernel() is None:
        pytest.skip("numba is not installed")
    for seed in range(3):
        xyxy, scores, classes = detector_candidates(max(n, 1), 80, seed)
        xyxy, scores, classes = xyxy[:n], scores[:n], classes[:n]
        busy = np.where(classes % 4 == 0, 7, classes)
        for cls in (classes, busy):
            expected = cv_per_class(xyxy, scores, cls, 0.45) if n else np.empty(0, np.int64)
            assert nms_indices(xyxy, scores, cls, 0.45).tolist() == expected.tolist()


@pytest.mark.parametrize("spread", ["small", "wide", "negative"])
def test_the_compiled_loop_orders_classes_of_any_range_and_size(spread):
    """The compiled loop's class-major order (a counting sort by class, insertion sorts of
    small classes, merge sorts of big ones; a merge sort by class when the ids span more
    than ``_COUNTING_MAX``), with ties in score, against OpenCV per class."""
    if nms._kernel() is None:
        pytest.skip("numba is not installed")
    from tecktrack.model import post_kernel

    xyxy, scores, classes = detector_candidates(600, 5, 3)
    scores = np.round(scores, 1) + np.float32(0.05)  # many ties in score, none at 0
    busy = np.where(np.arange(600) < 400, 2, classes)  # one class beyond _INSERTION_MAX
    for cls in (classes, busy):
        ids = {"small": cls, "wide": cls * (post_kernel._COUNTING_MAX + 1),
               "negative": cls - 10**12}[spread]
        expected = cv_per_class(xyxy, scores, cls, 0.45)
        assert nms_indices(xyxy, scores, ids, 0.45).tolist() == expected.tolist()


def test_nms_in_frame_is_nms_then_the_way_back():
    """The compiled NMS + way back gives ``nms_indices`` and ``unmap_kept``'s bytes (clipped
    or not, capped at max_det, agnostic), and refuses NaN as ``nms_indices`` does."""
    if nms._kernel() is None:
        pytest.skip("numba is not installed")
    from tecktrack.model.preprocess import plan_fit, unmap_kept

    xyxy, scores, classes = detector_candidates(500, 80, 4, image=320.0)
    xyxy[:20] -= np.float32(40)  # beyond the frame: clipped, and exactly at the padding
    xyxy[20:25, :2] = 0.0
    xyxy[25:30, 0] = -0.0  # (-0.0 - 0) / scale is -0.0, which np.clip turns into 0.0
    fit = plan_fit(640, 480, (320, 320), letterboxed=True)
    for agnostic in (False, True):
        for max_det in (300, 5):
            for clip in (True, False):
                got = nms.nms_in_frame(xyxy, scores, classes, 0.45, agnostic, max_det,
                                       fit.offset, fit.scale, fit.limit, clip)
                index = nms_indices(xyxy, scores, classes, 0.45, agnostic, max_det=max_det)
                assert got[0].tobytes() == unmap_kept(xyxy, index, fit, clip).tobytes()
                assert got[1].tolist() == classes[index].tolist()
                assert got[2].tobytes() == scores[index].tobytes()
    assert nms.nms_in_frame(xyxy, scores, classes, 1.0, False, 300, fit.offset, fit.scale,
                            fit.limit, True) is None  # keeps everything: nms_indices' job
    xyxy[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite coordinates"):
        nms.nms_in_frame(xyxy, scores, classes, 0.45, False, 300, fit.offset, fit.scale,
                         fit.limit, True)


# -- Soft-NMS ----------------------------------------------------------------------------------
def test_soft_linear_hand_case():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 5], [0, 0, 10, 8], [20, 20, 30, 30]])
    idx, s = soft_nms(boxes, [0.9, 0.8, 0.85, 0.7], method="linear", iou_threshold=0.55)
    # 0 keeps 0.9; box 2 (IoU 0.8 > 0.55) -> 0.85 * 0.2 = 0.17; box 1 (IoU 0.5) untouched;
    # then box 1 (0.8) decays box 2 by IoU 5/8 = 0.625 > 0.55 -> 0.17 * 0.375.
    assert idx.tolist() == [0, 1, 3, 2]
    np.testing.assert_allclose(s, [0.9, 0.8, 0.7, 0.85 * 0.2 * 0.375], rtol=1e-6)


def test_soft_gaussian_hand_case_and_floor():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 5]])
    idx, s = soft_nms(boxes, [0.9, 0.8], method="gaussian", sigma=0.5)
    assert idx.tolist() == [0, 1]
    np.testing.assert_allclose(s, [0.9, 0.8 * np.exp(-0.25 / 0.5)], rtol=1e-6)
    idx, _ = soft_nms(boxes, [0.9, 0.8], method="gaussian", sigma=0.5, score_floor=0.5)
    assert idx.tolist() == [0]


def test_soft_is_class_aware_and_capped():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]])
    idx, s = soft_nms(boxes, [0.9, 0.8, 0.7], [0, 1, 1], method="linear", iou_threshold=0.5)
    # Box 2 only competes with box 1 (same class) and decays to 0, below the floor.
    assert idx.tolist() == [0, 1]
    np.testing.assert_allclose(s, [0.9, 0.8])
    idx, s = soft_nms(boxes, [0.9, 0.8, 0.7], [0, 1, 1], method="linear", score_floor=0.0)
    assert idx.tolist() == [0, 1, 2] and s[2] == 0.0
    idx, _ = soft_nms(boxes, [0.9, 0.8, 0.7], [0, 1, 1], method="linear", max_det=1)
    assert idx.tolist() == [0]


def test_filter_soft_returns_decayed_scores():
    d = Detections([[0, 0, 10, 10], [0, 0, 10, 5]], [2, 2], [0.9, 0.8])
    out = NMS(soft="linear", iou_threshold=0.3).filter(d)
    np.testing.assert_allclose(out.scores, [0.9, 0.4], rtol=1e-6)
    assert out.class_ids.tolist() == [2, 2] and d.scores.tolist() == pytest.approx([0.9, 0.8])


int_box = st.tuples(coords, coords, st.integers(0, 30), st.integers(0, 30))


@settings(max_examples=150)
@given(st.lists(st.tuples(int_box, st.floats(0.0625, 1.0, width=32)), max_size=30),
       st.sampled_from(["linear", "gaussian"]), st.floats(0.0, 1.0), st.floats(0.1, 2.0))
def test_soft_matches_opencv_softnmsboxes(items, method, thr, sigma):
    xywh = [list(b) for b, _ in items]
    scores = np.array([s for _, s in items], np.float32)
    xyxy = np.array([[x, y, x + w, y + h] for x, y, w, h in xywh], np.float32).reshape(-1, 4)
    cv_scores, cv_idx = cv2.dnn.softNMSBoxes(xywh, scores.tolist(), 0.001, thr, 0, sigma,
                                             SOFT_METHODS[method])
    idx, s = soft_nms(xyxy, scores, method=method, iou_threshold=thr, sigma=sigma,
                      score_floor=0.001)
    cv_idx = np.asarray(cv_idx, np.int64).reshape(-1)
    cv_scores = np.asarray(cv_scores, np.float32).reshape(-1)
    # Linear decay is float32 arithmetic, identical to OpenCV, order included; Gaussian
    # scores can differ in the last bit (OpenCV's exp), which could swap near-equal scores.
    if method == "linear":
        assert idx.tolist() == cv_idx.tolist()
    assert sorted(idx.tolist()) == sorted(cv_idx.tolist())
    np.testing.assert_allclose(s[np.argsort(idx)], cv_scores[np.argsort(cv_idx)], rtol=1e-5,
                               atol=1e-7)
