"""The HTTP API: the Flask app serving ``/run_inference`` and its request validation.

Examples
--------
>>> from tecktrack.interface.api import ServiceConfig, create_app     # doctest: +SKIP
>>> app = create_app(ServiceConfig(models_dir="models", data_dir="data"))  # doctest: +SKIP
"""

from tecktrack.interface.api.app import (
    ServiceConfig,
    create_app,
    make_server,
    public_path,
    request_threads,
    run_request,
)
from tecktrack.interface.api.openapi import openapi_document
from tecktrack.interface.api.request import (
    FIELDS,
    RequestError,
    RunRequest,
    list_models,
    parse_json_body,
    parse_run_request,
)

__all__ = ["FIELDS", "RequestError", "RunRequest", "ServiceConfig", "create_app", "list_models",
           "make_server", "openapi_document", "parse_json_body", "parse_run_request",
           "public_path", "request_threads", "run_request"]
