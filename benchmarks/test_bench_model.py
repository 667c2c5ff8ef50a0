"""Per-stage speed of Model.predict on both backends, against the bare forward pass.

Stages: decode image (``cv2.imread`` of a 640x480 JPEG), preprocess (letterbox/resize + blob),
forward, decode (``post_process``: threshold + mapping back), NMS, the whole ``predict``,
and the peer: the backend's own forward call (``session.run`` / ``net.forward``) on a
prepared blob. The ratio ``predict / bare forward`` is how far TeckTrack's whole predict is
from the network alone.

Models: a seeded random-weight YOLOv8-layout ONNX network built here (320x320, 84 x 2100
output, five strided convolutions and three heads; no downloaded weights), on both
backends; and, with ``TECKTRACK_REAL_DATA``, the real Darknet yolo-fastest-1.1 on OpenCV.

    .venv/bin/pytest benchmarks/test_bench_model.py --benchmark-only \
        --benchmark-columns=min,mean,median,rounds --benchmark-group-by=param:model
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from tecktrack.model import load_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from model_graphs import conv_yolo_graph  # noqa: E402  (the tests' graph builders)

INPUT = 320
STAGES = ("read", "preprocess", "forward", "decode", "nms", "predict", "bare_forward")


def _bench_image(path: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    image = np.full((480, 640, 3), 90, np.uint8)
    for _ in range(30):
        x, y = rng.integers(0, 600), rng.integers(0, 440)
        w, h = rng.integers(10, 120, 2)
        cv2.rectangle(image, (int(x), int(y)), (int(x + w), int(y + h)),
                      rng.integers(0, 255, 3).tolist(), -1)
    cv2.imwrite(str(path), image)
    return path


def _real_model() -> Path | None:
    root = os.environ.get("TECKTRACK_REAL_DATA")
    path = Path(root) / "models" / "yolo-fastest-1.1" if root else None
    return path if path and path.is_dir() else None


MODELS = [("synthetic-onnx", "onnxruntime"), ("synthetic-onnx", "opencv"),
          ("yolo-fastest-darknet", "opencv")]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bench_model")
    return {"synthetic-onnx": conv_yolo_graph(root / "bench.onnx", INPUT),
            "image": _bench_image(root / "frame.jpg")}


def _same_detections(a, b, what: str) -> None:
    """Same boxes, classes and scores, in the same order (to float32 rounding)."""
    assert len(a) == len(b), f"{what}: {len(a)} vs {len(b)} boxes"
    np.testing.assert_array_equal(a.class_ids, b.class_ids, err_msg=what)
    np.testing.assert_allclose(a.xyxy, b.xyxy, rtol=0, atol=1e-3, err_msg=what)
    np.testing.assert_allclose(a.scores, b.scores, rtol=0, atol=1e-5, err_msg=what)


def _check_same_work(model, frame: np.ndarray, blob: np.ndarray, info, outputs,
                     candidates) -> None:
    """Before anything is timed: the stages compose to ``predict``, the bare forward call
    returns what ``model.forward`` returns, and the NMS keeps what OpenCV's keeps. A timing of
    a stage that computes something else would compare nothing."""
    assert len(candidates) > 0, "no candidates before NMS: the NMS timing would be empty"
    kept = model.nms(candidates)
    _same_detections(model.predict(frame), kept, "predict vs the staged pipeline")
    backend = model.backend
    if backend.name == "onnxruntime":
        bare = backend.session.run(backend.output_names, {backend.input_name: blob})
    else:
        backend.net.setInput(blob)
        bare = backend.net.forward(backend.output_names)
    for ours, peer in zip(outputs, bare, strict=True):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(peer))
    xyxy = candidates.xyxy.astype(np.float64)
    xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
    peer = np.asarray(cv2.dnn.NMSBoxesBatched(xywh, candidates.scores,
                                              candidates.class_ids.astype(np.int32), 0.0,
                                              float(model.iou)), np.int64).reshape(-1)
    assert len(kept) == len(peer) > 0, f"NMS keeps {len(kept)}, OpenCV {len(peer)}"
    _same_detections(kept, candidates[peer], "model.nms vs cv2.dnn.NMSBoxesBatched")


def _stage(name: str, model, image_path: Path):
    """The callable timed for ``name`` (everything it needs prepared outside the timing)."""
    frame = cv2.imread(str(image_path))
    blob, info = model.preprocess(frame)
    outputs = model.forward(blob)
    candidates = model.post_process(outputs, info)
    _check_same_work(model, frame, blob, info, outputs, candidates)
    backend = model.backend
    if name == "bare_forward" and backend.name == "onnxruntime":
        feed = {backend.input_name: blob}
        return lambda: backend.session.run(backend.output_names, feed), len(candidates)
    if name == "bare_forward":
        def bare():
            backend.net.setInput(blob)
            return backend.net.forward(backend.output_names)
        return bare, len(candidates)
    return {"read": lambda: cv2.imread(str(image_path)),
            "preprocess": lambda: model.preprocess(frame),
            "forward": lambda: model.forward(blob),
            "decode": lambda: model.post_process(outputs, info),
            "nms": lambda: model.nms(candidates),
            "predict": lambda: model.predict(frame)}[name], len(candidates)


def _image_for(files: dict, model_name: str) -> Path:
    """The frame a model is timed on: the drawn rectangles for the random-weight network; a
    real COCO photo for the real Darknet model (which finds nothing in drawn rectangles, so
    its NMS stage would time an empty call)."""
    if model_name != "yolo-fastest-darknet":
        return files["image"]
    return Path(os.environ["TECKTRACK_REAL_DATA"]) / "coco128-val/images/000000000139.jpg"


def _model_path(files: dict, model_name: str) -> Path:
    """The benchmarked model's path; skips the real Darknet model when its data is absent."""
    if model_name != "yolo-fastest-darknet":
        return files[model_name]
    path = _real_model()
    if path is None:
        pytest.skip("TECKTRACK_REAL_DATA unset: no real Darknet model")
    return path

def test_backends_keep_the_same_boxes(files) -> None:
    """Not timed: both backends run the same network, so the per-backend timings compare
    equal work (same candidates, same kept boxes)."""
    frame = cv2.imread(str(files["image"]))
    ort, ocv = (load_model(files["synthetic-onnx"], backend=b, threads=1)
                for b in ("onnxruntime", "opencv"))
    kept = ort.predict(frame)
    assert len(kept) > 0
    _same_detections(kept, ocv.predict(frame), "onnxruntime vs opencv")


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("model_name,backend", MODELS,
                         ids=[f"{m}-{b}" for m, b in MODELS])
def test_stage(benchmark, files, model_name, backend, stage):
    path = _model_path(files, model_name)
    # One thread: on a shared 2-core machine this keeps the forward pass comparable run to run.
    model = load_model(path, backend=backend, threads=1)
    timed, n_candidates = _stage(stage, model, _image_for(files, model_name))
    benchmark.group = f"{model_name}-{backend}"
    benchmark.extra_info["candidates_before_nms"] = n_candidates
    benchmark(timed)


@pytest.mark.parametrize("model_name,backend", MODELS, ids=[f"{m}-{b}" for m, b in MODELS])
def test_predict_vs_bare_forward(benchmark, files, model_name, backend):
    """Whole ``predict`` and the bare forward call, alternated so both see the same load.

    The benchmark times one (predict, bare forward) pair; ``extra_info`` holds the best
    time of each over the rounds and their ratio.
    """
    path = _model_path(files, model_name)
    model = load_model(path, backend=backend, threads=1)
    predict, _ = _stage("predict", model, _image_for(files, model_name))
    bare, _ = _stage("bare_forward", model, _image_for(files, model_name))
    pairs: list[tuple[float, float]] = []

    def pair() -> None:
        t0 = time.perf_counter()
        predict()
        t1 = time.perf_counter()
        bare()
        pairs.append((t1 - t0, time.perf_counter() - t1))

    benchmark.group = "predict-vs-bare-forward"
    benchmark.pedantic(pair, rounds=40, warmup_rounds=2)
    best_predict, best_bare = (min(p[i] for p in pairs) for i in (0, 1))
    benchmark.extra_info.update(predict_ms=round(best_predict * 1e3, 3),
                                bare_forward_ms=round(best_bare * 1e3, 3),
                                ratio=round(best_predict / best_bare, 3))
    print(f"\n{model_name}/{backend}: predict {best_predict * 1e3:.2f} ms, bare forward "
          f"{best_bare * 1e3:.2f} ms, ratio {best_predict / best_bare:.2f}")
