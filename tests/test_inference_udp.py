"""InferenceService on live UDP streams: stalls end the run cleanly; 300 frames all processed."""

from __future__ import annotations

import json
import threading

import pytest
from inference_support import demo_or_tiny_model, free_udp_port, write_video

from tecktrack.inference.service import InferenceService
from tecktrack.interface.udp_sender import send_video
from tecktrack.model import load_model


@pytest.fixture(scope="module")
def model_dir(repo_root, tmp_path_factory):
    return demo_or_tiny_model(repo_root, tmp_path_factory.mktemp("model"))


class Run(threading.Thread):
    def __init__(self, service: InferenceService, url: str):
        super().__init__(daemon=True)
        self.service, self.url = service, url
        self.ready = threading.Event()
        self.result = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.service.run_inference(self.url, ready=self.ready)
        except BaseException as exc:  # surfaced by the test
            self.error = exc


def stream_through_service(model_dir, video, tmp_path, *, fps, max_frames=None, timeout=2.0):
    port = free_udp_port()
    url = f"udp://127.0.0.1:{port}"
    service = InferenceService(load_model(model_dir), timeout=timeout,
                               runs_dir=tmp_path / "runs", quiet=True)
    receiver = Run(service, url)
    receiver.start()
    assert receiver.ready.wait(30), "the receiver did not bind"
    sent = send_video(video, url, fps=fps, max_frames=max_frames)
    receiver.join(60)
    assert not receiver.is_alive() and receiver.error is None
    return sent, receiver.result


@pytest.mark.timeout(60)
def test_stall_ends_the_run_with_the_metrics_so_far(model_dir, tmp_path):
    video = write_video(tmp_path / "clip.mp4", 60, width=160, height=120)
    sent, result = stream_through_service(model_dir, video, tmp_path, fps=50, max_frames=35)
    assert sent == 35
    m = result.metrics
    assert m["total_frames"] == m["frames_read"] == 35
    assert m["end_reason"] == "stalled"
    assert len(list((result.run_dir / "labels").iterdir())) == 35
    assert json.loads((result.run_dir / "metrics.json").read_text())["total_frames"] == 35
    # the stall wait (2 s) is part of the run's wall time
    assert m["latency_s"] >= 2.0


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_300_frames_at_25_fps_are_all_processed(model_dir, tmp_path):
    video = write_video(tmp_path / "clip300.mp4", 300, width=320, height=240)
    sent, result = stream_through_service(model_dir, video, tmp_path, fps=25)
    assert sent == 300
    assert result.metrics["total_frames"] == 300
    assert result.metrics["frames_read"] == 300
    assert [f.index for f in result.frames] == list(range(300))


@pytest.mark.timeout(60)
def test_stream_video_over_ipv6_loopback(model_dir, tmp_path):
    from tecktrack.interface.streaming import stream_video

    video = write_video(tmp_path / "clip.mp4", 12, width=96, height=64)
    service = InferenceService(load_model(model_dir), timeout=0.5, runs_dir=tmp_path / "runs",
                               quiet=True)
    run = stream_video(service, video, fps=100, host="::1")
    assert run.url.startswith("udp://[::1]:")
    assert run.sent == 12 and run.result.metrics["total_frames"] == 12


@pytest.mark.timeout(60)
def test_a_trickling_stream_is_cut_at_max_run_s(model_dir, tmp_path):
    """One MPEG-TS datagram every 0.2 s keeps a 1 s stall timeout from ever firing."""
    import socket
    import time

    from inference_support import ts_datagrams

    port = free_udp_port()
    service = InferenceService(load_model(model_dir), timeout=1.0, max_run_s=1.5,
                               runs_dir=tmp_path / "runs", quiet=True)
    receiver = Run(service, f"udp://127.0.0.1:{port}")
    receiver.start()
    assert receiver.ready.wait(30)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for datagram in ts_datagrams(40):  # 8 s of trickle if nothing cut it
            if not receiver.is_alive():
                break
            sock.sendto(datagram, ("127.0.0.1", port))
            time.sleep(0.2)
    receiver.join(10)
    assert not receiver.is_alive() and receiver.error is None
    m = receiver.result.metrics
    assert m["end_reason"] == "time_limit"
    assert 1.5 <= m["latency_s"] < 5.0
