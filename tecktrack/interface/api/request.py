"""Validate a ``POST /run_inference`` body into a :class:`RunRequest`, or refuse it clearly.

Everything the HTTP API accepts is checked here, before any file is opened or model loaded:
field names and types, number ranges, the model name (a folder under the models root), and
the source, which is either ``udp://host:port`` or a file/folder inside one of the allowed
data roots after resolving symlinks (``..`` is refused outright).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from tecktrack.errors import TeckTrackError

__all__ = ["FIELDS", "RequestError", "RunRequest", "list_models", "parse_json_body",
           "parse_run_request"]

#: Accepted fields with (type, default, low, high); ``None`` default = required.
FIELDS: dict[str, tuple[type, Any, float | None, float | None]] = {
    "source": (str, None, None, None),
    "model": (str, None, None, None),
    "drop_rate": (int, 1, 1, 1000),
    "conf": (float, 0.25, 0.0, 1.0),
    "iou": (float, 0.45, 0.0, 1.0),
    "save_frames": (bool, False, None, None),
    "timeout": (float, 5.0, 0.1, 60.0),
    "track": (bool, False, None, None),
}


class RequestError(TeckTrackError):
    """A request the API refuses: HTTP ``status``, the offending ``field`` and why.

    Examples
    --------
    >>> e = RequestError("must be >= 1", field="drop_rate")
    >>> e.status, e.to_json()
    (400, {'error': 'drop_rate: must be >= 1', 'field': 'drop_rate'})
    """

    def __init__(self, message: str, *, status: int = 400, field: str | None = None):
        self.status = status
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)

    def to_json(self) -> dict[str, Any]:
        """The JSON error body."""
        return {"error": str(self), "field": self.field}


@dataclass(frozen=True)
class RunRequest:
    """A validated run: ``source`` is a resolved path or a ``udp://`` URL."""

    source: str
    model: Path
    drop_rate: int = 1
    conf: float = 0.25
    iou: float = 0.45
    save_frames: bool = False
    timeout: float = 5.0
    track: bool = False


def parse_json_body(raw: bytes) -> Any:
    """Decode a UTF-8 JSON body, naming line and column when it is malformed.

    Examples
    --------
    >>> parse_json_body(b'{"a": 1}')
    {'a': 1}
    >>> parse_json_body(b'{"a": }')
    Traceback (most recent call last):
    ...
    tecktrack.interface.api.request.RequestError: malformed JSON at line 1 column 7: Expecting value
    """
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RequestError(f"body is not UTF-8: {exc.reason}") from None
    except json.JSONDecodeError as exc:
        raise RequestError(f"malformed JSON at line {exc.lineno} column {exc.colno}: "
                           f"{exc.msg}") from None


def list_models(models_root: Path) -> list[str]:
    """Names of the model folders (those holding a ``.onnx`` or Darknet ``.cfg``).

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp()); (root / "m").mkdir(); (root / "empty").mkdir()
    >>> _ = (root / "m" / "model.onnx").write_bytes(b"")
    >>> list_models(root)
    ['m']
    """
    if not models_root.is_dir():
        return []
    return sorted(d.name for d in models_root.iterdir()
                  if d.is_dir() and not d.name.startswith(".")
                  and any(f.suffix in (".onnx", ".cfg") for f in d.iterdir()))


def _typed(name: str, value: Any) -> Any:
    kind, _, low, high = FIELDS[name]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is not bool and isinstance(value, bool) or not isinstance(value, kind):
        raise RequestError(f"must be {kind.__name__}, got {type(value).__name__}", field=name)
    if kind is float and not math.isfinite(value):
        raise RequestError("must be a finite number", field=name)
    if low is not None and not low <= value <= high:
        raise RequestError(f"must be in [{low:g}, {high:g}], got {value}", field=name)
    return value


def _model_folder(name: str, models_root: Path) -> Path:
    available = list_models(models_root)
    if name not in available:
        raise RequestError(f"unknown model {name!r}; available: {available}", status=404,
                           field="model")
    return models_root / name


def _inside(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def _source(raw: str, data_roots: tuple[Path, ...]) -> str:
    from tecktrack.errors import StreamError
    from tecktrack.inference.udp_url import parse_udp_url

    if "://" in raw:
        try:
            return parse_udp_url(raw).url
        except StreamError as exc:
            raise RequestError(f"only udp://host:port URLs are accepted ({exc.message})",
                               field="source") from None
    if not raw or raw.strip().isdigit():
        raise RequestError("camera indices and empty paths are not accepted over HTTP",
                           field="source")
    if ".." in PurePath(raw).parts:
        raise RequestError("'..' is not allowed in paths", status=403, field="source")
    roots = tuple(root.resolve() for root in data_roots)
    candidates = [Path(raw)] if Path(raw).is_absolute() else [root / raw for root in roots]
    for candidate in candidates:
        resolved = candidate.resolve()
        if not _inside(resolved, roots):
            raise RequestError("path is outside the allowed data roots (symlinks are "
                               "resolved first)", status=403, field="source")
        if resolved.exists():
            return str(resolved)
    raise RequestError(f"no such file or folder under the data roots: {raw}", status=404,
                       field="source")


def parse_run_request(payload: Any, *, data_roots: tuple[Path, ...],
                      models_root: Path) -> RunRequest:
    """Check a decoded JSON body and return the :class:`RunRequest` it asks for.

    Raises
    ------
    RequestError
        400 (bad field, type or range), 403 (path escaping the data roots), 404 (unknown
        model, missing source).

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> parse_run_request({"source": "udp://127.0.0.1:5000", "model": "x", "conf": 2},
    ...                   data_roots=(root,), models_root=root)
    Traceback (most recent call last):
    ...
    tecktrack.interface.api.request.RequestError: conf: must be in [0, 1], got 2.0
    """
    if not isinstance(payload, dict):
        raise RequestError(f"body must be a JSON object, got {type(payload).__name__}")
    unknown = sorted(set(payload) - set(FIELDS))
    if unknown:
        raise RequestError(f"unknown field(s) {unknown}; accepted: {sorted(FIELDS)}")
    values = {}
    for name, (_, default, _, _) in FIELDS.items():
        if name not in payload:
            if default is None:
                raise RequestError("is required", field=name)
            values[name] = default
        else:
            values[name] = _typed(name, payload[name])
    values["model"] = _model_folder(values["model"], models_root)
    values["source"] = _source(values["source"], data_roots)
    return RunRequest(**values)
