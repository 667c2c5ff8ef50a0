"""``tecktrack.metrics.ultralytics`` against Ultralytics' own matching and ``ap_per_class``.

Random images with two-decimal boxes (as label tools write them), near-duplicate detections,
several classes per box and classes without detections: the per-class AP at every IoU
threshold, P, R and the summary must equal what Ultralytics computes from the same boxes.
"""

from __future__ import annotations

import numpy as np
import pytest
from ultralytics_support import import_ultralytics, ultralytics_installed

if not ultralytics_installed():
    pytest.skip("ultralytics-opencv-headless (dev extra) is not installed",
                allow_module_level=True)

from tecktrack.detections import Detections  # noqa: E402
from tecktrack.metrics.ultralytics import evaluate_ultralytics, match_ultralytics  # noqa: E402


def _world(seed: int, n_images: int = 30, nc: int = 5):
    rng = np.random.default_rng(seed)
    gt, preds = {}, {}
    for i in range(n_images):
        n = int(rng.integers(0, 8))
        xy = rng.uniform(0, 500, (n, 2))
        wh = rng.uniform(5, 150, (n, 2))
        boxes = np.round(np.hstack([xy, xy + wh]), 2)
        cls = rng.integers(0, nc - 1, n)  # the last class never has ground truth
        gt[i] = Detections(boxes, cls)
        keep = rng.random(n) < 0.8
        jitter = np.round(boxes[keep] + rng.normal(0, 6, (keep.sum(), 4)), 2)
        flip = np.where(rng.random(keep.sum()) < 0.15, rng.integers(0, nc, keep.sum()), cls[keep])
        m = int(rng.integers(0, 6))
        fxy = rng.uniform(0, 500, (m, 2))
        false = np.round(np.hstack([fxy, fxy + rng.uniform(5, 150, (m, 2))]), 2)
        dup = jitter[: max(1, len(jitter) // 3)] + 1.0  # duplicates compete for one target
        det_xyxy = np.vstack([jitter, false, dup]) if len(jitter) else np.vstack([false])
        det_cls = np.concatenate([flip, rng.integers(0, nc, m), flip[: len(dup)]]) \
            if len(jitter) else rng.integers(0, nc, m)
        scores = np.round(rng.uniform(0.001, 1, len(det_xyxy)), 4)
        preds[i] = Detections(det_xyxy, det_cls, scores)
    return gt, preds


def _reference(gt, preds):
    import torch

    import_ultralytics()
    from ultralytics.models.yolo.detect import DetectionValidator
    from ultralytics.utils.metrics import ap_per_class, box_iou

    validator = DetectionValidator()
    validator.iouv = torch.linspace(0.5, 0.95, 10)
    tps, confs, classes, targets = [], [], [], []
    for key, truth in gt.items():
        det = preds[key]
        order = np.argsort(-det.scores, kind="stable")
        det = det[order]
        if len(truth) and len(det):
            iou = box_iou(torch.tensor(truth.xyxy, dtype=torch.float64),
                          torch.tensor(det.xyxy, dtype=torch.float64))
            tp = validator.match_predictions(torch.tensor(det.class_ids),
                                             torch.tensor(truth.class_ids), iou).numpy()
        else:
            tp = np.zeros((len(det), 10), bool)
        tps.append(tp)
        confs.append(det.scores.astype(np.float64))
        classes.append(det.class_ids)
        targets.append(truth.class_ids)
    return ap_per_class(np.concatenate(tps), np.concatenate(confs), np.concatenate(classes),
                        np.concatenate(targets))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_ultralytics_ap_per_class(seed):
    gt, preds = _world(seed)
    ours = evaluate_ultralytics(gt, preds)
    tp, fp, p, r, f1, ap, classes, *_ = _reference(gt, preds)
    np.testing.assert_array_equal(ours.per_class.index.to_numpy(), classes)
    np.testing.assert_allclose(ours.per_class["mAP50"], ap[:, 0], atol=1e-12)
    np.testing.assert_allclose(ours.per_class["mAP50-95"], ap.mean(1), atol=1e-12)
    np.testing.assert_allclose(ours.per_class["P"], p, atol=1e-12)
    np.testing.assert_allclose(ours.per_class["R"], r, atol=1e-12)
    assert ours.summary["map50"] == pytest.approx(ap[:, 0].mean(), abs=1e-12)
    assert ours.summary["map50_95"] == pytest.approx(ap.mean(), abs=1e-12)
    assert 0.05 < ours.summary["map50"] < 0.95  # an input that can show a difference


def test_greedy_matching_claims_each_target_once():
    truth = Detections([[0, 0, 10, 10], [20, 0, 30, 10]], [0, 0])
    det = Detections([[0, 0, 10, 10], [0.5, 0, 10, 10], [20, 0, 30, 10]], [0, 0, 0],
                     [0.9, 0.8, 0.7])
    assert match_ultralytics(truth, det)[:, 0].tolist() == [True, False, True]
