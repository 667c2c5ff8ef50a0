"""ByteTrack (tecktrack.tracking): settings, association stages, time-aware prediction,
the track log, and accuracy against roboflow `trackers` on the synthetic video."""

from __future__ import annotations

import numpy as np
import pytest

from tecktrack.datasets.mot import MotRows, read_mot
from tecktrack.detections import Detections, xywh_to_xyxy, xyxy_to_xywh
from tecktrack.errors import FormatError
from tecktrack.metrics.mot import evaluate_tracks
from tecktrack.tracking import ByteTrack, TrackerConfig, TrackLog, kalman, read_tracker_config

ULTRALYTICS_BYTETRACK_YAML = """\
# Ultralytics YOLO, AGPL-3.0 license (the defaults of cfg/trackers/bytetrack.yaml)
tracker_type: bytetrack # tracker type, ['botsort', 'bytetrack']
track_high_thresh: 0.25 # threshold for the first association
track_low_thresh: 0.1 # threshold for the second association
new_track_thresh: 0.25 # threshold for init new track if the detection does not match any tracks
track_buffer: 30 # buffer to calculate the time when to remove tracks
match_thresh: 0.8 # threshold for matching tracks
fuse_score: True # Whether to fuse confidence scores with the iou distances before matching
# min_box_area: 10  # threshold for min box areas(for tracker evaluation, not used for now)
"""


def box(x: float, y: float = 10.0, w: float = 20.0, h: float = 40.0) -> list[float]:
    return [x, y, x + w, y + h]


def dets(boxes, scores=None, classes=None) -> Detections:
    n = len(boxes)
    return Detections(np.asarray(boxes, float).reshape(n, 4),
                      np.zeros(n, int) if classes is None else classes,
                      np.full(n, 0.9) if scores is None else scores)


# -- settings -----------------------------------------------------------------------------
def test_ultralytics_yaml_reads_to_the_defaults(tmp_path):
    path = tmp_path / "bytetrack.yaml"
    path.write_text(ULTRALYTICS_BYTETRACK_YAML)
    assert read_tracker_config(path) == TrackerConfig()
    c = TrackerConfig()
    assert (c.track_high_thresh, c.track_low_thresh, c.new_track_thresh, c.track_buffer,
            c.match_thresh, c.fuse_score) == (0.25, 0.1, 0.25, 30, 0.8, True)
    assert ByteTrack(path, track_buffer=60).config.track_buffer == 60


@pytest.mark.parametrize("text, message", [
    ("tracker_type: botsort\n", "not supported"),
    ("track_bufer: 30\n", "unknown key 'track_bufer'"),
    ("track_high_thresh: 1.5\n", "track_high_thresh must be in"),
    ("track_low_thresh: 0.5\ntrack_high_thresh: 0.3\n", "must not exceed"),
    ("fuse_score: 1\n", "fuse_score must be true or false"),
    ("track_buffer: 2.5\n", "whole number"),
    ("match_thresh: high\n", "must be a number"),
    ("- a\n- b\n", "mapping"),
    ("track_buffer: [\n", "not valid YAML"),
])
def test_bad_tracker_yaml_names_the_file(tmp_path, text, message):
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(FormatError, match=message) as info:
        read_tracker_config(path)
    assert str(path) in str(info.value)


# -- association ---------------------------------------------------------------------------
def test_two_objects_crossing_keep_their_ids():
    tracker = ByteTrack()
    ids = []
    for t in range(40):    # one moves right, one left, rows apart so they pass at different y
        out = tracker.update(dets([box(10 + 4 * t, 10), box(170 - 4 * t, 30)]), frame=t)
        ids.append(out.tracker_ids.tolist())
    assert ids[0] == [1, 2] and all(i == [1, 2] for i in ids)
    assert tracker.tracks_started == 2 and tracker.active_count == 2


def test_low_score_boxes_keep_a_track_alive_but_never_start_one():
    tracker = ByteTrack()
    tracker.update(dets([box(10)], [0.9]), frame=0)
    out = tracker.update(dets([box(12), box(200)], [0.15, 0.15]), frame=1)   # second stage
    assert out.tracker_ids.tolist() == [1, -1]
    out = tracker.update(dets([box(14), box(200)], [0.9, 0.2]), frame=2)
    assert out.tracker_ids.tolist() == [1, -1]
    assert tracker.tracks_started == 1


def test_new_tracks_need_a_second_frame_after_the_first_update():
    tracker = ByteTrack()
    tracker.update(dets([box(10)]), frame=0)
    out = tracker.update(dets([box(11), box(100)]), frame=1)
    assert out.tracker_ids.tolist() == [1, -1]                   # unconfirmed yet
    out = tracker.update(dets([box(12), box(101)]), frame=2)
    assert out.tracker_ids.tolist()[0] == 1 and out.tracker_ids[1] > 1
    low = ByteTrack(new_track_thresh=0.5)
    assert low.update(dets([box(10)], [0.4]), frame=0).tracker_ids.tolist() == [-1]


def test_lost_track_buffer_scales_with_frame_rate():
    for frame_rate, gap, same in [(30, 25, True), (30, 40, False), (10, 9, True),
                                  (10, 12, False)]:
        tracker = ByteTrack(frame_rate=frame_rate)
        for t in range(3):
            tracker.update(dets([box(10)]), frame=t)
        for t in range(3, 3 + gap):
            tracker.update(dets([]), frame=t)
        out = tracker.update(dets([box(10)]), frame=3 + gap)
        again = tracker.update(dets([box(10)]), frame=4 + gap)
        assert bool(again.tracker_ids[0] == 1) is same, (frame_rate, gap)
        assert tracker.tracks_ended == (0 if same else 1)
        assert out.tracker_ids[0] == (1 if same else -1)


def test_output_keeps_order_boxes_and_scores_without_tracker_ids_in_the_input():
    tracker = ByteTrack()
    d = dets([box(50), box(10), box(120)], [0.3, 0.9, 0.05], classes=[2, 0, 1])
    out = tracker.update(d, frame=0)
    np.testing.assert_array_equal(out.xyxy, d.xyxy)
    assert out.class_ids.tolist() == [2, 0, 1] and out.tracker_ids.dtype == np.int64
    assert out.tracker_ids.tolist() == [1, 2, -1]     # ids in score-independent input order
    no_scores = Detections([box(10)], [0])
    assert ByteTrack().update(no_scores).tracker_ids.tolist() == [1]
    assert d.tracker_ids is None                      # the input is untouched


def test_frames_must_move_forward():
    tracker = ByteTrack()
    tracker.update(dets([box(10)]), frame=5)
    with pytest.raises(ValueError, match="move forward"):
        tracker.update(dets([box(10)]), frame=5)


def test_a_second_box_on_a_tracked_object_starts_no_track():
    for duplicate_iou, started in [(0.7, 1), (1.0, 2)]:
        tracker = ByteTrack(duplicate_iou=duplicate_iou)
        tracker.update(dets([box(10)]), frame=0)
        for t in range(1, 4):      # per-class NMS left a class-1 twin on the object
            out = tracker.update(dets([box(10 + t), box(10.5 + t)], classes=[0, 1]), frame=t)
        assert tracker.tracks_started == started, duplicate_iou
    assert out.tracker_ids.tolist() == [2, 1]          # without the rule the twins swap ids


def test_class_aware_matching_keeps_one_track_per_class():
    agnostic, aware = ByteTrack(), ByteTrack(class_aware=True)
    for t in range(6):    # class flips on one object: agnostic keeps the id, aware cannot
        d = dets([box(10 + t)], classes=[t % 2])
        a, b = agnostic.update(d, frame=t), aware.update(d, frame=t)
    assert a.tracker_ids.tolist() == [1]
    assert b.tracker_ids.tolist() != [1]


# -- time-aware prediction ----------------------------------------------------------------
def _fast_object(step: int, use: str) -> list[int]:
    """An object 20 px wide moving 9 px per frame, seen every ``step`` frames."""
    tracker = ByteTrack(frame_rate=30)
    ids = []
    for t in list(range(4)) + list(range(4 + step, 40, step)):
        d = dets([box(10 + 9 * t)])
        kw = {"frame": t} if use == "frame" else {"timestamp": t / 30} if use == "ts" else {}
        ids.append(int(tracker.update(d, **kw).tracker_ids[0]))
    return ids


def test_prediction_over_the_real_gap_keeps_the_identity():
    assert set(_fast_object(3, "frame")) == {1}
    assert set(_fast_object(3, "ts")) == {1}
    blind = _fast_object(3, "none")            # one step per update: the box runs away
    assert blind[:4] == [1, 1, 1, 1] and set(blind[4:]) != {1}


def test_kalman_predicts_over_dt_like_repeated_steps():
    mean, cov = kalman.initiate(kalman.xyxy_to_xyah(np.array([box(0.0)])))
    mean[:, 4:6] = [3.0, -1.0]
    m3, c3 = kalman.predict(mean, cov, 3.0)
    m1, c1 = mean, cov
    for _ in range(3):
        m1, c1 = kalman.predict(m1, c1, 1.0)
    np.testing.assert_allclose(m3, m1)
    assert np.all(np.diag(c3[0]) > np.diag(cov[0]))
    _, cu = kalman.update(m3, c3, m3[:, :4] + 1.0)
    assert np.all(np.diag(cu[0])[:4] < np.diag(c3[0])[:4])
    np.testing.assert_allclose(cu[0], cu[0].T, atol=1e-9)


# -- the track log ------------------------------------------------------------------------
def test_track_log_writes_mot_rows_and_refuses_to_overwrite(tmp_path):
    path = tmp_path / "tracks.txt"
    with TrackLog(path, trail=2) as log:
        log.add(0, Detections([box(10.25)], [0], [0.5], tracker_ids=[3]))
        log.add(2, Detections([box(12), box(50)], [0, 1], [0.8, 0.2], tracker_ids=[3, -1]))
        log.add(3, Detections([box(14)], [0], [0.9], tracker_ids=[3]))
        assert sorted(log.trails()) == [3] and len(log.trails()[3]) == 2
    assert path.read_text().splitlines() == [
        "1,3,10.25,10.00,20.00,40.00,0.5000,-1,-1,-1",
        "3,3,12.00,10.00,20.00,40.00,0.8000,-1,-1,-1",
        "4,3,14.00,10.00,20.00,40.00,0.9000,-1,-1,-1"]
    assert read_mot(path).frames.tolist() == [1, 3, 4]
    with pytest.raises(FileExistsError):
        TrackLog(path)


# -- accuracy against roboflow trackers ---------------------------------------------------
@pytest.fixture(scope="module")
def noisy_sequence(tmp_path_factory):
    """The synthetic video's ground truth turned into detections: jitter, misses, false
    positives, and a second box of another class on some objects (per-class NMS)."""
    from tecktrack.synth import generate_video

    video = generate_video(tmp_path_factory.mktemp("v") / "v.mp4", frames=120, fps=25,
                           seed=2, size=(320, 192), quiet=True)
    gt = read_mot(video.parent / "gt.txt")
    rng = np.random.default_rng(0)
    frames = []
    for f in range(1, gt.num_frames + 1):
        g = gt[gt.frames == f]
        keep = rng.random(len(g)) > 0.1
        b = xywh_to_xyxy(g.xywh[keep]) + np.round(rng.normal(0, 1.5, (int(keep.sum()), 4)), 2)
        s = np.clip(rng.normal(0.75, 0.15, len(b)), 0.05, 1.0)
        s[g.visibility[keep] < 0.6] *= 0.5
        fp = rng.uniform(0, 280, (rng.poisson(0.5), 2))
        boxes = np.r_[b, np.c_[fp, fp + rng.uniform(10, 40, (len(fp), 2))]]
        scores = np.r_[s, rng.uniform(0.05, 0.5, len(fp))]
        frames.append(Detections(boxes, np.zeros(len(boxes), int), scores))
    return gt, frames


def _rows(results) -> MotRows:
    parts = [(np.full(len(i), f + 1), i, xyxy_to_xywh(b.astype(float)))
             for f, (i, b) in enumerate(results)]
    return MotRows.from_arrays(*(np.concatenate(c) for c in zip(*parts, strict=True)))


def test_bytetrack_tracks_the_synthetic_video_at_least_as_well_as_trackers(noisy_sequence):
    sv = pytest.importorskip("supervision")
    trackers = pytest.importorskip("trackers")
    gt, frames = noisy_sequence
    ours, theirs = ByteTrack(frame_rate=25), trackers.ByteTrackTracker(frame_rate=25)
    ours_out, theirs_out = [], []
    for i, d in enumerate(frames):
        o = ours.update(d, frame=i)
        ours_out.append((o.tracker_ids[o.tracker_ids >= 0], o.xyxy[o.tracker_ids >= 0]))
        t = theirs.update(sv.Detections(xyxy=d.xyxy, confidence=d.scores, class_id=d.class_ids))
        theirs_out.append((t.tracker_id[t.tracker_id >= 0], t.xyxy[t.tracker_id >= 0]))
    a, b = evaluate_tracks(gt, _rows(ours_out)), evaluate_tracks(gt, _rows(theirs_out))
    assert a["HOTA"] > 0.6 and a["IDF1"] > 0.7
    assert a["MOTA"] >= b["MOTA"] - 0.02 and a["HOTA"] >= b["HOTA"] - 0.02, (a, b)


class _UltralyticsResults:
    """The slice of Ultralytics' ``Boxes`` its BYTETracker reads, over our Detections."""

    def __init__(self, d: Detections):
        self.d = d

    conf = property(lambda self: self.d.scores.astype(np.float32))
    cls = property(lambda self: self.d.class_ids.astype(np.float32))
    xyxy = property(lambda self: self.d.xyxy)
    xywh = property(lambda self: np.c_[(self.d.xyxy[:, :2] + self.d.xyxy[:, 2:]) / 2,
                                       self.d.xyxy[:, 2:] - self.d.xyxy[:, :2]])

    def __len__(self) -> int:
        return len(self.d)

    def __getitem__(self, mask) -> _UltralyticsResults:
        return _UltralyticsResults(self.d[mask])


def test_with_ultralytics_rules_it_tracks_like_ultralytics_bytetracker(noisy_sequence):
    """Same settings, duplicate_iou off: the same boxes tracked, as many tracks, same scores.

    Not id-for-id: Ultralytics leaves unconfirmed tracks unpredicted and assigns with
    ``lap.lapjv``'s cost limit, TeckTrack with scipy and a cost filter."""
    pytest.importorskip("lap")
    byte_tracker = pytest.importorskip("ultralytics.trackers.byte_tracker")
    from types import SimpleNamespace

    gt, frames = noisy_sequence
    args = SimpleNamespace(tracker_type="bytetrack", track_high_thresh=0.25,
                           track_low_thresh=0.1, new_track_thresh=0.25, track_buffer=30,
                           match_thresh=0.8, fuse_score=True)
    theirs = byte_tracker.BYTETracker(args)       # 8.4: keeps lost tracks track_buffer frames
    ours = ByteTrack(frame_rate=30, duplicate_iou=1.0)   # so does ours at 30 fps
    agree, total, ours_out, theirs_out = 0, 0, [], []
    for i, d in enumerate(frames):
        rows = theirs.update(_UltralyticsResults(d))
        their_ids = np.full(len(d), -1)
        if len(rows):
            their_ids[rows[:, 7].astype(int)] = rows[:, 4].astype(int)
        our_ids = ours.update(d, frame=i).tracker_ids
        agree += int(np.sum((their_ids >= 0) == (our_ids >= 0)))
        total += len(d)
        ours_out.append((our_ids[our_ids >= 0], d.xyxy[our_ids >= 0]))
        theirs_out.append((their_ids[their_ids >= 0], d.xyxy[their_ids >= 0]))
    a, b = evaluate_tracks(gt, _rows(ours_out)), evaluate_tracks(gt, _rows(theirs_out))
    assert agree / total > 0.97
    assert abs(a["tracker_ids"] - b["tracker_ids"]) <= 0.1 * b["tracker_ids"]
    for key in ("HOTA", "MOTA", "IDF1"):
        assert abs(a[key] - b[key]) < 0.03, (key, a[key], b[key])


def _ultralytics_ids(tracker, d: Detections) -> list[int]:
    rows = tracker.update(_UltralyticsResults(d))
    ids = np.full(len(d), -1)
    if len(rows):
        ids[rows[:, 7].astype(int)] = rows[:, 4].astype(int)
    return ids.tolist()


def _ultralytics_tracker():
    pytest.importorskip("lap")
    byte_tracker = pytest.importorskip("ultralytics.trackers.byte_tracker")
    from types import SimpleNamespace

    return byte_tracker.BYTETracker(SimpleNamespace(
        tracker_type="bytetrack", track_high_thresh=0.25, track_low_thresh=0.1,
        new_track_thresh=0.25, track_buffer=30, match_thresh=0.8, fuse_score=True))


@pytest.mark.parametrize("duplicate_iou", [1.0, 0.7])
def test_a_lost_track_that_lived_less_gives_way_to_the_tracked_one(duplicate_iou):
    """Object A stands still for frames 0-9, then is hidden; B enters at frame 4 and walks onto
    A's last place. Where B's box covers A's lost one, the track that was *tracked* longer
    stays (start to last update, as Ultralytics and ByteTrack count): B. Counting since birth
    instead dropped B, whose next box then took A's id (an identity switch), frame for frame
    unlike Ultralytics' BYTETracker."""
    theirs = _ultralytics_tracker()
    ours = ByteTrack(frame_rate=30, duplicate_iou=duplicate_iou)
    b_ids = set()
    for f in range(40):
        boxes = [[200.0, 100, 240, 200]] if f < 10 else []
        if f >= 4:
            boxes.append([43.0 + 8 * (f - 4), 100, 83.0 + 8 * (f - 4), 200])
        d = dets(boxes, [0.9] * len(boxes))
        got = ours.update(d, frame=f).tracker_ids.tolist()
        assert got == _ultralytics_ids(theirs, d), f"frame {f}"
        if f >= 5:
            b_ids.add(got[-1])
    assert len(b_ids) == 1 and -1 not in b_ids


def test_the_prediction_noise_is_sized_by_the_height_before_the_step():
    """ByteTrack (and Ultralytics) size the motion noise from the box before the step."""
    mean = np.array([[100.0, 50, 0.5, 40, 2, 1, 0, 10]])      # the height grows 10 a frame
    _, cov = kalman.predict(mean, np.repeat(np.eye(8)[None], 1, 0))
    std = 40 / 20                                            # 1/20 of the height, before
    assert cov[0, 0, 0] == pytest.approx(1 + 1 + std ** 2)   # F P F' (position + velocity)


def test_a_box_without_area_gets_no_track_as_in_ultralytics():
    """A zero-height box has an infinite aspect ratio: it takes part in nothing (it was given a
    confirmed id on the first frame, then a new throw-away track every frame)."""
    theirs = _ultralytics_tracker()
    ours = ByteTrack(frame_rate=30, duplicate_iou=1.0)
    for f in range(6):
        d = dets([[10, 10, 40, 10], [60, 10, 60, 50], [100, 10, 130, 70]], [0.9, 0.9, 0.9])
        got = ours.update(d, frame=f).tracker_ids.tolist()
        assert got[:2] == [-1, -1] and got[2] >= (-1 if f == 0 else 1)
        assert got == _ultralytics_ids(theirs, d)
    assert len(ours._ids) == 1
