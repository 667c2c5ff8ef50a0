"""The HTTP API over a real waitress server on a free loopback port, spoken to with urllib."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from inference_support import build_detector, free_udp_port, write_video

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def world(repo_root, tmp_path_factory):
    """data/ with a clip, a symlink escaping it and a bogus video; models/ with a model."""
    root = tmp_path_factory.mktemp("service")
    data = root / "data"
    (data / "videos").mkdir(parents=True)
    write_video(data / "videos" / "clip.mp4", 20)
    (data / "bogus.mp4").write_bytes(b"\x00" * 100)
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
    return {"root": root, "data": data, "models": models, "model": name, "outside": outside}


@pytest.fixture(scope="module")
def server(world, repo_root):
    """``tecktrack serve`` (waitress) in a subprocess on a free loopback port."""
    command = [sys.executable, "-m", "tecktrack", "serve", "--port", "0",
               "--data-root", str(world["data"]), "--models-root", str(world["models"]),
               "--runs-dir", str(world["root"] / "runs"), "--threads", "4"]
    proc = subprocess.Popen(command, cwd=repo_root, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        line = proc.stdout.readline() if ready else ""
        match = re.search(r"serving on (http://127\.0\.0\.1:\d+)", line)
        assert match, f"server did not start: {line!r}"
        yield match.group(1)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def call(base: str, path: str, payload=None, *, raw: bytes | None = None,
         method: str | None = None) -> tuple[int, dict]:
    body = raw if raw is not None else None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(base + path, data=body, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


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
    run_dir = Path(data["run_dir"])
    assert run_dir.parent == world["root"] / "runs" and data["run_id"] == run_dir.name
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
    assert data["metrics"]["end_reason"] == "stalled"


@pytest.mark.parametrize("overrides,status,message", [
    ({"drop_rate": 0}, 400, "drop_rate: must be in [1, 1000], got 0"),
    ({"drop_rate": "2"}, 400, "drop_rate: must be int, got str"),
    ({"drop_rate": 2.5}, 400, "drop_rate: must be int, got float"),
    ({"conf": 1.5}, 400, "conf: must be in [0, 1], got 1.5"),
    ({"conf": True}, 400, "conf: must be float, got bool"),
    ({"iou": -0.1}, 400, "iou: must be in [0, 1]"),
    ({"timeout": 0}, 400, "timeout: must be in [0.1, 60]"),
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
    ({"source": "bogus.mp4"}, 422, "cannot open video source"),
])
def test_bad_requests_get_a_4xx_json_error(server, world, overrides, status, message):
    got_status, data = call(server, "/run_inference", body(world, **overrides))
    assert got_status == status, data
    assert message in data["error"]


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
])
def test_malformed_bodies(server, raw, message):
    status, data = call(server, "/run_inference", raw=raw)
    assert status == 400 and message in data["error"]


def test_oversize_body_is_refused_before_parsing(server, world):
    huge = json.dumps(body(world, padding="x" * 40_000)).encode()
    status, data = call(server, "/run_inference", raw=huge)
    assert status == 413 and "error" in data


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
    run_dirs = [Path(a["run_dir"]) for _, a in answers]
    assert len(set(run_dirs)) == 4
    # same input, same model: the two full runs wrote identical label files
    first, last = run_dirs[0] / "labels", run_dirs[3] / "labels"
    assert sorted(p.name for p in first.iterdir()) == sorted(p.name for p in last.iterdir())
    for path in first.iterdir():
        assert path.read_bytes() == (last / path.name).read_bytes()
