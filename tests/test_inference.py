"""InferenceService on files and folders: results, run folders, metrics, failures."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from inference_support import build_detector, write_folder, write_video

from tecktrack.datasets.yolo import read_yolo_labels
from tecktrack.errors import StreamError, TeckTrackError
from tecktrack.inference.service import InferenceService
from tecktrack.model import load_model

pytestmark = pytest.mark.timeout(120)

SEED_METRICS = {"latency_s", "fps", "avg_confidence", "cpu_percent", "memory_percent",
                "total_frames"}
EXTRA_METRICS = {"frames_read", "frames_dropped_by_rate", "total_detections", "read_ms",
                 "preprocess_ms", "forward_ms", "postprocess_ms", "save_ms", "latency_p50_ms",
                 "latency_p95_ms", "resource_samples", "end_reason", "run_id",
                 "datagrams_rejected", "datagrams_duplicated", "datagrams_reordered",
                 "continuity_gaps", "datagrams_overflowed"}
EXTRA_METRICS |= {"unreadable_images"}   # #21: folder images skipped and named


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """The small ONNX detector, whose detections on the test frames are known to exist."""
    return build_detector(tmp_path_factory.mktemp("model") / "tiny")


@pytest.fixture()
def model(model_dir):
    return load_model(model_dir)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("clip") / "clip.mp4", 30)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("frames") / "imgs", 12)


def run(model, source, tmp_path, **kwargs):
    kwargs.setdefault("quiet", True)
    return InferenceService(model, runs_dir=tmp_path / "runs", **kwargs).run_inference(source)


def test_metrics_have_the_seed_names_and_the_additions(model, clip, tmp_path):
    result = run(model, clip, tmp_path)
    m = result.metrics
    assert set(m) == SEED_METRICS | EXTRA_METRICS
    assert m["total_frames"] == m["frames_read"] == 30 and m["frames_dropped_by_rate"] == 0
    assert m["end_reason"] == "end" and m["run_id"] == result.run_dir.name
    assert 0 < m["latency_p50_ms"] <= m["latency_p95_ms"]
    assert all(m[f"{s}_ms"] > 0 for s in ("read", "preprocess", "forward", "postprocess",
                                           "save"))
    assert 0 <= m["cpu_percent"] <= 100 and 0 < m["memory_percent"] <= 100
    assert json.loads((result.run_dir / "metrics.json").read_text()) == m


def test_avg_confidence_is_the_mean_over_all_detections(model, clip, tmp_path):
    result = run(model, clip, tmp_path)
    scores = np.concatenate([f.detections.scores for f in result.frames])
    assert len(scores) == result.metrics["total_detections"] > 0
    assert result.metrics["avg_confidence"] == pytest.approx(scores.mean(), abs=1e-6)


def test_pipeline_results_equal_predict_frame_by_frame(model, folder, tmp_path):
    import cv2

    result = run(model, folder, tmp_path)
    assert [f.index for f in result.frames] == list(range(12))
    for frame_result in result.frames:
        image = cv2.imread(str(folder / f"{frame_result.index:06d}.png"))
        expected = model.predict(image)
        np.testing.assert_allclose(frame_result.detections.xyxy, expected.xyxy, atol=1e-4)
        np.testing.assert_array_equal(frame_result.detections.class_ids, expected.class_ids)
        np.testing.assert_allclose(frame_result.detections.scores, expected.scores, atol=1e-6)


def test_label_files_hold_each_frames_detections(model, clip, tmp_path):
    result = run(model, clip, tmp_path, drop_rate=4)
    labels = sorted(p.name for p in (result.run_dir / "labels").iterdir())
    assert labels == [f"{i:06d}.txt" for i in range(0, 30, 4)]
    assert not (result.run_dir / "frames").exists()
    for f in result.frames:
        back = read_yolo_labels(result.run_dir / "labels" / f"{f.index:06d}.txt", f.width,
                                f.height, with_scores=True)
        assert len(back) == len(f.detections)
        np.testing.assert_allclose(back.scores, f.detections.scores, atol=1e-6)
        np.testing.assert_allclose(back.xyxy, np.clip(f.detections.xyxy, 0, [f.width,
                                   f.height, f.width, f.height]), atol=0.01)
    m = result.metrics
    assert (m["total_frames"], m["frames_read"], m["frames_dropped_by_rate"]) == (8, 30, 22)


def test_save_frames_writes_annotated_jpegs(model, clip, tmp_path):
    import cv2

    result = run(model, clip, tmp_path, save_frames=True, drop_rate=10)
    names = sorted(p.name for p in (result.run_dir / "frames").iterdir())
    assert names == ["000000.jpg", "000010.jpg", "000020.jpg"]
    image = cv2.imread(str(result.run_dir / "frames" / "000020.jpg"))
    assert image.shape == (64, 96, 3)


def test_config_records_what_the_run_used(model, model_dir, clip, tmp_path):
    result = run(model, clip, tmp_path, drop_rate=3, timeout=2.5)
    config = json.loads((result.run_dir / "config.json").read_text())
    assert config["source"] == str(clip)
    assert config["model"] == str(model.paths.weights)
    assert config["drop_rate"] == 3 and config["timeout"] == 2.5
    assert config["conf"] == model.conf and config["iou"] == model.iou
    assert config["names"] == model.names and config["save_frames"] is False


def test_each_run_gets_a_new_folder_and_never_overwrites(model, clip, tmp_path):
    first = run(model, clip, tmp_path)
    before = {p: p.read_bytes() for p in first.run_dir.rglob("*") if p.is_file()}
    second = run(model, clip, tmp_path)
    assert second.run_dir != first.run_dir
    assert before == {p: p.read_bytes() for p in first.run_dir.rglob("*") if p.is_file()}


class SlowForward:
    """The real model with a forward pass of at least ``delay`` seconds."""

    def __init__(self, inner, delay: float = 0.01):
        self.inner, self.delay = inner, delay

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def forward(self, blob):
        time.sleep(self.delay)
        return self.inner.forward(blob)


def test_fps_is_frames_over_the_runs_wall_time(model_dir, clip, tmp_path):
    # Bounds from outside the service: the run lasts no longer than the call around it, and
    # no shorter than its 30 forward passes of >= 10 ms each, one after the other.
    start = time.perf_counter()
    result = run(SlowForward(load_model(model_dir)), clip, tmp_path)
    outside = time.perf_counter() - start
    m = result.metrics
    assert m["total_frames"] == 30
    assert 30 / outside <= m["fps"] <= 30 / 0.30
    assert 0.30 <= m["latency_s"] <= outside


def test_resources_are_sampled_during_the_run(model_dir, clip, tmp_path):
    result = run(SlowForward(load_model(model_dir)), clip, tmp_path, sample_interval=0.02)
    assert result.metrics["latency_s"] >= 0.3
    assert result.metrics["resource_samples"] >= 5


class _FailsAtCall:
    """The model, except that its ``at``-th forward pass raises ``error``."""

    def __init__(self, inner, at: int, error: BaseException):
        self.inner, self.at, self.error, self.calls = inner, at, error, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def forward(self, blob):
        self.calls += 1
        if self.calls == self.at:
            raise self.error
        return self.inner.forward(blob)


def test_a_failing_forward_raises_and_stops_every_thread(model_dir, clip, tmp_path):
    import threading

    broken = _FailsAtCall(load_model(model_dir), 5, RuntimeError("backend exploded"))
    before = set(threading.enumerate())  # e.g. predict_batch's helper of an earlier test
    with pytest.raises(RuntimeError, match="backend exploded"):
        run(broken, clip, tmp_path)
    assert not [t for t in threading.enumerate()
                if t.name.startswith("tecktrack-") and t not in before]
    assert list((tmp_path / "runs").iterdir()) == []  # the failed run left no folder


def test_a_source_that_fails_after_opening_leaves_no_run_folder(model, tmp_path):
    bogus = tmp_path / "bogus.mp4"
    bogus.write_bytes(b"\x00" * 100)  # opened lazily, in the reader thread
    with pytest.raises(StreamError, match="cannot open video source"):
        run(model, bogus, tmp_path)
    assert list((tmp_path / "runs").iterdir()) == []


def test_max_run_s_is_a_wall_limit(model_dir, clip, tmp_path):
    slow = SlowForward(load_model(model_dir), delay=0.05)  # 30 frames would take >= 1.5 s
    result = run(slow, clip, tmp_path, max_run_s=0.4)
    m = result.metrics
    assert m["end_reason"] == "time_limit"
    assert 1 <= m["total_frames"] < 30
    assert len(list((result.run_dir / "labels").iterdir())) == m["total_frames"]
    assert json.loads((result.run_dir / "config.json").read_text())["max_run_s"] == 0.4
    with pytest.raises(TeckTrackError, match="max_run_s must be > 0"):
        InferenceService(slow, max_run_s=0)


@pytest.mark.timeout(30)
def test_ctrl_c_does_not_wait_for_a_reader_blocked_in_a_camera(model_dir, tmp_path,
                                                               monkeypatch):
    import threading

    import tecktrack.inference.service as service_module
    from tecktrack.inference.capture import VideoPreprocessor

    release = threading.Event()

    class BlockedCamera(VideoPreprocessor):
        """One frame, then a read that never returns (until the test ends)."""

        def capture_video(self, source, drop_rate=1):
            def frames():
                yield 0, np.zeros((48, 64, 3), np.uint8)
                release.wait(120)

            return frames()

    monkeypatch.setattr(service_module, "VideoPreprocessor", BlockedCamera)
    try:
        with pytest.warns(RuntimeWarning, match="reader did not stop within"):
            result = run(_FailsAtCall(load_model(model_dir), 1, KeyboardInterrupt()), 0,
                         tmp_path)
        assert result.metrics["end_reason"] == "interrupted"
    finally:
        release.set()


def test_an_unreadable_frame_midway_is_skipped_counted_and_named(model, tmp_path):
    """#21: one policy for unreadable images (as predict): skip, count, name the file."""
    images = write_folder(tmp_path / "imgs", 6)
    (images / "000004.png").write_bytes(b"broken")
    result = run(model, images, tmp_path)
    assert result.metrics["total_frames"] == 5
    assert len(result.metrics["unreadable_images"]) == 1
    assert "000004.png: not an image (cannot be decoded" in result.metrics["unreadable_images"][0]
    assert not (result.run_dir / "labels" / "000004.txt").exists()
    assert (result.run_dir / "metrics.json").is_file()


def test_bad_source_fails_before_a_run_folder_is_made(model, tmp_path):
    with pytest.raises(StreamError, match="only udp://"):
        run(model, "rtsp://127.0.0.1/cam", tmp_path)
    with pytest.raises(StreamError, match="drop_rate"):
        run(model, "udp://127.0.0.1:9", tmp_path, drop_rate=0)
    assert not (tmp_path / "runs").exists()


def test_ctrl_c_ends_the_run_with_metrics_so_far(model_dir, clip, tmp_path):
    # Ctrl-C arrives during the 6th forward pass (as a camera run is stopped)
    result = run(_FailsAtCall(load_model(model_dir), 6, KeyboardInterrupt()), clip, tmp_path)
    m = result.metrics
    assert m["end_reason"] == "interrupted"
    assert m["total_frames"] == 5
    assert len(list((result.run_dir / "labels").iterdir())) == 5
    assert json.loads((result.run_dir / "metrics.json").read_text()) == m
