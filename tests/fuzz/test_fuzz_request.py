"""Fuzzing the HTTP request validator (#21): every input ends in a RunRequest or a 4xx error.

Three layers: ``parse_json_body`` on arbitrary bytes, ``parse_run_request`` on JSON-like
values built around the real field names, and the Flask app (test client, no network) on
arbitrary bodies and content types, where no answer may be a 500, none may be anything but
JSON, and none may name a server path. An accepted request is checked against the policy:
its source is inside the data root or a UDP URL on loopback at a port >= 1024.
"""

from __future__ import annotations

import ipaddress
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tecktrack.interface.api import (
    FIELDS,
    RequestError,
    RunRequest,
    ServiceConfig,
    create_app,
    parse_json_body,
    parse_run_request,
)

FUZZ = settings(max_examples=300,
                suppress_health_check=list(HealthCheck))
CASES: dict[str, int] = {}


def _count(name: str) -> None:
    CASES[name] = CASES.get(name, 0) + 1


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    print(f"\nfuzz request validator: {sum(CASES.values())} cases {CASES}")


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz-request")
    data, models = root / "data", root / "models"
    (data / "videos").mkdir(parents=True)
    (data / "videos" / "clip.mp4").write_bytes(b"not a video")
    (models / "tiny").mkdir(parents=True)
    (models / "tiny" / "model.onnx").write_bytes(b"not a model")
    return data.resolve(), models.resolve()


_JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                       st.text(max_size=40))
_JSON = st.recursive(_JSON_LEAF, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)
_SOURCE = st.one_of(
    st.sampled_from(["videos/clip.mp4", "videos", "videos/../videos/clip.mp4", "/etc/passwd",
                     "0", "", " 7 ", "udp://127.0.0.1:5000", "udp://[::1]:5000",
                     "udp://localhost:65535", "udp://0.0.0.0:5000", "udp://127.0.0.1:22",
                     "udp://127.0.0.1:0", "udp://127.0.0.1", "udp://:5000", "udp://[::1:5000",
                     "UDP://127.0.0.1:5000", "udp://127.0.0.1:5000/x", "udp://u@127.0.0.1:5000",
                     "http://127.0.0.1/a", "file:///etc/passwd", "videos/clip.mp4\x00",
                     "\ud800", "x" * 5000, "a/" + "b" * 300]),
    st.builds(lambda h, p: f"udp://{h}:{p}",
              st.sampled_from(["127.0.0.1", "[::1]", "localhost", "LOCALHOST", "[::0001]",
                               "127.1", "10.0.0.1", "[::]", "example.com", "127.0.0.1\x00"]),
              st.integers(-5, 70000)),
    st.text(max_size=60),
)
_VALUE = {
    "source": _SOURCE,
    "model": st.one_of(st.sampled_from(["tiny", "nope", "../models/tiny", "tiny\x00", "m" * 999]),
                       st.text(max_size=20)),
    "drop_rate": st.one_of(st.integers(-2, 1002), st.just(10 ** 400), _JSON_LEAF),
    "conf": st.one_of(st.floats(), st.integers(-2, 2), st.just(10 ** 400), _JSON_LEAF),
    "iou": st.one_of(st.floats(), st.integers(-2, 2), _JSON_LEAF),
    "save_frames": st.one_of(st.booleans(), _JSON_LEAF),
    "timeout": st.one_of(st.floats(), st.integers(-1, 100), _JSON_LEAF),
}
_PAYLOAD = st.one_of(
    st.fixed_dictionaries({}, optional={name: strategy for name, strategy in _VALUE.items()}),
    st.fixed_dictionaries({"source": _SOURCE, "model": st.just("tiny")},
                          optional={k: v for k, v in _VALUE.items() if k not in
                                    ("source", "model")}),
    st.dictionaries(st.text(max_size=10), _JSON, max_size=5),
    _JSON,
)


def _check_accepted(request: RunRequest, data: Path, models: Path) -> None:
    if request.source.startswith("udp://"):
        from tecktrack.inference.udp_url import parse_udp_url

        address = parse_udp_url(request.source)
        if address.host.lower() != "localhost":
            assert ipaddress.ip_address(address.host).is_loopback, request.source
        assert 1024 <= address.port <= 65535
    else:
        assert Path(request.source).resolve().is_relative_to(data)
    assert request.model.parent == models
    assert isinstance(request.drop_rate, int) and 1 <= request.drop_rate <= 1000
    assert 0 <= request.conf <= 1 and 0 <= request.iou <= 1
    assert request.timeout == math.inf or 0.1 <= request.timeout <= 60
    assert isinstance(request.save_frames, bool)


@FUZZ
@given(raw=st.one_of(st.binary(max_size=300), _JSON.map(lambda v: json.dumps(v).encode()),
                     st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n)))
def test_parse_json_body_decodes_or_refuses(raw):
    _count("parse_json_body")
    try:
        parse_json_body(raw)
    except RequestError as exc:
        assert exc.status == 400


@FUZZ
@given(payload=_PAYLOAD)
def test_parse_run_request_accepts_within_policy_or_refuses_4xx(roots, payload):
    _count("parse_run_request")
    data, models = roots
    try:
        request = parse_run_request(payload, data_roots=(data,), models_root=models,
                                    max_run_s=60.0)
    except RequestError as exc:
        assert 400 <= exc.status < 500
        assert set(exc.to_json()) == {"error", "field"}
        assert exc.field is None or exc.field in FIELDS
    else:
        _check_accepted(request, data, models)


_CONTENT_TYPE = st.sampled_from(["application/json", "application/json; charset=utf-8",
                                 "text/plain", "application/x-www-form-urlencoded", "",
                                 "multipart/form-data; boundary=x", "APPLICATION/JSON"])


@FUZZ
@given(body=st.one_of(_PAYLOAD.map(lambda p: json.dumps(p).encode()), st.binary(max_size=200)),
       content_type=_CONTENT_TYPE,
       path=st.sampled_from(["/run_inference", "/run_inference", "/health", "/models",
                             "/openapi.json", "/nope", "/run_inference/"]),
       method=st.sampled_from(["POST", "POST", "GET", "PUT", "DELETE"]))
def test_the_app_never_answers_500_or_leaks_a_path(roots, body, content_type, path, method):
    _count("flask app")
    data, models = roots
    app = _app(data, models)
    headers = {"Content-Type": content_type} if content_type else {}
    response = app.test_client().open(path, method=method, data=body, headers=headers)
    assert response.status_code < 500, response.get_data(as_text=True)
    answer = response.get_json()
    assert isinstance(answer, dict)
    text = response.get_data(as_text=True)
    assert str(data) not in text and str(models) not in text


_APPS: dict[tuple[Path, Path], object] = {}


def _app(data: Path, models: Path):
    key = (data, models)
    if key not in _APPS:
        _APPS[key] = create_app(ServiceConfig((data,), models, runs_dir=data.parent / "runs"))
    return _APPS[key]
