"""OperatingPoints: the slider's P/R/F1, per-class table and confusion matrix equal the
library's one-shot functions at every (conf, iou), from one cached flattening."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tecktrack.detections import Detections
from tecktrack.metrics import OperatingPoints, confusion_matrix, precision_recall


def _world(n_images: int, n_classes: int, seed: int):
    rng = np.random.default_rng(seed)
    gt, preds = {}, {}
    for i in range(n_images):
        k = int(rng.integers(0, 7))
        xy = np.round(rng.uniform(0, 500, (k, 2)), 2)          # two decimals, as tools write
        wh = np.round(rng.uniform(8, 120, (k, 2)), 2)
        boxes = np.hstack([xy, xy + wh])
        cls = rng.integers(0, n_classes, k)
        gt[f"im{i:03d}"] = Detections(boxes, cls)
        # detections: jittered copies (some with another class), plus strays
        jitter = boxes + np.round(rng.normal(0, 6, boxes.shape), 2)
        jitter[:, 2:] = np.maximum(jitter[:, 2:], jitter[:, :2] + 1)
        dcls = np.where(rng.random(k) < 0.2, rng.integers(0, n_classes, k), cls)
        m = int(rng.integers(0, 5))
        sxy = np.round(rng.uniform(0, 500, (m, 2)), 2)
        stray = np.hstack([sxy, sxy + np.round(rng.uniform(8, 80, (m, 2)), 2)])
        preds[f"im{i:03d}"] = Detections(np.vstack([jitter, stray]),
                                         np.concatenate([dcls, rng.integers(0, n_classes, m)]),
                                         np.round(rng.uniform(0.001, 1, k + m), 3))
    return gt, preds


@pytest.mark.parametrize("conf,iou", [(0.001, 0.5), (0.25, 0.5), (0.5, 0.3), (0.5, 0.75),
                                      (0.9, 0.5), (0.333, 0.95)])
def test_tables_equal_the_one_shot_functions(conf, iou):
    gt, preds = _world(60, 5, seed=3)
    names = ["a", "b", "c", "d", "e"]
    points = OperatingPoints(gt, preds, names=names)
    pd.testing.assert_frame_equal(points.precision_recall(conf, iou),
                                  precision_recall(gt, preds, conf=conf, iou=iou, names=names))
    pd.testing.assert_frame_equal(points.confusion(conf, iou),
                                  confusion_matrix(gt, preds, conf=conf, iou=iou, names=names))


def test_summary_f1_and_per_image_errors_agree_with_the_tables():
    gt, preds = _world(40, 3, seed=5)
    points = OperatingPoints(gt, preds, names=["a", "b", "c"])
    table = points.precision_recall(0.4, 0.5)
    s = points.summary(0.4, 0.5)
    p, r = table.loc["mean", "precision"], table.loc["mean", "recall"]
    assert s["precision"] == pytest.approx(p) and s["recall"] == pytest.approx(r)
    assert s["f1"] == pytest.approx(2 * p * r / (p + r))
    errors = points.image_errors(0.4, 0.5)
    assert errors["tp"].sum() == s["tp"] and errors["false positive"].sum() == s["fp"]
    assert errors["missed"].sum() == s["fn"]
    cm = points.confusion(0.4, 0.5).to_numpy()[:-1, :-1]
    assert errors["wrong class"].sum() == cm.sum() - np.trace(cm)
    # a higher threshold never finds more
    assert points.summary(0.8, 0.5)["tp"] <= s["tp"]


def test_outcomes_mark_kept_detections_and_found_labels():
    gt = {"a": Detections([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 0])}
    preds = {"a": Detections([[0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 30]], [0, 0, 0],
                             [0.9, 0.6, 0.2])}
    state, found = OperatingPoints(gt, preds).outcomes(0.5, 0.5)
    assert state.tolist() == [1, 0, -1] and found.tolist() == [True, False]


def test_explorer_widget_follows_the_slider(monkeypatch):
    pytest.importorskip("ipywidgets")
    import re

    from tecktrack.lab.explorer import explorer_state, filter_images
    from tecktrack.lab.widgets import show_explorer

    monkeypatch.setenv("TECKTRACK_WIDGETS", "1")
    gt, preds = _world(50, 4, seed=7)
    points = OperatingPoints(gt, preds, names=list("abcd"))
    box = show_explorer({"m": points}, conf=0.5, iou=0.5)
    model, conf, iou = box.children[0].children
    conf.value = 0.75
    shown = float(re.search(r"tt-precision'>([0-9.]+)<", box.children[1].value).group(1))
    assert shown == pytest.approx(points.summary(0.75, 0.5)["precision"], abs=5e-5)
    assert shown != pytest.approx(points.summary(0.5, 0.5)["precision"], abs=5e-5)
    state = explorer_state(points, 0.75, 0.5)
    for kind in ("missed", "false positive", "wrong class"):
        keys = filter_images(state.errors, state.presence, kind=kind)
        assert all(state.errors.loc[k, kind] > 0 for k in keys)
        assert len(keys) == int((state.errors[kind] > 0).sum())
    keys = filter_images(state.errors, state.presence, class_id=2)
    assert keys and all(state.presence[points.images.index(k), 2] for k in keys)


def test_top_confusion_keeps_totals_and_puts_the_rest_in_other():
    from tecktrack.lab.explorer import top_confusion

    gt, preds = _world(80, 30, seed=9)
    cm = OperatingPoints(gt, preds).confusion(0.3, 0.5)
    top = top_confusion(cm, 10)
    assert top.shape == (12, 12) and list(top.index[-2:]) == ["other", "background"]
    assert top.to_numpy().sum() == cm.to_numpy().sum()
    assert top.loc["background", "background"] == 0
    assert top["background"].sum() == cm["background"].sum()
