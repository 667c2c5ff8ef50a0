"""Test support for the inference/video/service tests: a small real ONNX detector and videos.

``build_detector`` writes a model folder (``model.onnx`` + ``model.yaml``) whose output is in
the YOLOv8 layout ``(1, 4 + nc, N)``: N fixed boxes, class ``c`` scored by the mean of input
channel ``c`` (RGB), so bright red frames give class-0 detections and black frames none.
``depth`` stride-1 convolutions add realistic compute for throughput measurements.
``demo_or_tiny_model`` prefers the shipped demo model when it exists.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import cv2
import numpy as np

NAMES = ["red", "green", "blue"]


def _initializer(name: str, array: np.ndarray):
    from onnx import numpy_helper

    return numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name)


def _boxes(size: int, n: int) -> np.ndarray:
    grid = int(np.ceil(np.sqrt(n)))
    step = size / grid
    cells = np.arange(n)
    cx = (cells % grid + 0.5) * step
    cy = (cells // grid + 0.5) * step
    wh = np.full(n, step * 0.6)
    return np.stack([cx, cy, wh, wh])[None]  # (1, 4, n)


def _compute_nodes(depth: int, width: int, rng: np.random.Generator):
    from onnx import helper

    nodes, inits, current, channels = [], [], "images", 3
    for i in range(depth):
        weight = rng.normal(0, 0.1, (width, channels, 3, 3))
        inits.append(_initializer(f"w{i}", weight))
        nodes.append(helper.make_node("Conv", [current, f"w{i}"], [f"c{i}"], pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"]))
        current, channels = f"r{i}", width
    nodes.append(helper.make_node("ReduceMean", [current], ["feat"], keepdims=1))
    inits.append(_initializer("zero", np.zeros((1, 1, 1))))
    nodes.append(helper.make_node("Reshape", ["feat", "shape111"], ["feat3"]))
    nodes.append(helper.make_node("Mul", ["feat3", "zero"], ["nothing"]))
    return nodes, inits, "nothing"


def build_detector(folder: Path, *, size: int = 64, n: int = 16, depth: int = 0,
                   width: int = 16, seed: int = 0) -> Path:
    """Write ``folder/model.onnx`` + ``model.yaml`` and return ``folder``."""
    import onnx
    from onnx import TensorProto, helper

    rng = np.random.default_rng(seed)
    nc = len(NAMES)
    bias = np.linspace(-9.0, -3.0, n)[None, None, :].repeat(nc, axis=1)
    inits = [
        _initializer("boxes", _boxes(size, n)),
        _initializer("gain", np.full((1, nc, n), 10.0)),
        _initializer("bias", bias),
        onnx.numpy_helper.from_array(np.array([1, nc, 1], np.int64), "shape"),
        onnx.numpy_helper.from_array(np.array([1, 1, 1], np.int64), "shape111"),
    ]
    nodes = [
        helper.make_node("GlobalAveragePool", ["images"], ["gap"]),
        helper.make_node("Reshape", ["gap", "shape"], ["means"]),
        helper.make_node("Mul", ["means", "gain"], ["scaled"]),
        helper.make_node("Add", ["scaled", "bias"], ["logits"]),
    ]
    extra_nodes, extra_inits, extra = _compute_nodes(depth, width, rng)
    nodes += extra_nodes
    inits += extra_inits
    nodes += [
        helper.make_node("Add", ["logits", extra], ["logits2"]),
        helper.make_node("Sigmoid", ["logits2"], ["scores"]),
        helper.make_node("Concat", ["boxes", "scores"], ["output0"], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "tiny-yolov8",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 4 + nc, n])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "model.onnx"))
    (folder / "model.yaml").write_text(
        f"names: [{', '.join(NAMES)}]\nlayout: yolov8\nletterbox: true\n", encoding="utf-8")
    return folder


def demo_or_tiny_model(root: Path, tmp: Path) -> Path:
    """``models/demo-n`` when it has been trained, else a freshly built tiny model."""
    demo = root / "models" / "demo-n"
    if (demo / "model.onnx").is_file():
        return demo
    return build_detector(tmp / "tiny-model")


def colour_frame(index: int, width: int = 96, height: int = 64) -> np.ndarray:
    """A frame whose red level follows ``index`` (detections change over time) + a counter."""
    frame = np.zeros((height, width, 3), np.uint8)
    frame[..., 2] = (index * 37) % 256
    cv2.putText(frame, str(index), (4, height - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                (255, 255, 255), 1)
    return frame


def write_video(path: Path, frames: int, fps: float = 25.0, width: int = 96,
                height: int = 64) -> Path:
    """Write an MP4 (mp4v) of ``frames`` :func:`colour_frame` frames."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for i in range(frames):
        writer.write(colour_frame(i, width, height))
    writer.release()
    return path


def write_folder(folder: Path, frames: int) -> Path:
    """Write ``frames`` PNG images named ``000000.png``...."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(frames):
        cv2.imwrite(str(folder / f"{i:06d}.png"), colour_frame(i))
    return folder


def free_udp_port() -> int:
    """A loopback UDP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def record_stream(video: Path, fps: float = 200, join_s: float = 10.0) -> list[bytes]:
    """Every datagram ``tecktrack.interface.send_video`` sends for ``video`` (H.264 in MPEG-TS)
    at ``fps``, in arrival order, caught by a loopback socket with an 8 MiB receive buffer;
    the recording ends 2 s after the last datagram."""
    from tecktrack.interface.udp_sender import send_video

    datagrams: list[bytes] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        sink.bind(("127.0.0.1", 0))
        sink.settimeout(2.0)
        url = f"udp://127.0.0.1:{sink.getsockname()[1]}"
        sender = threading.Thread(target=send_video, args=(video, url), kwargs={"fps": fps})
        sender.start()
        try:
            while True:
                datagrams.append(sink.recv(65536))
        except TimeoutError:
            pass
        sender.join(join_s)
    return datagrams


def ts_datagrams(count: int, pid: int = 256, per: int = 7) -> list[bytes]:
    """``count`` distinct in-order MPEG-TS datagrams of ``per`` packets on one PID.

    Each packet carries payload (so its continuity counter counts) and its own serial number
    in the payload, so no two datagrams are byte-identical.
    """
    out = []
    for d in range(count):
        packets = []
        for p in range(per):
            serial = d * per + p
            header = bytes([0x47, pid >> 8 & 0x1F, pid & 0xFF, 0x10 | serial % 16])
            packets.append(header + serial.to_bytes(4, "big") + bytes(180))
        out.append(b"".join(packets))
    return out
