"""YOLO detectors: model folder discovery, backends, output decoders, the :class:`Model`.

>>> from tecktrack.model import load_model
>>> model = load_model("demo-n")                                      # doctest: +SKIP
>>> detections = model.predict(frame_bgr)                             # doctest: +SKIP
"""

from tecktrack.model.backends import BACKENDS, ModelWarning
from tecktrack.model.core import Model, write_image
from tecktrack.model.discovery import ModelPaths, find_file_with_extension, set_model_paths
from tecktrack.model.loader import load_model, parse_imgsz
from tecktrack.model.metadata import LAYOUTS
from tecktrack.model.preprocess import FrameInfo

__all__ = [
    "BACKENDS",
    "LAYOUTS",
    "FrameInfo",
    "Model",
    "ModelPaths",
    "ModelWarning",
    "find_file_with_extension",
    "load_model",
    "parse_imgsz",
    "set_model_paths",
    "write_image",
]
