"""InferenceService: detect on a video source, save per-frame results, measure the run online.

The pipeline has three threads so reading and writing overlap the network:

``reader``  capture (:class:`~tecktrack.inference.VideoPreprocessor`) + ``Model.preprocess``
``caller``  ``Model.forward`` only
``saver``   ``Model.decode_batch`` + ``Model.suppress``, YOLO label file, optional annotated JPEG

Bounded queues between them keep memory flat. Each run writes a fresh folder (from
:func:`tecktrack.paths.new_run_dir`) holding ``config.json`` (written first), ``labels/
<index>.txt`` (YOLO ``class cx cy w h conf``), ``frames/<index>.jpg`` when ``save_frames``,
and ``metrics.json`` (written last). Indices are the frames' 0-based positions in the source.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tecktrack.detections import Detections
from tecktrack.inference.capture import VideoPreprocessor
from tecktrack.inference.online_metrics import ResourceSampler, RunTimings, summarise
from tecktrack.inference.writer import save_predictions
from tecktrack.paths import new_run_dir
from tecktrack.progress import progress

__all__ = ["FrameResult", "InferenceResult", "InferenceService", "pipeline_threads"]

_DONE = object()
_POLL_S = 0.05


def pipeline_threads(cpu_count: int | None = None) -> int:
    """Threads for the network inside the pipeline: every core but one, at least one.

    The reader and saver threads need a core of their own to overlap the forward pass; a
    network that takes every core makes them queue behind it. On 2 cores demo-n then runs the
    whole pipeline at 0.91x its bare forward FPS (one thread) instead of 0.71x (two threads),
    and faster in absolute terms (README, Inference service, Overhead).

    Examples
    --------
    >>> pipeline_threads(2), pipeline_threads(16), pipeline_threads(1)
    (1, 15, 1)
    """
    import os

    cores = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    return max(1, cores - 1)


@dataclass(frozen=True)
class FrameResult:
    """Detections on one processed frame (pixel corners of that frame)."""

    index: int
    detections: Detections
    width: int
    height: int
    latency_s: float


@dataclass
class InferenceResult:
    """What :meth:`InferenceService.run_inference` returns."""

    frames: list[FrameResult]
    metrics: dict[str, Any]
    run_dir: Path


@dataclass
class _Work:
    index: int
    frame: np.ndarray
    blob: np.ndarray | None
    info: Any
    ready: float
    outputs: list[np.ndarray] | None = None


@dataclass
class _Shared:
    stop: threading.Event = field(default_factory=threading.Event)
    errors: list[BaseException] = field(default_factory=list)

    def fail(self, exc: BaseException) -> None:
        self.errors.append(exc)
        self.stop.set()


def _put(q: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put unless ``stop`` is set while the queue stays full; True when the item went in."""
    while not stop.is_set():
        try:
            q.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            continue
    return False


class InferenceService:
    """Run a detector over a video source with online metrics and a run folder.

    Parameters
    ----------
    model : tecktrack.model.Model
        Any object with ``preprocess``, ``forward``, ``decode_batch``, ``suppress``
        and ``names`` (the :class:`~tecktrack.model.Model` contract).
        One service runs one stream at a time; a Model is not shared between services.
    drop_rate : int
        Keep one frame in N (see :mod:`tecktrack.inference.capture`).
    save_frames : bool
        Also write annotated ``frames/<index>.jpg``.
    timeout : float
        UDP stall timeout in seconds: no packet for this long ends the run cleanly.
    runs_dir : str or Path, optional
        Parent of the run folders; default ``results/runs``.
    keep_frames : bool
        Keep every :class:`FrameResult` in the returned result (off for endless streams).
    quiet : bool
        No progress bar.

    Examples
    --------
    >>> from tecktrack.model import load_model                          # doctest: +SKIP
    >>> service = InferenceService(load_model("demo-n"), drop_rate=2)    # doctest: +SKIP
    >>> result = service.run_inference("data/synth-video/video.mp4")     # doctest: +SKIP
    >>> result.metrics["total_frames"], result.run_dir.name              # doctest: +SKIP
    (150, '20261121-231500-3fa2c1')
    """

    def __init__(self, model: Any, *, drop_rate: int = 1, save_frames: bool = False,
                 timeout: float = 5.0, runs_dir: str | Path | None = None,
                 keep_frames: bool = True, quiet: bool = False, queue_size: int = 8,
                 sample_interval: float = 0.25):
        self.model = model
        self.drop_rate = drop_rate
        self.save_frames = bool(save_frames)
        self.timeout = float(timeout)
        self.runs_dir = runs_dir
        self.keep_frames = keep_frames
        self.quiet = quiet
        self.queue_size = int(queue_size)
        self.sample_interval = float(sample_interval)

    # -- public -------------------------------------------------------------------------
    def run_inference(self, video_source: str | int | Path) -> InferenceResult:
        """Detect on every kept frame of ``video_source`` and return results and metrics.

        Parameters
        ----------
        video_source : str, int or Path
            Video file, image folder, camera index or ``udp://host:port``.

        Returns
        -------
        InferenceResult
            ``frames`` (per-frame detections), ``metrics`` (also in ``metrics.json``) and
            ``run_dir``.

        Raises
        ------
        StreamError
            A source that cannot be opened or read (a stalled UDP stream is not an error).
        """
        reader_source = VideoPreprocessor(timeout=self.timeout)
        frames = reader_source.capture_video(video_source, self.drop_rate)
        run_dir = new_run_dir(self.runs_dir)
        self._write_json(run_dir / "config.json", self._config(video_source))
        timings, results = RunTimings(), []
        shared = _Shared()
        start = time.perf_counter()
        with ResourceSampler(self.sample_interval) as sampler:
            interrupted = self._pipeline(frames, run_dir, timings, results, shared)
        wall = time.perf_counter() - start
        if shared.errors:
            raise shared.errors[0]
        stats = reader_source.stats
        metrics = summarise(timings, wall_s=wall, frames_read=stats.frames_read,
                            frames_dropped_by_rate=stats.frames_dropped_by_rate)
        metrics.update(sampler.summary())
        metrics["datagrams_rejected"] = stats.datagrams_rejected
        metrics["end_reason"] = "interrupted" if interrupted else stats.end_reason
        metrics["run_id"] = run_dir.name
        self._write_json(run_dir / "metrics.json", metrics)
        return InferenceResult(results if self.keep_frames else [], metrics, run_dir)

    # -- pipeline -----------------------------------------------------------------------
    def _pipeline(self, frames: Iterator[tuple[int, np.ndarray]], run_dir: Path,
                  timings: RunTimings, results: list[FrameResult], shared: _Shared) -> bool:
        to_forward: queue.Queue = queue.Queue(self.queue_size)
        to_save: queue.Queue = queue.Queue(self.queue_size)
        reader = threading.Thread(target=self._read, args=(frames, to_forward, timings, shared),
                                  name="tecktrack-reader", daemon=True)
        saver = threading.Thread(target=self._save,
                                 args=(to_save, run_dir, timings, results, shared),
                                 name="tecktrack-saver", daemon=True)
        reader.start()
        saver.start()
        interrupted = False
        try:
            self._forward(self._received(to_forward, reader, shared), to_save, timings, shared)
        except KeyboardInterrupt:
            interrupted = True
            shared.stop.set()
        except BaseException as exc:  # re-raised by run_inference after the threads end
            shared.fail(exc)
        finally:
            reader.join()
            to_save.put(_DONE)
            saver.join()
        return interrupted

    def _read(self, frames: Iterator[tuple[int, np.ndarray]], out: queue.Queue,
              timings: RunTimings, shared: _Shared) -> None:
        stages = timings.stages
        try:
            tick = time.perf_counter()
            for index, frame in frames:
                read_done = time.perf_counter()
                blob, info = self.model.preprocess(frame)
                ready = time.perf_counter()
                stages["read"].append(read_done - tick)
                stages["preprocess"].append(ready - read_done)
                if not _put(out, _Work(index, frame, blob, info, ready), shared.stop):
                    break
                tick = time.perf_counter()
        except BaseException as exc:
            shared.fail(exc)
        finally:
            frames.close()

    def _received(self, q: queue.Queue, reader: threading.Thread,
                  shared: _Shared) -> Iterator[_Work]:
        while not shared.stop.is_set():
            try:
                yield q.get(timeout=_POLL_S)
            except queue.Empty:
                if not reader.is_alive() and q.empty():
                    return

    def _forward(self, items: Iterator[_Work], out: queue.Queue, timings: RunTimings,
                 shared: _Shared) -> None:
        forward = timings.stages["forward"]
        for work in progress(items, desc="inference", quiet=self.quiet, unit="frame"):
            tick = time.perf_counter()
            work.outputs = self.model.forward(work.blob)
            forward.append(time.perf_counter() - tick)
            work.blob = None
            if not _put(out, work, shared.stop):
                return

    def _save(self, q: queue.Queue, run_dir: Path, timings: RunTimings,
              results: list[FrameResult], shared: _Shared) -> None:
        while (work := q.get()) is not _DONE:
            if shared.errors:
                continue  # keep draining so the forward thread never blocks
            try:
                results.append(self._save_one(work, run_dir, timings))
            except BaseException as exc:
                shared.fail(exc)

    def _save_one(self, work: _Work, run_dir: Path, timings: RunTimings) -> FrameResult:
        tick = time.perf_counter()
        det = self.model.suppress(self.model.decode_batch(work.outputs, [work.info])[0], work.info)
        processed = time.perf_counter()
        name = f"{work.index:06d}"
        image_path = run_dir / "frames" / f"{name}.jpg" if self.save_frames else None
        save_predictions(work.frame, det, self.model.names, run_dir / "labels" / f"{name}.txt",
                         image_path)
        done = time.perf_counter()
        timings.stages["postprocess"].append(processed - tick)
        timings.stages["save"].append(done - processed)
        timings.frame_latencies.append(done - work.ready)
        timings.add_scores(det.scores)
        height, width = work.frame.shape[:2]
        return FrameResult(work.index, det, width, height, done - work.ready)

    # -- run folder ---------------------------------------------------------------------
    def _config(self, source: str | int | Path) -> dict[str, Any]:
        from tecktrack import __version__

        model = self.model
        paths = getattr(model, "paths", None)
        return {
            "source": source if isinstance(source, int) else str(source),
            "model": str(paths.weights) if paths is not None else repr(model),
            "backend": getattr(model, "backend_name", None),
            "input_size": list(getattr(model, "input_size", ()) or ()),
            "names": list(model.names),
            "conf": getattr(model, "conf", None),
            "iou": getattr(model, "iou", None),
            "drop_rate": int(self.drop_rate),
            "save_frames": self.save_frames,
            "timeout": self.timeout,
            "tecktrack_version": __version__,
        }

    @staticmethod
    def _write_json(path: Path, data: dict[str, Any]) -> None:
        with open(path, "x", encoding="utf-8") as handle:  # "x": never overwrite
            json.dump(data, handle, indent=2)
            handle.write("\n")
