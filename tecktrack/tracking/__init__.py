"""Tracking across frames: ByteTrack with a time-aware, batched Kalman filter.

:class:`ByteTrack` turns each frame's :class:`~tecktrack.detections.Detections` into the
same boxes with ``tracker_ids``; :class:`TrackerConfig` holds its settings under
Ultralytics' ``bytetrack.yaml`` names; :class:`TrackLog` collects what a run tracked and
writes it as a MOTChallenge ``tracks.txt``.

Examples
--------
>>> from tecktrack.detections import Detections
>>> tracker = ByteTrack()
>>> tracker.update(Detections([[0, 0, 20, 20]], [0], [0.9])).tracker_ids
array([1])
"""

from tecktrack.tracking.bytetrack import ByteTrack
from tecktrack.tracking.config import TrackerConfig, read_tracker_config
from tecktrack.tracking.log import TrackLog

__all__ = ["ByteTrack", "TrackLog", "TrackerConfig", "read_tracker_config"]
