"""End-to-end model tests on tiny ONNX graphs that emit known YOLO tensors, both backends."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from model_graphs import brightness_graph, make_graph, yolov5_output, yolov8_output

from tecktrack.errors import FormatError, ModelError
from tecktrack.model import ModelWarning, load_model

BACKENDS = ("opencv", "onnxruntime")
# Input 64x64; a 128x64 frame letterboxes with scale 0.5 and 16 px of padding top and bottom.
FRAME = np.full((64, 128, 3), 80, np.uint8)
# Boxes in input pixels (cx, cy, w, h): A and B overlap (class 0), C is class 1, D is too weak.
BOXES = [[32, 32, 16, 8], [33, 32, 16, 8], [16, 48, 8, 8], [48, 16, 8, 8]]
SCORES = [[0.9, 0.1], [0.6, 0.0], [0.0, 0.5], [0.1, 0.2]]
# A and C mapped back to the 128x64 frame (C clipped at the bottom edge).
EXPECTED_XYXY = np.array([[48, 24, 80, 40], [24, 56, 40, 64]], np.float32)


def _darknet_rows(boxes: list, scores: list) -> np.ndarray:
    rows = np.zeros((len(boxes), 7), np.float32)
    rows[:, :4] = np.asarray(boxes, np.float32) / 64.0
    rows[:, 4] = 1.0
    rows[:, 5:] = scores
    return rows


def _layout_outputs(layout: str) -> list[np.ndarray]:
    if layout == "yolov8":
        return [yolov8_output(BOXES, SCORES)]
    if layout == "yolov5":  # objectness 1.0 so scores equal the class probabilities
        return [yolov5_output(BOXES, [1.0] * 4, SCORES)]
    return [_darknet_rows(BOXES[:2], SCORES[:2]), _darknet_rows(BOXES[2:], SCORES[2:])]


@pytest.fixture(scope="module")
def graphs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("graphs")
    meta = {"names": "{0: 'cat', 1: 'dog'}", "stride": "32"}
    out = {layout: make_graph(root / layout / "model.onnx", _layout_outputs(layout),
                              metadata=meta)
           for layout in ("yolov8", "yolov5", "darknet")}
    out["fp16"] = make_graph(root / "fp16" / "m.onnx", _layout_outputs("yolov8"), fp16=True,
                             metadata=meta)
    out["dynamic"] = make_graph(root / "dynamic" / "m.onnx", _layout_outputs("yolov8"),
                                input_hw=("height", "width"),
                                metadata={**meta, "imgsz": "[64, 96]"})
    out["fixed"] = make_graph(root / "fixed" / "m.onnx", _layout_outputs("yolov8"), batch=1,
                              metadata=meta)
    out["bare"] = make_graph(root / "bare" / "m.onnx", _layout_outputs("yolov8"))
    return out


def _sorted(det):
    order = np.lexsort((det.xyxy[:, 0], det.class_ids))
    return det[order]


@pytest.mark.parametrize("layout", ["yolov8", "yolov5", "darknet"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_layouts_decode_known_boxes_back_to_frame_pixels(graphs, layout, backend):
    model = load_model(graphs[layout], backend=backend)
    assert (model.layout, model.backend_name, model.names) == (layout, backend, ["cat", "dog"])
    det = _sorted(model.predict(FRAME))
    np.testing.assert_allclose(det.xyxy, EXPECTED_XYXY, atol=1e-4)
    assert det.class_ids.tolist() == [0, 1]
    np.testing.assert_allclose(det.scores, [0.9, 0.5], atol=1e-6)


@pytest.mark.parametrize("layout", ["yolov8", "yolov5", "darknet"])
def test_both_backends_give_the_same_candidates(graphs, layout):
    results = []
    for backend in BACKENDS:
        model = load_model(graphs[layout], backend=backend)
        blob, info = model.preprocess(FRAME)
        results.append(_sorted(model.post_process(model.forward(blob), info, conf=0.01)))
    cv, ort = results
    assert len(cv) == len(ort) == 4  # A, B, C and D (D with its best class only)
    assert sorted(ort.class_ids.tolist()) == [0, 0, 1, 1]
    np.testing.assert_array_equal(cv.class_ids, ort.class_ids)
    np.testing.assert_allclose(cv.xyxy, ort.xyxy, atol=1e-4)
    np.testing.assert_allclose(cv.scores, ort.scores, atol=1e-6)


def test_post_process_keeps_overlaps_that_nms_removes(graphs):
    model = load_model(graphs["yolov8"], backend="onnxruntime")
    blob, info = model.preprocess(FRAME)
    candidates = model.post_process(model.forward(blob), info)
    np.testing.assert_allclose(np.sort(candidates.scores), [0.5, 0.6, 0.9], atol=1e-6)
    assert len(model.nms(candidates)) == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_predict_batch_matches_single_predictions(graphs, backend):
    model = load_model(graphs["yolov8"], backend=backend)
    frames = [FRAME, np.zeros((64, 64, 3), np.uint8), np.zeros((100, 50, 3), np.uint8)]
    batched = model.predict_batch(frames, batch_size=2)
    for frame, det in zip(frames, batched, strict=True):
        single = model.predict(frame)
        np.testing.assert_allclose(_sorted(det).xyxy, _sorted(single).xyxy, atol=1e-4)
    top = float(batched[0].scores.max())          # a per-call threshold; model.conf untouched
    strict = model.predict_batch(frames[:1], conf=top)
    assert len(strict[0]) == 0 and model.conf < top


@pytest.mark.parametrize("backend", BACKENDS)
def test_fp16_model_is_cast_in_and_out(graphs, backend):
    model = load_model(graphs["fp16"], backend=backend)
    det = _sorted(model.predict(FRAME))
    assert det.scores.dtype == np.float32
    np.testing.assert_allclose(det.xyxy, EXPECTED_XYXY, atol=1e-2)
    np.testing.assert_allclose(det.scores, [0.9, 0.5], atol=1e-3)


def test_dynamic_input_takes_metadata_imgsz_and_non_square_override(graphs):
    model = load_model(graphs["dynamic"])
    assert model.input_size == (96, 64)  # Ultralytics imgsz is [height, width]
    model = load_model(graphs["dynamic"], imgsz="64x128")
    assert model.input_size == (64, 128)
    det = _sorted(model.predict(np.zeros((64, 32, 3), np.uint8)))  # scale 2, pad_y 0
    np.testing.assert_allclose(det.xyxy[0], [12, 14, 20, 18], atol=1e-4)


def test_dynamic_input_rounds_imgsz_up_to_the_stride(graphs):
    with pytest.warns(ModelWarning, match="stride 32"):
        model = load_model(graphs["dynamic"], imgsz=100)
    assert model.input_size == (128, 128)


def test_fixed_input_rejects_another_imgsz(graphs):
    with pytest.raises(ModelError, match="fixed at 64x64"):
        load_model(graphs["fixed"], imgsz=128)


def test_fixed_batch_model_still_predicts_batches(graphs):
    model = load_model(graphs["fixed"], backend="onnxruntime")
    assert not model.backend.batch_dynamic
    assert [len(d) for d in model.predict_batch([FRAME, FRAME])] == [2, 2]


@pytest.mark.parametrize("backend", BACKENDS)
def test_static_batch_export_runs_in_its_batch_padded_with_zeros(tmp_path, backend):
    """``yolo export batch=3``: the network takes 3 images and nothing else. One frame and 5
    frames (a batch and a short tail) go through in padded batches of 3, and each frame gets
    its own box back (its centre x tells the frame's brightness), as Ultralytics runs it."""
    model = load_model(brightness_graph(tmp_path / "b3.onnx", batch=3), backend=backend,
                       conf=0.5)
    assert (model.backend.fixed_batch, model.backend.batch_dynamic) == (3, False)
    levels = [0, 51, 102, 153, 204]
    frames = [np.full((64, 64, 3), v, np.uint8) for v in levels]
    want = [16 + 32 * np.float32(v) / np.float32(255) - 4 for v in levels]  # box left edge
    batched = model.predict_batch(frames, batch_size=8)    # the export's batch, not 8
    assert [len(d) for d in batched] == [1] * 5
    # 6.4 px apart: 0.01 px leaves room for the network's float32 mean, none for a mix-up
    np.testing.assert_allclose([d.xyxy[0, 0] for d in batched], want, atol=0.01)
    for frame, x1 in zip(frames, want, strict=True):
        np.testing.assert_allclose(model.predict(frame).xyxy[0, 0], x1, atol=0.01)
    blob, _ = model.preprocess_batch(frames[:4])
    assert [o.shape[0] for o in model.forward(blob)] == [4]


@pytest.mark.parametrize(("props", "rect"), [
    ({"task": "detect", "args": "{'dynamic': True}"}, True),
    ({"task": "detect"}, True),                   # no args: the dynamic batch axis decides
    ({"task": "detect", "args": "{'dynamic': False}"}, False),
    ({}, False),                                  # not an Ultralytics export: whole input
])
def test_dynamic_ultralytics_export_pads_to_the_stride_only(tmp_path, props, rect):
    """Ultralytics' predict letterboxes a ``dynamic=True`` export to the next multiple of the
    stride (``rect``): a 128x64 frame into a 64x64 model is a 64x32 input (scale 0.5, no
    padding), and the boxes come back to the same frame pixels."""
    meta = {"names": "{0: 'cat', 1: 'dog'}", "stride": "32", "imgsz": "[64, 64]", **props}
    path = make_graph(tmp_path / "m.onnx", _layout_outputs("yolov8"),
                      input_hw=("height", "width"), metadata=meta)
    model = load_model(path, backend="onnxruntime")
    assert (model.rect, model.stride) == (rect, 32)
    blob, info = model.preprocess(FRAME)
    assert blob.shape == ((1, 3, 32, 64) if rect else (1, 3, 64, 64))
    assert info.pad_y == (0 if rect else 16)
    # box A is at rows 28-36 of the input: 16 rows of padding less puts it 32 frame rows lower
    det = _sorted(model.predict(FRAME))
    np.testing.assert_allclose(det.xyxy[0], [48, 56, 80, 64] if rect else EXPECTED_XYXY[0],
                               atol=1e-4)


def test_rect_is_refused_for_a_fixed_input(graphs):
    """A network fixed at 64x64 cannot take the smaller rect input (ONNX Runtime refused
    the blob with a dimension error): turning rect on names the fixed size instead."""
    model = load_model(graphs["fixed"], backend="onnxruntime")
    assert not (model.rect or model.free_size)
    with pytest.raises(ModelError, match="fixed at 64x64"):
        model.rect = True
    model.rect = False
    assert len(model.predict(FRAME)) == 2


def test_a_workers_copy_keeps_the_clients_rect(tmp_path):
    """``ModelSpec`` (how a Dask worker loads the client's model) carries :attr:`Model.rect`,
    so a client that turned it off gets the same inputs on the workers."""
    from tecktrack.model.spec import ModelSpec

    meta = {"names": "{0: 'cat', 1: 'dog'}", "stride": "32", "imgsz": "[64, 64]",
            "task": "detect", "args": "{'dynamic': True}"}
    path = make_graph(tmp_path / "m.onnx", _layout_outputs("yolov8"),
                      input_hw=("height", "width"), metadata=meta)
    model = load_model(path, backend="onnxruntime")
    assert ModelSpec.of(model).load().rect
    model.rect = False
    again = ModelSpec.of(model).load()
    assert not again.rect
    assert again.preprocess(FRAME)[0].shape == model.preprocess(FRAME)[0].shape == (1, 3, 64, 64)


def test_generic_names_warn_when_nothing_names_the_classes(graphs):
    with pytest.warns(ModelWarning, match="class_0..class_1"):
        model = load_model(graphs["bare"])
    assert model.names == ["class_0", "class_1"]


def test_names_precedence_yaml_then_names_file_then_metadata(graphs, tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "m.onnx").write_bytes(graphs["yolov8"].read_bytes())
    assert load_model(folder).names == ["cat", "dog"]
    (folder / "pets.names").write_text("kitten\npuppy\n")
    assert load_model(folder).names == ["kitten", "puppy"]
    (folder / "model.yaml").write_text("names: {0: tiger, 1: wolf}\n")
    assert load_model(folder / "m.onnx").names == ["tiger", "wolf"]


def test_names_count_mismatch_names_the_source(graphs, tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "m.onnx").write_bytes(graphs["yolov8"].read_bytes())
    (folder / "model.yaml").write_text("names: [a, b, c]\n")
    with pytest.raises(ModelError, match=r"model\.yaml: 3 class names given but the network "
                                         r"outputs 2 classes"):
        load_model(folder)


def test_model_yaml_layout_overrides_detection(tmp_path):
    # (7, 7) fits both YOLOv8 with 3 classes and YOLOv5 with 2; detection picks YOLOv8.
    out = np.zeros((7, 7), np.float32)
    out[0] = [32, 32, 16, 8, 0.8, 0.1, 0.9]  # as a YOLOv5 row: obj 0.8 x class-1 prob 0.9
    make_graph(tmp_path / "m.onnx", [out])
    with pytest.warns(ModelWarning):
        assert load_model(tmp_path).layout == "yolov8"
    (tmp_path / "model.yaml").write_text("layout: yolov5\nnames: [a, b]\nletterbox: false\n")
    model = load_model(tmp_path)
    det = model.predict(np.zeros((64, 64, 3), np.uint8))
    assert (model.layout, det.class_ids.tolist()) == ("yolov5", [1])
    np.testing.assert_allclose(det.scores, [0.72], atol=1e-6)


def test_ultralytics_detect_task_means_the_yolov8_layout(tmp_path):
    out = np.zeros((7, 7), np.float32)  # fits YOLOv8 with 3 classes and YOLOv5 with 2
    out[:, 0] = [32, 32, 16, 8, 0.1, 0.2, 0.8]
    make_graph(tmp_path / "m.onnx", [out], metadata={"names": "{0: 'a', 1: 'b'}"})
    assert load_model(tmp_path).layout == "yolov5"  # names count picks YOLOv5
    make_graph(tmp_path / "m.onnx", [out], metadata={"names": "{0: 'a', 1: 'b', 2: 'c'}",
                                                     "task": "detect"})
    model = load_model(tmp_path)
    assert model.layout == "yolov8"
    assert model.predict(np.zeros((64, 64, 3), np.uint8)).class_ids.tolist() == [2]


@pytest.mark.parametrize("kwargs", [{"conf": 1.5}, {"iou": -0.1}])
def test_thresholds_outside_unit_range_are_refused(graphs, kwargs):
    with pytest.raises(ModelError, match="must lie in"):
        load_model(graphs["yolov8"], **kwargs)


def test_segment_task_is_refused(tmp_path):
    make_graph(tmp_path / "m.onnx", [yolov8_output(BOXES, SCORES)], metadata={"task": "segment"})
    with pytest.raises(ModelError, match="task 'segment'"):
        load_model(tmp_path)


@pytest.mark.parametrize("backend", ["auto", *BACKENDS])
def test_corrupt_onnx_file_is_a_model_error(tmp_path, backend):
    (tmp_path / "broken.onnx").write_bytes(b"this is not a protobuf")
    with pytest.raises(ModelError, match="broken.onnx"):
        load_model(tmp_path / "broken.onnx", backend=backend)


@pytest.mark.parametrize("frame", [np.zeros((8, 8, 3), np.float32), "image.jpg",
                                   np.zeros((0, 8, 3), np.uint8)])
def test_predict_on_something_that_is_not_an_image(graphs, frame):
    model = load_model(graphs["yolov8"])
    with pytest.raises(FormatError, match="not an image"):
        model.predict(frame)


def test_auto_falls_back_to_opencv_once_with_a_warning(graphs, monkeypatch):
    import tecktrack.model.backends as backends

    def refuse(self, path, *args, **kwargs):
        raise ModelError("simulated load failure", path)

    monkeypatch.setattr(backends.OnnxRuntimeBackend, "__init__", refuse)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = load_model(graphs["yolov8"])
        model.predict(FRAME)
        model.predict(FRAME)
    messages = [str(w.message) for w in caught if issubclass(w.category, ModelWarning)]
    assert model.backend_name == "opencv"
    assert len(messages) == 1 and "using opencv instead" in messages[0]


def test_unknown_backend_is_refused(graphs):
    with pytest.raises(ModelError, match="unknown backend 'tensorrt'"):
        load_model(graphs["yolov8"], backend="tensorrt")


def test_backends_agree_on_a_convolutional_network(tmp_path):
    from model_graphs import conv_yolo_graph

    path = conv_yolo_graph(tmp_path / "conv.onnx", size=96, n_classes=5, class_bias=-1.0)
    frame = np.random.default_rng(1).integers(0, 256, (120, 200, 3), dtype=np.uint8)
    results = {}
    for backend in BACKENDS:
        model = load_model(path, backend=backend, conf=0.3)
        blob, info = model.preprocess(frame)
        outputs = model.forward(blob)
        results[backend] = (outputs[0], model.predict(frame))
    (cv_raw, cv_det), (ort_raw, ort_det) = results["opencv"], results["onnxruntime"]
    assert cv_raw.shape == (1, 9, 189)
    np.testing.assert_allclose(cv_raw, ort_raw, rtol=1e-4, atol=1e-4)
    assert len(ort_det) > 3
    np.testing.assert_array_equal(cv_det.class_ids, ort_det.class_ids)
    np.testing.assert_allclose(cv_det.xyxy, ort_det.xyxy, atol=1e-2)
    np.testing.assert_allclose(cv_det.scores, ort_det.scores, atol=1e-5)


def test_iou_is_fixed_at_construction_so_nms_cannot_disagree_with_it(graphs):
    model = load_model(graphs["yolov8"], iou=0.3)
    assert model.iou == pytest.approx(0.3) and model._nms.iou_threshold == model.iou
    with pytest.raises(AttributeError):
        model.iou = 0.9
