"""The tracking stage of the inference pipeline: ids per frame, ``tracks.txt``, track metrics.

:class:`TrackStage` sits in the saver thread after NMS: it gives each frame's
:class:`~tecktrack.detections.Detections` to a :class:`~tecktrack.tracking.ByteTrack` with
the frame's index in the source (so a ``drop_rate`` stride is predicted over), appends the
tracked boxes to ``<run>/tracks.txt`` (MOTChallenge ``frame,id,x,y,w,h,conf,-1,-1,-1``,
frame = index + 1) and keeps the recent path of each track for the annotated frames.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from tecktrack.detections import Detections
from tecktrack.tracking import ByteTrack, TrackerConfig, TrackLog, read_tracker_config

__all__ = ["TRAIL_FRAMES", "TrackStage", "source_fps", "tracker_config"]

#: Frames of history drawn as a trail behind each tracked box.
TRAIL_FRAMES = 16
_VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".ts", ".webm"}


def source_fps(source: str | int | Path) -> float | None:
    """Frame rate a video file declares (None for folders, cameras, streams, or unknown).

    Examples
    --------
    >>> source_fps("udp://127.0.0.1:5000") is None, source_fps(0) is None
    (True, True)
    """
    if isinstance(source, int) or Path(str(source)).suffix.lower() not in _VIDEO_SUFFIXES:
        return None
    import cv2

    capture = cv2.VideoCapture(str(source))
    try:
        fps = float(capture.get(cv2.CAP_PROP_FPS)) if capture.isOpened() else 0.0
    finally:
        capture.release()
    return fps if 0.0 < fps < 1000.0 else None


def tracker_config(track: bool | str | Path | TrackerConfig | dict | None
                   ) -> TrackerConfig | None:
    """What ``track=`` of the service means: off, defaults, a YAML file, or settings.

    Examples
    --------
    >>> tracker_config(False) is None, tracker_config(True) == TrackerConfig()
    (True, True)
    >>> tracker_config({"track_buffer": 10}).track_buffer
    10
    """
    if track is None or track is False:
        return None
    if track is True:
        return TrackerConfig()
    if isinstance(track, TrackerConfig):
        return track
    if isinstance(track, dict):
        return TrackerConfig.from_dict(track)
    return read_tracker_config(track)


class TrackStage:
    """Track one run's frames, write ``tracks.txt``, count tracks.

    Parameters
    ----------
    config : TrackerConfig
        Tracker settings; ``frame_rate`` is replaced by ``fps`` when that is known.
    run_dir : Path
        The run folder (``tracks.txt`` is created there).
    fps : float, optional
        The source's frame rate.
    keep_rows : bool
        Keep every row in memory (off for endless streams).

    Examples
    --------
    >>> import tempfile
    >>> stage = TrackStage(TrackerConfig(), Path(tempfile.mkdtemp()))
    >>> stage(0, Detections([[0, 0, 20, 20]], [0], [0.9])).tracker_ids
    array([1])
    >>> stage.close(); stage.metrics()["tracks_started"]
    1
    """

    def __init__(self, config: TrackerConfig, run_dir: Path, fps: float | None = None,
                 keep_rows: bool = False):
        if fps:
            config = TrackerConfig.from_dict({**config.to_dict(), "frame_rate": fps})
        self.config = config
        self.tracker = ByteTrack(config)
        self.log = TrackLog(Path(run_dir) / "tracks.txt", trail=TRAIL_FRAMES,
                            keep_rows=keep_rows)
        self._seconds: list[float] = []
        self._active: list[int] = []

    def __call__(self, index: int, detections: Detections) -> Detections:
        """Track frame ``index`` (0-based position in the source) and log it."""
        tick = time.perf_counter()
        tracked = self.tracker.update(detections, frame=index)
        self._seconds.append(time.perf_counter() - tick)
        self._active.append(self.tracker.active_count)
        self.log.add(index, tracked)
        return tracked

    def trails(self) -> dict[int, np.ndarray]:
        """Recent centre points per live track (for the annotated frame)."""
        return self.log.trails()

    def close(self) -> None:
        """Close ``tracks.txt``."""
        self.log.close()

    def metrics(self) -> dict[str, Any]:
        """``track_ms`` (mean per frame), ``active_tracks`` (at the end, mean and max),
        ``tracks_started``, ``tracks_ended`` and ``tracked_boxes``."""
        active = self._active or [0]
        return {
            "track_ms": round(float(np.mean(self._seconds)) * 1000.0, 3) if self._seconds
            else 0.0,
            "active_tracks": int(active[-1]),
            "active_tracks_mean": round(float(np.mean(active)), 3),
            "active_tracks_max": int(np.max(active)),
            "tracks_started": int(self.tracker.tracks_started),
            "tracks_ended": int(self.tracker.tracks_ended),
            "tracked_boxes": int(self.log.boxes_written),
        }
