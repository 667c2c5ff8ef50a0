"""Every speed goal of the benchmarks, and what this run measured against it.

A benchmark records a ratio with :func:`record` (a ratio it measured itself, e.g. from
alternated pairs) or marks itself as one side of a time ratio with :func:`pair` (the summary
divides the two benchmarks' best times). ``benchmarks/conftest.py`` prints one line per goal
at the end of the run (``make bench``) and writes ``results/bench-summary.json``.

    >>> record("nms_100", 0.62, "54 us vs 87 us")                      # doctest: +SKIP
"""

from __future__ import annotations

import operator
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["GOALS", "Goal", "alternated", "annotate", "annotations", "pair", "record", "measured",
           "rotated"]


@dataclass(frozen=True)
class Goal:
    """One goal: ``value <op> threshold`` where ``value`` is what the benchmark measures."""

    what: str
    op: str  # "<=", "<", ">=" or ">"
    threshold: float
    unit: str = "x"

    def met(self, value: float) -> bool:
        ops = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}
        return bool(ops[self.op](value, self.threshold))


GOALS: dict[str, Goal] = {
    # -- the detector (#20): whole predict over the bare forward of the same blob
    "predict_onnx": Goal("Model.predict / session.run, 320 YOLOv8-layout ONNX, ORT 1 thread",
                         "<=", 1.10),
    "predict_opencv": Goal("Model.predict / net.forward, same ONNX on OpenCV DNN 1 thread",
                           "<=", 1.10),
    "predict_darknet": Goal("Model.predict / net.forward, real Darknet yolo-fastest (OpenCV)",
                            "<=", 1.05),
    "predict_batch_onnx": Goal("predict_batch(8) / batched session.run, same ONNX", "<=", 1.05),
    "predict_batch_overlap": Goal("predict_batch(16) / 16 session.run, demo-n (fixed batch)",
                                  "<=", 1.05),
    # -- stream pipeline (#20): pipeline FPS over bare forward FPS
    "stream_video_demo-n": Goal("pipeline FPS / forward FPS, video file, demo-n", ">=", 0.90),
    "stream_video_demo-s": Goal("pipeline FPS / forward FPS, video file, demo-s", ">=", 0.90),
    "stream_udp_demo-n": Goal("pipeline FPS / forward FPS, udp://, demo-n", ">=", 0.90),
    "stream_udp_demo-s": Goal("pipeline FPS / forward FPS, udp://, demo-s", ">=", 0.90),
    # -- NMS (#20): ours / cv2.dnn.NMSBoxesBatched, identical keeps
    "nms_10": Goal("class-aware NMS / cv2.dnn.NMSBoxesBatched, 10 boxes", "<", 1.0),
    "nms_100": Goal("class-aware NMS / cv2.dnn.NMSBoxesBatched, 100 boxes", "<", 1.0),
    "nms_1000": Goal("class-aware NMS / cv2.dnn.NMSBoxesBatched, 1,000 boxes", "<", 1.0),
    "nms_20000": Goal("class-aware NMS / cv2.dnn.NMSBoxesBatched, 20,000 boxes", "<", 1.0),
    # -- readers (#20)
    "read_coco_gt": Goal("COCO GT JSON -> Detections / pycocotools COCO()", "<", 1.0),
    "read_yolo_labels": Goal("1,000 YOLO label files (validated) / numpy.loadtxt", "<", 1.0),
    # -- cluster (#16)
    "cluster_local1_overhead": Goal("predict --cluster local:1 / one process, 2,000 images",
                                    "<=", 1.10),
    "cluster_local2_speedup": Goal("one process / predict --cluster local:2 (speed-up)",
                                   ">=", 1.6),
    # -- earlier goals
    "bootstrap_1000_s": Goal("bootstrap, 1,000 resamples of a 5k-image evaluation", "<", 10.0,
                             " s"),
    "metrics_vs_pycocotools": Goal("COCO bbox eval / pycocotools COCOeval, 5k images",
                                   "<", 1.0),
    "metrics_vs_faster_coco_eval": Goal("COCO bbox eval / faster-coco-eval, 5k images",
                                        "<", 1.0),
    "widgets_iou_change_ms": Goal("notebook 02 explorer, one IoU-slider change (median)",
                                  "<", 200.0, " ms"),
    "forward_demo_s_ms": Goal("demo-s forward pass, 320x320, ONNX Runtime 2 threads (median)",
                              "<", 15.0, " ms"),
    "bytetrack_vs_trackers": Goal("ByteTrack update / roboflow trackers, 100 boxes", "<", 1.0),
}


@dataclass
class _Run:
    values: dict[str, tuple[float, str]] = field(default_factory=dict)
    pairs: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


_RUN = _Run()


def record(key: str, value: float, detail: str = "") -> None:
    """Record the measured value of goal ``key`` (a ratio, or seconds where the unit says)."""
    if key not in GOALS:
        raise KeyError(f"no goal named {key!r} in benchmarks/goals.py")
    _RUN.values[key] = (float(value), detail)


def pair(key: str, role: str, seconds: float) -> None:
    """One side of a time ratio: ``role`` ``"ours"`` or ``"peer"``, its best time.

    When both sides are in, the goal's value is ``ours / peer``.
    """
    if key not in GOALS or role not in ("ours", "peer"):
        raise KeyError(f"bad goal {key!r} or role {role!r}")
    sides = _RUN.pairs.setdefault(key, {})
    sides[role] = float(seconds)
    if len(sides) == 2:
        record(key, sides["ours"] / sides["peer"],
               f"{_fmt(sides['ours'])} vs {_fmt(sides['peer'])} (best of each)")


def _fmt(seconds: float) -> str:
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def annotate(key: str, note: str) -> None:
    """Put ``note`` beside goal ``key``'s line: a reference measured in the same run that the
    goal's value should be read against (e.g. the memory floor under a ratio), not a goal.

    >>> annotate("predict_batch_onnx", "memory floor 1.043x")       # doctest: +SKIP
    """
    if key not in GOALS:
        raise KeyError(f"no goal named {key!r} in benchmarks/goals.py")
    _RUN.notes[key] = note


def annotations() -> dict[str, str]:
    """The notes :func:`annotate` put beside goals in this run, by goal key."""
    return dict(_RUN.notes)


def measured() -> dict[str, tuple[float, str]]:
    """What this run recorded, by goal key."""
    return dict(_RUN.values)


def alternated(ours: Callable[[], object],
               peer: Callable[[], object]) -> tuple[list[tuple[float, float]], Callable[[], None]]:
    """A callable timing ``ours`` then ``peer`` once (a pair, for ``benchmark.pedantic``), and
    the list it appends each pair's ``(ours, peer)`` durations in seconds to.

    >>> pairs, pair = alternated(lambda: None, lambda: None)
    >>> pair(); len(pairs)
    1
    """
    pairs: list[tuple[float, float]] = []

    def timed_pair() -> None:
        t0 = time.perf_counter()
        ours()
        t1 = time.perf_counter()
        peer()
        pairs.append((t1 - t0, time.perf_counter() - t1))
    return pairs, timed_pair


def rotated(names: Sequence, turn: int) -> list:
    """``names`` starting at position ``turn`` (mod its length): each round of a benchmark that
    alternates several runs begins with another one, so none is always the one timed right
    after a pause or right after the heaviest run.

    >>> rotated(("a", "b", "c"), 4)
    ['b', 'c', 'a']
    """
    k = turn % len(names)
    return list(names[k:]) + list(names[:k])
