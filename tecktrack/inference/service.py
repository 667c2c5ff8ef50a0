"""InferenceService: detect on a video source, save per-frame results, measure the run online.

The pipeline has three threads so reading and writing overlap the network:

``reader``  capture (:class:`~tecktrack.inference.VideoPreprocessor`, one decoder thread) +
            ``Model.preprocess``
``caller``  ``Model.forward`` only
``saver``   ``Model.decode_batch`` + ``Model.suppress``, YOLO label file, optional annotated JPEG

Bounded queues between them keep memory flat; the reader ends the caller's loop with an end
marker. The reader and saver share the core the network leaves free
(:mod:`tecktrack.inference.cores`): OpenCV runs one thread during a run (unless the network
itself runs on OpenCV) and the two helper threads yield to the network (``helper_nice``).

Each run writes a fresh folder (from
:func:`tecktrack.paths.new_run_dir`) holding ``config.json`` (written first), ``labels/
<index>.txt`` (YOLO ``class cx cy w h conf``), ``frames/<index>.jpg`` when ``save_frames``,
and ``metrics.json`` (written last). Indices are the frames' 0-based positions in the source.
With ``track`` on, the saver thread also runs ByteTrack after NMS
(:class:`~tecktrack.inference.track_stage.TrackStage`): ``tracks.txt`` (MOTChallenge, frame =
index + 1) is added, annotated frames show ``#id`` and a short trail, and the metrics gain
``active_tracks``, ``tracks_started``, ``tracks_ended`` and ``track_ms``.
A run that fails leaves no folder behind; one that hits ``max_run_s`` ends like a stall, with
``end_reason`` ``"time_limit"``.
"""

from __future__ import annotations

import contextlib
import json
import queue
import shutil
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tecktrack.cluster import usable_cores
from tecktrack.detections import Detections
from tecktrack.errors import TeckTrackError
from tecktrack.inference.capture import UDP_COUNTERS, VideoPreprocessor
from tecktrack.inference.cores import HELPER_NICE, opencv_threads, yield_to_network
from tecktrack.inference.online_metrics import ResourceSampler, RunTimings, summarise
from tecktrack.inference.track_stage import TrackStage, source_fps, tracker_config
from tecktrack.inference.writer import save_predictions
from tecktrack.paths import new_run_dir
from tecktrack.progress import progress

__all__ = ["FrameResult", "InferenceResult", "InferenceService", "pipeline_threads"]

_DONE = object()  # to the saver: no more frames
_END = object()   # from the reader: the source has no more frames
_POLL_S = 0.05
#: How long a stopped run waits for its reader (a camera may block in a read forever).
READER_JOIN_S = 2.0
#: Video decoder threads (files, UDP): decoding runs in the reader thread, on the core that
#: :func:`pipeline_threads` leaves free, instead of waking helper threads on the network's.
DECODER_THREADS = 1


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
    cores = cpu_count if cpu_count is not None else usable_cores()
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
    reason: str | None = None

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
    max_run_s : float, optional
        Wall-clock limit of a run in seconds: when it passes, the run stops reading, finishes
        the frames in flight and ends with ``end_reason`` ``"time_limit"`` (default: none).
    runs_dir : str or Path, optional
        Parent of the run folders; default ``results/runs``.
    keep_frames : bool
        Keep every :class:`FrameResult` in the returned result (off for endless streams).
    quiet : bool
        No progress bar.
    track : bool, str, Path, TrackerConfig or dict
        Track objects across frames: ``True`` for ByteTrack's defaults, a ``bytetrack.yaml``
        path, or settings (default ``False``: detection only).
    helper_nice : int, optional
        Nice value added to the reader and saver threads (Linux), so that they wait for the
        core the network leaves free instead of preempting the forward pass (default
        :data:`~tecktrack.inference.cores.HELPER_NICE`; ``None`` or ``0``: unchanged).

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
                 sample_interval: float = 0.25, max_run_s: float | None = None,
                 track: Any = False, helper_nice: int | None = HELPER_NICE):
        if max_run_s is not None and not max_run_s > 0:
            raise TeckTrackError(f"max_run_s must be > 0 seconds, got {max_run_s}")
        self.max_run_s = None if max_run_s is None else float(max_run_s)
        self.model = model
        self.drop_rate = drop_rate
        self.save_frames = bool(save_frames)
        self.timeout = float(timeout)
        self.runs_dir = runs_dir
        self.keep_frames = keep_frames
        self.quiet = quiet
        self.queue_size = int(queue_size)
        self.sample_interval = float(sample_interval)
        self.track = tracker_config(track)
        if helper_nice is not None and (isinstance(helper_nice, bool)
                                        or not isinstance(helper_nice, int)
                                        or not 0 <= helper_nice <= 19):
            raise TeckTrackError(f"helper_nice must be an integer in 0..19, got {helper_nice!r}")
        self.helper_nice = helper_nice
        self._tracking: TrackStage | None = None

    # -- public -------------------------------------------------------------------------
    def run_inference(self, video_source: str | int | Path,
                      ready: threading.Event | None = None) -> InferenceResult:
        """Detect on every kept frame of ``video_source`` and return results and metrics.

        Parameters
        ----------
        video_source : str, int or Path
            Video file, image folder, camera index or ``udp://host:port``.
        ready : threading.Event, optional
            Set once the source is open (for UDP: the port is bound, so a sender may start).

        Returns
        -------
        InferenceResult
            ``frames`` (per-frame detections), ``metrics`` (also in ``metrics.json``) and
            ``run_dir``.

        Raises
        ------
        StreamError
            A source that cannot be opened or read (a stalled UDP stream is not an error);
            the run folder is removed.
        """
        capture = VideoPreprocessor(timeout=self.timeout, ready=ready,
                                    decoder_threads=DECODER_THREADS)
        frames = capture.capture_video(video_source, self.drop_rate)
        run_dir = new_run_dir(self.runs_dir)
        try:
            self._tracking = (None if self.track is None else
                              TrackStage(self.track, run_dir, fps=source_fps(video_source)))
            return self._run(capture, frames, video_source, run_dir)
        except BaseException:
            shutil.rmtree(run_dir, ignore_errors=True)  # a fresh folder: only this run's files
            raise

    def _run(self, capture: VideoPreprocessor, frames: Iterator[tuple[int, np.ndarray]],
             video_source: str | int | Path, run_dir: Path) -> InferenceResult:
        timings, results = RunTimings(), []
        shared = _Shared()
        start = time.perf_counter()
        # OpenCV's pool would put half of every resize on the network's core (tecktrack.
        # inference.cores); a network that runs on OpenCV keeps the threads it was loaded with.
        on_opencv = getattr(self.model, "backend_name", None) == "opencv"
        try:
            with contextlib.nullcontext() if on_opencv else opencv_threads(1):
                sampler = self._pipeline(frames, capture, run_dir, video_source, timings,
                                         results, shared)
        finally:
            if self._tracking is not None:
                self._tracking.close()
        wall = time.perf_counter() - start
        if shared.errors:
            raise shared.errors[0]
        stats = capture.stats
        metrics = summarise(timings, wall_s=wall, frames_read=stats.frames_read,
                            frames_dropped_by_rate=stats.frames_dropped_by_rate)
        metrics.update(sampler.summary())
        for name in UDP_COUNTERS:
            metrics[name] = getattr(stats, name)
        metrics["unreadable_images"] = list(stats.unreadable)   # skipped, as predict skips
        metrics["end_reason"] = shared.reason or stats.end_reason
        metrics["run_id"] = run_dir.name
        if self._tracking is not None:
            metrics.update(self._tracking.metrics())
        self._write_json(run_dir / "metrics.json", metrics)
        return InferenceResult(results if self.keep_frames else [], metrics, run_dir)

    # -- pipeline -----------------------------------------------------------------------
    def _pipeline(self, frames: Iterator[tuple[int, np.ndarray]], capture: VideoPreprocessor,
                  run_dir: Path, video_source: str | int | Path, timings: RunTimings,
                  results: list[FrameResult], shared: _Shared) -> ResourceSampler:
        to_forward: queue.Queue = queue.Queue(self.queue_size)
        to_save: queue.Queue = queue.Queue(self.queue_size)
        reader = threading.Thread(target=self._read, args=(frames, to_forward, timings, shared),
                                  name="tecktrack-reader", daemon=True)
        saver = threading.Thread(target=self._save,
                                 args=(to_save, run_dir, timings, results, shared),
                                 name="tecktrack-saver", daemon=True)
        # the source opens and the first frames are prepared while the run folder is set up;
        # config.json is still the run's first file (labels come after the first forward)
        reader.start()
        try:
            self._write_json(run_dir / "config.json", self._config(video_source))
        except BaseException:
            self._stop_reader(reader, capture, shared)
            raise
        sampler = ResourceSampler(self.sample_interval)
        sampler.start()
        saver.start()
        deadline = None if self.max_run_s is None else time.monotonic() + self.max_run_s
        try:
            self._forward(self._received(to_forward, reader, shared, deadline), to_save,
                          timings, shared)
        except KeyboardInterrupt:
            shared.reason = "interrupted"
            shared.stop.set()
        except BaseException as exc:  # re-raised by run_inference after the threads end
            shared.fail(exc)
        finally:
            self._stop_reader(reader, capture, shared)
            to_save.put(_DONE)
            saver.join()
            sampler.stop()
        return sampler

    @staticmethod
    def _stop_reader(reader: threading.Thread, capture: VideoPreprocessor,
                     shared: _Shared) -> None:
        if reader.is_alive():
            shared.stop.set()  # a reader waiting on a full queue lets go
        capture.cancel()  # a UDP reader stops waiting for datagrams
        reader.join(READER_JOIN_S)
        if reader.is_alive():
            warnings.warn(f"the frame reader did not stop within {READER_JOIN_S} s (a "
                          "camera blocking in a read?); it is left to end on its own",
                          RuntimeWarning, stacklevel=3)

    def _read(self, frames: Iterator[tuple[int, np.ndarray]], out: queue.Queue,
              timings: RunTimings, shared: _Shared) -> None:
        stages = timings.stages
        yielded = False
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
                if not yielded:  # full speed until the network has its first frame
                    yielded = yield_to_network(self.helper_nice) or True
                tick = time.perf_counter()
        except BaseException as exc:
            shared.fail(exc)
        finally:
            frames.close()
            _put(out, _END, shared.stop)  # the forward loop ends at once, without a poll

    def _received(self, q: queue.Queue, reader: threading.Thread, shared: _Shared,
                  deadline: float | None) -> Iterator[_Work]:
        while not shared.stop.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                shared.reason = "time_limit"
                shared.stop.set()
                return
            try:
                work = q.get(timeout=_POLL_S)
            except queue.Empty:
                if not reader.is_alive() and q.empty():
                    return
                continue
            if work is _END:
                return
            yield work

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
        yield_to_network(self.helper_nice)
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
        tracking = self._tracking
        if tracking is not None:
            det = tracking(work.index, det)
        processed = time.perf_counter()
        name = f"{work.index:06d}"
        image_path = run_dir / "frames" / f"{name}.jpg" if self.save_frames else None
        trails = tracking.trails() if tracking is not None and image_path is not None else None
        save_predictions(work.frame, det, self.model.names, run_dir / "labels" / f"{name}.txt",
                         image_path, trails=trails)
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
            "max_run_s": self.max_run_s,
            "helper_nice": self.helper_nice,
            "tecktrack_version": __version__,
        } | ({} if self._tracking is None else {"tracker": self._tracking.config.to_dict()})

    @staticmethod
    def _write_json(path: Path, data: dict[str, Any]) -> None:
        with open(path, "x", encoding="utf-8") as handle:  # "x": never overwrite
            json.dump(data, handle, indent=2)
            handle.write("\n")
