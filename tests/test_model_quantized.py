"""Quantized models: dynamic int8 and QDQ run on ONNX Runtime; OpenCV says which op it lacks."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import onnx
import pytest
from model_graphs import make_graph, yolov8_output
from onnx import TensorProto, helper, numpy_helper

from tecktrack.errors import ModelError
from tecktrack.model import ModelWarning, load_model

FRAME = np.full((64, 64, 3), 200, np.uint8)
BOXES = [[32, 32, 16, 8], [12, 12, 8, 8]]
SCORES = [[0.9, 0.1], [0.0, 0.7]]
EXPECTED = np.array([[24, 28, 40, 36], [8, 8, 16, 16]], np.float32)
META = {"names": "{0: 'cat', 1: 'dog'}"}


@pytest.fixture(scope="module")
def dynamic_int8(tmp_path_factory):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = tmp_path_factory.mktemp("quant")
    float_model = make_graph(root / "float.onnx", [yolov8_output(BOXES, SCORES, 8)], matmul=True,
                             metadata=META)
    quantized = root / "int8" / "model-int8.onnx"
    quantized.parent.mkdir()
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel("ERROR")  # quantize_dynamic logs a pre-processing hint at WARNING
    try:
        quantize_dynamic(str(float_model), str(quantized), weight_type=QuantType.QInt8)
    finally:
        logger.setLevel(level)
    ops = {node.op_type for node in onnx.load(str(quantized)).graph.node}
    assert "MatMulInteger" in ops and "MatMul" not in ops
    return quantized


def _qdq_model(path):
    """A QDQ (QuantizeLinear/DequantizeLinear) int8 graph written the way exporters write it."""
    const = yolov8_output(BOXES, SCORES, 8)[None]
    weight = np.full((3, const[0].size), 1, np.int8)
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["m"], axes=[2, 3], keepdims=0),
        helper.make_node("QuantizeLinear", ["m", "s", "zp"], ["mq"]),
        helper.make_node("DequantizeLinear", ["mq", "s", "zp"], ["md"]),
        helper.make_node("DequantizeLinear", ["wq", "ws", "wzp"], ["w"]),
        helper.make_node("MatMul", ["md", "w"], ["mm"]),
        helper.make_node("Reshape", ["mm", "shape"], ["r"]),
        helper.make_node("Add", ["r", "c"], ["output0"]),
    ]
    inits = [numpy_helper.from_array(np.array(1 / 255, np.float32), "s"),
             numpy_helper.from_array(np.array(0, np.uint8), "zp"),
             numpy_helper.from_array(weight, "wq"),
             numpy_helper.from_array(np.array(1e-5, np.float32), "ws"),
             numpy_helper.from_array(np.array(0, np.int8), "wzp"),
             numpy_helper.from_array(np.array([-1, *const.shape[1:]], np.int64), "shape"),
             numpy_helper.from_array(const, "c")]
    graph = helper.make_graph(
        nodes, "qdq", [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                                     ["batch", 3, 64, 64])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["batch", *const.shape[1:]])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    prop = model.metadata_props.add()
    prop.key, prop.value = "names", META["names"]
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _check(det):
    det = det[np.argsort(det.class_ids)]
    assert det.class_ids.tolist() == [0, 1]
    np.testing.assert_allclose(det.xyxy, EXPECTED, atol=0.05)
    np.testing.assert_allclose(det.scores, [0.9, 0.7], atol=0.01)


def test_dynamic_int8_runs_on_onnxruntime(dynamic_int8):
    model = load_model(dynamic_int8, backend="onnxruntime")
    assert model.names == ["cat", "dog"]
    _check(model.predict(FRAME))


def test_opencv_names_the_unsupported_op_and_suggests_onnxruntime(dynamic_int8):
    with pytest.raises(ModelError, match=r"op 'MatMulInteger'.*--backend onnxruntime"):
        load_model(dynamic_int8, backend="opencv")


def test_auto_uses_onnxruntime_for_quantized_onnx_without_warning(dynamic_int8):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelWarning)
        model = load_model(dynamic_int8)
    assert model.backend_name == "onnxruntime"


def test_qdq_int8_runs_on_onnxruntime(tmp_path):
    model = load_model(_qdq_model(tmp_path / "qdq.onnx"), backend="onnxruntime")
    ops = {n.op_type for n in onnx.load(str(tmp_path / "qdq.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    _check(model.predict(FRAME))
