"""tecktrack.metrics.evaluate against pycocotools (dev-only oracle) on random datasets."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from tecktrack.detections import Detections
from tecktrack.metrics import SUMMARY_KEYS, evaluate

pycocotools = pytest.importorskip("pycocotools")
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

N_DATASETS = 30


def _boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    """float32 xyxy boxes from tiny to huge (some above the 1e10 'all' area limit)."""
    kind = rng.choice(4, size=n, p=[0.3, 0.35, 0.3, 0.05])
    side = np.choose(kind, [rng.uniform(0, 32, n), rng.uniform(20, 110, n),
                            rng.uniform(80, 400, n), rng.uniform(1e5, 2e5, n)])
    w = side * rng.uniform(0.5, 1.5, n)
    h = side * rng.uniform(0.5, 1.5, n)
    x = rng.uniform(0, 600, n)
    y = rng.uniform(0, 400, n)
    return np.stack([x, y, x + w, y + h], axis=1).astype(np.float32)


def _jitter(rng: np.random.Generator, boxes: np.ndarray, scale: float) -> np.ndarray:
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    noise = rng.normal(0, scale, boxes.shape) * np.stack([w, h, w, h], axis=1)
    out = boxes + noise
    out[:, 2:] = np.maximum(out[:, 2:], out[:, :2])
    return out.astype(np.float32)


def make_dataset(seed: int) -> dict:
    """A random evaluation with COCO's corner cases; returns engine and oracle inputs."""
    rng = np.random.default_rng(seed)
    n_classes = int(rng.integers(1, 6))
    class_ids = np.sort(rng.choice(20, size=n_classes + 2, replace=False))
    gt_classes = class_ids[:-1]         # the last id appears only in predictions / names
    n_images = int(rng.integers(1, 14))
    tie_scores = rng.random() < 0.5
    gt, preds, areas, crowd = {}, {}, {}, {}
    for i in range(n_images):
        key = f"img{i:03d}"
        n_gt = int(rng.choice([0, 1, 3, 8, 20], p=[0.2, 0.2, 0.3, 0.2, 0.1]))
        g_xyxy = _boxes(rng, n_gt)
        g_cls = rng.choice(gt_classes[:-1] if len(gt_classes) > 1 else gt_classes, n_gt)
        gt[key] = Detections(g_xyxy, g_cls)
        box_area = (g_xyxy[:, 2].astype(np.float64) - g_xyxy[:, 0]) * (
            g_xyxy[:, 3].astype(np.float64) - g_xyxy[:, 1])
        areas[key] = box_area * np.where(rng.random(n_gt) < 0.3, rng.uniform(0.3, 1.0, n_gt), 1)
        crowd[key] = rng.random(n_gt) < 0.1
        if rng.random() < 0.15:
            continue                                  # image without predictions
        n_copy = int(rng.integers(0, 3)) * n_gt
        src = rng.integers(0, max(n_gt, 1), n_copy)
        d_xyxy = _jitter(rng, g_xyxy[src], rng.uniform(0.02, 0.15)) if n_gt else _boxes(rng, 0)
        d_cls = g_cls[src] if n_gt else np.zeros(0, np.int64)
        flip = rng.random(len(d_cls)) < 0.1
        d_cls = np.where(flip, rng.choice(class_ids, len(d_cls)), d_cls)
        n_rand = int(rng.choice([0, 2, 10, 130], p=[0.3, 0.3, 0.3, 0.1]))
        d_xyxy = np.concatenate([d_xyxy, _boxes(rng, n_rand)])
        d_cls = np.concatenate([d_cls, rng.choice(class_ids, n_rand)])
        if n_rand == 130 and n_gt:                    # >100 detections in one group
            d_cls[-n_rand:] = g_cls[0]
        n = len(d_cls)
        scores = rng.choice([0.1, 0.5, 0.9], n) if tie_scores else rng.random(n)
        preds[key] = Detections(d_xyxy, d_cls, scores.astype(np.float32))
    names = {int(c): f"c{c}" for c in class_ids}
    return {"gt": gt, "preds": preds, "areas": areas, "iscrowd": crowd, "names": names}


def run_pycocotools(data: dict) -> COCOeval | None:
    """COCOeval on the same data; None when there are no predictions (loadRes fails)."""
    keys = list(data["gt"])
    images, anns = [], []
    for i, key in enumerate(keys):
        images.append({"id": i + 1, "width": 1000, "height": 1000})
        g = data["gt"][key]
        for j in range(len(g)):
            x1, y1, x2, y2 = (float(v) for v in g.xyxy[j])
            anns.append({"id": len(anns) + 1, "image_id": i + 1,
                         "category_id": int(g.class_ids[j]), "bbox": [x1, y1, x2 - x1, y2 - y1],
                         "area": float(data["areas"][key][j]),
                         "iscrowd": int(data["iscrowd"][key][j])})
    results = []
    for i, key in enumerate(keys):
        d = data["preds"].get(key)
        for j in range(0 if d is None else len(d)):
            x1, y1, x2, y2 = (float(v) for v in d.xyxy[j])
            results.append({"image_id": i + 1, "category_id": int(d.class_ids[j]),
                            "bbox": [x1, y1, x2 - x1, y2 - y1], "score": float(d.scores[j])})
    if not results:
        return None
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = {"images": images, "annotations": anns,
                           "categories": [{"id": c} for c in sorted(data["names"])]}
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(results)
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def _evaluate(data: dict):
    return evaluate(data["gt"], data["preds"], names=data["names"], areas=data["areas"],
                    iscrowd=data["iscrowd"])


@pytest.mark.parametrize("seed", range(N_DATASETS))
def test_matches_pycocotools(seed: int) -> None:
    data = make_dataset(seed)
    oracle = run_pycocotools(data)
    ours = _evaluate(data)
    if oracle is None:                     # pycocotools' loadRes cannot take an empty list
        assert ours.summary["map"] in (0.0, -1.0) and ours.summary["ar100"] in (0.0, -1.0)
        return
    got = np.array([ours.summary[k] for k in SUMMARY_KEYS])
    np.testing.assert_allclose(got, oracle.stats, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.precision, oracle.eval["precision"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.recall, oracle.eval["recall"], rtol=0, atol=1e-9)
    p = oracle.eval["precision"][:, :, :, 0, -1]
    valid = (p > -1).all(axis=(0, 1))
    ap_oracle = np.where(valid, np.where(p > -1, p, np.nan).mean(axis=(0, 1)), np.nan)
    np.testing.assert_allclose(ours.per_class["mAP50-95"].to_numpy(), ap_oracle, atol=1e-9)
    ap50 = np.where(valid, p[0].mean(axis=0), np.nan)
    np.testing.assert_allclose(ours.per_class["mAP50"].to_numpy(), ap50, atol=1e-9)


def test_oracle_datasets_cover_the_corner_cases() -> None:
    """The generator really produces what the oracle comparison claims to cover."""
    seen = {"empty_gt_image": 0, "image_without_preds": 0, "crowd": 0, "huge": 0, "tiny": 0,
            "big_group": 0, "tied_scores": 0, "class_only_in_preds": 0}
    for seed in range(N_DATASETS):
        data = make_dataset(seed)
        gt_ids = set()
        for key, g in data["gt"].items():
            gt_ids |= set(g.class_ids.tolist())
            seen["empty_gt_image"] += len(g) == 0
            seen["image_without_preds"] += key not in data["preds"]
            seen["crowd"] += int(data["iscrowd"][key].sum())
            seen["huge"] += int((data["areas"][key] > 1e10).sum())
            seen["tiny"] += int((data["areas"][key] < 32**2).sum())
        for d in data["preds"].values():
            _, counts = np.unique(d.class_ids, return_counts=True)
            seen["big_group"] += int((counts > 100).any())
            seen["tied_scores"] += len(np.unique(d.scores)) < len(d)
        pred_ids = {int(c) for d in data["preds"].values() for c in d.class_ids}
        seen["class_only_in_preds"] += bool(pred_ids - gt_ids)
    assert all(v > 0 for v in seen.values()), seen


def test_no_predictions_gives_zero_not_failure() -> None:
    data = make_dataset(3)
    ev = evaluate(data["gt"], {}, names=data["names"])
    assert ev.summary["map"] == 0.0
    assert ev.summary["ar100"] == 0.0


@pytest.mark.parametrize("seed", [1, 15])
def test_custom_thresholds_and_max_dets_match_pycocotools_arrays(seed: int) -> None:
    data = make_dataset(seed)
    thresholds, max_dets = [0.3, 0.55, 0.8], [2, 5, 20]
    with contextlib.redirect_stdout(io.StringIO()):
        oracle = run_pycocotools(data)
        oracle.params.iouThrs = np.array(thresholds)
        oracle.params.maxDets = max_dets
        oracle.evaluate()
        oracle.accumulate()
    ours = evaluate(data["gt"], data["preds"], names=data["names"], areas=data["areas"],
                    iscrowd=data["iscrowd"], iou_thresholds=thresholds, max_dets=max_dets)
    np.testing.assert_allclose(ours.precision, oracle.eval["precision"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.recall, oracle.eval["recall"], rtol=0, atol=1e-9)
    assert (ours.precision > 0).any()
