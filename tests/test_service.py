"""The HTTP API over a real waitress server on a free loopback port, spoken to with urllib.

Every answer is checked to be JSON and to name no absolute path of the test's folders.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from inference_support import build_detector, free_udp_port, write_video

pytestmark = pytest.mark.timeout(120)

#: Absolute paths no answer may contain (filled by the ``world`` fixture).
SERVER_PATHS: list[str] = []


@pytest.fixture(scope="module")
def world(repo_root, tmp_path_factory):
    """data/ with a clip, a symlink escaping it and a bogus video; models/ with a model."""
    root = tmp_path_factory.mktemp("service")
    data = root / "data"
    (data / "videos").mkdir(parents=True)
    write_video(data / "videos" / "clip.mp4", 20)
    (data / "bogus.mp4").write_bytes(b"\x00" * 100)
    (data / "text.png").write_text("not an image\n" * 20)  # FFmpeg opens it, reads no frame
    outside = root / "secret.mp4"
    shutil.copy(data / "videos" / "clip.mp4", outside)
    os.symlink(outside, data / "escape.mp4")
    demo = repo_root / "models" / "demo-n"
    models = root / "models"
    if (demo / "model.onnx").is_file():
        shutil.copytree(demo, models / "demo-n")
        name = "demo-n"
    else:
        build_detector(models / "tiny")
        name = "tiny"
    SERVER_PATHS[:] = [str(root), str(root.resolve()), str(repo_root)]
    return {"root": root, "data": data, "models": models, "model": name, "outside": outside}


def serve(world, repo_root, *options: str, env: dict | None = None):
    """Start ``tecktrack serve`` on a free loopback port; (process, base URL)."""
    command = [sys.executable, "-m", "tecktrack", "serve", "--port", "0",
               "--data-root", str(world["data"]), "--models-root", str(world["models"]),
               "--runs-dir", str(world["root"] / "runs"), *options]
    proc = subprocess.Popen(command, cwd=repo_root, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})})
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    line = proc.stdout.readline() if ready else ""
    match = re.search(r"serving on (http://127\.0\.0\.1:\d+)", line)
    if not match:
        stop(proc)
        pytest.fail(f"server did not start: {line!r}")
    return proc, match.group(1)


def stop(proc) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


@pytest.fixture(scope="module")
def server(world, repo_root):
    """``tecktrack serve`` (waitress) in a subprocess on a free loopback port."""
    proc, base = serve(world, repo_root, "--threads", "4")
    try:
        yield base
    finally:
        stop(proc)


def call(base: str, path: str, payload=None, *, raw: bytes | None = None,
         method: str | None = None, content_type: str | None = "application/json",
         token: str | None = None) -> tuple[int, dict]:
    body = raw if raw is not None else None if payload is None else json.dumps(payload).encode()
    headers = {"Content-Type": content_type} if content_type else {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode()
    assert not [p for p in SERVER_PATHS if p in text], f"a server path leaked: {text}"
    return status, json.loads(text)


def body(world, **overrides) -> dict:
    return {"source": "videos/clip.mp4", "model": world["model"], **overrides}


def test_health_and_models(server, world):
    assert call(server, "/health") == (200, {"status": "ok", "version": "0.1.0"})
    with urllib.request.urlopen(server + "/health", timeout=10) as response:
        assert response.headers["Server"] == "tecktrack"  # waitress, not Flask's dev server
    assert call(server, "/models") == (200, {"models": [world["model"]]})


def test_run_inference_returns_metrics_and_a_run_folder(server, world):
    status, data = call(server, "/run_inference", body(world, drop_rate=2, save_frames=True))
    assert status == 200, data
    assert data["run_dir"] == f"runs/{data['run_id']}"  # relative: no server path
    run_dir = world["root"] / "runs" / data["run_id"]
    assert data["metrics"]["total_frames"] == 10
    assert data["metrics"]["frames_dropped_by_rate"] == 10
    assert len(list((run_dir / "labels").iterdir())) == 10
    assert len(list((run_dir / "frames").iterdir())) == 10
    config = json.loads((run_dir / "config.json").read_text())
    assert config["source"] == str(world["data"] / "videos" / "clip.mp4")


def test_udp_source_with_no_sender_ends_after_its_timeout(server, world):
    url = f"udp://127.0.0.1:{free_udp_port()}"
    status, data = call(server, "/run_inference", body(world, source=url, timeout=0.5))
    assert status == 200, data
    assert data["metrics"]["total_frames"] == 0
    # the request's timeout is a wall limit; the stall timeout (5 s) never came
    assert data["metrics"]["end_reason"] == "time_limit"
    assert 0.5 <= data["metrics"]["latency_s"] < 4.0


@pytest.mark.parametrize("overrides,status,message", [
    ({"drop_rate": 0}, 400, "drop_rate: must be in [1, 1000], got 0"),
    ({"drop_rate": "2"}, 400, "drop_rate: must be int, got str"),
    ({"drop_rate": 2.5}, 400, "drop_rate: must be int, got float"),
    ({"conf": 1.5}, 400, "conf: must be in [0, 1], got 1.5"),
    ({"conf": True}, 400, "conf: must be float, got bool"),
    ({"iou": -0.1}, 400, "iou: must be in [0, 1]"),
    ({"timeout": 0}, 400, "timeout: must be in [0.1, 86400]"),
    ({"timeout": 61}, 400, "timeout: must be at most the server's max_run_s (60 s)"),
    ({"conf": 10 ** 400}, 400, "conf: must be in [0, 1]"),
    ({"save_frames": 1}, 400, "save_frames: must be bool, got int"),
    ({"colour": "red"}, 400, "unknown field(s) ['colour']"),
    ({"model": "nope"}, 404, "model: unknown model 'nope'"),
    ({"model": "../models/tiny"}, 404, "model: unknown model"),
    ({"source": "../secret.mp4"}, 403, "source: '..' is not allowed"),
    ({"source": "videos/../../secret.mp4"}, 403, "'..' is not allowed"),
    ({"source": "escape.mp4"}, 403, "outside the allowed data roots"),
    ({"source": "missing.mp4"}, 404, "no such file or folder"),
    ({"source": "http://127.0.0.1/a.mp4"}, 400, "only udp://host:port URLs"),
    ({"source": "file:///etc/passwd"}, 400, "only udp://host:port URLs"),
    ({"source": "udp://127.0.0.1:5000/x"}, 400, "without path"),
    ({"source": "0"}, 400, "camera indices"),
    ({"source": 7}, 400, "source: must be str, got int"),
    ({"source": "bogus.mp4"}, 422, "bogus.mp4: cannot open video source"),
    ({"source": "text.png"}, 422, "text.png: no frame could be read"),
    ({"source": "udp://0.0.0.0:5000"}, 403, "listens for UDP only on 127.0.0.1, ::1, localhost"),
    ({"source": "udp://192.168.1.1:5000"}, 403, "listens for UDP only on"),
    ({"source": "udp://127.0.0.1:22"}, 403, "UDP port 22 is outside the allowed range 1024-65535"),
    ({"source": "udp://[::1]:1"}, 403, "UDP port 1 is outside"),
    ({"source": "udp://127.0.0.1:0"}, 400, "only udp://host:port"),
    ({"source": "videos/clip.mp4\x00.txt"}, 400, "source: contains the control character"),
    ({"source": "udp://127.0.0.1\x00:5000"}, 400, "control character"),
    ({"source": "x" * 5000}, 400, "source: is 5000 characters long; at most 1024"),
    ({"source": "videos/" + "y" * 300}, 400, "source: has a name longer than 255 bytes"),
    ({"model": "m" * 5000}, 400, "model: is 5000 characters long; at most 255"),
    ({"model": "demo\x00"}, 400, "model: contains the control character"),
    ({"source": "\ud800.mp4"}, 400, "lone surrogate"),
])
def test_bad_requests_get_a_4xx_json_error(server, world, overrides, status, message):
    got_status, data = call(server, "/run_inference", body(world, **overrides))
    assert got_status == status, data
    assert message in data["error"]
    if status == 422:  # a run's own error names the field it is about
        assert data["field"] == "source"


def test_absolute_paths_outside_the_data_root_are_refused(server, world):
    status, data = call(server, "/run_inference", body(world, source=str(world["outside"])))
    assert status == 403 and "outside the allowed data roots" in data["error"]
    inside = world["data"] / "videos" / "clip.mp4"
    assert call(server, "/run_inference", body(world, source=str(inside)))[0] == 200


def test_missing_required_fields(server, world):
    status, data = call(server, "/run_inference", {"model": world["model"]})
    assert (status, data["error"], data["field"]) == (400, "source: is required", "source")


@pytest.mark.parametrize("raw,message", [
    (b'{"source": "videos/clip.mp4",',
     "malformed JSON at line 1 column 30: Expecting property name"),
    (b"", "malformed JSON at line 1 column 1"),
    (b"\xff\xfe", "body is not UTF-8"),
    (b"[1, 2]", "body must be a JSON object, got list"),
    (b'{"source": "videos/clip.mp4", "model": "tiny", "conf": NaN}', "conf: must be a finite"),
    # past Python's 4300-digit cap json.loads raises a plain ValueError (it was a 500)
    (b'{"drop_rate": ' + b"9" * 4301 + b"}", "malformed JSON: an integer has more than 4300"),
    (b'{"unknown": -' + b"1" * 5000 + b"}", "malformed JSON: an integer has more than 4300"),
])
def test_malformed_bodies(server, raw, message):
    status, data = call(server, "/run_inference", raw=raw)
    assert status == 400 and message in data["error"]


def test_oversize_body_is_refused_before_parsing(server, world):
    huge = json.dumps(body(world, padding="x" * 40_000)).encode()
    status, data = call(server, "/run_inference", raw=huge)
    assert status == 413 and "error" in data


def test_a_body_past_waitress_own_cap_is_413_json_too(server):
    """waitress refuses a Content-Length over its 1 MiB hard cap before any body is read."""
    import socket
    from urllib.parse import urlsplit

    address = urlsplit(server)
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(b"POST /run_inference HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 3000000\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ") and b"Content-Type: application/json" in head
    data = json.loads(payload)
    assert data["field"] is None and "Too Large" in data["error"]


@pytest.mark.parametrize("raw", [b"[" * 5000 + b"]" * 5000,
                                 b'{"source": ' + b"[" * 5000 + b"]" * 5000 + b"}"])
def test_deeply_nested_json_is_a_400(server, raw):
    status, data = call(server, "/run_inference", raw=raw)
    assert (status, data["error"]) == (400, "JSON nested too deeply")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          None])
def test_a_body_that_is_not_declared_json_is_a_415(server, world, content_type):
    raw = json.dumps(body(world)).encode()
    status, data = call(server, "/run_inference", raw=raw, content_type=content_type)
    assert status == 415 and "Content-Type: application/json" in data["error"]


def test_skipped_images_are_named_relative_to_the_data_root(server, world):
    from inference_support import write_folder

    folder = write_folder(world["data"] / "frames", 4)
    (folder / "000002.png").write_bytes(b"broken")
    status, data = call(server, "/run_inference", body(world, source="frames"))
    assert status == 200 and data["metrics"]["total_frames"] == 3
    [skipped] = data["metrics"]["unreadable_images"]
    assert skipped.startswith("frames/000002.png: not an image")


def test_a_failed_request_leaves_no_run_folder(server, world):
    runs = world["root"] / "runs"
    before = set(runs.iterdir()) if runs.is_dir() else set()
    status, data = call(server, "/run_inference", body(world, source="bogus.mp4"))
    assert status == 422
    assert (set(runs.iterdir()) if runs.is_dir() else set()) == before


def test_openapi_document_describes_the_validator(server, world):
    from tecktrack.interface.api import FIELDS

    status, doc = call(server, "/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    schema = doc["components"]["schemas"]["RunRequest"]
    assert set(schema["properties"]) == set(FIELDS)
    assert schema["properties"]["model"]["enum"] == [world["model"]]
    assert schema["properties"]["timeout"]["maximum"] == 60.0


def test_unknown_route_and_wrong_method_are_json(server):
    assert call(server, "/nope")[0] == 404
    status, data = call(server, "/run_inference", method="GET")
    assert status == 405 and "error" in data


def test_four_concurrent_requests_do_not_interfere(server, world):
    requests = [body(world, drop_rate=d) for d in (1, 2, 4, 1)]
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda b: call(server, "/run_inference", b), requests))
    assert [s for s, _ in answers] == [200] * 4
    totals = [a["metrics"]["total_frames"] for _, a in answers]
    assert totals == [20, 10, 5, 20]
    run_dirs = [world["root"] / "runs" / a["run_id"] for _, a in answers]
    assert len(set(run_dirs)) == 4
    # same input, same model: the two full runs wrote identical label files
    first, last = run_dirs[0] / "labels", run_dirs[3] / "labels"
    assert sorted(p.name for p in first.iterdir()) == sorted(p.name for p in last.iterdir())
    for path in first.iterdir():
        assert path.read_bytes() == (last / path.name).read_bytes()


# -- limits: a worker pool with a bounded queue, wall-clock caps ---------------------------
@pytest.fixture(scope="module")
def small_server(world, repo_root):
    """One run at a time, one waiting, every run capped at 2 s of wall time."""
    proc, base = serve(world, repo_root, "--threads", "1", "--queue", "1",
                       "--max-run-s", "2", "--stall-s", "30")
    try:
        yield base
    finally:
        stop(proc)


def test_health_answers_while_runs_fill_every_worker(small_server, world):
    """Idle UDP runs hold the worker and the queue; /health still answers; a third is 503."""
    answers: dict[int, tuple[int, dict]] = {}

    def idle_run(i: int) -> None:
        url = f"udp://127.0.0.1:{free_udp_port()}"
        answers[i] = call(small_server, "/run_inference", body(world, source=url))

    runs = [threading.Thread(target=idle_run, args=(i,)) for i in range(3)]
    for run in runs:
        run.start()
    deadline = time.monotonic() + 30
    while not any(status == 503 for status, _ in answers.values()):
        assert time.monotonic() < deadline, answers
        time.sleep(0.02)
    # two requests hold the worker and the queue slot for 2 s each (the max_run_s cap)
    assert call(small_server, "/health")[0] == 200
    assert sum(run.is_alive() for run in runs) == 2  # /health did not wait for them
    for run in runs:
        run.join(30)
    statuses = sorted(status for status, _ in answers.values())
    assert statuses == [200, 200, 503]
    busy = next(data for status, data in answers.values() if status == 503)
    assert busy["error"] == "busy: 1 runs going and 1 waiting; retry later"
    for status, data in answers.values():
        if status == 200:  # the stall timeout is 30 s: only the 2 s cap ended them
            assert data["metrics"]["end_reason"] == "time_limit"
            assert 2.0 <= data["metrics"]["latency_s"] < 10.0


def test_max_run_s_caps_a_stream_that_keeps_trickling(small_server, world):
    import socket

    from inference_support import ts_datagrams

    port = free_udp_port()
    answer: list = []
    request = threading.Thread(target=lambda: answer.append(call(
        small_server, "/run_inference", body(world, source=f"udp://127.0.0.1:{port}"))))
    request.start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for datagram in ts_datagrams(50):  # one every 0.1 s: 5 s if nothing cut it
            if not request.is_alive():
                break
            sock.sendto(datagram, ("127.0.0.1", port))
            time.sleep(0.1)
    request.join(30)
    status, data = answer[0]
    assert status == 200 and data["metrics"]["end_reason"] == "time_limit"
    assert data["metrics"]["latency_s"] < 4.0


# -- token ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def token_server(world, repo_root):
    proc, base = serve(world, repo_root, env={"TECKTRACK_TOKEN": "s3cret-token"})
    try:
        yield base
    finally:
        stop(proc)


def test_a_token_is_required_everywhere_but_health(token_server, world):
    assert call(token_server, "/health")[0] == 200
    for path, payload in (("/models", None), ("/openapi.json", None),
                          ("/run_inference", body(world))):
        status, data = call(token_server, path, payload)
        assert status == 401 and "Authorization: Bearer" in data["error"]
        assert call(token_server, path, payload, token="wrong")[0] == 401
    assert call(token_server, "/models", token="s3cret-token") == \
        (200, {"models": [world["model"]]})
    status, data = call(token_server, "/run_inference", body(world), token="s3cret-token")
    assert status == 200 and data["metrics"]["total_frames"] == 20
    doc = call(token_server, "/openapi.json", token="s3cret-token")[1]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_serve_refuses_a_public_interface_without_a_token(capsys, monkeypatch):
    from tecktrack.cli import main

    monkeypatch.delenv("TECKTRACK_TOKEN", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 2
    assert "refusing to listen on 0.0.0.0 without a token" in capsys.readouterr().err


def test_the_dockerfile_binds_all_interfaces_only_with_a_token(repo_root, tmp_path):
    """Run the image's CMD with a stand-in ``tecktrack`` that prints its arguments."""
    lines = (repo_root / "Dockerfile").read_text().splitlines()
    command = json.loads(next(line for line in lines if line.startswith("CMD "))[4:])
    stub = tmp_path / "bin" / "tecktrack"
    stub.parent.mkdir()
    stub.write_text('#!/bin/sh\necho "ARGS $*"\n')
    stub.chmod(0o755)
    env = {"PATH": f"{stub.parent}:/usr/bin:/bin"}
    without = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)
    assert "--host 127.0.0.1" in without.stdout and "0.0.0.0" not in without.stdout
    assert "TECKTRACK_TOKEN" in without.stderr  # it says why
    with_token = subprocess.run(command, env={**env, "TECKTRACK_TOKEN": "t"},
                                capture_output=True, text=True, timeout=30)
    assert "--host 0.0.0.0" in with_token.stdout


# -- CPU and OpenCV under concurrency ------------------------------------------------------
def test_each_run_gets_its_share_of_the_cores(monkeypatch, world):
    import tecktrack.model as model_module
    from tecktrack.interface.api import RunRequest, ServiceConfig, request_threads, run_request

    seen = []

    def fake_load(*args, **kwargs):
        seen.append(kwargs["threads"])
        raise RuntimeError("stop here")

    monkeypatch.setattr(model_module, "load_model", fake_load)
    import tecktrack.interface.api.app as app_module

    monkeypatch.setattr(app_module, "usable_cores", lambda: 16)
    config = ServiceConfig((world["data"],), world["models"], threads=4)
    with pytest.raises(RuntimeError, match="stop here"):
        run_request(RunRequest("x", world["models"] / world["model"]), config)
    assert seen == [4] == [request_threads(4)]  # 16 cores / 4 runs at once, not 15 each


def test_loading_opencv_models_at_once_restores_the_log_level(world, monkeypatch):
    import cv2

    from tecktrack.model.backends import OpenCVBackend
    from tecktrack.model.discovery import set_model_paths

    paths = set_model_paths(world["models"] / world["model"])
    real_read = cv2.dnn.readNetFromONNX

    def slow_read(path):  # widen the window in which two loaders overlap
        time.sleep(0.2)
        return real_read(path)

    monkeypatch.setattr(cv2.dnn, "readNetFromONNX", slow_read)
    before = cv2.utils.logging.getLogLevel()
    assert before != cv2.utils.logging.LOG_LEVEL_SILENT
    try:
        with ThreadPoolExecutor(4) as pool:
            nets = list(pool.map(lambda _: OpenCVBackend(paths), range(4)))
        assert all(not net.net.empty() for net in nets)
        assert cv2.utils.logging.getLogLevel() == before
    finally:
        cv2.utils.logging.setLogLevel(before)
