"""Inference backends: OpenCV DNN (Darknet and ONNX) and ONNX Runtime (ONNX).

Both run on the CPU or, with ``device="cuda"`` / ``"auto"``, on a GPU where the install
allows it (:mod:`tecktrack.model.device`).

:func:`open_backend` opens one and proves it by running a probe blob through it; the
``auto`` choice tries ONNX Runtime first for ONNX files and OpenCV first for Darknet, and
falls back to the other (with one warning) when the first cannot load or run the model.
"""

from __future__ import annotations

import re
import threading
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tecktrack.errors import ModelError
from tecktrack.model.darknet_weights import cfg_line, check_darknet_weights
from tecktrack.model.device import (
    DeviceError,
    DeviceRequest,
    check_ort_providers,
    opencv_cuda_problem,
    ort_providers,
    parse_device,
)
from tecktrack.model.discovery import ModelPaths
from tecktrack.model.model_warning import ModelWarning

#: OpenCV's log level is process-wide: loaders silence it one at a time, so two loading at
#: once cannot "restore" each other's silence for good.
_OPENCV_LOG_LOCK = threading.Lock()

__all__ = ["BACKENDS", "Backend", "ModelWarning", "OnnxInfo", "OnnxRuntimeBackend",
           "OpenCVBackend", "export_batch", "in_fixed_batches", "inspect_onnx", "open_backend"]

#: Accepted ``backend=`` values.
BACKENDS = ("auto", "opencv", "onnxruntime")
_OPENCV_OP = re.compile(r'of type "([^"]+)"|Node \[([^@\]]+)@')


@dataclass(frozen=True)
class OnnxInfo:
    """Static facts about an ONNX file as ONNX Runtime reads them.

    Attributes
    ----------
    input_shape : tuple
        NCHW input shape; dynamic axes are ``None``.
    input_dtype : numpy dtype
        ``float32`` or ``float16``.
    metadata : dict
        ``metadata_props`` (Ultralytics writes ``names``, ``imgsz``, ``stride``, ``task``).
    """

    input_shape: tuple[int | None, ...]
    input_dtype: np.dtype
    metadata: dict[str, str] = field(default_factory=dict)


def _ort_session(path: Path, threads: int | None, optimize: bool = True,
                 providers: list | None = None, model_bytes: bytes | None = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    if threads:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(model_bytes if model_bytes is not None else str(path),
                                    sess_options=options,
                                    providers=providers or ["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own pybind exception types
        raise ModelError(f"ONNX Runtime cannot load the model: {_one_line(exc)}", path) from None


def _one_line(exc: BaseException, limit: int = 400) -> str:
    r"""ONNX Runtime's message as one line: its lines joined (the reason is on the first ones,
    "Got invalid dimensions ... Got: 1 Expected: 2", the advice on the last), cut at
    ``limit`` characters.

    Examples
    --------
    >>> _one_line(RuntimeError("Got invalid dimensions\n index: 0 Got: 1 Expected: 2\n"
    ...                          " Please fix the model."))
    'Got invalid dimensions index: 0 Got: 1 Expected: 2 Please fix the model.'
    """
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    if not text:
        return exc.__class__.__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _info_from_session(session) -> OnnxInfo:
    inp = session.get_inputs()[0]
    shape = tuple(d if isinstance(d, int) and d > 0 else None for d in inp.shape)
    if len(shape) != 4:
        raise ModelError(f"expected one NCHW image input, got shape {inp.shape}")
    dtype = np.dtype(np.float16) if inp.type == "tensor(float16)" else np.dtype(np.float32)
    meta = dict(session.get_modelmeta().custom_metadata_map)
    return OnnxInfo(shape, dtype, meta)


def export_batch(input_shape: tuple[int | None, ...]) -> int:
    """The batch a static-batch network takes (``yolo export batch=4``: 4), or 1 when its batch
    axis is dynamic or one.

    Examples
    --------
    >>> export_batch((4, 3, 640, 640)), export_batch((None, 3, 640, 640))
    (4, 1)
    """
    first = input_shape[0] if input_shape else None
    return first if isinstance(first, int) and first > 1 else 1


def inspect_onnx(path: str | Path) -> OnnxInfo:
    """Input shape, dtype and metadata of an ONNX file (via ONNX Runtime).

    Raises
    ------
    ModelError
        If ONNX Runtime cannot read the file.

    Examples
    --------
    >>> info = inspect_onnx("models/demo-n/model.onnx")                 # doctest: +SKIP
    >>> info.input_shape, info.input_dtype, info.metadata.get("task")    # doctest: +SKIP
    ((1, 3, 320, 320), dtype('float32'), 'detect')
    """
    return _info_from_session(_ort_session(Path(path), threads=1, optimize=False))


class Backend(ABC):
    """A loaded network: ``forward(blob) -> list of float32 outputs``."""

    name: str
    batch_dynamic: bool
    #: The batch a static-batch export takes and nothing else (``yolo export batch=4``: 4);
    #: 1 for dynamic-batch networks and the usual fixed batch of one.
    fixed_batch: int = 1
    #: Where it runs (``cpu``, ``cuda:0``) and the provider / target that runs it.
    device: str = "cpu"
    provider: str = "CPU"

    def forward(self, blob: np.ndarray) -> list[np.ndarray]:
        """Run the network on an NCHW float32 blob; outputs as float32 arrays, one row per
        blob row.

        A static-batch export (:attr:`fixed_batch` > 1) runs the blob in slices of its batch,
        the last one padded with zero images whose rows are dropped, as Ultralytics'
        ``AutoBackend`` runs such an export.

        Examples
        --------
        >>> net = OnnxRuntimeBackend(Path("yolov8n-batch4.onnx"))        # doctest: +SKIP
        >>> outputs = net.forward(np.zeros((1, 3, 640, 640), np.float32))  # doctest: +SKIP
        >>> net.fixed_batch, [o.shape for o in outputs]                  # doctest: +SKIP
        (4, [(1, 84, 8400)])
        """
        if self.fixed_batch == 1 or blob.shape[0] == self.fixed_batch:
            return self._run(blob)
        return in_fixed_batches(self._run, blob, self.fixed_batch)

    @abstractmethod
    def _run(self, blob: np.ndarray) -> list[np.ndarray]:
        """The backend's own call on a blob of a batch the network takes."""


def in_fixed_batches(run, blob: np.ndarray, batch: int) -> list[np.ndarray]:
    """``run`` (a network taking exactly ``batch`` images) over ``blob`` of any length: slices
    of ``batch`` rows, the last padded with zeros; the outputs cut back to ``len(blob)`` rows.

    Examples
    --------
    >>> def run(b):                     # a network of batch 4: the mean of each image
    ...     assert b.shape[0] == 4
    ...     return [b.mean(axis=(1, 2, 3))[:, None]]
    >>> blob = np.arange(6, dtype=np.float32)[:, None, None, None] * np.ones((6, 3, 2, 2))
    >>> in_fixed_batches(run, blob, 4)[0].ravel().tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    """
    n = blob.shape[0]
    pieces: list[list[np.ndarray]] = []
    for start in range(0, n, batch):
        part = blob[start:start + batch]
        if part.shape[0] < batch:
            part = np.concatenate([part, np.zeros((batch - part.shape[0], *part.shape[1:]),
                                                  part.dtype)])
        outputs = run(part)
        keep = min(batch, n - start)
        pieces.append([out[:keep] for out in outputs])
    if len(pieces) == 1:
        return pieces[0]
    return [np.concatenate(parts) for parts in zip(*pieces, strict=True)]


class OnnxRuntimeBackend(Backend):
    """ONNX Runtime; float16 models are cast on the way in and out.

    Parameters
    ----------
    path : Path
        The ``.onnx`` file.
    threads : int, optional
        Intra-op thread count (ONNX Runtime's default when ``None``).
    device : str or DeviceRequest
        ``cpu`` (default), ``auto``, ``cuda`` or ``cuda:N``.
    half : bool
        Run a float32 model in float16 (converted in memory; needs the ``onnx`` package).

    Examples
    --------
    >>> net = OnnxRuntimeBackend(Path("models/demo-n/model.onnx"), threads=2)  # doctest: +SKIP
    >>> [o.shape for o in net.forward(np.zeros((1, 3, 320, 320), np.float32))]  # doctest: +SKIP
    [(1, 84, 2100)]
    """

    name = "onnxruntime"

    def __init__(self, path: Path, threads: int | None = None,
                 device: str | DeviceRequest = "cpu", half: bool = False):
        self.path = Path(path)
        request = device if isinstance(device, DeviceRequest) else parse_device(device)
        model_bytes = _float16_model(self.path) if half else None
        self.session = _ort_session(self.path, threads, providers=ort_providers(request),
                                    model_bytes=model_bytes)
        self.provider = check_ort_providers(request, list(self.session.get_providers()))
        self.device = "cpu" if self.provider == "CPUExecutionProvider" else f"cuda:{request.index}"
        self.info = _info_from_session(self.session)
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.batch_dynamic = self.info.input_shape[0] is None
        self.fixed_batch = export_batch(self.info.input_shape)

    def _run(self, blob: np.ndarray) -> list[np.ndarray]:
        feed = {self.input_name: blob.astype(self.info.input_dtype, copy=False)}
        try:
            outputs = self.session.run(self.output_names, feed)
        except Exception as exc:
            raise ModelError(f"ONNX Runtime failed to run the model: {_one_line(exc)}",
                             self.path) from None
        return [np.asarray(o, dtype=np.float32) for o in outputs]


def _float16_model(path: Path) -> bytes | None:
    """The model converted to float16 inside (float32 inputs and outputs kept), or ``None``
    when it already takes float16."""
    try:
        import onnx
        from onnxruntime.transformers.float16 import convert_float_to_float16
    except ImportError as exc:
        raise ModelError(f"half=True converts the model with the 'onnx' package, which is not "
                         f"installed ({exc.name}); pip install onnx, or export with "
                         "half=True", path) from None
    model = onnx.load(str(path))
    if model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16:
        return None
    return convert_float_to_float16(model, keep_io_types=True).SerializeToString()


#: OpenCV's Darknet importer on a cfg typo: the word it did not know.
_DARKNET_TYPO = re.compile(r"(Unknown layer type|Unsupported activation): *([^\s']+)")


def _opencv_error(exc: Exception, path: Path, cfg: Path | None = None) -> ModelError:
    text = str(exc)
    typo = _DARKNET_TYPO.search(text) if cfg is not None else None
    if typo:  # the cfg is at fault, not the weights: name it and the line
        return ModelError(f"{typo.group(1).lower()} {typo.group(2)!r}", cfg,
                          cfg_line(cfg, typo.group(2)))
    match = _OPENCV_OP.search(text)
    if match:
        op = match.group(1) or match.group(2)
        return ModelError(f"OpenCV DNN cannot run op '{op}' in this model; "
                          "use --backend onnxruntime (backend='onnxruntime')", path)
    detail = next((ln.strip() for ln in text.splitlines() if "error:" in ln), text.strip())
    return ModelError(f"OpenCV DNN cannot load or run the model: {detail}", path)


def _check_darknet_support(cv2_module) -> None:
    major = int(cv2_module.__version__.split(".")[0])
    if major >= 5 or not hasattr(cv2_module.dnn, "readNetFromDarknet"):
        raise ModelError(
            f"OpenCV {cv2_module.__version__} has no Darknet importer (removed in OpenCV 5); "
            "install OpenCV 4.x with pip install 'opencv-python-headless>=4.10,<5', "
            "or convert the model to ONNX")


class OpenCVBackend(Backend):
    """OpenCV DNN (CPU); reads Darknet cfg + weights and ONNX.

    Parameters
    ----------
    paths : ModelPaths
        The model files.
    threads : int, optional
        Passed to ``cv2.setNumThreads`` (process-wide) when given.
    batch_dynamic : bool
        Whether the network accepts batches larger than one.
    device : str or DeviceRequest
        ``cpu`` (default), ``auto``, ``cuda`` or ``cuda:N`` (OpenCV's CUDA DNN backend).
    half : bool
        float16 target (``DNN_TARGET_CUDA_FP16`` on a GPU, ``DNN_TARGET_CPU_FP16`` on the CPU).
    fixed_batch : int
        The batch of a static-batch ONNX export (:attr:`Backend.fixed_batch`).

    Examples
    --------
    >>> net = OpenCVBackend(set_model_paths("models/yolo-fastest"))     # doctest: +SKIP
    >>> [o.shape for o in net.forward(np.zeros((1, 3, 320, 320), np.float32))]  # doctest: +SKIP
    [(300, 85), (1200, 85)]
    """

    name = "opencv"

    def __init__(self, paths: ModelPaths, threads: int | None = None,
                 batch_dynamic: bool = False, device: str | DeviceRequest = "cpu",
                 half: bool = False, fixed_batch: int = 1):
        import cv2

        self.path = paths.weights
        request = device if isinstance(device, DeviceRequest) else parse_device(device)
        problem = None if request.kind == "cpu" else opencv_cuda_problem(cv2, request.index)
        if problem and request.wants_gpu:
            raise DeviceError(f"device {request}: {problem}", self.path)
        if threads:
            cv2.setNumThreads(int(threads))
        with _OPENCV_LOG_LOCK:
            previous = cv2.utils.logging.getLogLevel()
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
            try:
                if paths.kind == "darknet":
                    _check_darknet_support(cv2)
                    check_darknet_weights(paths.config, paths.weights)
                    self.net = cv2.dnn.readNetFromDarknet(str(paths.config),
                                                          str(paths.weights))
                else:
                    self.net = cv2.dnn.readNetFromONNX(str(paths.weights))
            except cv2.error as exc:
                raise _opencv_error(exc, self.path, paths.config) from None
            finally:
                cv2.utils.logging.setLogLevel(previous)
        if self.net.empty():
            raise ModelError("OpenCV DNN read an empty network", self.path)
        self._set_target(cv2, request, gpu=problem is None and request.kind != "cpu", half=half)
        self.output_names = list(self.net.getUnconnectedOutLayersNames())
        self.batch_dynamic = paths.kind == "darknet" or batch_dynamic
        self.fixed_batch = 1 if self.batch_dynamic else max(1, int(fixed_batch))

    def _set_target(self, cv2, request: DeviceRequest, *, gpu: bool, half: bool) -> None:
        if gpu:
            cv2.cuda.setDevice(request.index)
            self.net.setPreferableBackend(cv2.dnn.DNN_BACKEND_CUDA)
            self.net.setPreferableTarget(cv2.dnn.DNN_TARGET_CUDA_FP16 if half
                                         else cv2.dnn.DNN_TARGET_CUDA)
            self.device, self.provider = f"cuda:{request.index}", "CUDA"
            return
        self.net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        cpu_fp16 = getattr(cv2.dnn, "DNN_TARGET_CPU_FP16", None)
        if half and cpu_fp16 is None:
            raise ModelError(f"OpenCV {cv2.__version__} has no float16 CPU target; drop half",
                             self.path)
        self.net.setPreferableTarget(cpu_fp16 if half else cv2.dnn.DNN_TARGET_CPU)

    def _run(self, blob: np.ndarray) -> list[np.ndarray]:
        import cv2

        try:
            self.net.setInput(blob.astype(np.float32, copy=False))
            outputs = self.net.forward(self.output_names)
        except cv2.error as exc:
            raise _opencv_error(exc, self.path) from None
        return [np.asarray(o, dtype=np.float32) for o in outputs]


@dataclass(frozen=True)
class _Settings:
    threads: int | None
    batch_dynamic: bool
    device: DeviceRequest
    half: bool
    fixed_batch: int = 1


def _open(kind: str, paths: ModelPaths, settings: _Settings) -> Backend:
    if kind == "onnxruntime":
        if paths.kind == "darknet":
            raise ModelError("ONNX Runtime reads only .onnx models, this is Darknet cfg + weights; "
                             "use --backend opencv", paths.weights)
        return OnnxRuntimeBackend(paths.weights, settings.threads, settings.device, settings.half)
    return OpenCVBackend(paths, settings.threads, settings.batch_dynamic, settings.device,
                         settings.half, settings.fixed_batch)


def _opened_and_probed(kind: str, paths: ModelPaths, settings: _Settings,
                       probe: np.ndarray) -> tuple[Backend, list[np.ndarray]]:
    backend = _open(kind, paths, settings)
    return backend, backend.forward(probe)


def open_backend(paths: ModelPaths, backend: str, probe: np.ndarray, *,
                 threads: int | None = None, batch_dynamic: bool = False,
                 device: str | DeviceRequest = "cpu", half: bool = False,
                 fixed_batch: int = 1) -> tuple[Backend, list[np.ndarray]]:
    """Open ``backend`` for the model and run ``probe`` through it.

    Parameters
    ----------
    paths : ModelPaths
        The model files.
    backend : {"auto", "opencv", "onnxruntime"}
        ``auto`` tries ONNX Runtime then OpenCV for ONNX, OpenCV then ONNX Runtime otherwise,
        warning once (:class:`ModelWarning`) when it falls back.
    probe : numpy.ndarray
        An NCHW float32 blob of the model's input size.
    threads : int, optional
        Thread count for the backend.
    batch_dynamic : bool
        Whether the ONNX input has a dynamic batch axis (for OpenCV).
    device : str or DeviceRequest
        ``cpu``, ``auto``, ``cuda`` or ``cuda:N`` (:mod:`tecktrack.model.device`). A device the
        first backend cannot use is an error, never a reason to fall back.
    half : bool
        Run in float16.
    fixed_batch : int
        The batch of a static-batch ONNX export, for OpenCV (ONNX Runtime reads it itself).

    Returns
    -------
    (Backend, outputs of the probe)

    Raises
    ------
    ModelError
        If the backend name is unknown or no backend can load and run the model.

    Examples
    --------
    >>> probe = np.zeros((1, 3, 320, 320), np.float32)
    >>> net, outputs = open_backend(set_model_paths("demo-n"), "auto", probe)  # doctest: +SKIP
    >>> net.name                                                          # doctest: +SKIP
    'onnxruntime'
    """
    if backend not in BACKENDS:
        raise ModelError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    request = device if isinstance(device, DeviceRequest) else parse_device(device)
    settings = _Settings(threads, batch_dynamic, request, bool(half), fixed_batch)
    if backend != "auto":
        return _opened_and_probed(backend, paths, settings, probe)
    first, second = (("onnxruntime", "opencv") if paths.kind == "onnx"
                     else ("opencv", "onnxruntime"))
    try:
        return _opened_and_probed(first, paths, settings, probe)
    except ModelError as first_error:
        if paths.kind == "darknet" or isinstance(first_error, DeviceError):
            raise
        try:
            opened = _opened_and_probed(second, paths, settings, probe)
        except ModelError as second_error:
            raise ModelError(f"no backend can run the model. {first}: {first_error.message}; "
                             f"{second}: {second_error.message}", paths.weights) from None
        warnings.warn(f"{paths.weights}: {first} could not load the model "
                      f"({first_error.message}); using {second} instead", ModelWarning,
                      stacklevel=3)
        return opened
