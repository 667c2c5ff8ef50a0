"""The HTTP API: ``POST /run_inference``, ``GET /health``, ``GET /models``, ``GET /openapi.json``.

Every request to ``/run_inference`` loads its own :class:`~tecktrack.model.Model` (with the
request's ``conf`` and ``iou``) and runs its own :class:`~tecktrack.inference.InferenceService`,
so concurrent requests share no model, session or queue. At most ``threads`` runs go at once
and ``queue`` more may wait for one; past that the answer is 503 at once. waitress gets two
threads more than that, so ``/health`` is answered however many runs are going. Each network
gets ``cores // threads`` threads, so full load does not oversubscribe the CPU.

Every run has a wall-clock cap: the request's ``timeout`` (at most, and by default, the
server's ``max_run_s``). A ``udp://`` source may only listen on the allowed hosts (default
loopback) and ports (default 1024-65535). With a token (``ServiceConfig.token``), every route but
``/health`` needs ``Authorization: Bearer <token>``.

All errors are JSON ``{"error": ..., "field": ...}`` with a 4xx status; paths in them are
relative to the data root (or the models root); the bodies waitress refuses itself (over its
hard cap) are JSON too. A 500 would mean a bug and says nothing about the server.
"""

from __future__ import annotations

import hmac
import re
import sys
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tecktrack.cluster import usable_cores
from tecktrack.errors import FormatError, ModelError, StreamError, TeckTrackError
from tecktrack.interface.api.request import (
    LOOPBACK_HOSTS,
    UDP_PORTS,
    RequestError,
    RunRequest,
    list_models,
    parse_json_body,
    parse_run_request,
)

__all__ = ["ServiceConfig", "create_app", "make_server", "public_path", "request_threads",
           "run_request"]

#: Largest accepted request body, bytes.
MAX_BODY_BYTES = 16 * 1024
#: waitress threads beyond the run slots, for /health, /models and quick refusals.
SPARE_THREADS = 2


@dataclass(frozen=True)
class ServiceConfig:
    """Where the service may read sources and models, where it writes runs, and its limits.

    ``threads`` runs go at once and ``queue`` more may wait; ``max_run_s`` caps every run's
    wall time and ``stall_s`` ends a UDP run after that much silence; ``udp_hosts`` and
    ``udp_ports`` are where a ``udp://`` source may listen; ``token`` (optional) is the
    bearer token every route but ``/health`` asks for.

    Examples
    --------
    >>> config = ServiceConfig(data_roots=(Path("data"),), models_root=Path("models"))
    >>> config.threads, config.max_run_s, config.udp_ports
    (4, 60.0, (1024, 65535))
    """

    data_roots: tuple[Path, ...]
    models_root: Path
    runs_dir: Path | None = None
    max_body_bytes: int = MAX_BODY_BYTES
    threads: int = 4
    quiet: bool = True
    queue: int = 4
    max_run_s: float = 60.0
    stall_s: float = 5.0
    udp_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    udp_ports: tuple[int, int] = UDP_PORTS
    token: str | None = None


def request_threads(workers: int, cpu_count: int | None = None) -> int:
    """Network threads of one run: the cores shared by the runs that may go at once.

    Examples
    --------
    >>> request_threads(4, cpu_count=16), request_threads(4, cpu_count=2), request_threads(1, 8)
    (4, 1, 8)
    """
    cores = cpu_count if cpu_count is not None else usable_cores()
    return max(1, cores // max(1, workers))


def public_path(path: Path, config: ServiceConfig) -> str:
    """``path`` as a client may see it: relative to the project folder, else to its parent.

    Examples
    --------
    >>> from tecktrack.paths import project_root
    >>> public_path(project_root() / "results" / "runs" / "x", ServiceConfig((), Path("m")))
    'results/runs/x'
    >>> public_path(Path("/srv/secret/runs/x"), ServiceConfig((), Path("m")))
    'runs/x'
    """
    from tecktrack.paths import project_root

    resolved = Path(path).resolve()
    root = project_root()
    if resolved.is_relative_to(root):
        return resolved.relative_to(root).as_posix()
    return resolved.relative_to(resolved.parent.parent).as_posix()


def run_request(request: RunRequest, config: ServiceConfig) -> dict[str, Any]:
    """Run one validated request with its own model; the JSON response body.

    Examples
    --------
    >>> run_request(RunRequest("data/synth-video/video.mp4", Path("models/demo-n")),
    ...             ServiceConfig((Path("data"),), Path("models")))  # doctest: +SKIP
    {'run_id': '...', 'run_dir': 'results/runs/...', 'metrics': {...}}
    """
    from tecktrack.inference.service import InferenceService
    from tecktrack.model import load_model

    model = load_model(request.model, conf=request.conf, iou=request.iou,
                       threads=request_threads(config.threads))
    service = InferenceService(model, drop_rate=request.drop_rate,
                               save_frames=request.save_frames, timeout=config.stall_s,
                               max_run_s=min(request.timeout, config.max_run_s),
                               runs_dir=config.runs_dir, keep_frames=False, quiet=config.quiet,
                               track=request.track)
    result = service.run_inference(request.source)
    metrics = {key: _redacted(value, config) for key, value in result.metrics.items()}
    return {"run_id": result.run_dir.name, "run_dir": public_path(result.run_dir, config),
            "metrics": metrics}


def _redacted(value: Any, config: ServiceConfig) -> Any:
    """Metric values with their paths (``unreadable_images``) made relative."""
    if isinstance(value, str):
        return redact(value, config)
    if isinstance(value, list):
        return [_redacted(item, config) for item in value]
    return value


# -- errors ------------------------------------------------------------------------------
_ABSOLUTE = re.compile(r"(?<![\w.:/])/(?:[^\s/:'\"]+/)+([^\s/:'\"]*)")


def redact(message: str, config: ServiceConfig) -> str:
    """``message`` with server paths made relative to their root; other absolute paths cut
    to their last part.

    Examples
    --------
    >>> config = ServiceConfig((Path("/srv/data"),), Path("/srv/models"))
    >>> redact("/srv/data/videos/a.mp4: cannot open video source", config)
    'videos/a.mp4: cannot open video source'
    >>> redact("/opt/lib/x.so: bad", config)
    'x.so: bad'
    """
    roots = [*config.data_roots, config.models_root]
    if config.runs_dir is not None:
        roots.append(config.runs_dir.parent)
    prefixes = {str(p) for r in roots for p in (Path(r), Path(r).resolve())}
    for prefix in sorted(prefixes, key=len, reverse=True):
        message = message.replace(prefix.rstrip("/") + "/", "")
    return _ABSOLUTE.sub(lambda m: m.group(1), message)


def _error(message: str, status: int, field: str | None = None, headers=None):
    from flask import jsonify

    response = jsonify({"error": message, "field": field})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _field_of(exc: TeckTrackError) -> str | None:
    """The request field a run's error is about: its source (a video that cannot be opened or
    read, an image, a UDP port) or its model; ``None`` for anything else."""
    if isinstance(exc, StreamError | FormatError):
        return "source"
    return "model" if isinstance(exc, ModelError) else None


def _register_errors(app, config: ServiceConfig) -> None:
    from werkzeug.exceptions import HTTPException

    @app.errorhandler(RequestError)
    def _refused(exc: RequestError):
        return _error(redact(str(exc), config), exc.status, exc.field, exc.headers)

    @app.errorhandler(TeckTrackError)
    def _bad_input(exc: TeckTrackError):
        return _error(redact(str(exc), config), 422, _field_of(exc))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        return _error(exc.description or exc.name, exc.code or 500)

    @app.errorhandler(Exception)
    def _bug(exc: Exception):  # never a traceback or a path to the client
        traceback.print_exception(exc, file=sys.stderr)
        return _error("internal error (logged by the server)", 500)


class _Slots:
    """``workers`` runs at once and ``waiting`` more in line; past that, refuse at once."""

    def __init__(self, workers: int, waiting: int):
        self.workers, self.waiting = workers, waiting
        self._admitted = threading.BoundedSemaphore(workers + waiting)
        self._running = threading.BoundedSemaphore(workers)

    def __enter__(self) -> _Slots:
        if not self._admitted.acquire(blocking=False):
            raise RequestError(f"busy: {self.workers} runs going and {self.waiting} waiting; "
                               "retry later", status=503, headers={"Retry-After": "1"})
        self._running.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._running.release()
        self._admitted.release()


def _check_token(config: ServiceConfig, header: str | None) -> None:
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode("utf-8", "surrogatepass"), config.token.encode("utf-8")):
        raise RequestError("a valid 'Authorization: Bearer <token>' header is required",
                           status=401, headers={"WWW-Authenticate": "Bearer"})


def create_app(config: ServiceConfig):
    """The Flask application (serve it with :func:`make_server`, not Flask's dev server).

    Examples
    --------
    >>> app = create_app(ServiceConfig((Path("data"),), Path("models")))
    >>> app.test_client().get("/health").get_json()["status"]
    'ok'
    """
    from flask import Flask, jsonify, request

    from tecktrack import __version__
    from tecktrack.interface.api.openapi import openapi_document

    app = Flask("tecktrack.interface.api.app")
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    _register_errors(app, config)
    slots = _Slots(config.threads, config.queue)

    @app.before_request
    def authorise():
        if config.token and request.path != "/health":
            _check_token(config, request.headers.get("Authorization"))

    @app.get("/health")
    def health():
        return jsonify({"status": "ok", "version": __version__})

    @app.get("/models")
    def models():
        return jsonify({"models": list_models(config.models_root)})

    @app.get("/openapi.json")
    def openapi():
        return jsonify(openapi_document(list_models(config.models_root),
                                        max_run_s=config.max_run_s, version=__version__,
                                        token=bool(config.token)))

    @app.post("/run_inference")
    def run_inference():
        if request.mimetype != "application/json":
            raise RequestError("the body must be JSON, sent with 'Content-Type: "
                               f"application/json' (got {request.mimetype or 'none'!r})",
                               status=415)
        payload = parse_json_body(request.get_data(cache=False))
        parsed = parse_run_request(payload, data_roots=config.data_roots,
                                   models_root=config.models_root, udp_hosts=config.udp_hosts,
                                   udp_ports=config.udp_ports, max_run_s=config.max_run_s)
        with slots:
            return jsonify(run_request(parsed, config))

    return app


def _json_error_channel():
    """A waitress channel whose own error answers (e.g. body over its cap) are JSON."""
    import json

    from waitress.channel import HTTPChannel
    from waitress.task import ErrorTask

    class JsonErrorTask(ErrorTask):
        def execute(self) -> None:
            error = self.request.error
            body = json.dumps({"error": f"{error.reason}: {error.body}",
                               "field": None}).encode("utf-8")
            self.status = f"{error.code} {error.reason}"
            self.response_headers.append(("Content-Type", "application/json"))
            self.set_close_on_finish()
            self.content_length = len(body)
            self.write(body)

    class JsonErrorChannel(HTTPChannel):
        error_task_class = JsonErrorTask

    return JsonErrorChannel


def make_server(config: ServiceConfig, host: str = "127.0.0.1", port: int = 8000):
    """A waitress server for :func:`create_app` (``port=0`` picks a free port).

    Call ``.run()`` to serve and ``.close()`` to stop; ``int(.effective_port)`` is the port.

    Examples
    --------
    >>> server = make_server(ServiceConfig((Path("data"),), Path("models")), port=0)
    >>> int(server.effective_port) > 0
    True
    >>> server.close()
    """
    from waitress import create_server

    # waitress refuses bodies past its own cap itself (JSON, through the channel below);
    # Flask's smaller cap answers the ordinary oversize bodies first.
    hard_cap = max(1024 * 1024, 4 * config.max_body_bytes)
    server = create_server(create_app(config), host=host, port=port,
                           threads=config.threads + config.queue + SPARE_THREADS,
                           max_request_body_size=hard_cap, ident="tecktrack",
                           clear_untrusted_proxy_headers=True)
    channel = _json_error_channel()
    for dispatcher in [server, *getattr(server, "map", {}).values()]:
        if hasattr(dispatcher, "channel_class"):
            dispatcher.channel_class = channel
    return server
