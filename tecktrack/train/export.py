"""Export a trained demo detector: ``model.onnx`` (YOLOv8 layout) and ``model.yaml``."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
import yaml

from tecktrack.train.net import DemoDetector, ExportWrapper

__all__ = ["OPSET", "export_onnx", "write_model_yaml"]

#: ONNX opset of the export.
OPSET = 17


def export_onnx(net: DemoDetector, path: str | Path, input_size: int) -> Path:
    """Write ``net`` as ONNX: input ``images`` (1, 3, S, S), output ``output0`` (1, 4+nc, N).

    Output rows 0-3 are ``cx, cy, w, h`` in network-input pixels, rows 4.. sigmoid class
    probabilities; the input is float32 RGB in [0, 1], plain-resized to ``S x S``.

    Examples
    --------
    >>> import tempfile
    >>> from tecktrack.train.net import build_net
    >>> p = export_onnx(build_net("n", 2), Path(tempfile.mkdtemp()) / "m.onnx", 64)
    >>> p.stat().st_size > 0
    True
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wrapper = ExportWrapper(net.eval(), input_size, input_size).eval()
    dummy = torch.zeros(1, 3, input_size, input_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(wrapper, (dummy,), str(path), input_names=["images"],
                          output_names=["output0"], opset_version=OPSET, dynamo=False,
                          do_constant_folding=True)
    return path


def write_model_yaml(folder: str | Path, names: list[str], input_size: int,
                     training: dict[str, object]) -> Path:
    """Write ``model.yaml``: names, input size, layout, letterbox and training provenance.

    Parameters
    ----------
    folder : str or Path
        The model folder (beside ``model.onnx``).
    names : list of str
        Class names, index = class id.
    input_size : int
        Square network input side in pixels.
    training : dict
        Provenance written under ``training:`` (seed, command, val metrics ...).

    Examples
    --------
    >>> import tempfile
    >>> p = write_model_yaml(tempfile.mkdtemp(), ["a"], 320, {"seed": 0})
    >>> yaml.safe_load(p.read_text())["layout"]
    'yolov8'
    """
    path = Path(folder) / "model.yaml"
    data = {"names": list(names), "input_size": int(input_size), "layout": "yolov8",
            "letterbox": False, "training": training}
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path
