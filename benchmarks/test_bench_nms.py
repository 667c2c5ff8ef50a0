"""Speed of class-aware NMS: ``tecktrack.model.nms_indices`` vs ``cv2.dnn.NMSBoxesBatched``.

Both start from the same arrays a detector hands over (float32 ``xyxy``, float32 scores,
int64 class ids) and return the kept indices in descending score order; the OpenCV side
includes the conversion it needs (corners to float64 ``x, y, w, h``, int32 classes), done
with NumPy. Inputs look like raw YOLO candidates: about 20 jittered boxes around each
object, 80 classes, 20 % of candidates carrying another class than their object. The
fixture checks that both sides keep the same boxes in the same order.

Each size is measured twice:

* ``test_bench_nms_tecktrack`` / ``test_bench_nms_opencv``: one pytest-benchmark each, the
  goal ``nms_<n>`` gets the ratio of their best times (``goals.pair``);
* ``test_bench_nms_alternated``: ours, then the peer, then ours ... in one benchmark, each
  side timed on its own and the best of each kept. Both sides see the same load at the same
  moment, so on a busy machine this ratio is the one to trust. It runs after the two separate
  tests of its size and **its ratio is the one the summary shows** (``goals.record``
  overwrites the pair); run ``-k "tecktrack or opencv"`` to see the separate-test ratio.

    .venv/bin/pytest benchmarks/test_bench_nms.py --benchmark-only \
        --benchmark-columns=min,median,mean,rounds --benchmark-group-by=group
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from goals import pair, record

from tecktrack.model.nms import nms_indices

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from nms_support import detector_candidates  # noqa: E402

SIZES = [10, 100, 1000, 20000]
N_CLASSES = 80
IOU = 0.45


def opencv_batched(xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray) -> np.ndarray:
    """The peer: cv2.dnn.NMSBoxesBatched on the same arrays, with its input conversion."""
    xywh = np.empty((len(xyxy), 4), dtype=np.float64)
    xywh[:, :2] = xyxy[:, :2]
    np.subtract(xyxy[:, 2:], xyxy[:, :2], out=xywh[:, 2:])
    kept = cv2.dnn.NMSBoxesBatched(xywh, scores, class_ids.astype(np.int32), 0.0, IOU)
    return np.asarray(kept, dtype=np.int64).reshape(-1)


def ours(xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray) -> np.ndarray:
    """TeckTrack's class-aware NMS, as ``Model`` calls it."""
    return nms_indices(xyxy, scores, class_ids, IOU)


@pytest.fixture(scope="module", params=SIZES, ids=lambda n: f"{n}")
def candidates(request):
    data = detector_candidates(request.param, N_CLASSES)
    # Same kept boxes, same order: the comparison is between equal results.
    np.testing.assert_array_equal(ours(*data), opencv_batched(*data))
    return request.param, data


def test_bench_nms_tecktrack(benchmark, candidates):
    n, data = candidates
    benchmark.group = f"nms-{n}-boxes-80-classes"
    benchmark(ours, *data)
    pair(f"nms_{n}", "ours", benchmark.stats.stats.min)


def test_bench_nms_opencv(benchmark, candidates):
    n, data = candidates
    benchmark.group = f"nms-{n}-boxes-80-classes"
    benchmark(opencv_batched, *data)
    pair(f"nms_{n}", "peer", benchmark.stats.stats.min)


def test_bench_nms_alternated(benchmark, candidates):
    """Ours and the peer in turn, each timed alone: the ratio of the best of each."""
    n, data = candidates
    benchmark.group = f"nms-{n}-alternated-ours-then-peer"
    # Small inputs are timed in batches so the clock's own cost stays negligible.
    batch = max(1, 2000 // n)
    best = {"ours": float("inf"), "peer": float("inf")}

    def both() -> None:
        for side, fn in (("ours", ours), ("peer", opencv_batched)):
            start = time.perf_counter()
            for _ in range(batch):
                fn(*data)
            best[side] = min(best[side], (time.perf_counter() - start) / batch)

    benchmark.pedantic(both, rounds=max(10, min(500, 200_000 // n)), warmup_rounds=2)
    record(f"nms_{n}", best["ours"] / best["peer"],
           f"{best['ours'] * 1e6:.1f} us vs {best['peer'] * 1e6:.1f} us "
           f"(best of {benchmark.stats.stats.rounds} alternated pairs)")
