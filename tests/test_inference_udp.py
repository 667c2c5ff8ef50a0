"""InferenceService on live UDP streams: stalls end the run cleanly; 300 frames all processed."""

from __future__ import annotations

import json
import threading

import pytest
from inference_support import demo_or_tiny_model, free_udp_port, wait_until_bound, write_video

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
        self.result = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.service.run_inference(self.url)
        except BaseException as exc:  # surfaced by the test
            self.error = exc


def stream_through_service(model_dir, video, tmp_path, *, fps, max_frames=None, timeout=2.0):
    port = free_udp_port()
    url = f"udp://127.0.0.1:{port}"
    service = InferenceService(load_model(model_dir), timeout=timeout,
                               runs_dir=tmp_path / "runs", quiet=True)
    receiver = Run(service, url)
    receiver.start()
    wait_until_bound(port)
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
