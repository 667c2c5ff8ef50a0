"""What a run tracked: MOTChallenge ``tracks.txt`` rows and short trails for drawing."""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import TextIO

import numpy as np

from tecktrack.datasets.mot import MotRows, format_mot
from tecktrack.detections import Detections, xyxy_to_xywh

__all__ = ["TrackLog"]


class TrackLog:
    """Collect tracked boxes frame by frame; write them as MOTChallenge lines as they come.

    Rows are ``frame,id,x,y,w,h,conf,-1,-1,-1`` with ``frame = index + 1`` (MOT frames
    count from 1; indices are the frames' 0-based positions in the source, so a
    ``drop_rate`` stride leaves gaps as the source had them). Boxes without a track
    (``tracker_id == -1``) are not written.

    Parameters
    ----------
    path : str or Path, optional
        ``tracks.txt`` to create (never overwritten); lines are flushed per frame.
    trail : int
        Frames of history kept for :meth:`trails`.
    keep_rows : bool
        Keep every row in memory for :meth:`rows` (off for endless streams).

    Examples
    --------
    >>> log = TrackLog(trail=3)
    >>> log.add(0, Detections([[0, 0, 10, 10]], [0], [0.9], tracker_ids=[4]))
    >>> log.add(1, Detections([[2, 0, 12, 10]], [0], [0.8], tracker_ids=[4]))
    >>> log.rows().frames.tolist(), log.trails()[4].tolist()
    ([1, 2], [[5.0, 5.0], [7.0, 5.0]])
    """

    def __init__(self, path: str | Path | None = None, *, trail: int = 16,
                 keep_rows: bool = True):
        self.path = None if path is None else Path(path)
        self._handle: TextIO | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "x", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._recent: deque = deque(maxlen=max(1, int(trail)))
        self._parts: list[MotRows] | None = [] if keep_rows else None
        self.boxes_written = 0

    def add(self, index: int, detections: Detections) -> None:
        """Record one frame (``index`` 0-based) of tracked detections."""
        ids = detections.tracker_ids
        if ids is None:
            ids = np.full(len(detections), -1, np.int64)
        keep = ids >= 0
        boxes = detections.xyxy[keep].astype(np.float64)
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        self._recent.append((int(index), ids[keep], centres))
        if not keep.any():
            return
        scores = (np.ones(len(boxes)) if detections.scores is None
                  else detections.scores[keep].astype(np.float64))
        rows = MotRows.from_arrays(np.full(len(boxes), int(index) + 1), ids[keep],
                                   xyxy_to_xywh(boxes), conf=scores)
        if self._parts is not None:
            self._parts.append(rows)
        if self._handle is not None:
            self._handle.write(format_mot(rows))
            self._handle.flush()
        self.boxes_written += len(rows)

    def trails(self) -> dict[int, np.ndarray]:
        """Centre points of each track over the kept frames, oldest first: ``{id: (k, 2)}``."""
        if not self._recent:
            return {}
        ids = np.concatenate([r[1] for r in self._recent])
        pts = np.concatenate([r[2] for r in self._recent]).reshape(-1, 2)
        order = np.argsort(ids, kind="stable")           # frames stay in time order
        ids, pts = ids[order], pts[order]
        uniq, starts = np.unique(ids, return_index=True)
        return dict(zip(uniq.tolist(), np.split(pts, starts[1:]), strict=True))

    def rows(self) -> MotRows:
        """Every row so far (needs ``keep_rows=True``)."""
        if self._parts is None:
            raise ValueError("TrackLog(keep_rows=False) keeps no rows")
        if not self._parts:
            return MotRows.empty()
        return MotRows.from_arrays(*(np.concatenate([getattr(p, k) for p in self._parts])
                                     for k in ("frames", "ids", "xywh", "conf")))

    def close(self) -> None:
        """Close ``tracks.txt`` (idempotent)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> TrackLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
