"""Tracker update speed: TeckTrack's ByteTrack vs roboflow ``trackers``' ByteTrackTracker and
Ultralytics' BYTETracker (when ultralytics and lap are installed).

Steady state of the issue's case: 50 objects already tracked, each frame 100 boxes (the 50
objects, jittered, with high scores, plus 50 clutter boxes in the low-score band, which
reach the second association but start no track). Each benchmark round is one ``update``
on the next of 20 prepared frames; both trackers get their own native detections type,
built beforehand, and run with their defaults.

    .venv/bin/pytest benchmarks/test_bench_tracking.py --benchmark-only \\
        --benchmark-columns=min,median,mean,rounds
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from goals import pair

from tecktrack.detections import Detections
from tecktrack.tracking import ByteTrack

N_OBJECTS, N_CLUTTER, N_FRAMES = 50, 50, 20


def _frames() -> list[Detections]:
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 1800, (N_OBJECTS, 2))
    wh = rng.uniform(30, 90, (N_OBJECTS, 2))
    frames = []
    for _ in range(N_FRAMES):
        obj = np.c_[xy, xy + wh] + rng.normal(0, 1.0, (N_OBJECTS, 4))
        cxy = rng.uniform(0, 1800, (N_CLUTTER, 2))
        clutter = np.c_[cxy, cxy + rng.uniform(10, 60, (N_CLUTTER, 2))]
        scores = np.r_[rng.uniform(0.6, 0.95, N_OBJECTS), rng.uniform(0.11, 0.24, N_CLUTTER)]
        frames.append(Detections(np.r_[obj, clutter], np.zeros(N_OBJECTS + N_CLUTTER, int),
                                 scores))
    return frames


FRAMES = _frames()


def _warm(update, frames) -> itertools.cycle:
    cycle = itertools.cycle(frames)
    for _ in range(2 * N_FRAMES):
        update(next(cycle))
    return cycle


def test_tecktrack_bytetrack_update(benchmark):
    tracker = ByteTrack()
    cycle = _warm(tracker.update, FRAMES)
    assert tracker.active_count == N_OBJECTS
    out = benchmark(lambda: tracker.update(next(cycle)))
    assert (out.tracker_ids >= 0).sum() == N_OBJECTS and tracker.active_count == N_OBJECTS
    pair("bytetrack_vs_trackers", "ours", benchmark.stats.stats.min)


def test_trackers_bytetrack_update(benchmark):
    sv = pytest.importorskip("supervision")
    trackers = pytest.importorskip("trackers")
    tracker = trackers.ByteTrackTracker()
    frames = [sv.Detections(xyxy=d.xyxy, confidence=d.scores, class_id=d.class_ids)
              for d in FRAMES]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cycle = _warm(tracker.update, frames)
        out = benchmark(lambda: tracker.update(next(cycle)))
    assert (out.tracker_id >= 0).sum() == N_OBJECTS
    pair("bytetrack_vs_trackers", "peer", benchmark.stats.stats.min)


class _Boxes:
    """The slice of Ultralytics' ``Boxes`` its BYTETracker reads."""

    def __init__(self, d: Detections):
        self.conf = d.scores.astype(np.float32)
        self.cls = d.class_ids.astype(np.float32)
        self.xyxy = d.xyxy
        self.xywh = np.c_[(d.xyxy[:, :2] + d.xyxy[:, 2:]) / 2, d.xyxy[:, 2:] - d.xyxy[:, :2]]

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, mask) -> _Boxes:
        out = object.__new__(_Boxes)
        out.conf, out.cls, out.xyxy, out.xywh = (self.conf[mask], self.cls[mask],
                                                 self.xyxy[mask], self.xywh[mask])
        return out


def test_ultralytics_bytetracker_update(benchmark):
    pytest.importorskip("lap")
    byte_tracker = pytest.importorskip("ultralytics.trackers.byte_tracker")
    from types import SimpleNamespace

    args = SimpleNamespace(tracker_type="bytetrack", track_high_thresh=0.25,
                           track_low_thresh=0.1, new_track_thresh=0.25, track_buffer=30,
                           match_thresh=0.8, fuse_score=True)
    tracker = byte_tracker.BYTETracker(args)
    cycle = _warm(tracker.update, [_Boxes(d) for d in FRAMES])
    out = benchmark(lambda: tracker.update(next(cycle)))
    assert len(out) == N_OBJECTS
