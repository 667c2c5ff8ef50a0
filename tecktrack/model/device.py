"""``device=``: where a network runs, and what each backend needs to run it there.

``cpu`` runs on the CPU. ``cuda`` / ``cuda:N`` asks for GPU N (0 by default): ONNX Runtime's
CUDA execution provider (TensorRT's ahead of it where the install has one), which comes with
``onnxruntime-gpu`` (``pip install 'tecktrack[gpu]'``), or OpenCV's CUDA DNN backend for
Darknet models, which needs an OpenCV built with CUDA and cuDNN. Asking for ``cuda`` where
that is missing is a one-line :class:`DeviceError` (a ``ModelError``) naming what is missing.
``auto`` takes the GPU when one is usable and the CPU otherwise; the loaded backend reports
which provider ran.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tecktrack.errors import ModelError

__all__ = ["DEVICES_HELP", "DeviceError", "DeviceRequest", "check_ort_providers",
           "opencv_cuda_problem", "ort_providers", "parse_device"]

#: What ``--device`` accepts, in every command's help.
DEVICES_HELP = "auto, cpu, cuda or cuda:N (auto: a GPU when one is usable)"

_CUDA = "CUDAExecutionProvider"
_TENSORRT = "TensorrtExecutionProvider"
_CPU = "CPUExecutionProvider"
_GPU_EXTRA = "pip install 'tecktrack[gpu]' (onnxruntime-gpu in place of onnxruntime)"


class DeviceError(ModelError):
    """The device asked for cannot be used here (the message names what is missing)."""


@dataclass(frozen=True)
class DeviceRequest:
    """A parsed ``device=`` value.

    Attributes
    ----------
    kind : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    index : int
        GPU index for ``cuda`` (and ``auto``).
    """

    kind: str
    index: int = 0

    @property
    def wants_gpu(self) -> bool:
        """``cuda`` was asked for explicitly."""
        return self.kind == "cuda"

    def __str__(self) -> str:
        return f"cuda:{self.index}" if self.kind == "cuda" else self.kind


def parse_device(value: str | int | None) -> DeviceRequest:
    """Parse ``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``N`` or ``None`` (= ``cpu``).

    Examples
    --------
    >>> parse_device("cuda:1"), parse_device(None), parse_device("0")
    (DeviceRequest(kind='cuda', index=1), DeviceRequest(kind='cpu', index=0), \
DeviceRequest(kind='cuda', index=0))
    """
    if value is None:
        return DeviceRequest("cpu")
    text = str(value).strip().lower()
    if text in ("auto", "cpu", "cuda", "gpu"):
        return DeviceRequest("cuda" if text == "gpu" else text)
    match = re.fullmatch(r"(?:cuda:)?(\d+)", text)
    if match is None:
        raise DeviceError(f"unknown device {value!r}; use {DEVICES_HELP}")
    return DeviceRequest("cuda", int(match.group(1)))


def ort_providers(request: DeviceRequest, available: list[str] | None = None) -> list:
    """The ONNX Runtime providers to ask for, best first.

    Raises
    ------
    ModelError
        ``cuda`` asked for and this ONNX Runtime has no CUDA execution provider.

    Examples
    --------
    >>> ort_providers(DeviceRequest("cpu"), ["CUDAExecutionProvider", "CPUExecutionProvider"])
    ['CPUExecutionProvider']
    >>> ort_providers(DeviceRequest("auto"), ["CPUExecutionProvider"])
    ['CPUExecutionProvider']
    >>> ort_providers(DeviceRequest("cuda", 1), ["CUDAExecutionProvider", "CPUExecutionProvider"])
    [('CUDAExecutionProvider', {'device_id': 1}), 'CPUExecutionProvider']
    """
    if available is None:
        import onnxruntime as ort

        available = list(ort.get_available_providers())
    if request.kind == "cpu" or (request.kind == "auto" and _CUDA not in available):
        return [_CPU]
    if _CUDA not in available:
        raise DeviceError(f"device {request} needs ONNX Runtime's {_CUDA}, and this onnxruntime "
                         f"has only {', '.join(available)}; {_GPU_EXTRA}")
    options = {"device_id": request.index}
    providers: list = [(_TENSORRT, dict(options))] if _TENSORRT in available else []
    return [*providers, (_CUDA, options), _CPU]


def check_ort_providers(request: DeviceRequest, used: list[str]) -> str:
    """The provider that runs the model; an error when ``cuda`` was asked for and none started.

    ONNX Runtime falls back to the CPU when the CUDA provider cannot start (no GPU, CUDA or
    cuDNN libraries missing); for an explicit ``cuda`` that is an error, for ``auto`` the answer.

    Examples
    --------
    >>> check_ort_providers(DeviceRequest("auto"), ["CPUExecutionProvider"])
    'CPUExecutionProvider'
    """
    first = used[0] if used else _CPU
    if request.wants_gpu and first not in (_CUDA, _TENSORRT):
        raise DeviceError(f"device {request}: ONNX Runtime's {_CUDA} did not start (no usable GPU "
                         f"{request.index}, or its CUDA/cuDNN libraries are missing); ran on "
                         f"{', '.join(used) or _CPU}")
    return first


def opencv_cuda_problem(cv2_module, index: int = 0) -> str | None:
    """Why OpenCV DNN cannot run on GPU ``index`` here, or ``None`` when it can.

    Examples
    --------
    >>> import cv2
    >>> opencv_cuda_problem(cv2) is None or "CUDA" in opencv_cuda_problem(cv2)
    True
    """
    info = cv2_module.getBuildInformation()
    cuda_line = next((ln for ln in info.splitlines() if ln.strip().startswith("NVIDIA CUDA")), "")
    if not hasattr(cv2_module, "cuda") or "YES" not in cuda_line:
        return (f"OpenCV {cv2_module.__version__} is built without CUDA (the PyPI wheels have "
                "none); build OpenCV with CUDA and cuDNN (WITH_CUDA, WITH_CUDNN, OPENCV_DNN_CUDA)")
    try:
        count = cv2_module.cuda.getCudaEnabledDeviceCount()
    except Exception:  # noqa: BLE001 - cv2.error when the driver is missing
        count = 0
    if count <= index:
        return f"OpenCV sees {count} CUDA device(s), so there is no GPU {index}"
    return None
