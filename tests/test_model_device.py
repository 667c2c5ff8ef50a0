"""``--device``: provider choice and the one-line errors, checked on a CPU-only machine."""

from __future__ import annotations

import numpy as np
import pytest
from model_graphs import make_graph, yolov8_output

from tecktrack.cli import main
from tecktrack.model import load_model
from tecktrack.model.device import (
    DeviceError,
    DeviceRequest,
    check_ort_providers,
    opencv_cuda_problem,
    ort_providers,
    parse_device,
)

CPU, CUDA, TRT = "CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    path = tmp_path_factory.mktemp("device") / "m.onnx"
    return make_graph(path, [yolov8_output([[32, 32, 16, 16]], [[0.9]])],
                      metadata={"names": "{0: 'a'}"})


@pytest.mark.parametrize(("text", "kind", "index"), [
    ("auto", "auto", 0), ("cpu", "cpu", 0), ("cuda", "cuda", 0), ("cuda:2", "cuda", 2),
    ("1", "cuda", 1), ("GPU", "cuda", 0), (None, "cpu", 0)])
def test_parse_device(text, kind, index):
    assert parse_device(text) == DeviceRequest(kind, index)


def test_unknown_device_is_refused():
    with pytest.raises(DeviceError, match="unknown device 'tpu'"):
        parse_device("tpu")


def test_provider_choice():
    gpu_build = [TRT, CUDA, CPU]
    assert ort_providers(DeviceRequest("cpu"), gpu_build) == [CPU]
    assert ort_providers(DeviceRequest("auto"), [CPU]) == [CPU]
    assert ort_providers(DeviceRequest("auto"), gpu_build) == [
        (TRT, {"device_id": 0}), (CUDA, {"device_id": 0}), CPU]
    assert ort_providers(DeviceRequest("cuda", 1), [CUDA, CPU]) == [
        (CUDA, {"device_id": 1}), CPU]


def test_cuda_without_the_gpu_build_names_what_is_missing():
    with pytest.raises(DeviceError) as caught:
        ort_providers(DeviceRequest("cuda"), [CPU])
    message = str(caught.value)
    assert "\n" not in message and CUDA in message and "tecktrack[gpu]" in message


def test_a_cuda_provider_that_did_not_start_is_an_error_for_cuda_only():
    assert check_ort_providers(DeviceRequest("auto"), [CPU]) == CPU
    assert check_ort_providers(DeviceRequest("cuda"), [CUDA, CPU]) == CUDA
    with pytest.raises(DeviceError, match="did not start"):
        check_ort_providers(DeviceRequest("cuda"), [CPU])


def test_auto_runs_on_what_this_machine_has_and_says_so(graph):
    import onnxruntime as ort

    model = load_model(graph, device="auto")
    has_cuda = CUDA in ort.get_available_providers()
    assert model.backend.provider in ((CUDA, TRT) if has_cuda else (CPU,))
    assert model.device == ("cuda:0" if model.backend.provider != CPU else "cpu")
    assert len(model.predict(np.zeros((64, 64, 3), np.uint8))) == 1


def test_cuda_on_a_cpu_only_install_is_a_one_line_error(graph, tmp_path, capsys):
    import cv2
    import onnxruntime as ort

    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((64, 64, 3), np.uint8))
    if CUDA in ort.get_available_providers():
        pytest.skip("this onnxruntime has the CUDA provider")
    with pytest.raises(DeviceError):
        load_model(graph, device="cuda")
    status = main(["predict", "--model", str(graph), "--source", str(tmp_path),
                   "--out", str(tmp_path / "out"), "--device", "cuda", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1 and "onnxruntime-gpu" in err


def test_darknet_cuda_needs_an_opencv_built_with_cuda():
    import cv2

    problem = opencv_cuda_problem(cv2)
    if problem is None:
        pytest.skip("this OpenCV has CUDA")
    assert "OpenCV" in problem and "CUDA" in problem
