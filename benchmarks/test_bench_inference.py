"""Pipeline overhead: the whole InferenceService run vs the bare forward pass of the same model.

Both process the same 120-frame 640x480 video; the "peer" is ``Model.forward`` alone on
pre-made blobs (no decoding, preprocessing, post-processing, NMS or writing). The goal is
pipeline FPS >= 90 % of bare-forward FPS. ``test_bench_pipeline`` stores two ratios in
``extra_info`` and prints them: ``fps_ratio_vs_forward`` (mean of the forward benchmark /
mean of the pipeline benchmark) and ``fps_ratio_paired`` (median over 3 back-to-back
forward/pipeline pairs, which cancels slow drifts in machine load on a shared box).
``test_bench_pipeline_overhead`` runs the pipeline with the forward pass replaced by its
cached output: what reading, preprocessing, NMS and saving cost on their own
(``extra_info["cpu_ms_per_frame"]`` is process CPU time, less sensitive to machine load).

Model: ``models/demo-n`` when trained, else the real Darknet yolo-fastest-1.1 from
``$TECKTRACK_REAL_DATA``, else the test suite's small ONNX detector with 6 convolutions.

    TECKTRACK_REAL_DATA=/work/shared/real .venv/bin/pytest benchmarks/test_bench_inference.py \
        --benchmark-only --benchmark-columns=min,mean,median,max,rounds -s
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import pytest

from tecktrack.inference.capture import VideoPreprocessor
from tecktrack.inference.service import InferenceService, pipeline_threads
from tecktrack.model import load_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from inference_support import build_detector, write_video  # noqa: E402

FRAMES = 120
_MEANS: dict[str, float] = {}


def _model_path(repo_root: Path, tmp: Path) -> Path:
    demo = repo_root / "models" / "demo-n"
    if (demo / "model.onnx").is_file():
        return demo
    real = os.environ.get("TECKTRACK_REAL_DATA")
    if real and (Path(real) / "models" / "yolo-fastest-1.1").is_dir():
        return Path(real) / "models" / "yolo-fastest-1.1"
    return build_detector(tmp / "conv-model", size=320, depth=6, width=16)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    repo_root = Path(__file__).resolve().parents[1]
    tmp = tmp_path_factory.mktemp("bench-inference")
    # the pipeline's own default: every core but one for the network (tecktrack infer, serve)
    model = load_model(_model_path(repo_root, tmp), threads=pipeline_threads())
    video = write_video(tmp / "clip.mp4", FRAMES, width=640, height=480)
    blobs = [model.preprocess(frame)[0] for _, frame in VideoPreprocessor().capture_video(video)]
    return model, video, blobs, tmp


@pytest.mark.benchmark(group="inference-pipeline-120-frames")
def test_bench_forward_only(benchmark, setup):
    model, _, blobs, _ = setup

    cpu: list[float] = []

    def forward_all() -> int:
        start = time.process_time()
        for blob in blobs:
            model.forward(blob)
        cpu.append(time.process_time() - start)
        return len(blobs)

    assert benchmark.pedantic(forward_all, rounds=5, warmup_rounds=1) == FRAMES
    _MEANS["forward"] = benchmark.stats.stats.mean
    benchmark.extra_info["cpu_ms_per_frame"] = round(min(cpu) / FRAMES * 1000, 3)
    print(f"\nbare forward: {min(cpu) / FRAMES * 1000:.2f} ms CPU per frame")
    benchmark.extra_info["model"] = repr(model)


@pytest.mark.benchmark(group="inference-pipeline-120-frames")
def test_bench_pipeline(benchmark, setup):
    model, video, _, tmp = setup
    service = InferenceService(model, runs_dir=tmp / "runs", keep_frames=False, quiet=True)

    def pipeline() -> int:
        return service.run_inference(video).metrics["total_frames"]

    assert benchmark.pedantic(pipeline, rounds=5, warmup_rounds=1) == FRAMES
    benchmark.extra_info["model"] = repr(model)
    paired = _paired_ratio(model, setup[2], pipeline)
    benchmark.extra_info["fps_ratio_paired"] = round(paired, 3)
    print(f"\npipeline FPS / bare forward FPS, paired median = {paired:.3f} ({model!r})")
    if "forward" in _MEANS:
        ratio = _MEANS["forward"] / benchmark.stats.stats.mean
        benchmark.extra_info["fps_ratio_vs_forward"] = round(ratio, 3)
        print(f"pipeline FPS / bare forward FPS, benchmark means = {ratio:.3f}")


def _paired_ratio(model, blobs, pipeline, pairs: int = 3) -> float:
    """Median of forward-time / pipeline-time over back-to-back pairs (same frame count)."""
    ratios = []
    for _ in range(pairs):
        start = time.perf_counter()
        for blob in blobs:
            model.forward(blob)
        forward_s = time.perf_counter() - start
        start = time.perf_counter()
        pipeline()
        ratios.append(forward_s / (time.perf_counter() - start))
    return float(statistics.median(ratios))


class _CachedForward:
    """The model with ``forward`` returning one precomputed output: pipeline overhead only."""

    def __init__(self, model, outputs):
        self._model, self._outputs = model, outputs

    def __getattr__(self, name):
        return getattr(self._model, name)

    def forward(self, blob):
        return self._outputs


@pytest.mark.benchmark(group="inference-pipeline-120-frames")
def test_bench_pipeline_overhead(benchmark, setup):
    model, video, blobs, tmp = setup
    cached = _CachedForward(model, model.forward(blobs[0]))
    service = InferenceService(cached, runs_dir=tmp / "runs-overhead", keep_frames=False,
                               quiet=True)
    cpu: list[float] = []

    def pipeline() -> int:
        start = time.process_time()
        frames = service.run_inference(video).metrics["total_frames"]
        cpu.append(time.process_time() - start)
        return frames

    assert benchmark.pedantic(pipeline, rounds=5, warmup_rounds=1) == FRAMES
    benchmark.extra_info["cpu_ms_per_frame"] = round(min(cpu) / FRAMES * 1000, 3)
    print(f"\npipeline overhead: {min(cpu) / FRAMES * 1000:.2f} ms CPU per frame")
