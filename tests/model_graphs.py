"""Tiny ONNX graphs for the model tests: they emit known tensors in each YOLO layout.

Each graph takes an NCHW image input and returns ``constant + 0 * mean(input)`` per output
(or, with ``matmul=True``, ``constant + mean_rgb(input) @ W`` with a tiny W so that
``quantize_dynamic`` has a MatMul to turn into ``MatMulInteger``). No weights are downloaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _branch(i: int, const: np.ndarray, dtype: type, matmul: bool) -> tuple[list, list]:
    rows, cols = const.shape[-2:]
    c = const.reshape(1, rows, cols).astype(dtype)
    shape = numpy_helper.from_array(np.array([-1, rows, cols], np.int64), f"shape{i}")
    if matmul:
        weight = np.full((3, rows * cols), 1e-4, dtype)
        nodes = [helper.make_node("ReduceMean", ["images"], [f"m{i}"], axes=[2, 3], keepdims=0),
                 helper.make_node("MatMul", [f"m{i}", f"w{i}"], [f"mm{i}"]),
                 helper.make_node("Reshape", [f"mm{i}", f"shape{i}"], [f"r{i}"]),
                 helper.make_node("Add", [f"r{i}", f"c{i}"], [f"output{i}"])]
        inits = [shape, numpy_helper.from_array(weight, f"w{i}")]
    else:
        nodes = [helper.make_node("ReduceMean", ["images"], [f"m{i}"], axes=[1, 2, 3],
                                  keepdims=1),
                 helper.make_node("Reshape", [f"m{i}", f"shape_one{i}"], [f"r{i}"]),
                 helper.make_node("Mul", [f"r{i}", f"zero{i}"], [f"z{i}"]),
                 helper.make_node("Add", [f"z{i}", f"c{i}"], [f"output{i}"])]
        inits = [numpy_helper.from_array(np.array([-1, 1, 1], np.int64), f"shape_one{i}"),
                 numpy_helper.from_array(np.zeros(1, dtype), f"zero{i}")]
    return nodes, inits + [numpy_helper.from_array(c, f"c{i}")]


def make_graph(path: Path, outputs: list[np.ndarray], *, input_hw: tuple = (64, 64),
               batch: int | str = "batch", fp16: bool = False, metadata: dict | None = None,
               matmul: bool = False) -> Path:
    """Write an ONNX model whose outputs are ``outputs`` (each ``(rows, cols)``) per image.

    ``input_hw`` entries may be strings for dynamic axes.
    """
    dtype = np.float16 if fp16 else np.float32
    elem = TensorProto.FLOAT16 if fp16 else TensorProto.FLOAT
    nodes, inits, outs = [], [], []
    for i, const in enumerate(outputs):
        n, init = _branch(i, np.asarray(const), dtype, matmul)
        nodes += n
        inits += init
        outs.append(helper.make_tensor_value_info(f"output{i}", elem, [batch, *const.shape[-2:]]))
    inp = helper.make_tensor_value_info("images", elem, [batch, 3, *input_hw])
    model = helper.make_model(helper.make_graph(nodes, "tiny_yolo", [inp], outs, inits),
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def brightness_graph(path: Path, batch: int | str, size: int = 64) -> Path:
    """A YOLOv8-layout network with one box per image whose centre x is ``16 + 32 * mean``
    of the image's blob (``mean`` in [0, 1]): each image's box shows which image it came
    from, so batching, padding and reordering mistakes cannot hide."""
    const = yolov8_output([[16.0, 32.0, 8.0, 8.0]], [[0.9]])[None]
    gain = np.zeros_like(const)
    gain[0, 0, 0] = 32.0
    nodes = [helper.make_node("ReduceMean", ["images"], ["m"], axes=[1, 2, 3], keepdims=1),
             helper.make_node("Reshape", ["m", "shape"], ["r"]),
             helper.make_node("Mul", ["r", "gain"], ["g"]),
             helper.make_node("Add", ["g", "const"], ["output0"])]
    inits = [numpy_helper.from_array(np.array([-1, 1, 1], np.int64), "shape"),
             numpy_helper.from_array(gain, "gain"), numpy_helper.from_array(const, "const")]
    inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, size, size])
    out = helper.make_tensor_value_info("output0", TensorProto.FLOAT, [batch, *const.shape[1:]])
    model = helper.make_model(helper.make_graph(nodes, "brightness", [inp], [out], inits),
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def yolov8_output(boxes_cxcywh: list, class_scores: list, n_anchors: int = 16) -> np.ndarray:
    """A ``(4 + nc, n_anchors)`` tensor: the given boxes first, zero-score filler after."""
    scores = np.asarray(class_scores, np.float32)
    out = np.zeros((4 + scores.shape[1], n_anchors), np.float32)
    out[:4, :] = [[8.0], [8.0], [4.0], [4.0]]
    out[:4, :len(boxes_cxcywh)] = np.asarray(boxes_cxcywh, np.float32).T
    out[4:, :len(scores)] = scores.T
    return out


def yolov5_output(boxes_cxcywh: list, objectness: list, class_probs: list,
                  n_anchors: int = 16) -> np.ndarray:
    """A ``(n_anchors, 5 + nc)`` tensor of rows ``[cx, cy, w, h, obj, p...]``."""
    probs = np.asarray(class_probs, np.float32)
    out = np.zeros((n_anchors, 5 + probs.shape[1]), np.float32)
    out[:, :4] = [8.0, 8.0, 4.0, 4.0]
    out[:len(probs), :4] = boxes_cxcywh
    out[:len(probs), 4] = objectness
    out[:len(probs), 5:] = probs
    return out


def _conv(name: str, inp: str, out: str, cin: int, cout: int, k: int, stride: int,
          rng: np.random.Generator, relu: bool = True) -> tuple[list, list]:
    w = (rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))).astype(np.float32)
    conv_out = f"{name}_c" if relu else out
    nodes = [helper.make_node("Conv", [inp, f"{name}_w"], [conv_out], kernel_shape=[k, k],
                              strides=[stride, stride], pads=[k // 2] * 4)]
    if relu:
        nodes.append(helper.make_node("Relu", [conv_out], [out]))
    return nodes, [numpy_helper.from_array(w, f"{name}_w")]


def conv_yolo_graph(path: Path, size: int = 320, n_classes: int = 80, seed: int = 0,
                    class_bias: float = -2.5, dynamic_batch: bool = False) -> Path:
    """A seeded random-weight YOLOv8-layout detector ``(1, 3, S, S) -> (1, 4 + nc, N)``.

    Five stride-2 3x3 convolutions, 1x1 heads at strides 8, 16 and 32 (``N = 21 S^2 / 1024``),
    sigmoid boxes scaled to the input and sigmoid class scores shifted by ``class_bias``.
    ``dynamic_batch=True`` names the batch axis (``"batch"``) so the network takes
    ``(B, 3, S, S)`` blobs and ``predict_batch`` runs whole batches; the weights are the same.
    """
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    chans = [(3, 16), (16, 32), (32, 64), (64, 64), (64, 64)]
    prev = "images"
    for i, (cin, cout) in enumerate(chans):
        n, w = _conv(f"b{i}", prev, f"f{i}", cin, cout, 3, 2, rng)
        nodes += n
        inits += w
        prev = f"f{i}"
    heads = []
    for i, level in enumerate((2, 3, 4)):
        n, w = _conv(f"h{i}", f"f{level}", f"h{i}", 64, 4 + n_classes, 1, 1, rng, relu=False)
        nodes += n + [helper.make_node("Reshape", [f"h{i}", "flat"], [f"r{i}"])]
        inits += w
        heads.append(f"r{i}")
    nodes += [
        helper.make_node("Concat", heads, ["raw"], axis=2),
        helper.make_node("Slice", ["raw", "s0", "s4", "ax1"], ["box_raw"]),
        helper.make_node("Slice", ["raw", "s4", "send", "ax1"], ["cls_raw"]),
        helper.make_node("Sigmoid", ["box_raw"], ["box_unit"]),
        helper.make_node("Mul", ["box_unit", "size"], ["box"]),
        helper.make_node("Add", ["cls_raw", "bias"], ["cls_shift"]),
        helper.make_node("Sigmoid", ["cls_shift"], ["cls"]),
        helper.make_node("Concat", ["box", "cls"], ["output0"], axis=1),
    ]
    batch = "batch" if dynamic_batch else 1
    consts = {"flat": np.array([0 if dynamic_batch else 1, 4 + n_classes, -1], np.int64),
              "s0": np.array([0], np.int64), "s4": np.array([4], np.int64),
              "send": np.array([4 + n_classes], np.int64), "ax1": np.array([1], np.int64),
              "size": np.array(float(size), np.float32),
              "bias": np.array(class_bias, np.float32)}
    inits += [numpy_helper.from_array(v, k) for k, v in consts.items()]
    n_anchors = sum((size // s) ** 2 for s in (8, 16, 32))
    graph = helper.make_graph(
        nodes, "bench_yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT,
                                       [batch, 4 + n_classes, n_anchors])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    prop = model.metadata_props.add()
    prop.key, prop.value = "names", repr({i: f"class{i}" for i in range(n_classes)})
    onnx.save(model, str(path))
    return path
