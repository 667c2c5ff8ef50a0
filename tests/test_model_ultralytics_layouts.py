"""Ultralytics export families on tiny ONNX graphs with Ultralytics-style metadata.

End-to-end ``(1, 300, 6)`` rows (``end2end`` metadata, ``nms=True`` args, old exporters, no
metadata at all), refusals, defaults, and the post-processing order Ultralytics uses:
letterbox gains per axis, NMS before clipping.
"""

from __future__ import annotations

import numpy as np
import pytest
from model_graphs import make_graph, yolov8_output

from tecktrack.errors import ModelError
from tecktrack.model import ModelWarning, load_model
from tecktrack.model.decoders import infer_layout

NAMES = "{0: 'person', 1: 'bicycle', 2: 'car'}"
ULTRA = {"author": "Ultralytics", "task": "detect", "stride": "32", "names": NAMES,
         "imgsz": "[64, 64]", "batch": "1"}
# A 128x64 frame letterboxes into 64x64 with gain 0.5 and 16 px top/bottom padding.
FRAME = np.full((64, 128, 3), 90, np.uint8)


def _rows(rows: list[list[float]], n: int = 300) -> np.ndarray:
    out = np.zeros((n, 6), np.float32)
    out[:len(rows)] = rows
    return out


# Rows in input pixels [x1, y1, x2, y2, score, class]: two overlapping car boxes (an end-to-end
# head keeps both: no second NMS), a person, a weak bicycle, then zero padding.
E2E_ROWS = _rows([[10, 20, 30, 40, 0.9, 2], [11, 20, 31, 40, 0.8, 2], [40, 30, 50, 60, 0.6, 0],
                  [0, 16, 8, 24, 0.1, 1]])


@pytest.fixture(scope="module")
def e2e_graphs(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    return {
        "end2end": make_graph(root / "a" / "yolo26n.onnx", [E2E_ROWS],
                              metadata={**ULTRA, "end2end": "True"}),
        "nms_args": make_graph(root / "b" / "yolov8n.onnx", [E2E_ROWS],
                               metadata={**ULTRA, "args": "{'batch': 1, 'nms': True}"}),
        "old_exporter": make_graph(root / "c" / "yolov10n.onnx", [E2E_ROWS], metadata=ULTRA),
        "bare": make_graph(root / "d" / "m.onnx", [E2E_ROWS]),
    }


@pytest.mark.parametrize("kind", ["end2end", "nms_args", "old_exporter"])
def test_end_to_end_rows_are_read_from_metadata(e2e_graphs, kind):
    model = load_model(e2e_graphs[kind], conf=0.25)
    assert model.layout == "end2end" and model.names == ["person", "bicycle", "car"]
    det = model.predict(FRAME)
    # no second NMS: both overlapping cars stay; rows keep their order; the weak one is gone
    assert det.class_ids.tolist() == [2, 2, 0]
    np.testing.assert_allclose(det.scores, [0.9, 0.8, 0.6], rtol=1e-6)
    # back to the frame: (x - 0) / 0.5, (y - 16) / 0.5, clipped at the bottom edge (64)
    np.testing.assert_allclose(det.xyxy, [[20, 8, 60, 48], [22, 8, 62, 48], [80, 28, 100, 64]])


def test_end_to_end_max_det_threshold_and_classes(e2e_graphs):
    path = e2e_graphs["end2end"]
    assert len(load_model(path, conf=0.05).predict(FRAME)) == 4
    assert load_model(path, conf=0.05, max_det=2).predict(FRAME).scores.tolist() == \
        pytest.approx([0.9, 0.8])
    assert load_model(path, conf=0.05, classes="person,bicycle").predict(FRAME) \
        .class_ids.tolist() == [0, 1]
    # classes are filtered before the max_det cut, as Ultralytics does
    assert load_model(path, conf=0.05, classes=[0], max_det=1).predict(FRAME) \
        .class_ids.tolist() == [0]


def test_end_to_end_without_metadata_is_recognised_by_shape(e2e_graphs):
    with pytest.warns(ModelWarning, match="does not say how many classes"):
        model = load_model(e2e_graphs["bare"], conf=0.25)
    assert model.layout == "end2end"
    assert model.predict(FRAME).class_ids.tolist() == [2, 2, 0]


def test_six_columns_are_yolov5_only_at_its_anchor_count():
    # 64x64 input: YOLOv5 gives 3 * (8*8 + 4*4 + 2*2) = 252 rows
    assert infer_layout([(1, 252, 6)], input_size=(64, 64)) == ("yolov5", 1)
    assert infer_layout([(1, 300, 6)], input_size=(64, 64)) == ("end2end", None)
    assert infer_layout([(1, 300, 6)], n_names=3, input_size=(64, 64)) == ("end2end", 3)
    assert infer_layout([(1, 6, 300)], n_names=2) == ("yolov8", 2)


@pytest.mark.parametrize("shape", [(1, 2, 3), (2, 3, 4, 5)])
def test_output_fitting_no_layout_is_refused_with_shape_and_layouts(shape):
    with pytest.raises(ModelError) as caught:
        infer_layout([shape])
    text = str(caught.value)
    assert str(shape).replace(" ", "") in text.replace(" ", "")
    for layout in ("darknet", "yolov5", "yolov8", "end2end"):
        assert layout in text


@pytest.mark.parametrize("task", ["segment", "pose", "obb", "classify"])
def test_other_tasks_are_refused_naming_the_task(tmp_path, task):
    path = make_graph(tmp_path / "m.onnx", [yolov8_output([[8, 8, 4, 4]], [[0.9, 0, 0]])],
                      metadata={**ULTRA, "task": task})
    with pytest.raises(ModelError, match=f"task '{task}'"):
        load_model(path)


def test_iou_defaults_ultralytics_07_else_045(tmp_path):
    out = [yolov8_output([[8, 8, 4, 4]], [[0.9, 0, 0]])]
    ultra = load_model(make_graph(tmp_path / "u" / "m.onnx", out, metadata=ULTRA))
    other = load_model(make_graph(tmp_path / "o" / "m.onnx", out,
                                  metadata={"names": NAMES}))
    assert (ultra.iou, ultra.max_det, other.iou) == (0.7, 300, 0.45)
    assert load_model(tmp_path / "u" / "m.onnx", iou=0.5).iou == 0.5


def _v8(boxes, scores, **meta):
    return [yolov8_output(boxes, scores)], {**ULTRA, **meta}


def test_letterbox_gains_are_per_axis(tmp_path):
    # 500x480 -> r = 0.128: 500 -> 64 (gain 0.128), 480 -> round(61.44) = 61 (gain 61/480);
    # padding top round(1.5 - 0.1) = 1. A box at input y = 1 + 61 reaches the frame's bottom.
    outputs, meta = _v8([[32, 31.5, 64, 61]], [[0.0, 0.0, 0.9]])
    model = load_model(make_graph(tmp_path / "m.onnx", outputs, metadata=meta))
    det = model.predict(np.full((480, 500, 3), 90, np.uint8))
    np.testing.assert_allclose(det.xyxy, [[0, 0, 500, 480]], atol=1e-3)
    blob, info = model.preprocess(np.full((480, 500, 3), 90, np.uint8))
    assert (info.scale_x, info.scale_y, info.pad_y) == (0.128, 61 / 480, 1.0)


def test_boxes_are_clipped_after_nms_not_before(tmp_path):
    # Two cars at input x 0..20 and -12..20 (cx -2, w 36): IoU 20/32 = 0.625 <= 0.7 keeps both;
    # clipped first to 0..20 they would be the same box and one would go.
    outputs, meta = _v8([[10, 32, 20, 20], [4, 32, 32, 20]], [[0, 0, 0.9], [0, 0, 0.8]])
    model = load_model(make_graph(tmp_path / "m.onnx", outputs, metadata=meta))
    det = model.predict(np.full((64, 64, 3), 90, np.uint8))
    assert len(det) == 2
    np.testing.assert_allclose(det.xyxy, [[0, 22, 20, 42], [0, 22, 20, 42]])


def test_agnostic_and_class_names(tmp_path):
    # a person and a car on the same spot: class-aware NMS keeps both, agnostic one
    outputs, meta = _v8([[32, 32, 20, 20], [32, 32, 20, 20]], [[0.9, 0, 0], [0, 0, 0.8]])
    path = make_graph(tmp_path / "m.onnx", outputs, metadata=meta)
    frame = np.full((64, 64, 3), 90, np.uint8)
    assert len(load_model(path).predict(frame)) == 2
    assert load_model(path, agnostic=True).predict(frame).class_ids.tolist() == [0]
    assert load_model(path, classes=["car"]).predict(frame).class_ids.tolist() == [2]
    with pytest.raises(ModelError, match="no class named 'cars'.*car"):
        load_model(path, classes="cars")
    with pytest.raises(ModelError, match="class id 7 is out of range"):
        load_model(path, classes=[7])


def test_predict_cli_flags(e2e_graphs, tmp_path):
    import cv2

    from tecktrack.cli import main

    cv2.imwrite(str(tmp_path / "frame.png"), FRAME)
    common = ["predict", "--model", str(e2e_graphs["end2end"]), "--source",
              str(tmp_path / "frame.png"), "--quiet", "--conf", "0.05"]

    def classes(out: str, *flags: str) -> list[int]:
        assert main([*common, "--out", str(tmp_path / out), *flags]) == 0
        lines = (tmp_path / out / "labels" / "frame.txt").read_text().splitlines()
        return [int(line.split()[0]) for line in lines]

    assert classes("all") == [2, 2, 0, 1]
    assert classes("named", "--classes", "car,person") == [2, 2, 0]
    assert classes("capped", "--max-det", "2") == [2, 2]
    assert classes("agnostic", "--agnostic-nms") == [2, 2, 0, 1]  # end-to-end: no NMS at all


def test_half_runs_a_float32_model_in_float16(tmp_path):
    pytest.importorskip("onnx")
    outputs, meta = _v8([[32, 32, 20, 20]], [[0.9, 0, 0]])
    path = make_graph(tmp_path / "m.onnx", outputs, metadata=meta)
    model = load_model(path, half=True)
    det = model.predict(np.full((64, 64, 3), 90, np.uint8))
    np.testing.assert_allclose(det.xyxy, [[22, 22, 42, 42]], atol=0.05)
    np.testing.assert_allclose(det.scores, [0.9], atol=1e-3)
    import onnx

    from tecktrack.model.backends import _float16_model

    converted = onnx.load_from_string(_float16_model(path))
    kinds = {init.data_type for init in converted.graph.initializer}
    assert onnx.TensorProto.FLOAT16 in kinds


def test_an_nms_export_runs_one_frame_at_a_time_even_with_a_dynamic_batch(tmp_path):
    """An ``nms=True`` export's NMS is unrolled for its export batch: a dynamic-batch one fed
    4 frames at once gave the first frame's boxes and three empty results, without a word
    (Ultralytics feeds such a graph in chunks of its export batch)."""
    path = make_graph(tmp_path / "yolov8n.onnx", [E2E_ROWS], batch="batch",
                      metadata={**ULTRA, "args": "{'batch': 1, 'nms': True, 'dynamic': True}"})
    model = load_model(path, conf=0.25)
    assert not model.backend.batch_dynamic
    sizes = []
    forward = model.backend.forward
    model.backend.forward = lambda blob: sizes.append(len(blob)) or forward(blob)
    got = model.predict_batch([FRAME] * 4, batch_size=4)
    assert sizes == [1, 1, 1, 1]
    assert [d.class_ids.tolist() for d in got] == [[2, 2, 0]] * 4
    plain = make_graph(tmp_path / "p" / "yolo26n.onnx", [E2E_ROWS], batch="batch",
                       metadata={**ULTRA, "end2end": "True"})
    assert load_model(plain).backend.batch_dynamic   # NMS-free end-to-end: batches as usual
