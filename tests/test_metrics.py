"""Behaviour of the metrics engine on hand-checked cases, errors and the derived tables."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tecktrack.detections import Detections
from tecktrack.errors import EvaluationError
from tecktrack.metrics import (
    BACKGROUND,
    SUMMARY_KEYS,
    confusion_matrix,
    evaluate,
    match,
    pr_curves,
    precision_recall,
    threshold_sweep,
    time_callable,
)
from tecktrack.metrics._inputs import flatten
from tecktrack.metrics.matching import AREA_RANGES

EPS = 1e-12


def det(boxes, classes, scores=None) -> Detections:
    return Detections(np.asarray(boxes, np.float32).reshape(-1, 4), classes, scores)


def test_perfect_predictions_score_one_everywhere_with_ground_truth() -> None:
    gt = {"a": det([[0, 0, 10, 10], [0, 0, 50, 50]], [0, 1]),
          "b": det([[10, 10, 200, 200]], [0])}
    preds = {k: Detections(v.xyxy, v.class_ids, np.linspace(0.9, 0.5, len(v)))
             for k, v in gt.items()}
    s = evaluate(gt, preds).summary
    assert list(s) == list(SUMMARY_KEYS)
    for key in SUMMARY_KEYS:
        assert s[key] == pytest.approx(1.0, abs=EPS), key


def test_greedy_match_takes_highest_score_and_duplicates_are_false_positives() -> None:
    gt = {"a": det([[0, 0, 10, 10]], [0])}
    preds = {"a": det([[0, 0, 10, 9], [0, 0, 10, 10]], [0, 0], [0.6, 0.9])}
    m = match(flatten(gt, preds), [0.5], [AREA_RANGES["all"]])
    assert m.score.tolist() == pytest.approx([0.9, 0.6])
    assert m.gt_match[0, 0].tolist() == [0, -1]
    ev = evaluate(gt, preds)
    assert ev.summary["map50"] == pytest.approx(1.0, abs=EPS)      # TP ranked first
    swapped = {"a": det([[0, 0, 10, 10], [30, 30, 40, 40]], [0, 0], [0.6, 0.9])}
    assert evaluate(gt, swapped).summary["map50"] == pytest.approx(0.5, abs=EPS)


def test_match_prefers_best_iou_among_unmatched_ground_truth() -> None:
    gt = {"a": det([[0, 0, 10, 10], [2, 0, 12, 10]], [0, 0])}
    preds = {"a": det([[2, 0, 12, 10], [0, 0, 10, 10]], [0, 0], [0.9, 0.8])}
    m = match(flatten(gt, preds), [0.5], [AREA_RANGES["all"]])
    assert m.gt_match[0, 0].tolist() == [1, 0]


def test_crowd_ground_truth_absorbs_detections_without_penalty() -> None:
    gt = {"a": det([[0, 0, 100, 100], [200, 200, 220, 220]], [0, 0])}
    crowd = {"a": np.array([True, False])}
    inside = [[0, 0, 30, 30], [40, 40, 80, 80], [200, 200, 220, 220]]
    preds = {"a": det(inside, [0, 0, 0], [0.9, 0.8, 0.7])}
    ev = evaluate(gt, preds, iscrowd=crowd)
    assert ev.summary["map50"] == pytest.approx(1.0, abs=EPS)   # crowd hits are ignored
    assert ev.per_class["instances"].tolist() == [1]
    plain = evaluate(gt, preds)
    assert plain.summary["map50"] < 0.9


def test_max_dets_cuts_per_image_and_class() -> None:
    gt = {"a": det([[0, 0, 10, 10]], [0])}
    junk = [[100 + i, 100, 110 + i, 110] for i in range(100)]
    preds = {"a": det(junk + [[0, 0, 10, 10]], [0] * 101, [0.9] * 100 + [0.1])}
    s = evaluate(gt, preds).summary
    assert s["ar100"] == 0.0 and s["map"] == 0.0
    s2 = evaluate(gt, preds, max_dets=(1, 10, 101)).summary
    assert s2["ar100"] == pytest.approx(1.0)


def test_classes_without_ground_truth_are_reported_not_averaged() -> None:
    gt = {"a": det([[0, 0, 10, 10]], [0])}
    preds = {"a": det([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 2], [0.9, 0.8])}
    ev = evaluate(gt, preds, names=["cat", "dog", "cow"])
    pc = ev.per_class
    assert pc["class"].tolist() == ["cat", "dog", "cow"]
    assert pc["instances"].tolist() == [1, 0, 0]
    assert np.isnan(pc.loc[2, "mAP50"]) and np.isnan(pc.loc[1, "mAP50-95"])
    assert ev.summary["map"] == pytest.approx(1.0, abs=EPS)
    assert ev.summary["map_medium"] == -1.0 and ev.summary["ar_large"] == -1.0
    assert ev.precision.shape == (10, 101, 3, 4, 3)
    assert (ev.precision[:, :, 1] == -1).all()


def test_per_class_counts_images_and_instances() -> None:
    gt = {"a": det([[0, 0, 5, 5], [5, 5, 9, 9], [0, 0, 3, 3]], [0, 0, 1]),
          "b": det([[0, 0, 5, 5]], [0]), "c": Detections.empty(False)}
    ev = evaluate(gt, {})
    assert ev.per_class[["images", "instances"]].to_numpy().tolist() == [[2, 3], [1, 1]]
    table = ev.yolo_table()
    assert table.iloc[0].to_dict()["images"] == 3 and table.iloc[0]["instances"] == 4


def _voc_reference(tp: np.ndarray, n_pos: int) -> float:
    """The classic VOC 2010+ all-point AP (mrec/mpre with sentinels)."""
    tpc = np.cumsum(tp)
    fpc = np.cumsum(~tp)
    rec = tpc / n_pos
    prec = tpc / np.maximum(tpc + fpc, np.finfo(np.float64).eps)
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(len(mpre) - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def test_voc_all_point_ap_matches_reference_formula() -> None:
    rng = np.random.default_rng(7)
    gt, preds = {}, {}
    for i in range(20):
        boxes = rng.uniform(0, 300, (5, 2))
        g = np.concatenate([boxes, boxes + rng.uniform(20, 80, (5, 2))], axis=1)
        keep = rng.random(5) < 0.7
        d = g[keep] + rng.normal(0, 6, (int(keep.sum()), 4))
        d = np.concatenate([d, rng.uniform(0, 300, (3, 4)).cumsum(axis=1)[:, [0, 1, 2, 3]]])
        gt[i] = det(g, np.zeros(5, int))
        preds[i] = det(np.sort(d.reshape(-1, 2, 2), axis=1).reshape(-1, 4), np.zeros(len(d), int),
                       rng.random(len(d)))
    ev = evaluate(gt, preds, ap_method="voc", iou_thresholds=[0.5])
    flat = flatten(gt, preds)
    m = match(flat, [0.5], [AREA_RANGES["all"]])
    order = np.lexsort((m.rank, m.image, -m.score))
    expected = _voc_reference(m.true_positive[0, 0, order], int(m.n_positive[0, 0]))
    assert ev.summary["map50"] == pytest.approx(expected, abs=1e-12)
    assert 0.2 < expected < 1.0
    coco = evaluate(gt, preds, iou_thresholds=[0.5])
    assert coco.summary["map50"] != pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("preds, message", [
    ({"zzz": det([[0, 0, 1, 1]], [0], [0.5])}, "not in the ground truth"),
    ({"a": det([[0, 0, 1, 1]], [0])}, "have no scores"),
    ({"a": det([[5, 0, 1, 1]], [0], [0.5])}, "box 0 of image 'a' has a negative width"),
    ({"a": det([[0, 0, 1, np.nan]], [0], [0.5])}, "is not finite"),
    ({"a": det([[0, 0, 1, 1], [0, 0, 1, 1]], [0, 0], [0.5, np.inf])}, "prediction 1 of image"),
    ({"a": det([[0, 0, 1, 1]], [7], [0.5])}, r"class ids \[7\] are not among"),
])
def test_bad_input_is_a_clear_error(preds, message) -> None:
    gt = {"a": det([[0, 0, 2, 2]], [0])}
    with pytest.raises(EvaluationError, match=message):
        evaluate(gt, preds, names=["only"])


def test_bad_parameters_are_errors() -> None:
    gt = {"a": det([[0, 0, 2, 2]], [0])}
    with pytest.raises(EvaluationError, match="areas for image 'a' has 2 values"):
        evaluate(gt, {}, areas={"a": [1.0, 2.0]})
    with pytest.raises(EvaluationError, match="ap_method"):
        evaluate(gt, {}, ap_method="11point")
    with pytest.raises(EvaluationError, match="max_dets"):
        evaluate(gt, {}, max_dets=(10, 1, 100))
    with pytest.raises(EvaluationError, match="iou_thresholds"):
        evaluate(gt, {}, iou_thresholds=[0.0, 0.5])
    with pytest.raises(EvaluationError, match="ground truth mapping is empty"):
        evaluate({}, {})


def test_inputs_are_not_modified_and_results_are_deterministic() -> None:
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 100, (30, 2))
    boxes = np.concatenate([xy, xy + 20], axis=1)
    gt = {"a": det(boxes[:15], rng.integers(0, 3, 15)), "b": det(boxes[15:], np.zeros(15, int))}
    preds = {k: Detections(v.xyxy + 1, v.class_ids, np.round(rng.random(len(v)), 1))
             for k, v in gt.items()}
    before = {k: (v.xyxy.copy(), v.class_ids.copy(), v.scores.copy()) for k, v in preds.items()}
    first = evaluate(gt, preds)
    second = evaluate(gt, preds)
    for k, (xyxy, cls, sc) in before.items():
        np.testing.assert_array_equal(preds[k].xyxy, xyxy)
        np.testing.assert_array_equal(preds[k].class_ids, cls)
        np.testing.assert_array_equal(preds[k].scores, sc)
    assert first.summary == second.summary
    np.testing.assert_array_equal(first.precision, second.precision)


def test_to_dict_is_json_ready() -> None:
    gt = {"a": det([[0, 0, 10, 10]], [0])}
    ev = evaluate(gt, {"a": det([[0, 0, 10, 10]], [0], [0.9])}, names=["cat", "dog"])
    data = json.loads(json.dumps(ev.to_dict(), allow_nan=False))
    assert set(data["summary"]) == set(SUMMARY_KEYS)
    assert data["per_class"][1]["mAP50"] is None and data["per_class"][0]["class"] == "cat"


def test_f1_optimal_p_and_r_in_per_class_table() -> None:
    gt = {"a": det([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 0])}
    preds = {"a": det([[0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 30]], [0, 0, 0],
                      [0.9, 0.8, 0.3])}
    ev = evaluate(gt, preds)
    # threshold 0.3 keeps all (P 2/3, R 1, F1 .8); 0.81 keeps one (P 1, R .5, F1 .67)
    assert ev.conf == pytest.approx(0.3, abs=1e-3)
    assert ev.per_class.loc[0, "P"] == pytest.approx(2 / 3)
    assert ev.per_class.loc[0, "R"] == pytest.approx(1.0)


def _two_class_case() -> tuple[dict, dict]:
    gt = {"a": det([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]], [0, 0, 1]),
          "b": det([[0, 0, 10, 10]], [1])}
    preds = {"a": det([[0, 0, 10, 10], [20, 20, 31, 31], [60, 60, 70, 70], [40, 40, 50, 50]],
                      [0, 0, 0, 0], [0.9, 0.4, 0.7, 0.8]),
             "b": det([[0, 0, 10, 10]], [1], [0.3])}
    return gt, preds


def test_precision_recall_table_counts_and_mean_row() -> None:
    gt, preds = _two_class_case()
    t = precision_recall(gt, preds, conf=0.5, iou=0.5, names=["cat", "dog", "cow"])
    assert list(t.index) == ["cat", "dog", "cow", "mean"]
    cat = t.loc["cat"]
    assert (cat["tp"], cat["fp"], cat["fn"], cat["detections"]) == (1, 2, 1, 3)
    assert cat["precision"] == pytest.approx(1 / 3) and cat["recall"] == pytest.approx(0.5)
    dog = t.loc["dog"]
    assert (dog["tp"], dog["fp"], dog["precision"], dog["recall"]) == (0, 0, 0.0, 0.0)
    assert np.isnan(t.loc["cow", "recall"])
    assert t.loc["mean", "precision"] == pytest.approx(1 / 6)   # cow (no GT) not averaged
    assert t.loc["mean", "recall"] == pytest.approx(0.25)
    assert t.loc["mean", "instances"] == 4


def test_threshold_sweep_puts_models_side_by_side() -> None:
    gt, preds = _two_class_case()
    weak = {k: Detections(v.xyxy, v.class_ids, v.scores * 0.5) for k, v in preds.items()}
    sweep = threshold_sweep({"m1": preds, "m2": weak}, gt, thresholds=(0.2, 0.4, 0.6, 0.8))
    assert list(sweep.index) == [0.2, 0.4, 0.6, 0.8]
    assert list(sweep.columns) == [("m1", "precision"), ("m1", "recall"),
                                   ("m2", "precision"), ("m2", "recall")]
    for thr in sweep.index:
        mean = precision_recall(gt, weak, conf=thr).loc["mean"]
        assert sweep.loc[thr, ("m2", "precision")] == pytest.approx(mean["precision"])
        assert sweep.loc[thr, ("m2", "recall")] == pytest.approx(mean["recall"])
    assert sweep[("m1", "recall")].is_monotonic_decreasing


def test_confusion_matrix_background_row_and_column() -> None:
    gt = {"a": det([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]], [0, 1, 1])}
    preds = {"a": det([[0, 0, 10, 10], [20, 20, 30, 30], [80, 80, 90, 90], [0, 0, 10, 10]],
                      [0, 0, 1, 1], [0.9, 0.8, 0.7, 0.1])}
    cm = confusion_matrix(gt, preds, conf=0.25, iou=0.5, n_classes=2)
    assert list(cm.index) == ["0", "1", BACKGROUND] and cm.index.name == "true"
    assert cm.to_numpy().tolist() == [[1, 0, 0], [1, 0, 1], [0, 1, 0]]
    assert cm.to_numpy()[:2].sum() == 3                 # every ground truth once
    assert cm.to_numpy()[:, :2].sum() == 3              # every kept detection once
    with pytest.raises(EvaluationError, match="not among"):
        confusion_matrix(gt, preds, n_classes=1)


def test_pr_curves_agree_with_evaluate() -> None:
    rng = np.random.default_rng(3)
    gt, preds = {}, {}
    for i in range(12):
        xy = rng.uniform(0, 200, (6, 2))
        g = np.concatenate([xy, xy + rng.uniform(10, 60, (6, 2))], axis=1)
        gt[i] = det(g, rng.integers(0, 2, 6))
        d = g + rng.normal(0, 4, g.shape)
        d[:, 2:] = np.maximum(d[:, 2:], d[:, :2] + 1)
        preds[i] = det(d, gt[i].class_ids, rng.random(6))
    curves = pr_curves(gt, preds, iou=0.5)
    ev = evaluate(gt, preds, iou_thresholds=[0.5])
    for k, c in curves.groupby("class_id"):
        assert c["score"].is_monotonic_decreasing
        assert c["envelope"].is_monotonic_decreasing
        assert c["recall"].iloc[-1] == pytest.approx(ev.recall[0, k, 0, -1])
        pos = np.searchsorted(c["recall"].to_numpy(), np.linspace(0, 1, 101), side="left")
        env = np.r_[c["envelope"].to_numpy(), 0.0]
        assert env[pos].mean() == pytest.approx(ev.per_class.loc[k, "mAP50"], abs=1e-3)


def test_time_callable_times_every_input_after_warmup() -> None:
    calls = []
    stats = time_callable(calls.append, range(5), warmup=2, quiet=True)
    assert calls == [0, 1, 0, 1, 2, 3, 4]
    assert stats["n"] == 5 and set(stats) == {"mean_ms", "min_ms", "max_ms", "p95_ms", "n"}
    assert 0 <= stats["min_ms"] <= stats["mean_ms"] <= stats["max_ms"]
    assert stats["min_ms"] <= stats["p95_ms"] <= stats["max_ms"]
    with pytest.raises(ValueError, match="at least one input"):
        time_callable(calls.append, [])
