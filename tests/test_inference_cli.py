"""``tecktrack infer``, ``tecktrack stream send`` and ``tecktrack serve`` argument handling."""

from __future__ import annotations

import json

import pytest
from inference_support import demo_or_tiny_model, write_video

from tecktrack.cli import main


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("cli") / "clip.mp4", 12)


def test_infer_prints_metrics_and_writes_a_run(clip, repo_root, tmp_path, capsys):
    model = demo_or_tiny_model(repo_root, tmp_path)
    status = main(["infer", str(clip), "--model", str(model), "--drop-rate", "3",
                   "--runs-dir", str(tmp_path / "runs"), "--save-frames", "--quiet"])
    assert status == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["metrics"]["total_frames"] == 4
    run_dir = tmp_path / "runs" / printed["metrics"]["run_id"]
    assert printed["run_dir"] == str(run_dir)
    assert sorted(p.name for p in (run_dir / "frames").iterdir()) == [
        "000000.jpg", "000003.jpg", "000006.jpg", "000009.jpg"]


def test_infer_with_a_bad_source_is_a_one_line_error(clip, repo_root, tmp_path, capsys):
    model = demo_or_tiny_model(repo_root, tmp_path)
    assert main(["infer", "rtsp://127.0.0.1/x", "--model", str(model)]) == 2
    assert "only udp:// URLs" in capsys.readouterr().err


def test_stream_send_sends_and_reports(clip, capsys):
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:  # someone listens
        listener.bind(("127.0.0.1", 0))
        url = f"udp://127.0.0.1:{listener.getsockname()[1]}"
        assert main(["stream", "send", str(clip), url, "--fps", "200", "--max-frames",
                     "5"]) == 0
    assert capsys.readouterr().out.strip().startswith(f"sent 5 frames to {url} (")


def test_infer_max_run_s_stops_the_run(clip, repo_root, tmp_path, capsys):
    model = demo_or_tiny_model(repo_root, tmp_path)
    assert main(["infer", str(clip), "--model", str(model), "--max-run-s", "0.000001",
                 "--runs-dir", str(tmp_path / "runs"), "--quiet"]) == 0
    metrics = json.loads(capsys.readouterr().out)["metrics"]
    assert metrics["end_reason"] == "time_limit" and metrics["total_frames"] < 12


def test_stream_send_refuses_other_schemes(clip, capsys):
    assert main(["stream", "send", str(clip), "tcp://127.0.0.1:5000"]) == 2
    assert "expected a udp://host:port URL" in capsys.readouterr().err


def test_serve_refuses_a_missing_data_root(tmp_path, capsys):
    assert main(["serve", "--port", "0", "--data-root", str(tmp_path / "nope")]) == 2
    assert "--data-root folder(s) not found" in capsys.readouterr().err


@pytest.mark.parametrize("given,recorded", [(None, 10), ("0", None), ("19", 19)])
def test_infer_helper_nice_reaches_the_run(clip, repo_root, tmp_path, capsys, given,
                                           recorded):
    """``--helper-nice`` (default the service's 10; 0 leaves the helper threads as they are),
    written to the run's config.json."""
    model = demo_or_tiny_model(repo_root, tmp_path)
    extra = [] if given is None else ["--helper-nice", given]
    assert main(["infer", str(clip), "--model", str(model), "--drop-rate", "6",
                 "--runs-dir", str(tmp_path / "runs"), "--quiet", *extra]) == 0
    run_dir = json.loads(capsys.readouterr().out)["run_dir"]
    with open(f"{run_dir}/config.json", encoding="utf-8") as handle:
        assert json.load(handle)["helper_nice"] == recorded


def test_infer_refuses_a_helper_nice_out_of_range(clip, repo_root, tmp_path, capsys):
    model = demo_or_tiny_model(repo_root, tmp_path)
    assert main(["infer", str(clip), "--model", str(model), "--helper-nice", "25",
                 "--runs-dir", str(tmp_path / "runs"), "--quiet"]) == 2
    assert "helper_nice must be an integer in 0..19, got 25" in capsys.readouterr().err
