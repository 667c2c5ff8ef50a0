""":func:`load_model`: gather names, input size and layout, open a backend, build a Model."""

from __future__ import annotations

import difflib
import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tecktrack.errors import ModelError
from tecktrack.model.backends import (
    ModelWarning,
    OnnxInfo,
    export_batch,
    inspect_onnx,
    open_backend,
)
from tecktrack.model.core import Model
from tecktrack.model.decoders import infer_layout
from tecktrack.model.discovery import ModelPaths, set_model_paths
from tecktrack.model.metadata import (
    ModelConfig,
    parse_ultralytics_metadata,
    read_darknet_input_size,
    read_model_yaml,
    read_names_file,
)

__all__ = ["DARKNET_IOU", "DEFAULT_INPUT", "ULTRALYTICS_IOU", "default_iou", "load_model",
           "parse_imgsz", "resolve_classes"]

#: Input size used when neither the model nor its files name one.
DEFAULT_INPUT = 640
_DEFAULT_STRIDE = 32
#: NMS IoU defaults: Ultralytics' own (``iou: 0.7`` in its default.yaml) for models its
#: exporter wrote, the Darknet / OpenCV habit for everything else.
ULTRALYTICS_IOU = 0.7
DARKNET_IOU = 0.45
#: Ultralytics' per-class coordinate offset for class-aware NMS (``max_wh``).
ULTRALYTICS_MAX_WH = 7680.0
#: Classes an end-to-end output without class names is given names for (COCO's count).
_UNNAMED_END2END_CLASSES = 80


def parse_imgsz(value: int | str | tuple[int, int] | None) -> tuple[int, int] | None:
    """Normalise an input size: ``640``, ``"640"``, ``"640x480"`` or ``(640, 480)`` (W, H).

    Examples
    --------
    >>> parse_imgsz("640x480"), parse_imgsz(320), parse_imgsz(None)
    ((640, 480), (320, 320), None)
    """
    if value is None:
        return None
    if isinstance(value, str):
        parts = value.lower().replace(",", "x").split("x")
        try:
            value = tuple(int(p) for p in parts) if len(parts) == 2 else int(parts[0])
        except ValueError:
            raise ModelError(f"imgsz must be N or WxH, got {value!r}") from None
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(int(v) > 0 for v in pair):
        raise ModelError(f"imgsz must be positive N or (width, height), got {value!r}")
    return int(pair[0]), int(pair[1])


def _onnx_details(paths: ModelPaths) -> tuple[OnnxInfo | None, ModelConfig]:
    if paths.kind != "onnx":
        return None, ModelConfig()
    try:
        info = inspect_onnx(paths.weights)
    except ModelError:  # the chosen backend reports the real problem (or OpenCV can read it)
        return None, ModelConfig()
    meta = parse_ultralytics_metadata(info.metadata, paths.weights)
    if meta.task not in (None, "detect"):
        raise ModelError(f"Ultralytics task '{meta.task}' is not supported; TeckTrack runs "
                         "detection models only: export a detection ('detect') model",
                         paths.weights)
    return info, meta


def _round_to_stride(size: tuple[int, int], stride: int, source: Path) -> tuple[int, int]:
    rounded = tuple(int(math.ceil(v / stride) * stride) for v in size)
    if rounded != size:
        warnings.warn(f"{source}: input size {size[0]}x{size[1]} is not a multiple of stride "
                      f"{stride}; using {rounded[0]}x{rounded[1]}", ModelWarning, stacklevel=4)
    return rounded  # type: ignore[return-value]


def _input_size(paths: ModelPaths, info: OnnxInfo | None, yaml_cfg: ModelConfig,
                meta: ModelConfig, imgsz: tuple[int, int] | None) -> tuple[int, int]:
    fixed_w = info.input_shape[3] if info else None
    fixed_h = info.input_shape[2] if info else None
    if fixed_w and fixed_h:
        fixed = (fixed_w, fixed_h)
        for wanted, where in ((imgsz, "imgsz"), (yaml_cfg.input_size, "model.yaml input_size")):
            if wanted is not None and wanted != fixed:
                raise ModelError(f"the model's input is fixed at {fixed_w}x{fixed_h}; {where} "
                                 f"{wanted[0]}x{wanted[1]} cannot be used (re-export with "
                                 "dynamic axes)", paths.weights)
        return fixed
    darknet = read_darknet_input_size(paths.config) if paths.config else None
    size = imgsz or yaml_cfg.input_size or meta.input_size or darknet or (DEFAULT_INPUT,) * 2
    size = (fixed_w or size[0], fixed_h or size[1])
    return _round_to_stride(size, meta.stride or _DEFAULT_STRIDE, paths.weights)


def _metadata_layout(meta: ModelConfig, shapes: list[tuple], n_names: int | None) -> str | None:
    # Only the Ultralytics package writes 'task'; its raw detect exports use the YOLOv8 layout
    # (the original YOLOv5 repository writes names/stride without a task), its nms=True and
    # NMS-free (YOLOv10, YOLO26) exports the end-to-end rows. Exporters before 'end2end' was
    # written still give (1, 300, 6): a 6-wide output that is not 4 + nc rows is end-to-end.
    if meta.end2end:
        return "end2end"
    if meta.task != "detect":
        return None
    single = shapes[0] if len(shapes) == 1 and len(shapes[0]) == 3 else None
    if single is not None and single[2] == 6 and single[1] != (n_names or 0) + 4:
        return "end2end"
    return "yolov8"


def default_iou(paths: ModelPaths, meta: ModelConfig) -> float:
    """The NMS IoU a model gets when none is given: 0.7 for Ultralytics exports, else 0.45.

    Examples
    --------
    >>> from tecktrack.model.metadata import ModelConfig
    >>> default_iou(None, ModelConfig(task="detect", ultralytics=True))
    0.7
    """
    return ULTRALYTICS_IOU if meta.ultralytics else DARKNET_IOU


def resolve_classes(classes: Sequence[int | str] | str | None,
                    names: list[str]) -> tuple[int, ...] | None:
    """Class ids from ids or names (``"person,car"``, ``[0, "car"]``); ``None`` keeps all.

    Raises
    ------
    ModelError
        An id out of range or a name the model does not have (with the closest names).

    Examples
    --------
    >>> resolve_classes("person, 2", ["person", "bicycle", "car"])
    (0, 2)
    """
    if classes is None:
        return None
    items = [c.strip() for c in classes.split(",")] if isinstance(classes, str) else list(classes)
    ids = []
    for item in items:
        text = str(item).strip()
        if text.lstrip("-").isdigit():
            value = int(text)
            if not 0 <= value < len(names):
                raise ModelError(f"class id {value} is out of range: the model has "
                                 f"{len(names)} classes (0..{len(names) - 1})")
        elif text in names:
            value = names.index(text)
        else:
            close = difflib.get_close_matches(text, names, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ModelError(f"the model has no class named {text!r}{hint}")
        ids.append(value)
    return tuple(dict.fromkeys(ids))


def _check_thresholds(conf: float, iou: float) -> None:
    for name, value in (("conf", conf), ("iou", iou)):
        if not 0.0 <= float(value) <= 1.0:
            raise ModelError(f"{name} must lie in [0, 1], got {value}")


def _class_names(yaml_cfg: ModelConfig, names_file: list[str] | None, paths: ModelPaths,
                 meta: ModelConfig) -> tuple[list[str] | None, str | None]:
    if yaml_cfg.names is not None:
        return yaml_cfg.names, yaml_cfg.names_source
    if names_file is not None:
        return names_file, str(paths.names_file)
    return meta.names, meta.names_source


def _checked_names(names: list[str] | None, source: str | None, nc: int | None, layout: str,
                   paths: ModelPaths) -> list[str]:
    if names is None and nc is None:
        nc = _UNNAMED_END2END_CLASSES
        warnings.warn(f"{paths.weights}: an end-to-end output does not say how many classes it "
                      f"has and no class names were found (model.yaml, *.names or ONNX "
                      f"metadata); naming ids class_0..class_{nc - 1}", ModelWarning,
                      stacklevel=4)
        return [f"class_{i}" for i in range(nc)]
    if names is None:
        warnings.warn(f"{paths.weights}: no class names (model.yaml, *.names or ONNX metadata); "
                      f"using class_0..class_{nc - 1}", ModelWarning, stacklevel=4)
        return [f"class_{i}" for i in range(nc)]
    if nc is not None and len(names) != nc:
        raise ModelError(f"{len(names)} class names given but the network outputs {nc} classes "
                         f"({layout} layout); fix the names or the model", source)
    return names


def load_model(name_or_path: str | Path, *, backend: str = "auto", conf: float = 0.25,
               iou: float | None = None, imgsz: int | str | tuple[int, int] | None = None,
               threads: int | None = None, max_det: int = 300, agnostic: bool = False,
               classes: Sequence[int | str] | str | None = None, device: str = "cpu",
               half: bool = False) -> Model:
    """Open a YOLO detector by model name (``models/<name>``) or any folder/.onnx/.cfg path.

    Class names come from ``model.yaml`` > a ``*.names`` file > Ultralytics ONNX metadata >
    generic ``class_<id>`` (with a :class:`ModelWarning`). The layout is detected from the
    output shapes of a probe forward pass unless ``model.yaml`` sets ``layout``.

    Parameters
    ----------
    name_or_path : str or Path
        Model name or path.
    backend : {"auto", "opencv", "onnxruntime"}
        ``auto``: ONNX Runtime for ONNX, OpenCV for Darknet, falling back once with a warning.
    conf : float
        Score threshold for :meth:`Model.predict`.
    iou : float, optional
        NMS IoU threshold; ``None`` takes the model's default: 0.7 (Ultralytics' own) for
        Ultralytics exports, 0.45 for Darknet and other models.
    imgsz : int, str or (width, height), optional
        Input size for models with dynamic height/width (rounded up to the stride).
    threads : int, optional
        Backend thread count.
    max_det : int
        Most detections kept per image after NMS (300, as Ultralytics).
    agnostic : bool
        Class-agnostic NMS.
    classes : ids or names, optional
        Keep only these classes (a list, or a comma-separated string).
    device : {"cpu", "auto", "cuda", "cuda:N"}
        Where the network runs (:mod:`tecktrack.model.device`); ``model.device`` and
        ``model.backend.provider`` say where it did.
    half : bool
        Run in float16 (ONNX Runtime converts a float32 model in memory).

    Returns
    -------
    Model

    Raises
    ------
    ModelError, FormatError
        Missing/corrupt model files, names count not matching the network, unsupported ops.

    Examples
    --------
    >>> model = load_model("demo-n", conf=0.3)                        # doctest: +SKIP
    >>> model.names[:2], model.input_size                            # doctest: +SKIP
    (['circle', 'square'], (320, 320))
    """
    paths = set_model_paths(name_or_path)
    yaml_cfg = read_model_yaml(paths.model_yaml) if paths.model_yaml else ModelConfig()
    names_file = read_names_file(paths.names_file) if paths.names_file else None
    info, meta = _onnx_details(paths)
    size = _input_size(paths, info, yaml_cfg, meta, parse_imgsz(imgsz))
    probe = np.zeros((1, 3, size[1], size[0]), np.float32)
    iou = default_iou(paths, meta) if iou is None else iou
    _check_thresholds(conf, iou)
    _check_max_det(max_det)
    net, outputs = open_backend(paths, backend, probe, threads=threads,
                                batch_dynamic=bool(info and info.input_shape[0] is None),
                                device=device, half=half,
                                fixed_batch=export_batch(info.input_shape) if info else 1)
    if meta.nms_inside:  # its NMS is unrolled for the export batch: one frame at a time
        net.batch_dynamic = False
    names, source = _class_names(yaml_cfg, names_file, paths, meta)
    n_names = None if names is None else len(names)
    shapes = [tuple(o.shape) for o in outputs]
    layout, nc = infer_layout(shapes, yaml_cfg.layout or _metadata_layout(meta, shapes, n_names),
                              n_names, size)
    names = _checked_names(names, source, nc, layout, paths)
    letterboxed = yaml_cfg.letterbox if yaml_cfg.letterbox is not None else paths.kind == "onnx"
    model = Model(paths=paths, backend=net, names=names, layout=layout, input_size=size,
                  letterbox=letterboxed, conf=conf, iou=iou, max_det=max_det, agnostic=agnostic,
                  classes=resolve_classes(classes, names),
                  class_offset=ULTRALYTICS_MAX_WH if meta.ultralytics else None)
    model.half = bool(half)
    model.stride = meta.stride or _DEFAULT_STRIDE
    model.free_size = bool(info and info.input_shape[2:] == (None, None))
    model.rect = letterboxed and model.free_size and _ultralytics_dynamic(meta, info)
    return model


def _ultralytics_dynamic(meta: ModelConfig, info: OnnxInfo) -> bool:
    """An Ultralytics ``dynamic=True`` export (its ``args`` say so; without them, a dynamic
    batch axis, as Ultralytics decides): Ultralytics' predict pads such a network's input
    only to the stride (``rect``) when its height and width are free."""
    if not meta.ultralytics:
        return False
    return meta.dynamic if meta.dynamic is not None else info.input_shape[0] is None


def _check_max_det(max_det: int) -> None:
    if isinstance(max_det, bool) or int(max_det) != max_det or max_det < 1:
        raise ModelError(f"max_det must be a positive integer, got {max_det}")
