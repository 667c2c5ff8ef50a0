"""Per-stage speed of Model.predict on both backends, against the bare forward pass.

Stages, in ``predict``'s own order: decode image (``cv2.imread`` of a 640x480 JPEG),
preprocess (letterbox/resize + blob), forward, decode (``decode_batch``: score threshold, best
class, corners, in network-input pixels), NMS (``suppress``: NMS, boxes back to the frame,
clipped), the whole ``predict``, and the peer: the backend's own forward call
(``session.run`` / ``net.forward``) on a prepared blob. The ratio ``predict / bare forward``
is how far TeckTrack's whole predict is from the network alone; ``predict_batch`` of 8 frames
is compared with the batched forward of the same 8-frame blob. Both ratios come from
alternated pairs (best of each) and go to the goals summary (``benchmarks/goals.py``) with
the machine load beside them.

Models: a seeded random-weight YOLOv8-layout ONNX network built here (320x320, 84 x 2100
output, five strided convolutions and three heads, a dynamic batch axis; no downloaded
weights), on both backends; and, with ``TECKTRACK_REAL_DATA``, the real Darknet
yolo-fastest-1.1 on OpenCV.

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
from goals import alternated, annotate, record

from tecktrack.model import load_model
from tecktrack.model.preprocess import unmap_boxes

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from model_graphs import conv_yolo_graph  # noqa: E402  (the tests' graph builders)

INPUT = 320
BATCH = 8
#: Goal key of each (model, backend) in benchmarks/goals.py.
GOAL_KEYS = {("synthetic-onnx", "onnxruntime"): "predict_onnx",
             ("synthetic-onnx", "opencv"): "predict_opencv",
             ("yolo-fastest-darknet", "opencv"): "predict_darknet"}
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
    return {"synthetic-onnx": conv_yolo_graph(root / "bench.onnx", INPUT, dynamic_batch=True),
            "image": _bench_image(root / "frame.jpg"),
            "batch": [_bench_image(root / f"batch{i}.jpg", seed=i) for i in range(BATCH)]}


def _same_detections(a, b, what: str) -> None:
    """Same boxes, classes and scores, in the same order (to float32 rounding)."""
    assert len(a) == len(b), f"{what}: {len(a)} vs {len(b)} boxes"
    np.testing.assert_array_equal(a.class_ids, b.class_ids, err_msg=what)
    np.testing.assert_allclose(a.xyxy, b.xyxy, rtol=0, atol=1e-3, err_msg=what)
    np.testing.assert_allclose(a.scores, b.scores, rtol=0, atol=1e-5, err_msg=what)


def _bare_forward(backend, blob: np.ndarray):
    """The backend's own forward call on a prepared blob: the peer every ratio divides by."""
    if backend.name == "onnxruntime":
        feed = {backend.input_name: blob}
        return lambda: backend.session.run(backend.output_names, feed)

    def bare():
        backend.net.setInput(blob)
        return backend.net.forward(backend.output_names)
    return bare


def _check_same_work(model, frame: np.ndarray, blob: np.ndarray, info, outputs,
                     candidates) -> None:
    """Before anything is timed: the stages compose to ``predict`` (its own order: decode,
    NMS in network-input pixels, back to the frame, clip), the bare forward call returns what
    ``model.forward`` returns, and the NMS keeps what OpenCV's keeps. A timing of a stage that
    computes something else would compare nothing."""
    assert len(candidates) > 0, "no candidates before NMS: the NMS timing would be empty"
    kept = model.suppress(candidates, info)
    _same_detections(model.predict(frame), kept, "predict vs the staged pipeline")
    for ours, peer in zip(outputs, _bare_forward(model.backend, blob)(), strict=True):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(peer))
    xyxy = candidates.xyxy.astype(np.float64)
    xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
    peer = np.asarray(cv2.dnn.NMSBoxesBatched(xywh, candidates.scores,
                                              candidates.class_ids.astype(np.int32), 0.0,
                                              float(model.iou)), np.int64).reshape(-1)
    assert len(kept) == len(peer) > 0, f"NMS keeps {len(kept)}, OpenCV {len(peer)}"
    chosen = candidates[peer]
    chosen.xyxy = unmap_boxes(chosen.xyxy, info, clip=True)
    _same_detections(kept, chosen, "model.suppress vs cv2.dnn.NMSBoxesBatched")


def _stage(name: str, model, image_path: Path):
    """The callable timed for ``name`` (everything it needs prepared outside the timing)."""
    frame = cv2.imread(str(image_path))
    blob, info = model.preprocess(frame)
    outputs = model.forward(blob)
    candidates = model.decode_batch(outputs, [info])[0]
    _check_same_work(model, frame, blob, info, outputs, candidates)
    if name == "bare_forward":
        return _bare_forward(model.backend, blob), len(candidates)
    return {"read": lambda: cv2.imread(str(image_path)),
            "preprocess": lambda: model.preprocess(frame),
            "forward": lambda: model.forward(blob),
            "decode": lambda: model.decode_batch(outputs, [info]),
            "nms": lambda: model.suppress(candidates, info),
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
    time of each over the rounds, their ratio and the load; the ratio goes to the goals
    summary (``predict_onnx``, ``predict_opencv``, ``predict_darknet``).
    """
    path = _model_path(files, model_name)
    model = load_model(path, backend=backend, threads=1)
    predict, _ = _stage("predict", model, _image_for(files, model_name))
    bare, _ = _stage("bare_forward", model, _image_for(files, model_name))
    pairs, pair = alternated(predict, bare)

    benchmark.group = "predict-vs-bare-forward"
    benchmark.pedantic(pair, rounds=200, warmup_rounds=5)
    _report(benchmark, GOAL_KEYS[model_name, backend], f"{model_name}/{backend}", pairs)


def _report(benchmark, key: str, what: str, pairs: list[tuple[float, float]]) -> None:
    """Best time of each side over the alternated pairs, their ratio, and the load beside it:
    into ``extra_info``, the goals summary and the printed output."""
    best_ours, best_bare = (min(p[i] for p in pairs) for i in (0, 1))
    ratio = best_ours / best_bare
    load = os.getloadavg()[0]
    benchmark.extra_info.update(ours_ms=round(best_ours * 1e3, 3),
                                bare_forward_ms=round(best_bare * 1e3, 3),
                                ratio=round(ratio, 3), load_1min=round(load, 2))
    detail = (f"{best_ours * 1e3:.2f} ms vs {best_bare * 1e3:.2f} ms (best of {len(pairs)} "
              f"alternated pairs, load {load:.2f})")
    record(key, ratio, detail)
    print(f"\n{what}: {detail}, ratio {ratio:.3f}")


def test_predict_batch_vs_batched_forward(benchmark, files):
    """``predict_batch`` of 8 frames against ``session.run`` on the same 8-frame blob
    (ONNX Runtime, 1 thread), alternated. Not timed: the network really ran one batch of 8,
    and ``predict_batch`` returns what the stages give on that batch's outputs."""
    model = load_model(files["synthetic-onnx"], backend="onnxruntime", threads=1)
    assert model.backend.batch_dynamic, "the benchmark network must take a dynamic batch"
    frames = [cv2.imread(str(path)) for path in files["batch"]]
    blob, infos = model.preprocess_batch(frames)
    assert blob.shape[0] == BATCH
    outputs = model.forward(blob)
    bare = _bare_forward(model.backend, blob)
    for ours, peer in zip(outputs, bare(), strict=True):
        np.testing.assert_array_equal(ours, np.asarray(peer))
    staged = [model.suppress(c, i)
              for c, i in zip(model.decode_batch(outputs, infos), infos, strict=True)]
    batched = model.predict_batch(frames, batch_size=BATCH)
    assert sum(len(d) for d in batched) > 0
    for i, (got, want) in enumerate(zip(batched, staged, strict=True)):
        _same_detections(got, want, f"predict_batch frame {i} vs the staged batch")
    pairs, pair = alternated(lambda: model.predict_batch(frames, batch_size=BATCH), bare)
    benchmark.group = "predict-batch-vs-batched-forward"
    benchmark.pedantic(pair, rounds=40, warmup_rounds=3)
    _report(benchmark, "predict_batch_onnx", f"predict_batch({BATCH}) / session.run", pairs)


def test_predict_batch_overlapped_vs_forwards(benchmark, files):
    """``predict_batch`` of 16 frames on demo-n (a fixed batch of one, as Ultralytics exports
    by default: 16 forward passes) against the 16 bare ``session.run`` calls on the frames'
    prepared blobs (ONNX Runtime, 1 thread), alternated. With :attr:`Model.overlap` each
    frame is prepared and finished on a helper thread while the network runs another; the
    same run without it is printed beside (``extra_info``: ``sequential_ratio``)."""
    model = load_model(Path(__file__).resolve().parents[1] / "models" / "demo-n",
                       backend="onnxruntime", threads=1)
    assert not model.backend.batch_dynamic, "demo-n is exported with a fixed batch of one"
    if not model.overlap:
        pytest.skip("the overlap needs a second core (model.overlap is off here)")
    frames = [cv2.imread(str(path)) for path in files["batch"]] * 2
    forwards = [_bare_forward(model.backend, model.preprocess(frame)[0]) for frame in frames]
    for got, frame in zip(model.predict_batch(frames), frames, strict=True):
        _same_detections(got, model.predict(frame), "overlapped predict_batch vs predict")

    def bare() -> None:
        for forward in forwards:
            forward()

    model.overlap = False
    sequential, pair = alternated(lambda: model.predict_batch(frames), bare)
    for _ in range(13):
        pair()
    model.overlap = True
    pairs, pair = alternated(lambda: model.predict_batch(frames), bare)
    benchmark.group = "predict-batch-vs-batched-forward"
    benchmark.pedantic(pair, rounds=40, warmup_rounds=3)
    off = min(p[0] for p in sequential) / min(p[1] for p in sequential)
    benchmark.extra_info.update(sequential_ratio=round(off, 3))
    print(f"\nwithout overlap: ratio {off:.3f} (best of {len(sequential)} pairs)")
    _report(benchmark, "predict_batch_overlap", f"predict_batch({len(frames)}) demo-n / "
            f"{len(frames)} session.run", pairs)


def test_predict_batch_memory_floor(benchmark, files):
    """What touching ``predict_batch``'s memory alone costs right after the batched forward,
    with no computation: read the 8 frames, write the blob's image planes (not the grey
    borders, which ``predict_batch`` leaves as they are), read the outputs. The best time of
    that touch over the rounds, against the best bare forward, is the floor under
    ``predict_batch_onnx`` on this machine (not a goal: printed, in ``extra_info`` and beside
    that goal's line of the summary)."""
    model = load_model(files["synthetic-onnx"], backend="onnxruntime", threads=1)
    frames = [cv2.imread(str(path)) for path in files["batch"]]
    blob, _ = model.preprocess_batch(frames)
    bare = _bare_forward(model.backend, blob)
    fit = model._fit(frames[0])
    (width, height), spare = fit.new_size, blob.copy()
    planes = spare[:, :, fit.top:fit.top + height, fit.left:fit.left + width]
    times: list[tuple[float, float]] = []

    def forward_then_touch() -> None:
        t0 = time.perf_counter()
        outputs = bare()
        t1 = time.perf_counter()
        for frame in frames:
            frame.max()
        planes[...] = 0.5
        for output in outputs:
            output.max()
        times.append((t1 - t0, time.perf_counter() - t1))

    benchmark.group = "predict-batch-vs-batched-forward"
    benchmark.pedantic(forward_then_touch, rounds=40, warmup_rounds=3)
    forward, touch = (min(t[i] for t in times) for i in (0, 1))
    benchmark.extra_info.update(memory_ms=round(touch * 1e3, 3),
                                floor_ratio=round(1 + touch / forward, 3))
    annotate("predict_batch_onnx", f"memory floor {1 + touch / forward:.3f}x: the same memory "
             "touched after the forward, no computation")
    print(f"\npredict_batch({BATCH}) memory floor: {touch * 1e3:.2f} ms after a "
          f"{forward * 1e3:.2f} ms forward, ratio {1 + touch / forward:.3f} "
          f"(load {os.getloadavg()[0]:.2f})")
