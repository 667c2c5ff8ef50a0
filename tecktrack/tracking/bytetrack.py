"""ByteTrack (Zhang et al. 2022): track every box, high-scoring and low-scoring alike.

Per update:

1. every track is predicted by the Kalman filter over the real gap since the last update
   (frame index or timestamp; :mod:`tecktrack.tracking.kalman`);
2. confirmed and lost tracks are matched to the detections scoring at least
   ``track_high_thresh`` (Hungarian assignment on ``1 - IoU``, times the score with
   ``fuse_score``, cost at most ``match_thresh``); a matched lost track is found again;
3. the tracked ones left over are matched to the detections between ``track_low_thresh``
   and ``track_high_thresh`` (cost ``1 - IoU`` at most 0.5); those still unmatched are lost;
4. tracks started at the previous update (unconfirmed) are matched to the remaining high
   detections (cost at most 0.7) and confirmed, or dropped;
5. remaining high detections scoring at least ``new_track_thresh`` start tracks
   (confirmed at once on the very first update, otherwise on their next match), unless
   one overlaps a box a track took this frame, or a better-scoring new one, at IoU >=
   ``duplicate_iou`` (a second box of another class on one object; TeckTrack's addition,
   off with 1.0);
6. lost tracks older than ``track_buffer`` frames (at 30 fps) are dropped, and a tracked /
   lost pair overlapping at IoU > 0.85 keeps only the longer-lived track.

This is Ultralytics' ``BYTETracker`` order and thresholds; tracks live in NumPy arrays
(no per-track Python objects), so one update costs a few dozen array operations whatever
the number of boxes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from tecktrack.detections import Detections, box_iou
from tecktrack.model.nms import nms_indices
from tecktrack.tracking import kalman
from tecktrack.tracking.config import TrackerConfig, read_tracker_config

__all__ = ["ByteTrack"]

_NEW, _TRACKED, _LOST = 0, 1, 2
_EMPTY = np.zeros(0, np.int64)


def _match(cost: np.ndarray, thresh: float) -> tuple[np.ndarray, np.ndarray]:
    """Optimal assignment, keeping pairs whose cost is at most ``thresh``."""
    if cost.size == 0:
        return _EMPTY, _EMPTY
    rows, cols = linear_sum_assignment(cost)
    ok = cost[rows, cols] <= thresh
    return rows[ok], cols[ok]


def _others(n: int, taken: np.ndarray) -> np.ndarray:
    keep = np.ones(n, bool)
    keep[taken] = False
    return np.flatnonzero(keep)


class ByteTrack:
    """Multi-object tracker: give it each frame's :class:`Detections`, get them back with ids.

    Parameters
    ----------
    config : TrackerConfig, str or Path, optional
        Settings, or a ``bytetrack.yaml`` to read them from; default Ultralytics' defaults.
    **overrides
        Single settings on top of ``config`` (e.g. ``track_buffer=60``, ``frame_rate=25``).

    Examples
    --------
    >>> tracker = ByteTrack(frame_rate=25)
    >>> a = tracker.update(Detections([[10, 10, 50, 50]], [0], [0.9]), frame=0)
    >>> b = tracker.update(Detections([[14, 10, 54, 50]], [0], [0.9]), frame=1)
    >>> a.tracker_ids.tolist(), b.tracker_ids.tolist(), tracker.active_count
    ([1], [1], 1)
    >>> c = tracker.update(Detections([[30, 10, 70, 50]], [0], [0.9]), frame=5)  # 3 lost
    >>> c.tracker_ids.tolist()
    [1]
    """

    def __init__(self, config: TrackerConfig | str | Path | None = None, **overrides):
        if not isinstance(config, TrackerConfig):
            config = read_tracker_config(config)
        if overrides:
            config = TrackerConfig.from_dict({**config.to_dict(), **overrides})
        self.config = config
        self.reset()

    def reset(self) -> None:
        """Forget every track; ids start again at 1."""
        self._ids = np.zeros(0, np.int64)
        self._mean = np.zeros((0, 8))
        self._cov = np.zeros((0, 8, 8))
        self._state = np.zeros(0, np.int8)
        self._confirmed = np.zeros(0, bool)
        self._start = np.zeros(0)
        self._last = np.zeros(0)
        self._score = np.zeros(0, np.float32)
        self._cls = np.zeros(0, np.int64)
        self._next_id = 1
        self._clock: float | None = None
        self.tracks_started = 0
        self.tracks_ended = 0

    # -- what callers read ----------------------------------------------------------------
    @property
    def active_ids(self) -> np.ndarray:
        """Ids of the confirmed tracks matched at the latest update."""
        live = (self._state == _TRACKED) & self._confirmed
        return self._ids[live]

    @property
    def active_count(self) -> int:
        """Number of confirmed tracks matched at the latest update."""
        return int(np.count_nonzero((self._state == _TRACKED) & self._confirmed))

    @property
    def lost_count(self) -> int:
        """Tracks waiting, unmatched, to be found again."""
        return int(np.count_nonzero(self._state == _LOST))

    # -- the update -------------------------------------------------------------------------
    def _step(self, frame: float | None, timestamp: float | None) -> tuple[float, float]:
        if timestamp is not None:
            now = float(timestamp) * self.config.frame_rate
        elif frame is not None:
            now = float(frame)
        else:
            now = 0.0 if self._clock is None else self._clock + 1.0
        if self._clock is None:
            return now, 0.0
        if now <= self._clock:
            raise ValueError(f"frames must move forward: got {now:g} after {self._clock:g} "
                             "(frame units)")
        return now, now - self._clock

    def update(self, detections: Detections, frame: int | None = None,
               timestamp: float | None = None) -> Detections:
        """Track one frame's detections.

        Parameters
        ----------
        detections : Detections
            This frame's boxes (scores optional: without them every box counts as 1.0).
        frame : int, optional
            The frame's index in the source; gaps (``drop_rate``, lost frames) are
            predicted over. Default: one more than the previous update.
        timestamp : float, optional
            Seconds; used instead of ``frame`` when given (steps of ``1 / frame_rate``).

        Returns
        -------
        Detections
            The same boxes, in the same order, with ``tracker_ids`` (``-1`` where no
            confirmed track owns the box).
        """
        now, dt = self._step(frame, timestamp)
        first = self._clock is None
        self._clock = now
        cfg = self.config
        self._predict(dt)
        boxes = detections.xyxy
        scores = (detections.scores.astype(np.float64) if detections.scores is not None
                  else np.ones(len(detections)))
        det_ids = np.full(len(detections), -1, np.int64)
        iou_all = box_iou(kalman.xyah_to_xyxy(self._mean[:, :4]), boxes)   # tracks x dets
        if cfg.class_aware:
            iou_all[self._cls[:, None] != detections.class_ids[None, :]] = 0.0
        # a box without area takes part in nothing (its xyah has an infinite aspect), as in
        # Ultralytics: it keeps the id -1
        valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        high = np.flatnonzero(valid & (scores >= cfg.track_high_thresh))
        low = np.flatnonzero(valid & (scores > cfg.track_low_thresh)
                             & (scores < cfg.track_high_thresh))

        # 1. confirmed + lost tracks with high detections
        pool = np.flatnonzero(((self._state == _TRACKED) & self._confirmed)
                              | (self._state == _LOST))
        iou = iou_all[np.ix_(pool, high)]
        t1, d1 = _match(1.0 - (iou * scores[high] if cfg.fuse_score else iou), cfg.match_thresh)
        rest = pool[_others(len(pool), t1)]
        high_left = high[_others(len(high), d1)]

        # 2. tracked leftovers with low detections; the rest are lost
        tracked = rest[self._state[rest] == _TRACKED]
        t2, d2 = _match(1.0 - iou_all[np.ix_(tracked, low)], 0.5)
        self._state[tracked[_others(len(tracked), t2)]] = _LOST

        # 3. unconfirmed tracks with the high detections left; unmatched ones go
        new = np.flatnonzero((self._state == _TRACKED) & ~self._confirmed)
        iou = iou_all[np.ix_(new, high_left)]
        t3, d3 = _match(1.0 - (iou * scores[high_left] if cfg.fuse_score else iou), 0.7)
        self._apply(np.concatenate([pool[t1], tracked[t2], new[t3]]),
                    np.concatenate([high[d1], low[d2], high_left[d3]]),
                    boxes, scores, detections.class_ids, det_ids, now)
        high_left = high_left[_others(len(high_left), d3)]
        drop = np.zeros(len(self._ids), bool)
        drop[new[_others(len(new), t3)]] = True

        # 4. new tracks from the high detections nobody took
        born = high_left[scores[high_left] >= cfg.new_track_thresh]
        if cfg.duplicate_iou < 1.0 and len(born):
            born = self._not_duplicates(born, boxes, scores, det_ids)
        self._start_tracks(born, boxes, scores, detections.class_ids, now, confirmed=first)
        if first:
            det_ids[born] = self._ids[len(self._ids) - len(born):]
        drop = np.concatenate([drop, np.zeros(len(born), bool)])

        # 5. lost too long, duplicates
        drop |= (self._state == _LOST) & (now - self._last > cfg.max_time_lost)
        drop |= self._duplicates()
        if drop.any():
            det_ids[np.isin(det_ids, self._ids[drop])] = -1
            self.tracks_ended += int(np.count_nonzero(drop & self._confirmed))
            self._keep(~drop)
        return Detections(detections.xyxy, detections.class_ids, detections.scores, det_ids)

    # -- pieces -----------------------------------------------------------------------------
    def _predict(self, dt: float) -> None:
        if dt <= 0 or not len(self._ids):
            return
        lost = self._state == _LOST
        self._mean[lost, 7] = 0.0          # a lost box keeps its size (as Ultralytics does)
        self._mean, self._cov = kalman.predict(self._mean, self._cov, dt)

    def _apply(self, tracks: np.ndarray, dets: np.ndarray, boxes: np.ndarray,
               scores: np.ndarray, classes: np.ndarray, det_ids: np.ndarray, now: float) -> None:
        if not len(tracks):
            return
        self._mean[tracks], self._cov[tracks] = kalman.update(
            self._mean[tracks], self._cov[tracks], kalman.xyxy_to_xyah(boxes[dets]))
        self.tracks_started += int(np.count_nonzero(~self._confirmed[tracks]))
        self._state[tracks] = _TRACKED
        self._confirmed[tracks] = True
        self._last[tracks] = now
        self._score[tracks] = scores[dets]
        self._cls[tracks] = classes[dets]
        det_ids[dets] = self._ids[tracks]

    def _not_duplicates(self, born: np.ndarray, boxes: np.ndarray, scores: np.ndarray,
                        det_ids: np.ndarray) -> np.ndarray:
        """Candidates for new tracks that are not a second box on a tracked object, nor on
        a better-scoring candidate (class-agnostic NMS among them)."""
        thr = self.config.duplicate_iou
        taken = np.flatnonzero(det_ids >= 0)
        born = born[box_iou(boxes[born], boxes[taken]).max(axis=1, initial=0.0) < thr]
        if len(born) > 1:
            # nms_indices drops a box whose IoU with a kept one is > threshold; ours is >=
            keep = nms_indices(boxes[born], scores[born], iou_threshold=np.nextafter(thr, 0))
            born = np.sort(born[keep])
        return born

    def _duplicates(self) -> np.ndarray:
        """Tracked / lost pairs over IoU 0.85: drop the one that lived less, from its start to
        its last update (a lost track's life ends when it was lost), as Ultralytics'
        ``remove_duplicate_stracks`` and ByteTrack's own do."""
        drop = np.zeros(len(self._ids), bool)
        tracked = np.flatnonzero(self._state == _TRACKED)
        lost = np.flatnonzero(self._state == _LOST)
        if not len(tracked) or not len(lost):
            return drop
        b = kalman.xyah_to_xyxy(self._mean[:, :4])
        pt, pl = np.nonzero(1.0 - box_iou(b[tracked], b[lost]) < 0.15)
        lived = self._last - self._start
        age_t, age_l = lived[tracked[pt]], lived[lost[pl]]
        drop[lost[pl[age_t > age_l]]] = True
        drop[tracked[pt[age_t <= age_l]]] = True
        return drop

    def _keep(self, keep: np.ndarray) -> None:
        for name in ("_ids", "_mean", "_cov", "_state", "_confirmed", "_start", "_last",
                     "_score", "_cls"):
            setattr(self, name, getattr(self, name)[keep])

    def _start_tracks(self, dets: np.ndarray, boxes: np.ndarray, scores: np.ndarray,
                      classes: np.ndarray, now: float, confirmed: bool) -> None:
        n = len(dets)
        if not n:
            return
        mean, cov = kalman.initiate(kalman.xyxy_to_xyah(boxes[dets]))
        ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n
        self._ids = np.concatenate([self._ids, ids])
        self._mean = np.concatenate([self._mean, mean])
        self._cov = np.concatenate([self._cov, cov])
        self._state = np.concatenate([self._state, np.full(n, _TRACKED, np.int8)])
        self._confirmed = np.concatenate([self._confirmed, np.full(n, confirmed)])
        self._start = np.concatenate([self._start, np.full(n, now)])
        self._last = np.concatenate([self._last, np.full(n, now)])
        self._score = np.concatenate([self._score, scores[dets].astype(np.float32)])
        self._cls = np.concatenate([self._cls, classes[dets]])
        if confirmed:
            self.tracks_started += n
