"""Stream pipeline vs the bare forward pass of the same model, from a video file and ``udp://``.

Goal (#20): the whole ``InferenceService.run_inference`` pipeline (read, decode, preprocess,
forward, NMS, label files, metrics) reaches at least 0.9x the FPS of ``Model.forward`` alone
on the same frames, with demo-n and demo-s, on a 2-core machine, the model loaded with the
pipeline's own thread setting (``pipeline_threads()``: every core but one for the network).
Each test records its ratio with ``goals.record``:
``stream_video_demo-n``, ``stream_video_demo-s``, ``stream_udp_demo-n``, ``stream_udp_demo-s``.

The clip is a synthetic 640x480 video of moving objects (``tecktrack.synth``, 200 frames, seed
0), so the models find objects and NMS and the label files do real work. Every figure is a
**median over paired, back-to-back measurements** (a forward-only pass right before each
pipeline run), which cancels slow drifts of the load on a shared machine:

* **video file**: ``forward-only time / pipeline time``, where forward-only is
  ``Model.forward`` on the 200 blobs of the clip, made beforehand (no decoding, preprocessing,
  post-processing or writing), and pipeline time is the whole ``run_inference(video)`` call
  (opening the file, ``config.json``, threads, every frame's labels, ``metrics.json``).
* **udp://**: the clip is encoded once (H.264 MPEG-TS, ``tecktrack.interface.send_video``)
  and its datagrams recorded; each run replays them from **another process** on loopback
  to a ``run_inference("udp://127.0.0.1:PORT")``, paced at ``SENDER_SPEEDUP`` (3) times the
  model's bare forward FPS, so the pipeline, never the sender, sets the pace. A run counts only
  when every frame was processed and no datagram was lost (``continuity_gaps == 0``). The
  pipeline time runs **from the moment the first decoded frame reaches the pipeline
  (``Model.preprocess`` of frame 0) until frame ``FRAMES - TAIL - 1`` is through NMS** (its
  label file follows, about 0.05 ms), and forward-only is ``Model.forward`` on the blobs of
  those ``FRAMES - TAIL`` decoded frames. Not counted: the start-up wait for the first
  datagram, and the last ``TAIL`` (4) frames, which no receiver can have before the stream
  ends (its stall timeout): the MPEG-TS demuxer learns that a video packet is complete only
  when the next one starts, and a frame-threaded decoder holds a few more frames back. The
  receive side (socket, sequencer, demuxer, H.264 decoding) runs in the pipeline's process
  and is counted; the encoding, done by the camera in real life, is not.

``test_bench_pipeline_overhead`` runs the pipeline with the forward pass replaced by its
cached output: what reading, preprocessing, NMS and saving cost on their own
(``extra_info["cpu_ms_per_frame"]``, process CPU time, less sensitive to machine load).

    .venv/bin/pytest benchmarks/test_bench_inference.py --benchmark-only \
        --benchmark-columns=min,median,rounds -s
"""

from __future__ import annotations

import io
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from goals import record

from tecktrack.inference.capture import VideoPreprocessor
from tecktrack.inference.service import InferenceService, pipeline_threads
from tecktrack.interface import free_udp_port
from tecktrack.model import load_model
from tecktrack.synth.video import generate_video

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from inference_support import record_stream  # noqa: E402  (the tests' stream recorder)

FRAMES = 200
TAIL = 4
PAIRS = 5
SENDER_SPEEDUP = 3.0
MODELS = ("demo-n", "demo-s")
_REPO = Path(__file__).resolve().parents[1]

#: The replaying sender, run in its own process (a camera on the network, not a thread of ours).
_SENDER = """
import pickle, socket, sys, time
port, fps, path = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
with open(path, "rb") as handle:
    frames = pickle.load(handle)
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
    sock.connect(("127.0.0.1", port))
    sys.stdin.readline()                      # "go": the receiver is bound
    start = time.perf_counter()
    for i, datagrams in enumerate(frames):
        delay = start + i / fps - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        for datagram in datagrams:
            sock.send(datagram)
"""


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bench-stream")
    return generate_video(folder / "clip" / "video.mp4", frames=FRAMES, size=(640, 480),
                          seed=0, quiet=True)


@pytest.fixture(scope="module", params=MODELS)
def stream_model(request):
    folder = _REPO / "models" / request.param
    if not (folder / "model.onnx").is_file():
        pytest.skip(f"models/{request.param} is not trained here")
    # the pipeline's own default: every core but one for the network (tecktrack infer, serve)
    return request.param, load_model(folder, threads=pipeline_threads())


@pytest.fixture(scope="module")
def recorded(clip, tmp_path_factory) -> tuple[Path, list[np.ndarray]]:
    """The clip as the sender streams it: datagrams grouped by frame (a pickle), decoded frames."""
    datagrams = record_stream(clip, fps=100, join_s=30)
    frames = _group_by_frame(datagrams)
    path = tmp_path_factory.mktemp("bench-udp") / "stream.pickle"
    path.write_bytes(pickle.dumps(frames))
    return path, _decode_ts(b"".join(datagrams))


def _starts_a_frame(datagram: bytes) -> bool:
    """A packet of the video PID (0x100) with payload_unit_start: the first bytes of a frame."""
    return any(datagram[i + 1] & 0x40 and (datagram[i + 1] & 0x1F) << 8 | datagram[i + 2]
               == 0x100 for i in range(0, len(datagram), 188))


def _group_by_frame(datagrams: list[bytes]) -> list[list[bytes]]:
    frames: list[list[bytes]] = [[]]
    for datagram in datagrams:
        if _starts_a_frame(datagram) and frames[-1] and any(map(_starts_a_frame, frames[-1])):
            frames.append([])
        frames[-1].append(datagram)
    return frames


def _decode_ts(data: bytes) -> list[np.ndarray]:
    import av

    with av.open(io.BytesIO(data), format="mpegts") as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]


def _forward_s(model, blobs: list[np.ndarray]) -> float:
    start = time.perf_counter()
    for blob in blobs:
        model.forward(blob)
    return time.perf_counter() - start


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _report(benchmark, key: str, forward: list[float], pipeline: list[float],
            frames: int = FRAMES) -> float:
    ratios = [f / p for f, p in zip(forward, pipeline, strict=True)]
    ratio = float(statistics.median(ratios))
    fwd_ms = statistics.median(forward) / frames * 1000
    pipe_ms = statistics.median(pipeline) / frames * 1000
    detail = (f"forward {fwd_ms:.2f} ms/frame, pipeline {pipe_ms:.2f} ms/frame, "
              f"{len(ratios)} pairs, load {_load()}")
    record(key, ratio, detail)
    benchmark.extra_info.update(fps_ratio_paired=round(ratio, 3),
                                ratios=[round(r, 3) for r in ratios], detail=detail)
    print(f"\n{key}: pipeline FPS / bare forward FPS = {ratio:.3f} ({detail})")
    return ratio


@pytest.mark.benchmark(group="stream-pipeline")
def test_bench_stream_video(benchmark, stream_model, clip, tmp_path):
    name, model = stream_model
    blobs = [model.preprocess(f)[0] for _, f in VideoPreprocessor().capture_video(clip)]
    assert len(blobs) == FRAMES
    service = InferenceService(model, runs_dir=tmp_path, keep_frames=False, quiet=True)
    forward: list[float] = []
    pipeline: list[float] = []

    def before() -> None:
        forward.append(_forward_s(model, blobs))

    def run() -> int:
        start = time.perf_counter()
        result = service.run_inference(clip)
        pipeline.append(time.perf_counter() - start)
        shutil.rmtree(result.run_dir)
        return result.metrics["total_frames"]

    _forward_s(model, blobs[:20])  # warm-up of the session
    assert benchmark.pedantic(run, setup=before, rounds=PAIRS, warmup_rounds=1) == FRAMES
    _report(benchmark, f"stream_video_{name}", forward[-PAIRS:], pipeline[-PAIRS:])


class _Clocked:
    """The model, noting when frame 0 reaches ``preprocess`` and when frame ``n - 1`` leaves NMS."""

    def __init__(self, model, n: int):
        self._model, self._n = model, n
        self.first: float | None = None
        self.last: float | None = None
        self._done = 0

    def __getattr__(self, name):
        return getattr(self._model, name)

    def preprocess(self, frame):
        if self.first is None:
            self.first = time.perf_counter()
        return self._model.preprocess(frame)

    def suppress(self, candidates, info):
        kept = self._model.suppress(candidates, info)
        self._done += 1
        if self._done == self._n:
            self.last = time.perf_counter()
        return kept


def _udp_run(model, stream: Path, fps: float, runs_dir: Path) -> tuple[float, dict]:
    """One replay into a fresh run: (seconds from frame 0 to frame FRAMES - TAIL - 1, metrics)."""
    clocked = _Clocked(model, FRAMES - TAIL)
    service = InferenceService(clocked, runs_dir=runs_dir, keep_frames=False, quiet=True,
                               timeout=1.0)
    port = free_udp_port()
    sender = subprocess.Popen([sys.executable, "-c", _SENDER, str(port), str(fps), str(stream)],
                              stdin=subprocess.PIPE, text=True)
    ready, out = threading.Event(), {}

    def receive() -> None:
        out["result"] = service.run_inference(f"udp://127.0.0.1:{port}", ready=ready)

    receiver = threading.Thread(target=receive, daemon=True)
    receiver.start()
    try:
        assert ready.wait(10)
        sender.communicate("go\n", timeout=60)
    finally:
        if sender.poll() is None:
            sender.kill()
        receiver.join(60)
    assert sender.returncode == 0 and "result" in out
    result = out["result"]
    shutil.rmtree(result.run_dir)
    assert clocked.first is not None and clocked.last is not None
    return clocked.last - clocked.first, result.metrics


@pytest.mark.benchmark(group="stream-pipeline")
def test_bench_stream_udp(benchmark, stream_model, recorded, tmp_path):
    name, model = stream_model
    stream, frames = recorded
    assert len(frames) == FRAMES
    blobs = [model.preprocess(f)[0] for f in frames[:FRAMES - TAIL]]
    _forward_s(model, blobs[:20])
    fps = SENDER_SPEEDUP * len(blobs) / _forward_s(model, blobs)
    forward: list[float] = []
    pipeline: list[float] = []

    def before() -> None:
        forward.append(_forward_s(model, blobs))

    def run() -> int:
        span, metrics = _udp_run(model, stream, fps, tmp_path)
        assert metrics["continuity_gaps"] == 0 and metrics["end_reason"] == "stalled"
        pipeline.append(span)
        return metrics["total_frames"]

    assert benchmark.pedantic(run, setup=before, rounds=PAIRS, warmup_rounds=1) == FRAMES
    benchmark.extra_info["sender_fps"] = round(fps, 1)
    _report(benchmark, f"stream_udp_{name}", forward[-PAIRS:], pipeline[-PAIRS:],
            len(blobs))


class _CachedForward:
    """The model with ``forward`` returning one precomputed output: pipeline overhead only."""

    def __init__(self, model, outputs):
        self._model, self._outputs = model, outputs

    def __getattr__(self, name):
        return getattr(self._model, name)

    def forward(self, blob):
        return self._outputs


@pytest.mark.benchmark(group="stream-overhead")
def test_bench_pipeline_overhead(benchmark, clip, tmp_path):
    folder = _REPO / "models" / "demo-n"
    if not (folder / "model.onnx").is_file():
        pytest.skip("models/demo-n is not trained here")
    model = load_model(folder, threads=pipeline_threads())
    frames = [f for _, f in VideoPreprocessor().capture_video(clip)]
    cached = _CachedForward(model, model.forward(model.preprocess(frames[FRAMES // 2])[0]))
    service = InferenceService(cached, runs_dir=tmp_path, keep_frames=False, quiet=True)
    cpu: list[float] = []

    def pipeline() -> int:
        start = time.process_time()
        result = service.run_inference(clip)
        cpu.append(time.process_time() - start)
        shutil.rmtree(result.run_dir)
        return result.metrics["total_frames"]

    assert benchmark.pedantic(pipeline, rounds=PAIRS, warmup_rounds=1) == FRAMES
    ms = min(cpu) / FRAMES * 1000
    benchmark.extra_info["cpu_ms_per_frame"] = round(ms, 3)
    print(f"\npipeline overhead (demo-n, forward cached): {ms:.2f} ms CPU per frame, "
          f"load {_load()}")
