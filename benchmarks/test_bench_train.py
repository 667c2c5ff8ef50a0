"""Forward pass of the demo detectors at their input size (320x320), 1 and 2 threads.

TeckTrack's path is ONNX Runtime (the goal: model 2, ``demo-s``, under 15 ms on 2 cores);
the peer is OpenCV DNN running the same ``model.onnx``. One benchmark = one forward pass of
a preprocessed ``(1, 3, 320, 320)`` float32 tensor.

    .venv/bin/pytest benchmarks/test_bench_train.py --benchmark-only --benchmark-group-by=param:name
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from goals import record

onnxruntime = pytest.importorskip("onnxruntime")

MODELS = Path(__file__).resolve().parents[1] / "models"
NAMES = ["demo-n", "demo-s"]
INPUT = np.random.default_rng(0).random((1, 3, 320, 320), dtype=np.float32)


def _path(name: str) -> Path:
    path = MODELS / name / "model.onnx"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return path


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", NAMES)
def test_forward_onnxruntime(benchmark, name, threads):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(_path(name)), options,
                                           providers=["CPUExecutionProvider"])
    out = benchmark(session.run, None, {"images": INPUT})[0]
    assert out.shape[:2] == (1, 12) and out.shape[2] == 1600
    if name == "demo-s" and threads == 2:
        record("forward_demo_s_ms", benchmark.stats.stats.median * 1e3)


@pytest.mark.parametrize("name", NAMES)
def test_forward_opencv_dnn_peer(benchmark, name):
    cv2.setNumThreads(2)
    net = cv2.dnn.readNetFromONNX(str(_path(name)))
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)

    def forward() -> np.ndarray:
        net.setInput(INPUT)
        return net.forward()

    out = benchmark(forward)
    assert out.shape == (1, 12, 1600)
