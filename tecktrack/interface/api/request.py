"""Validate a ``POST /run_inference`` body into a :class:`RunRequest`, or refuse it clearly.

Everything the HTTP API accepts is checked here, before any file is opened or model loaded:
field names and types, number ranges, string lengths and characters (no NUL or other control
characters; a path at most 1024 characters, each part at most 255 bytes), the model name (a
folder under the models root), and the source, which is either ``udp://host:port`` on an
allowed host and port (default: loopback, ports 1024-65535) or a file/folder inside one of
the allowed data roots after resolving symlinks (``..`` is refused outright).
"""

from __future__ import annotations

import ipaddress
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from tecktrack.errors import TeckTrackError

__all__ = ["FIELDS", "LOOPBACK_HOSTS", "MAX_NAME_CHARS", "MAX_SOURCE_CHARS", "RequestError",
           "RunRequest", "UDP_PORTS", "list_models", "parse_json_body", "parse_run_request"]

#: Accepted fields with (type, default, low, high); ``None`` default = required. ``timeout``
#: defaults to the server's ``max_run_s`` (``math.inf`` here: "no limit of its own").
FIELDS: dict[str, tuple[type, Any, float | None, float | None]] = {
    "source": (str, None, None, None),
    "model": (str, None, None, None),
    "drop_rate": (int, 1, 1, 1000),
    "conf": (float, 0.25, 0.0, 1.0),
    "iou": (float, 0.45, 0.0, 1.0),
    "save_frames": (bool, False, None, None),
    "timeout": (float, math.inf, 0.1, 86400.0),
    "track": (bool, False, None, None),
}

#: UDP hosts a request may listen on unless the server says otherwise.
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
#: UDP ports a request may listen on unless the server says otherwise (no privileged ports).
UDP_PORTS = (1024, 65535)
#: Longest accepted ``source`` and ``model`` strings, in characters.
MAX_SOURCE_CHARS = 1024
MAX_NAME_CHARS = 255
_MAX_PART_BYTES = 255


class RequestError(TeckTrackError):
    """A request the API refuses: HTTP ``status``, the offending ``field`` and why.

    Examples
    --------
    >>> e = RequestError("must be >= 1", field="drop_rate")
    >>> e.status, e.to_json()
    (400, {'error': 'drop_rate: must be >= 1', 'field': 'drop_rate'})
    """

    def __init__(self, message: str, *, status: int = 400, field: str | None = None,
                 headers: dict[str, str] | None = None):
        self.status = status
        self.field = field
        self.headers = dict(headers or {})
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
    timeout: float = math.inf
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
    except ValueError:  # json.loads' one other refusal: Python's cap on integer digits
        raise RequestError(f"malformed JSON: an integer has more than "
                           f"{sys.get_int_max_str_digits()} digits") from None
    except RecursionError:
        raise RequestError("JSON nested too deeply") from None


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
        try:
            value = float(value)
        except OverflowError:
            raise RequestError(f"must be in [{low:g}, {high:g}]", field=name) from None
    if kind is not bool and isinstance(value, bool) or not isinstance(value, kind):
        raise RequestError(f"must be {kind.__name__}, got {type(value).__name__}", field=name)
    if kind is float and not math.isfinite(value):
        raise RequestError("must be a finite number", field=name)
    if low is not None and not low <= value <= high:
        raise RequestError(f"must be in [{low:g}, {high:g}], got {value}", field=name)
    if kind is str:
        _check_text(name, value)
    return value


def _check_text(name: str, value: str) -> None:
    limit = MAX_SOURCE_CHARS if name == "source" else MAX_NAME_CHARS
    if len(value) > limit:
        raise RequestError(f"is {len(value)} characters long; at most {limit}", field=name)
    bad = next((c for c in value if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0), None)
    if bad is not None:
        raise RequestError(f"contains the control character {bad!r}", field=name)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError("contains a lone surrogate (not valid Unicode text)",
                           field=name) from None
    if any(len(part.encode("utf-8")) > _MAX_PART_BYTES for part in value.split("/")):
        raise RequestError(f"has a name longer than {_MAX_PART_BYTES} bytes", field=name)


def _model_folder(name: str, models_root: Path) -> Path:
    available = list_models(models_root)
    if name not in available:
        raise RequestError(f"unknown model {name!r}; available: {available}", status=404,
                           field="model")
    return models_root / name


def _inside(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def _host_key(host: str) -> str:
    """Hosts compare as IP addresses when they are one (``::0001`` is ``::1``), else by name."""
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        return host.lower()


def _udp_source(raw: str, hosts: tuple[str, ...], ports: tuple[int, int]) -> str:
    from tecktrack.errors import StreamError
    from tecktrack.inference.udp_url import parse_udp_url

    try:
        address = parse_udp_url(raw)
    except (StreamError, ValueError) as exc:
        reason = exc.message if isinstance(exc, StreamError) else str(exc)
        raise RequestError(f"only udp://host:port URLs are accepted ({reason})",
                           field="source") from None
    if _host_key(address.host) not in {_host_key(h) for h in hosts}:
        raise RequestError(f"this server listens for UDP only on {', '.join(hosts)}",
                           status=403, field="source")
    low, high = ports
    if not low <= address.port <= high:
        raise RequestError(f"UDP port {address.port} is outside the allowed range "
                           f"{low}-{high}", status=403, field="source")
    return address.url


def _source(raw: str, data_roots: tuple[Path, ...], hosts: tuple[str, ...] = LOOPBACK_HOSTS,
            ports: tuple[int, int] = UDP_PORTS) -> str:
    if "://" in raw:
        return _udp_source(raw, hosts, ports)
    if not raw or raw.strip().isdigit():
        raise RequestError("camera indices and empty paths are not accepted over HTTP",
                           field="source")
    if ".." in PurePath(raw).parts:
        raise RequestError("'..' is not allowed in paths", status=403, field="source")
    roots = tuple(root.resolve() for root in data_roots)
    candidates = [Path(raw)] if Path(raw).is_absolute() else [root / raw for root in roots]
    for candidate in candidates:
        try:
            resolved = candidate.resolve()
            inside, exists = _inside(resolved, roots), resolved.exists()
        except (OSError, RuntimeError, ValueError):  # a symlink loop, no permission, ...
            raise RequestError("path cannot be resolved (a symlink loop, or a folder that "
                               "cannot be read)", status=404, field="source") from None
        if not inside:
            raise RequestError("path is outside the allowed data roots (symlinks are "
                               "resolved first)", status=403, field="source")
        if exists:
            return str(resolved)
    raise RequestError(f"no such file or folder under the data roots: {raw}", status=404,
                       field="source")


def parse_run_request(payload: Any, *, data_roots: tuple[Path, ...], models_root: Path,
                      udp_hosts: tuple[str, ...] = LOOPBACK_HOSTS,
                      udp_ports: tuple[int, int] = UDP_PORTS,
                      max_run_s: float | None = None) -> RunRequest:
    """Check a decoded JSON body and return the :class:`RunRequest` it asks for.

    ``udp_hosts`` and ``udp_ports`` are where a ``udp://`` source may listen; a ``timeout``
    above ``max_run_s`` is refused.

    Raises
    ------
    RequestError
        400 (bad field, type, range, length or character), 403 (path escaping the data
        roots, UDP host or port not allowed), 404 (unknown model, missing source).

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
    if max_run_s is not None and values["timeout"] != math.inf \
            and values["timeout"] > max_run_s:
        raise RequestError(f"must be at most the server's max_run_s ({max_run_s:g} s), "
                           f"got {values['timeout']:g}", field="timeout")
    values["model"] = _model_folder(values["model"], models_root)
    values["source"] = _source(values["source"], data_roots, udp_hosts, udp_ports)
    return RunRequest(**values)
