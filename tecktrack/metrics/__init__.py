"""Offline metrics engine: COCO-exact AP/AR, precision/recall tables, confusion, speed.

Inputs are :class:`~tecktrack.detections.Detections` keyed by image (ground truth without
scores, predictions with). See :func:`evaluate` for the COCO summary and per-class table.

Examples
--------
>>> from tecktrack.detections import Detections
>>> gt = {"a.jpg": Detections([[0, 0, 10, 10]], [0])}
>>> preds = {"a.jpg": Detections([[0, 0, 10, 10]], [0], [0.9])}
>>> round(evaluate(gt, preds).summary["map50"], 6)
1.0
"""

from tecktrack.metrics._inputs import ExactBoxes
from tecktrack.metrics.accumulate import COCO_RECALL_THRESHOLDS
from tecktrack.metrics.bootstrap import Bootstrap, bootstrap_intervals, resample_counts
from tecktrack.metrics.breakdown import class_size_table
from tecktrack.metrics.coco import COCO_IOU_THRESHOLDS, SUMMARY_KEYS, Evaluation, evaluate
from tecktrack.metrics.compare import Comparison, compare_models
from tecktrack.metrics.confusion import BACKGROUND, confusion_matrix
from tecktrack.metrics.curves import pr_curves
from tecktrack.metrics.errors import ERROR_KEYS, ErrorBreakdown, error_breakdown
from tecktrack.metrics.matching import AREA_RANGES, MatchResult, match
from tecktrack.metrics.operating_point import ERROR_KINDS, OperatingPoints
from tecktrack.metrics.tables import SWEEP_THRESHOLDS, precision_recall, threshold_sweep
from tecktrack.metrics.timing import time_callable

__all__ = [
    "AREA_RANGES",
    "BACKGROUND",
    "COCO_IOU_THRESHOLDS",
    "COCO_RECALL_THRESHOLDS",
    "ERROR_KINDS",
    "ERROR_KEYS",
    "SUMMARY_KEYS",
    "SWEEP_THRESHOLDS",
    "Bootstrap",
    "Comparison",
    "ErrorBreakdown",
    "Evaluation",
    "ExactBoxes",
    "MatchResult",
    "OperatingPoints",
    "bootstrap_intervals",
    "class_size_table",
    "compare_models",
    "confusion_matrix",
    "error_breakdown",
    "evaluate",
    "match",
    "pr_curves",
    "precision_recall",
    "resample_counts",
    "threshold_sweep",
    "time_callable",
]
