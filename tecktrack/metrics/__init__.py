"""Offline metrics engine: COCO-exact AP/AR, precision/recall tables, confusion, speed.

Inputs are :class:`~tecktrack.detections.Detections` keyed by image (ground truth without
scores, predictions with). See :func:`evaluate` for the COCO summary and per-class table.
"""

from tecktrack.metrics.coco import (
    COCO_IOU_THRESHOLDS,
    SUMMARY_KEYS,
    Evaluation,
    evaluate,
)
from tecktrack.metrics.tables import SWEEP_THRESHOLDS, precision_recall, threshold_sweep

__all__ = [
    "COCO_IOU_THRESHOLDS",
    "SUMMARY_KEYS",
    "SWEEP_THRESHOLDS",
    "Evaluation",
    "evaluate",
    "precision_recall",
    "threshold_sweep",
]
