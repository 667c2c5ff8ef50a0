"""Online metrics of an inference run: per-stage timings, latency percentiles, CPU and memory.

The metric names ``latency_s``, ``fps``, ``avg_confidence``, ``cpu_percent``,
``memory_percent`` and ``total_frames`` are the seed's and stay exactly as they are.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

__all__ = ["STAGES", "ResourceSampler", "RunTimings", "summarise"]

#: Pipeline stages timed per frame, in order.
STAGES = ("read", "preprocess", "forward", "postprocess", "save")


class ResourceSampler:
    """Sample system CPU and memory use with psutil in a background thread.

    ``cpu_percent`` is system-wide (100 = every core busy), averaged over the samples;
    ``memory_percent`` is the share of physical memory in use, averaged likewise.
    At least one sample is always taken, at :meth:`stop`.

    Examples
    --------
    >>> with ResourceSampler(interval=0.05) as sampler:
    ...     _ = sum(range(100_000))
    >>> summary = sampler.summary()
    >>> summary["resource_samples"] >= 1 and 0 <= summary["memory_percent"] <= 100
    True
    """

    def __init__(self, interval: float = 0.25):
        self.interval = float(interval)
        self._cpu: list[float] = []
        self._memory: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tecktrack-psutil", daemon=True)

    def __enter__(self) -> ResourceSampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Prime psutil's CPU counter and start sampling."""
        import psutil

        psutil.cpu_percent(interval=None)
        self._thread.start()

    def _sample(self) -> None:
        import psutil

        self._cpu.append(float(psutil.cpu_percent(interval=None)))
        self._memory.append(float(psutil.virtual_memory().percent))

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def stop(self) -> None:
        """Stop sampling; take a last sample so short runs have one too."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._sample()

    def summary(self) -> dict[str, float | int]:
        """Mean ``cpu_percent`` and ``memory_percent`` and the number of samples."""
        return {"cpu_percent": round(float(np.mean(self._cpu)), 2),
                "memory_percent": round(float(np.mean(self._memory)), 2),
                "resource_samples": len(self._cpu)}


@dataclass
class RunTimings:
    """Seconds per stage and per frame, and detection scores, gathered across threads.

    Each stage list is appended to by one thread only, so no lock is needed.
    """

    stages: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    frame_latencies: list[float] = field(default_factory=list)
    score_sum: float = 0.0
    detections: int = 0

    def add_scores(self, scores: np.ndarray | None) -> None:
        """Count the detections of one frame and sum their confidences."""
        if scores is not None and len(scores):
            self.score_sum += float(np.sum(scores, dtype=np.float64))
            self.detections += len(scores)


def _ms(values: list[float], reducer=np.mean) -> float:
    return round(float(reducer(values)) * 1000.0, 3) if values else 0.0


def summarise(timings: RunTimings, *, wall_s: float, frames_read: int,
              frames_dropped_by_rate: int) -> dict[str, float | int | None]:
    """The metrics dict of a run (resource figures are added by the caller).

    ``avg_confidence`` is the mean score over every detection of the run (``None`` when
    there was none); stage keys are ``<stage>_ms`` (mean per processed frame); per-frame
    latency runs from the frame leaving the reader to its labels being written.

    Examples
    --------
    >>> t = RunTimings()
    >>> t.frame_latencies += [0.010, 0.020, 0.030]
    >>> t.add_scores(np.array([0.5, 0.7]))
    >>> m = summarise(t, wall_s=0.5, frames_read=4, frames_dropped_by_rate=1)
    >>> m["total_frames"], m["fps"], m["avg_confidence"], m["latency_p50_ms"]
    (3, 6.0, 0.6, 20.0)
    """
    total = len(timings.frame_latencies)
    metrics: dict[str, float | int | None] = {
        "latency_s": round(wall_s, 6),
        "fps": round(total / wall_s, 3) if wall_s > 0 else 0.0,
        "avg_confidence": round(timings.score_sum / timings.detections, 6)
        if timings.detections else None,
        "total_frames": total,
        "frames_read": frames_read,
        "frames_dropped_by_rate": frames_dropped_by_rate,
        "total_detections": timings.detections,
    }
    for stage in STAGES:
        metrics[f"{stage}_ms"] = _ms(timings.stages[stage])
    latencies = timings.frame_latencies
    metrics["latency_p50_ms"] = _ms(latencies, lambda v: np.percentile(v, 50))
    metrics["latency_p95_ms"] = _ms(latencies, lambda v: np.percentile(v, 95))
    return metrics
