"""Speed of TeckTrack's file readers and IoU against peers, measured in the same run.

- YOLO label files: ``read_yolo_labels`` (parse + validate + pixel corners) over 1,000
  generated files (0-20 boxes each) vs ``numpy.loadtxt`` (parse only), alternated pair by
  pair so both see the same load; the columnar ``read_label_files`` (what mining reads with)
  is timed against ``numpy.loadtxt`` the same way. Goal ``read_yolo_labels``.
- COCO ground truth: ``read_coco`` vs ``pycocotools.coco.COCO`` on a 5,000-image JSON
  (~35,000 boxes), alternated. Goal ``read_coco_gt``.
- IoU matrix: ``box_iou`` vs ``pycocotools.mask.iou`` on 1,000 x 1,000 boxes.

A goal's ratio is the best time of ours over the best time of the peer; the detail also
gives the median of the per-pair ratios and the load average.

    .venv/bin/pytest benchmarks/test_bench_formats.py --benchmark-only \
        --benchmark-columns=min,mean,max,rounds
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from goals import alternated, record

from tecktrack.datasets.box_table import read_label_files
from tecktrack.datasets.coco import CocoDataset, CocoImage, read_coco, write_coco
from tecktrack.datasets.yolo import read_yolo_labels, write_yolo_labels
from tecktrack.detections import Detections, box_iou

N_FILES, N_IMAGES, N_BOXES = 1000, 5000, 1000


def _random_boxes(rng: np.random.Generator, n: int, size: float = 640.0) -> np.ndarray:
    xy = rng.uniform(0, size * 0.8, (n, 2))
    wh = rng.uniform(4, size * 0.2, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1).astype(np.float32)


@pytest.fixture(scope="module")
def label_files(tmp_path_factory) -> list[Path]:
    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("labels")
    files = []
    for i in range(N_FILES):
        n = int(rng.integers(0, 21))
        path = folder / f"{i:06d}.txt"
        write_yolo_labels(path, Detections(_random_boxes(rng, n), rng.integers(0, 80, n)),
                          640, 640)
        files.append(path)
    return files


@pytest.fixture(scope="module")
def coco_json(tmp_path_factory) -> Path:
    rng = np.random.default_rng(1)
    images = [CocoImage(i, f"{i:06d}.jpg", 640, 640) for i in range(1, N_IMAGES + 1)]
    annotations = {}
    for im in images:
        n = int(rng.poisson(7))
        annotations[im.id] = Detections(_random_boxes(rng, n), rng.integers(0, 80, n))
    path = tmp_path_factory.mktemp("coco") / "gt.json"
    write_coco(path, CocoDataset(images, [str(c) for c in range(80)], list(range(1, 81)),
                                 annotations))
    return path


def _read_all_tecktrack(files: list[Path]) -> int:
    return sum(len(read_yolo_labels(p, 640, 640, n_classes=80)) for p in files)


def _read_all_columnar(files: list[Path]) -> int:
    return len(read_label_files([p.stem for p in files], files, n_classes=80))


def _read_all_loadtxt(files: list[Path]) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # loadtxt warns on every empty file
        return sum(len(np.loadtxt(p, ndmin=2)) for p in files)


def _load_pycocotools(path: Path):
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


def _alternated(benchmark, ours: Callable[[], object], peer: Callable[[], object],
                rounds: int) -> tuple[float, float, float]:
    """Time ``ours`` and ``peer`` one after the other, ``rounds`` times (the benchmark times
    each pair): the best time of each and the median ratio of a pair."""
    pairs, pair = alternated(ours, peer)
    benchmark.pedantic(pair, rounds=rounds, warmup_rounds=2)
    times = np.array(pairs[-rounds:])  # without the warm-up pairs
    best_ours, best_peer = times.min(axis=0)
    median = float(np.median(times[:, 0] / times[:, 1]))
    benchmark.extra_info.update(ours_ms=round(best_ours * 1e3, 3),
                                peer_ms=round(best_peer * 1e3, 3),
                                ratio=round(best_ours / best_peer, 3),
                                median_pair_ratio=round(median, 3))
    return float(best_ours), float(best_peer), median


def _load() -> str:
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


@pytest.mark.benchmark(group="yolo-labels-1000-files")
def test_bench_read_yolo_labels_vs_numpy_loadtxt(benchmark, label_files):
    assert _read_all_tecktrack(label_files) == _read_all_loadtxt(label_files) > 0
    ours, peer, median = _alternated(benchmark, lambda: _read_all_tecktrack(label_files),
                                     lambda: _read_all_loadtxt(label_files), rounds=30)
    record("read_yolo_labels", ours / peer,
           f"{ours * 1e3:.1f} ms vs {peer * 1e3:.1f} ms (best of 30 alternated; median pair "
           f"{median:.2f}x; {_load()})")


@pytest.mark.benchmark(group="yolo-labels-1000-files")
def test_bench_read_label_files_vs_numpy_loadtxt(benchmark, label_files):
    """The columnar reader of many files at once (mining, ``BoxTable``); no goal of its own."""
    assert _read_all_columnar(label_files) == _read_all_loadtxt(label_files)
    ours, peer, median = _alternated(benchmark, lambda: _read_all_columnar(label_files),
                                     lambda: _read_all_loadtxt(label_files), rounds=30)
    print(f"\nread_label_files {ours * 1e3:.1f} ms vs numpy.loadtxt {peer * 1e3:.1f} ms: "
          f"{ours / peer:.2f}x (median pair {median:.2f}x; {_load()})")


@pytest.mark.benchmark(group="coco-gt-5000-images")
def test_bench_read_coco_vs_pycocotools(benchmark, coco_json):
    dataset = read_coco(coco_json)
    coco = _load_pycocotools(coco_json)
    assert len(dataset.images) == len(coco.getImgIds()) == N_IMAGES
    assert sum(len(d) for d in dataset.annotations.values()) == len(coco.anns)
    ours, peer, median = _alternated(benchmark, lambda: read_coco(coco_json),
                                     lambda: _load_pycocotools(coco_json), rounds=20)
    record("read_coco_gt", ours / peer,
           f"{ours * 1e3:.1f} ms vs {peer * 1e3:.1f} ms (best of 20 alternated; median pair "
           f"{median:.2f}x; {_load()})")


@pytest.fixture(scope="module")
def iou_boxes() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    return _random_boxes(rng, N_BOXES), _random_boxes(rng, N_BOXES)


@pytest.mark.benchmark(group="iou-1000x1000")
def test_bench_box_iou_tecktrack(benchmark, iou_boxes):
    a, b = iou_boxes
    iou = benchmark(box_iou, a, b)
    assert iou.shape == (N_BOXES, N_BOXES)


@pytest.mark.benchmark(group="iou-1000x1000")
def test_bench_box_iou_pycocotools(benchmark, iou_boxes):
    from pycocotools import mask

    a, b = iou_boxes
    xywh_a = Detections(a, np.zeros(len(a))).to_coco()
    xywh_b = Detections(b, np.zeros(len(b))).to_coco()
    crowd = np.zeros(len(b), dtype=np.uint8)
    iou = benchmark(mask.iou, xywh_a, xywh_b, crowd)
    np.testing.assert_allclose(iou, box_iou(a, b), atol=1e-6)
