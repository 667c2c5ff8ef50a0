"""Label-issue ranking vs cleanlab's object-detection label-quality scores (dev-only oracle).

Labels are corrupted with the synthetic world's own label-noise generator (one defect per
corrupted image: class swapped, box missing, spurious box, box shifted). Predictions come
from a simulated detector built from the *clean* labels, so no model is needed:

- each real object is found with probability 0.92, its box jittered by N(0, 2 px);
- 97 % of found objects get the right class with confidence ~ Beta(8, 2), the rest a random
  class with confidence U(0.3, 0.6);
- Poisson(0.5) false positives per image, random class, confidence U(0.05, 0.45).

Both rankings see the same noisy labels and predictions; top-K recall (K = number of
corrupted images) is compared.

The demo-model tests (marked slow) do the same with models/demo-n and models/demo-s on a
generated synthetic label-noise dataset (200 images, noise 0.1, seed 1, unseen in training);
each skips when its model is absent.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from tecktrack.datasets.box_table import BoxTable
from tecktrack.datasets.data_yaml import read_data_yaml
from tecktrack.detections import Detections
from tecktrack.mining.label_issues import rank_label_issues
from tecktrack.mining.matching import align_tables
from tecktrack.mining.second_look import SecondLook
from tecktrack.mining.sources import images_by_stem, load_ground_truth
from tecktrack.synth.noise import corrupt_labels

N_IMAGES, SIZE, N_CLASSES = 600, 320, 8


def clean_labels(rng: np.random.Generator) -> list[Detections]:
    out = []
    for _ in range(N_IMAGES):
        n = int(rng.integers(1, 7))
        wh = rng.uniform(20, 90, (n, 2))
        xy = rng.uniform(0, 1, (n, 2)) * (SIZE - wh)
        out.append(Detections(np.concatenate([xy, xy + wh], 1), rng.integers(0, N_CLASSES, n)))
    return out


def simulated_predictions(rng: np.random.Generator, clean: list[Detections]) -> list[Detections]:
    preds = []
    for d in clean:
        found = rng.random(len(d)) < 0.92
        n = int(found.sum())
        right = rng.random(n) < 0.97
        cls = np.where(right, d.class_ids[found], rng.integers(0, N_CLASSES, n))
        conf = np.where(right, rng.beta(8, 2, n), rng.uniform(0.3, 0.6, n))
        n_fp = int(rng.poisson(0.5))
        wh = rng.uniform(20, 90, (n_fp, 2))
        fxy = rng.uniform(0, 1, (n_fp, 2)) * (SIZE - wh)
        preds.append(Detections(
            np.concatenate([d.xyxy[found] + rng.normal(0, 2, (n, 4)),
                            np.concatenate([fxy, fxy + wh], 1)]),
            np.concatenate([cls, rng.integers(0, N_CLASSES, n_fp)]),
            np.concatenate([conf, rng.uniform(0.05, 0.45, n_fp)])))
    return preds


def cleanlab_ranking(noisy: list[Detections], preds: list[Detections],
                     n_classes: int) -> np.ndarray:
    """Image indices from cleanlab's get_label_quality_scores, lowest quality first."""
    from cleanlab.object_detection.rank import get_label_quality_scores

    labels = [{"bboxes": d.xyxy.astype(np.float64), "labels": d.class_ids} for d in noisy]

    def per_class(d: Detections) -> np.ndarray:
        out = np.empty(n_classes, dtype=object)
        for c in range(n_classes):
            m = d.class_ids == c
            out[c] = np.concatenate([d.xyxy[m], d.scores[m, None]], 1).astype(np.float32)
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quality = get_label_quality_scores(labels, [per_class(d) for d in preds], verbose=False)
    return np.argsort(quality, kind="stable")


def top_k_recall(ranked: list[int] | np.ndarray, corrupted: set[int]) -> float:
    k = len(corrupted)
    return len(set(int(i) for i in list(ranked)[:k]) & corrupted) / k


@pytest.fixture(scope="module")
def world():
    rng = np.random.default_rng(0)
    clean = clean_labels(rng)
    noisy, manifest = corrupt_labels(clean, 0.1, seed=0, size=SIZE)
    corrupted = {int(e["image"][:6]) for e in manifest["images"]}
    return noisy, simulated_predictions(rng, clean), corrupted


def test_ranking_beats_cleanlab_on_simulated_detector(world):
    noisy, preds, corrupted = world
    stems = [f"{i:06d}" for i in range(N_IMAGES)]
    pred = BoxTable.from_detections(stems, preds, [(SIZE, SIZE)] * N_IMAGES)
    gt = BoxTable.from_detections(stems, noisy, [(SIZE, SIZE)] * N_IMAGES)
    ours = top_k_recall(rank_label_issues(pred, gt)["image"].astype(int), corrupted)
    theirs = top_k_recall(cleanlab_ranking(noisy, preds, N_CLASSES), corrupted)
    assert len(corrupted) == 60
    assert ours >= 0.5            # measured 0.57 (cleanlab 0.33) with these parameters
    assert ours > theirs


#: Top-K recall each demo model must reach on the 200-image noisy set, with the second look
#: (the issue's target is 0.80) and from the prediction files alone.
MIN_RECALL = {"demo-n": 0.7, "demo-s": 0.8}
MIN_RECALL_NO_LOOK = {"demo-n": 0.55, "demo-s": 0.7}


@pytest.fixture(scope="module")
def noisy_dataset(tmp_path_factory):
    from tecktrack.synth import generate_dataset

    root = tmp_path_factory.mktemp("noisy") / "ds"
    data_yaml = generate_dataset(root, n_images=200, seed=1, label_noise=0.1, quiet=True)
    manifest = json.loads((root / "label_noise.json").read_text())
    return data_yaml, {int(e["image"][:6]) for e in manifest["images"]}


@pytest.fixture(scope="module", params=sorted(MIN_RECALL))
def noisy_run(request, repo_root):
    import cv2

    from tecktrack.model import load_model

    model_dir = repo_root / "models" / request.param
    if not (model_dir / "model.onnx").is_file():
        pytest.skip(f"{model_dir} not present (train it with `tecktrack train`)")
    data_yaml, corrupted = request.getfixturevalue("noisy_dataset")
    model = load_model(model_dir, conf=0.05)
    images = sorted(p for split in read_data_yaml(data_yaml).splits.values() for p in split)
    frames = [cv2.imread(str(p)) for p in images]
    pred = BoxTable.from_detections([p.stem for p in images], [model.predict(f) for f in frames],
                                    [(f.shape[1], f.shape[0]) for f in frames])
    gt, names = load_ground_truth(data_yaml)
    pred, gt, _ = align_tables(pred, gt)
    look = SecondLook(model, images_by_stem(data_yaml))
    return request.param, pred, gt, names, corrupted, look


def as_detections(table: BoxTable) -> list:
    return [table.detections(i, 320, 320) for i in range(table.n_images)]


@pytest.mark.slow
def test_demo_model_top_k_recovers_corrupted_images(noisy_run):
    model, pred, gt, names, corrupted, look = noisy_run
    assert len(corrupted) == 20
    ranked = rank_label_issues(pred, gt, names=names, look=look)["image"].astype(int)
    assert top_k_recall(ranked, corrupted) >= MIN_RECALL[model]
    alone = rank_label_issues(pred, gt, names=names)["image"].astype(int)
    assert top_k_recall(alone, corrupted) >= MIN_RECALL_NO_LOOK[model]


@pytest.mark.slow
def test_demo_model_ranking_beats_cleanlab(noisy_run):
    _, pred, gt, names, corrupted, look = noisy_run
    ours = top_k_recall(rank_label_issues(pred, gt)["image"].astype(int), corrupted)
    looked = top_k_recall(rank_label_issues(pred, gt, look=look)["image"].astype(int), corrupted)
    order = cleanlab_ranking(as_detections(gt), as_detections(pred), len(names))
    theirs = top_k_recall(np.asarray([int(gt.stems[i]) for i in order]), corrupted)
    # files only: demo-n 0.60, demo-s 0.75; second look: 0.75, 0.85; cleanlab 0.10
    assert looked >= ours > theirs
