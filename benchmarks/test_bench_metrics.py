"""Speed of tecktrack.metrics.evaluate against pycocotools and faster-coco-eval (same run).

A generated evaluation of 5,000 images, ~35,000 ground-truth boxes and ~125,000 detections
over 80 classes. Each library gets its own native inputs built beforehand; the timed call is
the whole evaluation (results loading, matching, accumulation, summary).

    .venv/bin/pytest benchmarks/test_bench_metrics.py --benchmark-only \
        --benchmark-columns=min,mean,max,rounds
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from goals import pair

from tecktrack.detections import Detections
from tecktrack.metrics import evaluate

N_IMAGES, GT_PER_IMAGE, DETS_PER_IMAGE, N_CLASSES = 5000, 7, 25, 80


def generate(seed: int = 0) -> tuple[dict, dict]:
    """``(gt, preds)``: jittered copies of ground truth plus clutter, a few classes per image."""
    rng = np.random.default_rng(seed)
    gt, preds = {}, {}
    for i in range(N_IMAGES):
        n_gt = int(rng.poisson(GT_PER_IMAGE))
        classes = rng.choice(N_CLASSES, size=3, replace=False)
        g_cls = rng.choice(classes, n_gt)
        wh = rng.uniform(8, 200, (n_gt, 2))
        xy = rng.uniform(0, 440, (n_gt, 2))
        g = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
        n_dt = int(rng.poisson(DETS_PER_IMAGE))
        src = rng.integers(0, max(n_gt, 1), n_dt)
        d = (g[src] + rng.normal(0, 0.1, (n_dt, 4)) * np.tile(wh[src], 2)).astype(np.float32) \
            if n_gt else rng.uniform(0, 400, (n_dt, 4)).astype(np.float32)
        d[:, 2:] = np.maximum(d[:, 2:], d[:, :2] + 1)
        d_cls = np.where(rng.random(n_dt) < 0.8, g_cls[src] if n_gt else 0,
                         rng.choice(classes, n_dt))
        gt[f"{i:06d}"] = Detections(g, g_cls)
        preds[f"{i:06d}"] = Detections(d, d_cls, rng.random(n_dt).astype(np.float32))
    return gt, preds


def to_coco(gt: dict, preds: dict) -> tuple[dict, list]:
    """COCO dataset dict and results list for the same evaluation."""
    images, anns, results = [], [], []
    for i, key in enumerate(gt):
        images.append({"id": i + 1, "width": 640, "height": 640})
        for box, c in zip(gt[key].to_coco().tolist(), gt[key].class_ids.tolist(), strict=True):
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": c, "bbox": box,
                         "area": box[2] * box[3], "iscrowd": 0})
        d = preds[key]
        for box, c, s in zip(d.to_coco().tolist(), d.class_ids.tolist(), d.scores.tolist(),
                             strict=True):
            results.append({"image_id": i + 1, "category_id": c, "bbox": box, "score": s})
    cats = [{"id": c, "name": str(c)} for c in range(N_CLASSES)]
    return {"images": images, "annotations": anns, "categories": cats}, results


@pytest.fixture(scope="module")
def data() -> tuple[dict, dict, dict, list]:
    gt, preds = generate()
    dataset, results = to_coco(gt, preds)
    return gt, preds, dataset, results


def _run_cocoeval(coco_cls, eval_cls, dataset: dict, results: list) -> np.ndarray:
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = coco_cls()
        coco_gt.dataset = dataset
        coco_gt.createIndex()
        ev = eval_cls(coco_gt, coco_gt.loadRes(results), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats[:12])


@pytest.mark.benchmark(group="metrics-coco-5k")
def test_tecktrack(benchmark, data) -> None:
    gt, preds, _, _ = data
    ev = benchmark.pedantic(evaluate, args=(gt, preds), kwargs={"names": list(range(80))},
                            rounds=3, iterations=1, warmup_rounds=1)
    assert 0.0 < ev.summary["map"] < 1.0
    for key in ("metrics_vs_pycocotools", "metrics_vs_faster_coco_eval"):
        pair(key, "ours", benchmark.stats.stats.min)


@pytest.mark.benchmark(group="metrics-coco-5k")
def test_faster_coco_eval(benchmark, data) -> None:
    fce = pytest.importorskip("faster_coco_eval")
    _, _, dataset, results = data
    stats = benchmark.pedantic(_run_cocoeval, args=(fce.COCO, fce.COCOeval_faster, dataset,
                                                    results), rounds=3, iterations=1)
    assert 0.0 < stats[0] < 1.0
    pair("metrics_vs_faster_coco_eval", "peer", benchmark.stats.stats.min)


@pytest.mark.benchmark(group="metrics-coco-5k")
def test_pycocotools(benchmark, data) -> None:
    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    _, _, dataset, results = data
    stats = benchmark.pedantic(_run_cocoeval, args=(COCO, COCOeval, dataset, results),
                               rounds=1, iterations=1)
    assert 0.0 < stats[0] < 1.0
    pair("metrics_vs_pycocotools", "peer", benchmark.stats.stats.min)
