"""Speed of class-aware NMS: ``tecktrack.model.nms_indices`` vs ``cv2.dnn.NMSBoxesBatched``.

Both start from the same arrays a detector hands over (float32 ``xyxy``, float32 scores,
int64 class ids) and return the kept indices in descending score order; the OpenCV side
includes the conversion it needs (corners to float64 ``x, y, w, h``, int32 classes), done
with NumPy. Inputs look like raw YOLO candidates: about 20 jittered boxes around each
object, 80 classes, 20 % of candidates carrying another class than their object.

    .venv/bin/pytest benchmarks/test_bench_nms.py --benchmark-only \
        --benchmark-columns=min,median,mean,rounds --benchmark-group-by=group
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tecktrack.model.nms import nms_indices

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from nms_support import detector_candidates  # noqa: E402

SIZES = [100, 1000, 20000]
N_CLASSES = 80
IOU = 0.45



def opencv_batched(xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray) -> np.ndarray:
    """The peer: cv2.dnn.NMSBoxesBatched on the same arrays, with its input conversion."""
    xywh = np.empty((len(xyxy), 4), dtype=np.float64)
    xywh[:, :2] = xyxy[:, :2]
    np.subtract(xyxy[:, 2:], xyxy[:, :2], out=xywh[:, 2:])
    kept = cv2.dnn.NMSBoxesBatched(xywh, scores, class_ids.astype(np.int32), 0.0, IOU)
    return np.asarray(kept, dtype=np.int64).reshape(-1)


@pytest.fixture(scope="module", params=SIZES, ids=lambda n: f"{n}")
def candidates(request):
    data = detector_candidates(request.param, N_CLASSES)
    # Same kept boxes, same order: the comparison is between equal results.
    np.testing.assert_array_equal(nms_indices(*data, iou_threshold=IOU), opencv_batched(*data))
    return request.param, data


def test_bench_nms_tecktrack(benchmark, candidates):
    n, data = candidates
    benchmark.group = f"nms-{n}-boxes-80-classes"
    benchmark(nms_indices, *data, iou_threshold=IOU)


def test_bench_nms_opencv(benchmark, candidates):
    n, data = candidates
    benchmark.group = f"nms-{n}-boxes-80-classes"
    benchmark(opencv_batched, *data)
