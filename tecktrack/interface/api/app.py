"""The HTTP API: ``POST /run_inference``, ``GET /health``, ``GET /models``, under waitress.

Every request to ``/run_inference`` loads its own :class:`~tecktrack.model.Model` (with the
request's ``conf`` and ``iou``) and runs its own :class:`~tecktrack.inference.InferenceService`,
so concurrent requests share no model, session or queue; waitress serves ``threads`` of them
at once (default 4). Bodies above ``max_body_bytes`` are refused with 413 before parsing.
All errors are JSON ``{"error": ..., "field": ...}`` with a 4xx status (500 only for bugs).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tecktrack.errors import TeckTrackError
from tecktrack.interface.api.request import (
    RequestError,
    RunRequest,
    list_models,
    parse_json_body,
    parse_run_request,
)

__all__ = ["ServiceConfig", "create_app", "make_server", "run_request"]

#: Largest accepted request body, bytes.
MAX_BODY_BYTES = 16 * 1024


@dataclass(frozen=True)
class ServiceConfig:
    """Where the service may read sources and models and where it writes runs.

    Examples
    --------
    >>> ServiceConfig(data_roots=(Path("data"),), models_root=Path("models")).threads
    4
    """

    data_roots: tuple[Path, ...]
    models_root: Path
    runs_dir: Path | None = None
    max_body_bytes: int = MAX_BODY_BYTES
    threads: int = 4
    quiet: bool = True


def run_request(request: RunRequest, config: ServiceConfig) -> dict[str, Any]:
    """Run one validated request with its own model; the JSON response body.

    Examples
    --------
    >>> run_request(RunRequest("data/synth-video/video.mp4", Path("models/demo-n")),
    ...             ServiceConfig((Path("data"),), Path("models")))  # doctest: +SKIP
    {'run_id': '...', 'run_dir': '...', 'metrics': {...}}
    """
    from tecktrack.inference.service import InferenceService, pipeline_threads
    from tecktrack.model import load_model

    model = load_model(request.model, conf=request.conf, iou=request.iou,
                       threads=pipeline_threads())
    service = InferenceService(model, drop_rate=request.drop_rate,
                               save_frames=request.save_frames, timeout=request.timeout,
                               runs_dir=config.runs_dir, keep_frames=False, quiet=config.quiet,
                               track=request.track)
    result = service.run_inference(request.source)
    return {"run_id": result.run_dir.name, "run_dir": str(result.run_dir),
            "metrics": result.metrics}


def _error(message: str, status: int, field: str | None = None):
    from flask import jsonify

    response = jsonify({"error": message, "field": field})
    response.status_code = status
    return response


def _register_errors(app) -> None:
    from werkzeug.exceptions import HTTPException

    @app.errorhandler(RequestError)
    def _refused(exc: RequestError):
        return _error(str(exc), exc.status, exc.field)

    @app.errorhandler(TeckTrackError)
    def _bad_input(exc: TeckTrackError):
        return _error(str(exc), 422)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        return _error(exc.description or exc.name, exc.code or 500)


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

    app = Flask("tecktrack.interface.api.app")
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    _register_errors(app)

    @app.get("/health")
    def health():
        return jsonify({"status": "ok", "version": __version__})

    @app.get("/models")
    def models():
        return jsonify({"models": list_models(config.models_root)})

    @app.post("/run_inference")
    def run_inference():
        payload = parse_json_body(request.get_data(cache=False))
        parsed = parse_run_request(payload, data_roots=config.data_roots,
                                   models_root=config.models_root)
        return jsonify(run_request(parsed, config))

    return app


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

    # waitress answers bodies past its own cap in plain text; Flask's smaller cap answers
    # the ordinary oversize bodies in JSON first.
    hard_cap = max(1024 * 1024, 4 * config.max_body_bytes)
    return create_server(create_app(config), host=host, port=port, threads=config.threads,
                         max_request_body_size=hard_cap, ident="tecktrack",
                         clear_untrusted_proxy_headers=True)
