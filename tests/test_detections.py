"""The Detections type, box conversions, IoU (tecktrack.detections) and run folders (paths)."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tecktrack.detections
from tecktrack import paths
from tecktrack.detections import (
    Detections,
    box_area,
    box_iou,
    cxcywh_to_xyxy,
    paired_iou,
    xywh_to_xyxy,
    xyxy_to_cxcywh,
    xyxy_to_xywh,
    xyxy_to_yolo,
    yolo_to_xyxy,
)


def _dets() -> Detections:
    return Detections([[0, 0, 10, 10], [5, 5, 20, 20], [1, 2, 3, 4]], [0, 2, 1], [0.5, 0.9, 0.1])


def test_docstring_examples_run():
    result = doctest.testmod(tecktrack.detections)
    assert result.failed == 0 and result.attempted > 10


# -- Detections ---------------------------------------------------------------------------
def test_construction_normalises_dtypes_and_shapes():
    d = Detections([[0, 0, 1, 1]], np.array([3.0]), [0.5])
    assert d.xyxy.dtype == np.float32 and d.xyxy.flags.c_contiguous
    assert d.class_ids.dtype == np.int64 and d.scores.dtype == np.float32
    assert len(d) == 1 and d.has_scores
    gt = Detections([[0, 0, 1, 1]], [1])
    assert gt.scores is None and not gt.has_scores


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"xyxy": [[0, 0, 1]], "class_ids": [0]}, "xyxy must have shape"),
    ({"xyxy": [0, 0, 1, 1], "class_ids": [0]}, "xyxy must have shape"),
    ({"xyxy": [[0, 0, 1, 1]], "class_ids": [0, 1]}, "class_ids must have shape"),
    ({"xyxy": [[0, 0, 1, 1]], "class_ids": [0.5]}, "class_ids must be integers"),
    ({"xyxy": [[0, 0, 1, 1]], "class_ids": [np.nan]}, "class_ids must be integers"),
    ({"xyxy": [[0, 0, 1, 1]], "class_ids": [0], "scores": [0.1, 0.2]}, "scores must have shape"),
])
def test_validation_errors(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        Detections(**kwargs)


def test_empty_has_right_shapes():
    e = Detections.empty()
    assert e.xyxy.shape == (0, 4) and e.class_ids.shape == (0,) and e.scores.shape == (0,)
    assert Detections.empty(with_scores=False).scores is None
    assert Detections([], []).xyxy.shape == (0, 4)


def test_boolean_mask_index_array_slice_and_int():
    d = _dets()
    kept = d[d.scores > 0.4]
    np.testing.assert_array_equal(kept.class_ids, [0, 2])
    np.testing.assert_array_equal(kept.scores, np.array([0.5, 0.9], np.float32))
    np.testing.assert_array_equal(d[np.array([2, 0])].class_ids, [1, 0])
    assert len(d[1:]) == 2 and len(d[np.zeros(3, bool)]) == 0
    single = d[1]
    assert single.xyxy.shape == (1, 4) and single.class_ids.tolist() == [2]
    assert d[np.int64(-1)].class_ids.tolist() == [1]
    gt = Detections(d.xyxy, d.class_ids)
    assert gt[gt.class_ids > 0].scores is None


def test_indexing_copies_do_not_alias_the_source_for_masks():
    d = _dets()
    sub = d[d.class_ids == 0]
    sub.xyxy[0, 0] = 99
    assert d.xyxy[0, 0] == 0


def test_iteration_is_refused_with_a_hint():
    with pytest.raises(TypeError, match="columnar"):
        list(_dets())


def test_concat_keeps_order_and_scores_rules():
    a, b = _dets(), Detections([[1, 1, 2, 2]], [5], [0.3])
    c = Detections.concat([a, Detections.empty(), b])
    assert len(c) == 4 and c.class_ids.tolist() == [0, 2, 1, 5]
    np.testing.assert_allclose(c.scores, [0.5, 0.9, 0.1, 0.3])
    gt = Detections([[0, 0, 1, 1]], [0])
    mixed = Detections.concat([a, gt])
    assert mixed.scores is None and len(mixed) == 4
    assert Detections.concat([gt, Detections.empty()]).scores is None
    assert len(Detections.concat([])) == 0


def test_sorted_by_score_is_descending_and_stable():
    d = Detections(np.zeros((4, 4)), [0, 1, 2, 3], [0.5, 0.9, 0.5, 0.1])
    assert d.sorted_by_score().class_ids.tolist() == [1, 0, 2, 3]
    gt = Detections(np.zeros((2, 4)), [4, 3])
    assert gt.sorted_by_score().class_ids.tolist() == [4, 3]


def test_from_and_to_yolo_and_coco():
    d = Detections.from_yolo([[0.5, 0.5, 0.5, 0.5]], [1], 200, 100, scores=[0.7])
    np.testing.assert_allclose(d.xyxy, [[50, 25, 150, 75]])
    np.testing.assert_allclose(d.to_yolo(200, 100), [[0.5, 0.5, 0.5, 0.5]])
    np.testing.assert_allclose(d.to_coco(), [[50, 25, 100, 50]])
    c = Detections.from_coco([[50, 25, 100, 50]], [1])
    np.testing.assert_array_equal(c.xyxy, d.xyxy)
    assert len(Detections.from_yolo(np.zeros((0, 4)), [], 10, 10)) == 0


def test_area_and_repr():
    d = _dets()
    np.testing.assert_allclose(d.area, [100, 225, 4])
    assert repr(d) == "Detections(n=3, with scores)"
    assert repr(Detections.empty(False)) == "Detections(n=0)"


# -- conversions --------------------------------------------------------------------------
def test_conversions_on_known_values():
    xyxy = np.array([[10.0, 20.0, 30.0, 60.0]])
    np.testing.assert_allclose(xyxy_to_cxcywh(xyxy), [[20, 40, 20, 40]])
    np.testing.assert_allclose(xyxy_to_xywh(xyxy), [[10, 20, 20, 40]])
    np.testing.assert_allclose(xyxy_to_yolo(xyxy, 100, 200), [[0.2, 0.2, 0.2, 0.2]])
    assert yolo_to_xyxy(np.array([[0.2, 0.2, 0.2, 0.2]]), 100, 200).dtype == np.float32
    for fn in (cxcywh_to_xyxy, xyxy_to_cxcywh, xywh_to_xyxy, xyxy_to_xywh):
        assert fn(np.zeros((0, 4))).shape == (0, 4)


_coords = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
_boxes = hnp.arrays(np.float64, st.tuples(st.integers(0, 8), st.just(4)), elements=_coords)


@settings(max_examples=200)
@given(boxes=_boxes)
def test_round_trip_cxcywh_and_xywh(boxes):
    np.testing.assert_allclose(xyxy_to_cxcywh(cxcywh_to_xyxy(boxes)), boxes, atol=1e-8,
                               rtol=1e-9)
    np.testing.assert_allclose(xyxy_to_xywh(xywh_to_xyxy(boxes)), boxes, atol=1e-8, rtol=1e-9)
    np.testing.assert_allclose(cxcywh_to_xyxy(xyxy_to_cxcywh(boxes)), boxes, atol=1e-8,
                               rtol=1e-9)


@settings(max_examples=200)
@given(boxes=hnp.arrays(np.float64, st.tuples(st.integers(0, 8), st.just(4)),
                        elements=st.floats(0, 1)),
       width=st.integers(1, 4096), height=st.integers(1, 4096))
def test_round_trip_yolo_pixels(boxes, width, height):
    back = xyxy_to_yolo(yolo_to_xyxy(boxes, width, height), width, height)
    # float32 pixel corners: error bounded by float32 resolution at the image scale
    np.testing.assert_allclose(back, boxes, atol=4e-7 * 4096 / min(width, height) + 1e-6)


@settings(max_examples=100)
@given(boxes=hnp.arrays(np.float64, st.tuples(st.integers(0, 8), st.just(4)),
                        elements=st.floats(0, 2000)))
def test_round_trip_detections_coco(boxes):
    xywh = np.abs(boxes)
    d = Detections.from_coco(xywh, np.zeros(len(xywh), np.int64))
    np.testing.assert_allclose(d.to_coco(), xywh, rtol=1e-6, atol=1e-3)


# -- IoU ----------------------------------------------------------------------------------
def _iou_reference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros((len(a), len(b)))
    for i, p in enumerate(a):
        for j, q in enumerate(b):
            iw = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
            ih = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
            inter = iw * ih
            area_p = max(0.0, p[2] - p[0]) * max(0.0, p[3] - p[1])
            area_q = max(0.0, q[2] - q[0]) * max(0.0, q[3] - q[1])
            union = area_p + area_q - inter
            out[i, j] = inter / union if union > 0 else 0.0
    return out


def test_iou_known_values():
    a = np.array([[0, 0, 2, 2], [0, 0, 1, 1]], np.float32)
    b = np.array([[1, 0, 3, 2], [0, 0, 2, 2], [10, 10, 11, 11]], np.float32)
    np.testing.assert_allclose(box_iou(a, b), [[1 / 3, 1, 0], [0, 0.25, 0]])
    assert box_iou(a, b).dtype == np.float64


def test_iou_zero_area_boxes_give_zero_not_nan():
    z = np.array([[5, 5, 5, 5], [1, 1, 1, 3]], np.float32)
    iou = box_iou(z, np.vstack([z, [[0, 0, 10, 10]]]))
    assert not np.isnan(iou).any() and np.all(iou == 0)


def test_iou_empty_inputs():
    assert box_iou(np.zeros((0, 4)), np.zeros((3, 4))).shape == (0, 3)
    assert box_iou(np.zeros((2, 4)), []).shape == (2, 0)
    with pytest.raises(ValueError, match=r"shape \(n, 4\)"):
        box_iou(np.zeros((2, 3)), np.zeros((2, 4)))


def test_box_area_clips_inverted_boxes():
    np.testing.assert_array_equal(box_area(np.array([[0, 0, 2, 3], [5, 5, 4, 8]], np.float32)),
                                  [6, 0])
    assert box_area(np.zeros((0, 4))).shape == (0,)


_small_boxes = hnp.arrays(np.float64, st.tuples(st.integers(0, 6), st.just(4)),
                          elements=st.integers(-5, 20).map(float))


@settings(max_examples=200)
@given(a=_small_boxes, b=_small_boxes)
def test_iou_matches_reference_and_is_bounded_and_symmetric(a, b):
    iou = box_iou(a, b)
    np.testing.assert_allclose(iou, _iou_reference(a, b), atol=1e-12)
    assert np.all((iou >= 0) & (iou <= 1))
    np.testing.assert_allclose(box_iou(b, a), iou.T)
    positive = box_area(a) > 0
    np.testing.assert_allclose(np.diag(box_iou(a, a))[positive], 1.0)


# -- run folders --------------------------------------------------------------------------
def test_new_run_dir_is_unique_and_created(tmp_path):
    runs = [paths.new_run_dir(tmp_path / "runs") for _ in range(50)]
    assert len(set(runs)) == 50 and all(r.is_dir() and r.parent == tmp_path / "runs"
                                        for r in runs)
    tagged = paths.new_run_dir(tmp_path, prefix="eval-")
    assert tagged.name.startswith("eval-")


def test_new_run_dir_never_reuses_an_existing_folder(tmp_path, monkeypatch):
    tokens = iter(["aaaaaa", "aaaaaa", "bbbbbb"])
    monkeypatch.setattr(paths.secrets, "token_hex", lambda n: next(tokens))
    monkeypatch.setattr(paths.time, "strftime", lambda fmt, t: "20260101-000000")
    first = paths.new_run_dir(tmp_path)
    (first / "keep.txt").write_text("x")
    second = paths.new_run_dir(tmp_path)
    assert first.name == "20260101-000000-aaaaaa" and second.name == "20260101-000000-bbbbbb"
    assert (first / "keep.txt").read_text() == "x"


def test_project_root_honours_tecktrack_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TECKTRACK_HOME", str(tmp_path))
    assert paths.project_root() == tmp_path.resolve()
    assert paths.models_dir() == tmp_path.resolve() / "models"
    assert paths.data_dir() == tmp_path.resolve() / "data"
    assert paths.results_dir() == tmp_path.resolve() / "results"
    assert paths.new_run_dir().parent == tmp_path.resolve() / "results" / "runs"


def _valid_boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    xy = rng.uniform(0, 100, (n, 2))
    wh = rng.uniform(0, 50, (n, 2)) * (rng.random((n, 1)) > 0.1)  # some zero-area boxes
    return np.concatenate([xy, xy + wh], axis=1)


@pytest.mark.parametrize("seed", range(5))
def test_paired_iou_is_the_diagonal_of_box_iou(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = _valid_boxes(rng, 300), _valid_boxes(rng, 300)
    got = paired_iou(a, b)
    np.testing.assert_allclose(got, np.diag(box_iou(a, b)), rtol=0, atol=1e-12)
    assert np.all(np.isfinite(got)) and got.dtype == np.float64


def test_paired_iou_crowd_is_intersection_over_detection() -> None:
    det = np.array([[0.0, 0, 4, 4], [0, 0, 4, 4]])
    gt = np.array([[2.0, 0, 10, 4], [2, 0, 10, 4]])
    got = paired_iou(det, gt, crowd=np.array([False, True]))
    np.testing.assert_allclose(got, [8 / (16 + 32 - 8), 8 / 16])
    assert paired_iou(np.zeros((0, 4)), np.zeros((0, 4))).shape == (0,)


def test_tracker_ids_are_optional_and_follow_selection_and_concat():
    d = Detections([[0, 0, 1, 1], [0, 0, 2, 2]], [0, 1], [0.9, 0.2], tracker_ids=[7, -1])
    assert d.tracker_ids.dtype == np.int64
    assert d[d.scores > 0.5].tracker_ids.tolist() == [7]
    assert d.above(0.1).tracker_ids.tolist() == [7, -1]
    both = Detections.concat([d, Detections([[1, 1, 2, 2]], [0], [0.5])])
    assert both.tracker_ids is None  # one part untracked: no ids rather than made-up ones
    assert Detections.concat([d, d]).tracker_ids.tolist() == [7, -1, 7, -1]
    assert Detections([[0, 0, 1, 1]], [0]).tracker_ids is None
    with pytest.raises(ValueError, match="tracker_ids must have shape"):
        Detections([[0, 0, 1, 1]], [0], tracker_ids=[1, 2])


def test_box_area_of_integer_boxes_does_not_overflow():
    assert tecktrack.detections.box_area(np.array([[0, 0, 300, 300]], np.int16)).tolist() == [
        90000.0]


def test_detections_never_share_memory_with_the_caller_or_with_slices():
    xyxy = np.array([[0, 0, 10, 10], [1, 1, 5, 5]], np.float32)
    ids, scores = np.array([0, 1], np.int64), np.array([0.9, 0.5], np.float32)
    d = Detections(xyxy, ids, scores)
    xyxy[0, 0], ids[0], scores[0] = 99, 7, 0.1
    assert d.xyxy[0, 0] == 0 and d.class_ids[0] == 0 and d.scores[0] == pytest.approx(0.9)
    part = d[0:1]
    part.xyxy[0, 0], part.scores[0] = 50, 0.2
    assert d.xyxy[0, 0] == 0 and d.scores[0] == pytest.approx(0.9)
