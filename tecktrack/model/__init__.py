"""Detector: model folder discovery, backends, output decoders, NMS, the :class:`Model`.

>>> from tecktrack.model import load_model
>>> model = load_model("demo-n")                                      # doctest: +SKIP
>>> detections = model.predict(frame_bgr)                             # doctest: +SKIP
"""

from tecktrack.model.backends import BACKENDS, ModelWarning
from tecktrack.model.core import Model
from tecktrack.model.discovery import ModelPaths, find_file_with_extension, set_model_paths
from tecktrack.model.loader import load_model, parse_imgsz
from tecktrack.model.metadata import LAYOUTS
from tecktrack.model.nms import NMS, nms_indices, soft_nms
from tecktrack.model.preprocess import FrameInfo
from tecktrack.model.protocol import Detector
from tecktrack.model.spec import ModelSpec

__all__ = [
    "BACKENDS",
    "LAYOUTS",
    "NMS",
    "Detector",
    "FrameInfo",
    "Model",
    "ModelPaths",
    "ModelSpec",
    "ModelWarning",
    "find_file_with_extension",
    "load_model",
    "nms_indices",
    "parse_imgsz",
    "set_model_paths",
    "soft_nms",
]
