"""ByteTrack settings, named and defaulted as Ultralytics' ``bytetrack.yaml``.

A YAML file such as Ultralytics ships (``tracker_type: bytetrack``, ``track_high_thresh``,
``track_low_thresh``, ``new_track_thresh``, ``track_buffer``, ``match_thresh``,
``fuse_score``) is read as is; keys Ultralytics uses for other trackers (``gmc_method``,
``proximity_thresh``, ``appearance_thresh``, ``with_reid``, ``model``) are accepted and
ignored, any other key is an error naming the file and the key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from tecktrack.errors import FormatError

__all__ = ["TrackerConfig", "read_tracker_config"]

_IGNORED = {"gmc_method", "proximity_thresh", "appearance_thresh", "with_reid", "model"}


@dataclass(frozen=True)
class TrackerConfig:
    """ByteTrack parameters (Ultralytics' names and defaults, plus ``frame_rate``).

    Parameters
    ----------
    track_high_thresh : float
        Detections scoring at least this go to the first association (0.25).
    track_low_thresh : float
        Detections above this (and below ``track_high_thresh``) go to the second
        association, with the tracks the first one left (0.1).
    new_track_thresh : float
        Least score of an unmatched detection to start a track (0.25).
    track_buffer : int
        Frames (at 30 fps; scaled by ``frame_rate / 30``) a lost track waits to be found
        again before it is dropped (30).
    match_thresh : float
        Largest cost ``1 - IoU`` (times the score with ``fuse_score``) of a first-stage
        match (0.8).
    fuse_score : bool
        Multiply IoU by the detection score in the first association (True).
    frame_rate : float
        Frames per second of the source; sets the lost-track buffer and turns timestamps
        into frame steps (30).
    class_aware : bool
        Match a track only to boxes of its own class (TeckTrack's addition; Ultralytics
        matches across classes). Keeps one track per class where a detector's per-class
        NMS leaves two boxes of different classes on one object (False).
    duplicate_iou : float
        An unmatched detection overlapping a box that a track took in the same frame at
        this IoU or more starts no track: it is a second box on a tracked object (per-class
        NMS keeps one per class), not a new object (TeckTrack's addition; 1.0 turns it off
        and gives Ultralytics' behaviour) (0.7).

    Examples
    --------
    >>> TrackerConfig().track_buffer, TrackerConfig(frame_rate=15).max_time_lost
    (30, 15)
    """

    track_high_thresh: float = 0.25
    track_low_thresh: float = 0.1
    new_track_thresh: float = 0.25
    track_buffer: int = 30
    match_thresh: float = 0.8
    fuse_score: bool = True
    frame_rate: float = 30.0
    class_aware: bool = False
    duplicate_iou: float = 0.7

    def __post_init__(self) -> None:
        for name in ("track_high_thresh", "track_low_thresh", "new_track_thresh"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise FormatError(f"{name} must be in [0, 1], got {value}")
        if self.track_low_thresh > self.track_high_thresh:
            raise FormatError(f"track_low_thresh ({self.track_low_thresh}) must not exceed "
                              f"track_high_thresh ({self.track_high_thresh})")
        if not 0.0 < self.match_thresh <= 1.0:
            raise FormatError(f"match_thresh must be in (0, 1], got {self.match_thresh}")
        if self.track_buffer < 0:
            raise FormatError(f"track_buffer must be >= 0, got {self.track_buffer}")
        if not 0.0 < self.duplicate_iou <= 1.0:
            raise FormatError(f"duplicate_iou must be in (0, 1], got {self.duplicate_iou}")
        if not self.frame_rate > 0:
            raise FormatError(f"frame_rate must be > 0, got {self.frame_rate}")

    @property
    def max_time_lost(self) -> int:
        """Frames a lost track survives: ``int(frame_rate / 30 * track_buffer)``."""
        return int(self.frame_rate / 30.0 * self.track_buffer)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (``tracker_type`` first), as written to config.json."""
        return {"tracker_type": "bytetrack", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | Path | None = None) -> TrackerConfig:
        """Build from a mapping with Ultralytics' keys; errors name ``source`` and the key.

        Examples
        --------
        >>> TrackerConfig.from_dict({"tracker_type": "bytetrack", "track_buffer": 60}).track_buffer
        60
        """
        kind = data.get("tracker_type", "bytetrack")
        if kind != "bytetrack":
            raise FormatError(f"tracker_type {kind!r} is not supported (only 'bytetrack')",
                              source)
        known = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key == "tracker_type" or key in _IGNORED:
                continue
            if key not in known:
                raise FormatError(f"unknown key {key!r} (known: {', '.join(known)})", source)
            values[key] = _coerce(key, value, source)
        try:
            return cls(**values)
        except FormatError as exc:
            raise FormatError(exc.message, source) from None


def _coerce(key: str, value: Any, source: str | Path | None) -> Any:
    if key in ("fuse_score", "class_aware"):
        if not isinstance(value, bool):
            raise FormatError(f"{key} must be true or false, got {value!r}", source)
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FormatError(f"{key} must be a number, got {value!r}", source)
    if key == "track_buffer":
        if value != int(value):
            raise FormatError(f"track_buffer must be a whole number, got {value!r}", source)
        return int(value)
    return float(value)


def read_tracker_config(path: str | Path | None) -> TrackerConfig:
    """Read a ``bytetrack.yaml``; ``None`` gives the defaults.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "bytetrack.yaml"
    >>> _ = p.write_text("tracker_type: bytetrack\\ntrack_high_thresh: 0.5\\nfuse_score: false\\n")
    >>> c = read_tracker_config(p)
    >>> c.track_high_thresh, c.fuse_score
    (0.5, False)
    """
    if path is None:
        return TrackerConfig()
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FormatError("no such tracker YAML file", path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"cannot read tracker YAML ({exc})", path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise FormatError("not valid YAML", path, None if mark is None else mark.line + 1) \
            from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FormatError("a tracker YAML must be a mapping of settings", path)
    return TrackerConfig.from_dict(data, path)
