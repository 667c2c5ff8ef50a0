"""The OpenAPI 3.0 document of the HTTP API (served at ``GET /openapi.json``).

The request schema is built from :data:`~tecktrack.interface.api.request.FIELDS`, so the
document and the validator cannot drift apart; the ``model`` field lists the models the server
has, and ``source`` gives a file and a ``udp://`` example.
"""

from __future__ import annotations

import math
from typing import Any

from tecktrack.interface.api.request import FIELDS, MAX_NAME_CHARS, MAX_SOURCE_CHARS

__all__ = ["openapi_document"]

_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}
#: Text without control characters (the validator refuses them).
_NO_CONTROL = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"

_ERROR = {
    "type": "object",
    "required": ["error", "field"],
    "properties": {"error": {"type": "string"}, "field": {"type": "string", "nullable": True}},
}


def _field_schema(name: str, models: list[str], max_run_s: float) -> dict[str, Any]:
    kind, default, low, high = FIELDS[name]
    schema: dict[str, Any] = {"type": _JSON_TYPES[kind]}
    if low is not None:
        schema["minimum"], schema["maximum"] = low, high
    if name == "timeout":
        schema["maximum"] = max_run_s
        schema["description"] = ("wall-clock limit of the run in seconds (default and "
                                 "maximum: the server's max_run_s)")
    elif default is not None and not (isinstance(default, float) and math.isinf(default)):
        schema["default"] = default
    if name == "model" and models:
        schema["enum"] = models
    if kind is str:
        schema["pattern"] = _NO_CONTROL
    if name == "source":
        schema.update(minLength=1, maxLength=MAX_SOURCE_CHARS,
                      description="a file or folder under a data root, or udp://host:port",
                      example="udp://127.0.0.1:5000")
    elif kind is str:
        schema["maxLength"] = MAX_NAME_CHARS
    return schema


def _json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    reasons = {400: "bad request", 401: "missing or wrong bearer token", 403: "forbidden",
               404: "not found", 405: "method not allowed", 413: "body too large",
               415: "not JSON", 422: "the source or model cannot be read",
               503: "every worker is busy and the queue is full; retry later"}
    return {str(code): _json_response(reasons[code], {"$ref": "#/components/schemas/Error"})
            for code in codes}


def openapi_document(models: list[str], *, max_run_s: float, version: str,
                     token: bool = False) -> dict[str, Any]:
    """The OpenAPI 3.0.3 document for a server with these ``models`` and limits.

    Examples
    --------
    >>> doc = openapi_document(["demo-n"], max_run_s=60.0, version="0.1.0")
    >>> sorted(doc["paths"]), doc["components"]["schemas"]["RunRequest"]["required"]
    (['/health', '/models', '/openapi.json', '/run_inference'], ['source', 'model'])
    """
    required = [name for name, (_, default, _, _) in FIELDS.items() if default is None]
    run_request = {
        "type": "object", "additionalProperties": False, "required": required,
        "properties": {name: _field_schema(name, models, max_run_s) for name in FIELDS},
    }
    run_response = {
        "type": "object", "required": ["run_id", "run_dir", "metrics"],
        "properties": {"run_id": {"type": "string"},
                       "run_dir": {"type": "string",
                                   "description": "relative to the server's project folder"},
                       "metrics": {"type": "object"}},
    }
    auth = _errors(401) if token else {}
    document: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": "TeckTrack inference service", "version": version},
        "paths": {
            "/health": {"get": {"operationId": "health", "security": [], "responses": {
                "200": _json_response("alive", {
                    "type": "object", "required": ["status", "version"],
                    "properties": {"status": {"type": "string", "enum": ["ok"]},
                                   "version": {"type": "string"}}})}}},
            "/models": {"get": {"operationId": "models", "responses": {
                "200": _json_response("the model folders", {
                    "type": "object", "required": ["models"],
                    "properties": {"models": {"type": "array", "items": {"type": "string"}}}}),
                **auth}}},
            "/openapi.json": {"get": {"operationId": "openapi", "responses": {
                "200": _json_response("this document", {"type": "object"}), **auth}}},
            "/run_inference": {"post": {
                "operationId": "run_inference",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/RunRequest"},
                    **({"example": {"source": "udp://127.0.0.1:5000", "model": models[0],
                                    "timeout": min(1.0, max_run_s)}} if models else {})}}},
                "responses": {
                    "200": _json_response("the run's id, folder and metrics",
                                          {"$ref": "#/components/schemas/RunResponse"}),
                    **_errors(400, 403, 404, 413, 415, 422, 503), **auth}}},
        },
        "components": {"schemas": {"RunRequest": run_request, "RunResponse": run_response,
                                   "Error": _ERROR}},
    }
    if token:
        document["components"]["securitySchemes"] = {"bearer": {"type": "http",
                                                                "scheme": "bearer"}}
        document["security"] = [{"bearer": []}]
    return document
