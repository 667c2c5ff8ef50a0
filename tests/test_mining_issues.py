"""Label-issue ranking on hand-made cases: each kind of suspicion, scores and order."""

from __future__ import annotations

import numpy as np
import pytest

from tecktrack.datasets.box_table import BoxTable
from tecktrack.mining.label_issues import ISSUE_KINDS, box_suspicions, rank_label_issues
from tecktrack.mining.matching import match_tables

BOX = [0.3, 0.3, 0.2, 0.2]


def table(stems, image, classes, boxes, scores=None) -> BoxTable:
    return BoxTable(stems, image, classes, np.asarray(boxes, float).reshape(-1, 4), scores)


def kinds(pred: BoxTable, gt: BoxTable) -> list[str]:
    s = box_suspicions(pred, gt, match_tables(pred, gt))
    return [ISSUE_KINDS[k] for k in s["kind"]]


def test_clean_image_has_no_suspicion():
    gt = table(["a"], [0], [0], [BOX])
    pred = table(["a"], [0], [0], [BOX], [0.9])
    assert kinds(pred, gt) == []
    assert rank_label_issues(pred, gt).empty


def test_unlabelled_object():
    gt = table(["a"], [], [], [])
    pred = table(["a"], [0], [2], [BOX], [0.8])
    issues = rank_label_issues(pred, gt, names=["x", "y", "car"])
    assert issues.loc[0, "score"] == pytest.approx(0.8)
    assert issues.loc[0, "reason"].startswith("unlabelled object: car")


def test_duplicate_prediction_is_not_an_unlabelled_object():
    gt = table(["a"], [0], [0], [BOX])
    pred = table(["a"], [0, 0], [0, 0], [BOX, [0.31, 0.3, 0.2, 0.2]], [0.9, 0.8])
    assert kinds(pred, gt) == []


def test_wrong_class():
    gt = table(["a"], [0], [0], [BOX])
    pred = table(["a"], [0], [1], [BOX], [0.7])
    issues = rank_label_issues(pred, gt, names=["cat", "dog"])
    assert issues.loc[0, "reason"] == ("wrong class: labelled cat, detector says dog "
                                       "(confidence 0.70)")


def test_wrong_class_is_discounted_by_support_for_the_labelled_class():
    # the detector says dog 0.75 and cat 0.6 on the same box: unsure, not a contradiction
    gt = table(["a", "b"], [0, 1], [0, 0], [BOX, BOX])
    pred = table(["a", "b", ], [0, 0, 1], [1, 0, 1], [BOX, [0.31, 0.3, 0.2, 0.2], BOX],
                 [0.75, 0.6, 0.75])
    issues = rank_label_issues(pred, gt, names=["cat", "dog"]).set_index("image")
    assert issues.loc["a", "score"] == pytest.approx(0.75 * (1 - 0.6))
    # the reason gives the detector's confidence, not the discounted suspicion (0.30)
    assert issues.loc["a", "reason"].endswith("detector says dog (confidence 0.75)")
    assert issues.loc["b", "score"] == pytest.approx(0.75)     # no cat anywhere on it
    assert list(rank_label_issues(pred, gt)["image"]) == ["b", "a"]


def test_misplaced_box():
    gt = table(["a"], [0], [0], [[0.3, 0.3, 0.2, 0.2]])
    pred = table(["a"], [0], [0], [[0.4, 0.3, 0.2, 0.2]], [0.9])   # IoU 1/3
    assert kinds(pred, gt) == ["misplaced box"]
    issues = rank_label_issues(pred, gt)
    assert "IoU 0.33" in issues.loc[0, "reason"]
    assert issues.loc[0, "score"] == pytest.approx(0.9 * (1 - 1 / 3))


def test_unsupported_label_scaled_by_class_support():
    # class 0, one size: 3 of 4 labels overlapped by a prediction -> support (3+1)/(4+2);
    # the lone one scores 0.75 * 2/3
    gt = table(["a", "b"], [0, 0, 0, 1], [0, 0, 0, 0],
               [[.2, .2, .1, .1], [.5, .5, .1, .1], [.8, .8, .1, .1], [.5, .5, .1, .1]])
    pred = table(["a", "b"], [0, 0, 0], [0, 0, 0],
                 [[.2, .2, .1, .1], [.5, .5, .1, .1], [.8, .8, .1, .1]], [.9, .9, .9])
    issues = rank_label_issues(pred, gt)
    assert list(issues["image"]) == ["b"]
    assert issues.loc[0, "score"] == pytest.approx(0.75 * 2 / 3)
    assert issues.loc[0, "reason"].startswith("unsupported label")
    assert rank_label_issues(pred, gt, unsupported_weight=0.3).loc[0, "score"] == pytest.approx(
        0.3 * 2 / 3)


def test_unsupported_small_boxes_are_less_suspicious_than_large_ones():
    # 10 small and 10 large class-0 boxes: all large ones seen, half the small ones missed
    small = [[0.1 + 0.08 * i, 0.1, 0.02, 0.02] for i in range(10)]
    large = [[0.1 + 0.08 * i, 0.6, 0.07, 0.3] for i in range(10)]
    gt = table(["a", "b"], [0] * 10 + [1] * 10, [0] * 20, small + large)
    seen = small[:5] + large[:9]
    pred = table(["a", "b"], [0] * 5 + [1] * 9, [0] * 14, seen, [0.9] * 14)
    issues = rank_label_issues(pred, gt).set_index("image")
    assert issues.loc["b", "score"] > issues.loc["a", "score"]   # the one missed large box


def test_ranking_order_is_by_score_then_count_then_name():
    gt = table(["a", "b", "c"], [], [], [])
    pred = table(["a", "b", "c"], [0, 1, 1, 2], [0, 0, 0, 0],
                 [BOX, BOX, [.8, .8, .1, .1], BOX], [0.5, 0.9, 0.5, 0.9])
    issues = rank_label_issues(pred, gt)
    assert list(issues["image"]) == ["b", "c", "a"]   # b and c tie at 0.9; b has two issues
    assert list(issues["n_issues"]) == [2, 1, 1]
    assert list(rank_label_issues(pred, gt, top=1)["image"]) == ["b"]


def test_nested_boxes_form_their_own_kind():
    # 4 plates inside 4 containers, none detected; 4 free-standing plates, 3 detected.
    # The missed nested plates share support (0 + 1) / (4 + 2); the lone free plate gets
    # (3 + 1) / (4 + 2), so it ranks first.
    containers = [[0.2 + 0.2 * i, 0.3, 0.15, 0.3] for i in range(4)]
    nested = [[0.2 + 0.2 * i, 0.3, 0.05, 0.03] for i in range(4)]
    free = [[0.2 + 0.2 * i, 0.8, 0.05, 0.03] for i in range(4)]
    stems = [f"i{i}" for i in range(4)]
    gt = table(stems, [i for i in range(4) for _ in range(3)], [1, 0, 0] * 4,
               [b for i in range(4) for b in (containers[i], nested[i], free[i])])
    seen = [b for i in range(4) for b in ([containers[i], free[i]] if i < 3 else [containers[i]])]
    pred = table(stems, [0, 0, 1, 1, 2, 2, 3], [1, 0, 1, 0, 1, 0, 1], seen, [0.9] * 7)
    issues = rank_label_issues(pred, gt).set_index("image")
    assert issues["score"].idxmax() == "i3"
    assert issues.loc["i3", "score"] == pytest.approx(0.75 * 4 / 6)
    assert issues.loc["i0", "score"] == pytest.approx(0.75 * 1 / 6)


class FixedLook:
    """A second look that reports a given confidence for boxes of given stems."""

    def __init__(self, found: dict[str, float]):
        self.found, self.asked = found, []

    def evidence(self, stems, boxes, class_ids=None, min_iou=0.3):
        self.asked.append((list(stems), None if class_ids is None else list(class_ids)))
        return np.array([self.found.get(s, 0.0) for s in stems])


def test_prediction_beside_a_claimed_label_of_another_class_is_an_unlabelled_object():
    # a cat label matched by a cat prediction; a dog prediction overlaps it at IoU 0.43
    dog = [0.3 + 0.08, 0.3, 0.2, 0.2]
    gt = table(["a"], [0], [0], [BOX])
    pred = table(["a"], [0, 0], [0, 1], [BOX, dog], [0.9, 0.8])
    assert kinds(pred, gt) == ["unlabelled object"]
    # the same dog beside an unmatched cat label is an imprecise box of it, not a new object
    pred = table(["a"], [0], [1], [dog], [0.8])
    assert "unlabelled object" not in kinds(pred, gt)


def test_second_look_scales_unsupported_labels_and_confirms_unlabelled_objects():
    # a: a label nothing overlaps, found on the closer look (a missed object, not spurious)
    # b: a label nothing overlaps, and nothing there on the closer look either
    # c: an unlabelled detection 0.8, seen again at 0.45; d: one at 0.2 (not worth a look)
    far = [0.8, 0.8, 0.1, 0.1]
    gt = table(["a", "b", "c", "d"], [0, 1], [0, 0], [BOX, BOX])
    pred = table(["a", "b", "c", "d"], [2, 3], [1, 1], [far, far], [0.8, 0.2])
    look = FixedLook({"a": 0.9, "b": 0.02, "c": 0.45})
    plain = rank_label_issues(pred, gt).set_index("image")["score"]
    looked = rank_label_issues(pred, gt, look=look, names=["cat", "dog"]).set_index("image")
    support = plain["a"] / 0.75                          # both labels: the same kind
    assert plain["a"] == pytest.approx(plain["b"])
    assert looked.loc["a", "score"] == pytest.approx(0.8 * support * (1 - 0.9))
    assert looked.loc["b", "score"] == pytest.approx(0.8 * support * (1 - 0.02))
    assert looked.loc["c", "score"] == pytest.approx(np.sqrt(0.8 * 0.45))
    assert looked.loc["d", "score"] == pytest.approx(0.2)
    assert looked.loc["c", "reason"] == ("unlabelled object: dog (confidence 0.80, 0.45 on a "
                                         "closer look, best IoU 0.00)")
    assert looked.loc["b", "reason"].startswith("unsupported label: cat with no matching "
                                                "prediction, nor one on a closer look")
    labels_asked, preds_asked = look.asked[1], look.asked[0]
    assert preds_asked == (["c"], [1])                   # same class, above 0.25 only
    assert labels_asked == (["a", "b"], None)            # any class
