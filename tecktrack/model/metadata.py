"""What a model says about itself: ``model.yaml``, ``*.names``, ONNX metadata, Darknet cfg.

Class names are taken with the precedence ``model.yaml`` > names file > ONNX metadata
(as Ultralytics writes it) > generic ``class_<id>`` names (decided later, once the number
of classes is known from the network output).
"""

from __future__ import annotations

import ast
import configparser
import difflib
from dataclasses import dataclass
from pathlib import Path

import yaml

from tecktrack.errors import FormatError, ModelError
from tecktrack.model.darknet_weights import cfg_sections

__all__ = [
    "LAYOUTS",
    "ModelConfig",
    "parse_names",
    "parse_ultralytics_metadata",
    "read_darknet_input_size",
    "read_model_yaml",
    "read_names_file",
]

#: Output layouts TeckTrack decodes (``yolo11`` is accepted as an alias of ``yolov8``,
#: ``yolov10`` / ``yolo26`` / ``nms`` of ``end2end``).
LAYOUTS = ("darknet", "yolov5", "yolov8", "end2end")
_LAYOUT_ALIASES = {"yolo11": "yolov8", "yolov11": "yolov8", "yolov3": "darknet",
                   "yolov4": "darknet", "yolov10": "end2end", "yolo26": "end2end",
                   "yolov26": "end2end", "nms": "end2end", "e2e": "end2end"}
_YAML_KEYS = frozenset({"names", "input_size", "layout", "letterbox"})


@dataclass(frozen=True)
class ModelConfig:
    """Settings gathered from the files around a model (every field optional).

    Attributes
    ----------
    names : list of str or None
        Class names, index = class id.
    names_source : str or None
        Where ``names`` came from (a file name or ``"ONNX metadata"``), for error messages.
    input_size : tuple of int or None
        Network input ``(width, height)``.
    layout : str or None
        One of :data:`LAYOUTS`; ``None`` means detect from the output shapes.
    letterbox : bool or None
        Letterbox (True) or stretched resize (False); ``None`` means the default.
    stride : int or None
        Largest network stride (Ultralytics metadata), used to round dynamic input sizes.
    task : str or None
        Ultralytics task (``detect``, ``segment``...).
    end2end : bool
        The metadata says the output is already through NMS (``end2end: True``, or an
        ``nms=True`` export's ``args``).
    ultralytics : bool
        The metadata was written by the Ultralytics exporter (``author`` or ``task`` set).
    nms_inside : bool
        An ``nms=True`` export: its NMS is unrolled for the export batch, so even a dynamic
        batch axis takes one frame at a time (Ultralytics runs such a graph in chunks of its
        export batch; a batch of 4 through it gave the first frame's boxes and three empty).
    dynamic : bool or None
        The export's ``dynamic`` argument (``None`` when its ``args`` do not say).
    """

    names: list[str] | None = None
    names_source: str | None = None
    input_size: tuple[int, int] | None = None
    layout: str | None = None
    letterbox: bool | None = None
    stride: int | None = None
    task: str | None = None
    end2end: bool = False
    ultralytics: bool = False
    nms_inside: bool = False
    dynamic: bool | None = None


def parse_names(value: object, source: str | Path, field: str = "names") -> list[str]:
    """Class names from a list, or a dict ``{id: name}`` with ids 0..n-1.

    Examples
    --------
    >>> parse_names({1: "b", 0: "a"}, "model.yaml")
    ['a', 'b']
    >>> parse_names(["x", "y"], "model.yaml")
    ['x', 'y']
    """
    if isinstance(value, dict):
        try:
            ids = sorted(int(k) for k in value)
        except (TypeError, ValueError):
            raise FormatError(f"'{field}' keys must be integer class ids", source) from None
        if ids != list(range(len(ids))):
            raise FormatError(f"'{field}' ids must be 0..{len(ids) - 1} without gaps, got {ids}",
                              source)
        by_id = {int(k): v for k, v in value.items()}
        value = [by_id[i] for i in ids]
    if not isinstance(value, (list, tuple)) or not value:
        raise FormatError(f"'{field}' must be a non-empty list or {{id: name}} mapping", source)
    return [str(v) for v in value]


def _size_pair(value: object, source: Path, field: str) -> tuple[int, int]:
    pair = [value, value] if isinstance(value, int) else value
    if (not isinstance(pair, (list, tuple)) or len(pair) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in pair)):
        raise FormatError(f"'{field}' must be a positive integer or [width, height], got {value!r}",
                          source)
    return int(pair[0]), int(pair[1])


def normalise_layout(value: object, source: str | Path, field: str = "layout") -> str:
    """Check a layout name and map aliases (``yolo11`` -> ``yolov8``).

    Examples
    --------
    >>> normalise_layout("YOLO11", "model.yaml")
    'yolov8'
    """
    name = str(value).lower()
    name = _LAYOUT_ALIASES.get(name, name)
    if name not in LAYOUTS:
        raise FormatError(f"'{field}' must be one of {', '.join(LAYOUTS)}, got {value!r}", source)
    return name


def _check_misspelt_keys(data: dict, path: Path) -> None:
    """Other keys (provenance such as ``training:``) are kept out of the way, typos are not."""
    for key in map(str, data):
        close = difflib.get_close_matches(key, sorted(_YAML_KEYS), n=1, cutoff=0.75)
        if key not in _YAML_KEYS and close:
            raise FormatError(f"unknown key '{key}' (did you mean '{close[0]}'?)", path)


def read_model_yaml(path: str | Path) -> ModelConfig:
    """Read ``model.yaml`` (keys ``names``, ``input_size``, ``layout``, ``letterbox``).

    ``input_size`` is an integer (square) or ``[width, height]``. Other keys (for example
    ``training:`` provenance) are ignored, unless they look like a misspelt known key.

    Raises
    ------
    FormatError
        Naming the file and the field that is wrong.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "model.yaml"
    >>> _ = p.write_text("names: [cat, dog]\\ninput_size: [320, 256]\\nletterbox: false\\n")
    >>> c = read_model_yaml(p)
    >>> c.names, c.input_size, c.letterbox, c.layout
    (['cat', 'dog'], (320, 256), False, None)
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise FormatError(f"cannot read model.yaml: {exc.__class__.__name__}", path,
                          None if line is None else line + 1) from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise FormatError("model.yaml must be a mapping of keys to values", path)
    _check_misspelt_keys(data, path)
    letterbox = data.get("letterbox")
    if letterbox is not None and not isinstance(letterbox, bool):
        raise FormatError(f"'letterbox' must be true or false, got {letterbox!r}", path)
    return ModelConfig(
        names=parse_names(data["names"], path) if "names" in data else None,
        names_source=str(path) if "names" in data else None,
        input_size=_size_pair(data["input_size"], path, "input_size")
        if "input_size" in data else None,
        layout=normalise_layout(data["layout"], path) if "layout" in data else None,
        letterbox=letterbox,
    )


def read_names_file(path: str | Path) -> list[str]:
    """Class names from a ``*.names`` file: one a line, blank lines ignored.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "coco.names"
    >>> _ = p.write_text("person\\nbicycle\\n\\n")
    >>> read_names_file(p)
    ['person', 'bicycle']
    """
    path = Path(path)
    try:
        names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"cannot read names file: {exc.__class__.__name__}", path) from None
    names = [n for n in names if n]
    if not names:
        raise FormatError("names file has no class names", path)
    return names


def _literal(value: str, key: str, source: str) -> object:
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise FormatError(f"ONNX metadata '{key}' is not a Python literal: {value[:60]!r}",
                          source) from None


def parse_ultralytics_metadata(props: dict[str, str], source: str | Path) -> ModelConfig:
    """Class names, input size, stride and task from Ultralytics ONNX ``metadata_props``.

    Values are Python literals (``names`` is ``"{0: 'person', ...}"``, ``imgsz`` is
    ``"[height, width]"``); they are parsed with :func:`ast.literal_eval`, never ``eval``.

    Examples
    --------
    >>> c = parse_ultralytics_metadata({"names": "{0: 'a', 1: 'b'}", "imgsz": "[480, 640]",
    ...                                 "stride": "32", "task": "detect"}, "m.onnx")
    >>> c.names, c.input_size, c.stride, c.task, c.end2end
    (['a', 'b'], (640, 480), 32, 'detect', False)
    >>> parse_ultralytics_metadata({"args": "{'batch': 1, 'nms': True}"}, "m.onnx").end2end
    True
    """
    source = str(source)
    names = stride = size = None
    args = _export_args(props)
    nms_inside = bool(args.get("nms"))
    end2end = _is_end2end(props, source, nms_inside)
    if "names" in props:
        names = parse_names(_literal(props["names"], "names", source), source, "names")
    if "imgsz" in props:
        value = _literal(props["imgsz"], "imgsz", source)
        height, width = _size_pair(list(value) if isinstance(value, tuple) else value,
                                   Path(source), "imgsz")
        size = (width, height)
    if "stride" in props:
        value = _literal(props["stride"], "stride", source)
        stride = int(max(value)) if isinstance(value, (list, tuple)) else int(value)
    ultralytics = "task" in props or "Ultralytics" in str(props.get("author", ""))
    return ModelConfig(names=names, names_source="ONNX metadata" if names else None,
                       input_size=size, stride=stride, task=props.get("task"), end2end=end2end,
                       ultralytics=ultralytics, nms_inside=nms_inside,
                       dynamic=bool(args["dynamic"]) if "dynamic" in args else None)


def _export_args(props: dict[str, str]) -> dict:
    """The exporter's ``args`` (``{}`` when absent or unreadable: export settings only, a
    value we cannot read says nothing about the output)."""
    try:
        args = ast.literal_eval(props.get("args", "{}"))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return {}
    return args if isinstance(args, dict) else {}


def _is_end2end(props: dict[str, str], source: str, nms_inside: bool) -> bool:
    """Ultralytics' own rule: ``end2end`` true, or ``args`` holding ``nms: True``."""
    flag = _literal(props["end2end"], "end2end", source) if "end2end" in props else False
    return bool(flag) or nms_inside


def read_darknet_input_size(cfg: str | Path) -> tuple[int, int] | None:
    """``(width, height)`` from the ``[net]`` section of a Darknet cfg, if present.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "a.cfg"
    >>> _ = p.write_text("[net]\\nwidth=320\\nheight=256\\n[convolutional]\\nsize=3\\n")
    >>> read_darknet_input_size(p)
    (320, 256)
    """
    cfg = Path(cfg)
    parser = configparser.ConfigParser(strict=False, inline_comment_prefixes=("#", ";"))
    try:
        text = cfg.read_text(encoding="utf-8", errors="replace")
        header = text.split("[", 2)
        parser.read_string("[" + header[1] if len(header) > 1 else "")
    except (OSError, configparser.Error):
        return None
    section = next((s for s in parser.sections() if s.strip() in ("net", "network")), None)
    if section is None:
        return None
    values = parser[section]
    if "width" not in values or "height" not in values:
        return None
    size = []
    for key in ("width", "height"):
        try:
            size.append(int(values[key]))
        except ValueError:  # a typo (16O) would leave the default 640 in its place, silently
            raise ModelError(f"[net] {key}: expected a whole number, got {values[key]!r}", cfg,
                             cfg_sections(text)[0].lines.get(key)) from None
    return size[0], size[1]
