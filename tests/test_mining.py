"""HardNegativeMining: hand-computed losses, batched == per-image, misclassification tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tecktrack.datasets.box_table import BoxTable
from tecktrack.detections import Detections, box_iou
from tecktrack.mining.hard_negatives import LOSS_COMPONENTS, HardNegativeMining
from tecktrack.mining.matching import align_tables, match_tables

GT = Detections([[0, 0, 40, 40]], [0])


def pred(boxes, classes, scores) -> Detections:
    return Detections(boxes, classes, scores)


def loss(p: Detections, g: Detections = GT, **kw) -> float:
    return HardNegativeMining(**kw).compute_loss(p, g, 100, 100)


def test_perfect_confident_prediction_costs_nothing():
    assert loss(pred([[0, 0, 40, 40]], [0], [1.0])) == 0.0


def test_missed_object_costs_lambda_no_obj():
    assert loss(Detections.empty()) == 2.0
    assert loss(Detections.empty(), lambda_no_obj=3.5) == 3.5


def test_false_positive_costs_lambda_obj_times_score_squared():
    empty_gt = Detections.empty(with_scores=False)
    assert loss(pred([[0, 0, 10, 10]], [0], [0.6]), empty_gt) == pytest.approx(0.36)
    assert loss(pred([[0, 0, 10, 10]], [0], [0.6]), empty_gt, lambda_obj=2) == pytest.approx(0.72)


def test_shifted_box_hand_computed():
    # IoU 0.6; centre moves 10 px of 100 -> 0.1^2 = 0.01; x lambda_bb 5 = 0.05; (1-0.8)^2 = 0.04
    parts = HardNegativeMining().loss_components(pred([[10, 0, 50, 40]], [0], [0.8]), GT, 100, 100)
    assert parts["box"] == pytest.approx(0.05)
    assert parts["objectness"] == pytest.approx(0.04)
    assert parts["loss"] == pytest.approx(0.09)
    assert parts["missed"] == parts["false_positive"] == parts["classification"] == 0


def test_resized_box_uses_square_root_sizes():
    # cy 0.20 -> 0.15, h 0.4 -> 0.3: 0.05^2 + (sqrt(.4) - sqrt(.3))^2
    expected = 5 * (0.05**2 + (math.sqrt(0.4) - math.sqrt(0.3)) ** 2)
    assert loss(pred([[0, 0, 40, 30]], [0], [1.0])) == pytest.approx(expected)


def test_wrong_class_costs_lambda_cls():
    assert loss(pred([[0, 0, 40, 40]], [3], [1.0])) == 1.0
    assert loss(pred([[0, 0, 40, 40]], [3], [1.0]), lambda_cls=4) == 4.0


def test_below_iou_threshold_is_a_false_positive_and_a_miss():
    p = pred([[16, 0, 56, 40]], [0], [0.5])  # IoU 24/56 = 0.43
    assert box_iou(p.xyxy, GT.xyxy)[0, 0] < 0.5
    assert loss(p) == pytest.approx(0.25 + 2.0)
    assert loss(p, iou_threshold=0.4) == pytest.approx(5 * 0.16**2 + 0.25)


def test_greedy_gives_the_label_to_the_higher_score():
    p = pred([[0, 0, 40, 40], [1, 0, 41, 40]], [0, 0], [0.3, 0.9])
    parts = HardNegativeMining().loss_components(p, GT, 100, 100)
    assert parts["false_positive"] == pytest.approx(0.09)     # 0.3^2: the loser
    assert parts["objectness"] == pytest.approx(0.01)         # (1-0.9)^2: the winner


def test_loss_does_not_depend_on_image_scale():
    p, g = pred([[10, 5, 50, 40]], [1], [0.7]), Detections([[0, 0, 40, 40]], [0])
    small = HardNegativeMining().compute_loss(p, g, 100, 80)
    big = HardNegativeMining().compute_loss(
        Detections(p.xyxy * 3, p.class_ids, p.scores), Detections(g.xyxy * 3, g.class_ids),
        300, 240)
    assert small == pytest.approx(big)


def test_bad_parameters_and_inputs_are_refused():
    with pytest.raises(ValueError, match="iou_threshold"):
        HardNegativeMining(iou_threshold=0)
    with pytest.raises(ValueError, match="lambda_bb"):
        HardNegativeMining(lambda_bb=-1)
    with pytest.raises(ValueError, match="scores"):
        HardNegativeMining().compute_loss(GT, GT, 100, 100)


def random_tables(seed: int, n_images: int = 40) -> tuple[BoxTable, BoxTable]:
    rng = np.random.default_rng(seed)
    n_gt = rng.integers(0, 6, n_images)
    n_pred = rng.integers(0, 8, n_images)

    def boxes(n: int) -> np.ndarray:
        centre = rng.uniform(0.2, 0.8, (n, 2))
        size = rng.uniform(0.05, 0.4, (n, 2))
        return np.concatenate([centre, size], axis=1)

    stems = [f"{i:06d}" for i in range(n_images)]
    gt = BoxTable(stems, np.repeat(np.arange(n_images), n_gt), rng.integers(0, 3, n_gt.sum()),
                  boxes(int(n_gt.sum())))
    gt_boxes = gt.boxes
    # predictions: jittered copies of some labels plus random boxes, so matches happen
    base = np.concatenate([gt_boxes, boxes(int(n_pred.sum()))])
    img = np.concatenate([gt.image, np.repeat(np.arange(n_images), n_pred)])
    keep = rng.random(len(base)) < 0.8
    order = np.argsort(img[keep], kind="stable")
    jitter = rng.normal(0, 0.02, (int(keep.sum()), 4))
    p = BoxTable(stems, img[keep][order], rng.integers(0, 3, int(keep.sum()))[order],
                 np.clip(base[keep][order] + jitter[order], 0.01, 1), rng.random(int(keep.sum())))
    return p, gt


def brute_force_greedy(p: Detections, g: Detections, thr: float) -> np.ndarray:
    """pycocotools-style greedy, class-agnostic, one image, plain loops (the reference)."""
    iou = box_iou(p.xyxy, g.xyxy)
    taken = np.zeros(len(g), bool)
    out = np.full(len(p), -1)
    for i in np.argsort(-p.scores, kind="stable"):
        best, best_iou = -1, thr
        for j in range(len(g)):
            if not taken[j] and iou[i, j] >= best_iou and (best < 0 or iou[i, j] > iou[i, best]):
                best, best_iou = j, iou[i, j]
        if best >= 0:
            taken[best] = True
            out[i] = best
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_matching_equals_brute_force_greedy(seed):
    p, g = random_tables(seed)
    match = match_tables(p, g, 0.5)
    g_start = g.starts()
    for i in range(p.n_images):
        ref = brute_force_greedy(p.detections(i), g.detections(i), 0.5)
        got = match.pred_gt[p.image == i]
        got = np.where(got >= 0, got - g_start[i], -1)
        assert np.array_equal(got, ref), f"image {i}"
    assert (match.pred_gt >= 0).sum() > 10   # the random case really exercises matching


def test_vectorised_matching_is_chunk_independent(monkeypatch):
    import tecktrack.mining.matching as mm

    p, g = random_tables(5)
    whole = mm.match_tables(p, g)
    monkeypatch.setattr(mm, "PAIRS_PER_CHUNK", 7)
    chunked = mm.match_tables(p, g)
    assert np.array_equal(whole.pred_gt, chunked.pred_gt)
    assert np.array_equal(whole.gt_pred, chunked.gt_pred)


def test_batched_losses_equal_per_image_compute_loss():
    p, g = random_tables(3)
    miner = HardNegativeMining()
    frame = miner.image_losses(p, g)
    for i in range(p.n_images):
        one = miner.loss_components(p.detections(i, 640, 480), g.detections(i, 640, 480), 640, 480)
        assert frame.loc[i, "loss"] == pytest.approx(one["loss"], abs=1e-6)  # float32 pixels
        for key in LOSS_COMPONENTS:
            assert frame.loc[i, key] == pytest.approx(one[key], abs=1e-6)
    assert np.allclose(frame["loss"], frame[list(LOSS_COMPONENTS)].sum(axis=1))


def test_hard_negatives_are_sorted_with_components():
    p, g = random_tables(4)
    top = HardNegativeMining().hard_negatives(p, g, num_samples=5)
    assert len(top) == 5
    assert list(top["loss"]) == sorted(top["loss"], reverse=True)
    everything = HardNegativeMining().image_losses(p, g)
    assert top["loss"].iloc[0] == pytest.approx(everything["loss"].max())
    assert set(LOSS_COMPONENTS) <= set(top.columns)


def two_image_confusions() -> tuple[BoxTable, BoxTable]:
    g = BoxTable(["a", "b"], [0, 0, 0, 1], [0, 0, 1, 0],
                 [[.2, .2, .1, .1], [.5, .5, .1, .1], [.8, .8, .1, .1], [.5, .5, .2, .2]])
    p = BoxTable(["a", "b"], [0, 0, 0, 1], [2, 1, 1, 2],
                 [[.2, .2, .1, .1], [.5, .5, .1, .1], [.8, .8, .1, .1], [.5, .5, .2, .2]],
                 [.9, .8, .7, .6])
    return p, g


def test_count_misclassifications_per_class():
    p, g = two_image_confusions()
    counts = HardNegativeMining().count_misclassifications_per_class(p, g)
    assert counts.values.tolist() == [[0, 2, 2], [0, 1, 1]]
    named = HardNegativeMining().count_misclassifications_per_class(p, g, names=["a", "b", "c"])
    assert named.values.tolist() == [["a", "c", 2], ["a", "b", 1]]


def test_misclassifications_table_lists_confusions_and_images():
    p, g = two_image_confusions()
    table = HardNegativeMining().misclassifications(p, g, names=["cat", "dog", "cow"])
    assert list(table.columns) == ["class", "count", "confused_with", "images"]
    assert table.loc[0, "class"] == "cat" and table.loc[0, "count"] == 3
    assert table.loc[0, "confused_with"] == {"cow": 2, "dog": 1}
    assert table.loc[0, "images"] == ["a", "b"]
    assert len(table) == 1   # class 1 (dog) was predicted correctly


def test_misclassifications_empty_when_all_correct():
    p, g = two_image_confusions()
    right = BoxTable(p.stems, p.image, g.class_ids, p.boxes, p.scores)
    assert HardNegativeMining().misclassifications(right, g).empty


def test_align_tables_requires_shared_stems():
    p, g = two_image_confusions()
    other = BoxTable(["x"], [], [], np.zeros((0, 4)))
    a, b, left = align_tables(p, other)
    assert a.n_images == b.n_images == 0 and left == {"pred_only": 2, "gt_only": 1}
    with pytest.raises(ValueError, match="aligned"):
        match_tables(p, other)


def test_image_losses_frame_shape():
    p, g = two_image_confusions()
    frame = HardNegativeMining().image_losses(p, g)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame["image"]) == ["a", "b"]
    assert list(frame["n_pred"]) == [3, 1] and list(frame["n_gt"]) == [3, 1]
    assert frame.loc[0, "classification"] == pytest.approx(2.0)
