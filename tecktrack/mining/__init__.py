"""Rectification, mining: hard negatives, matching, sources, label issues, the second look,
and the ``tecktrack mine`` pipeline.

Examples
--------
>>> from tecktrack.mining import HardNegativeMining
>>> from tecktrack.detections import Detections
>>> gt = Detections([[0, 0, 10, 10]], [0])
>>> HardNegativeMining().compute_loss(Detections.empty(), gt, 100, 100)
2.0
"""

from tecktrack.mining.hard_negatives import LOSS_COMPONENTS, HardNegativeMining
from tecktrack.mining.label_issues import ISSUE_KINDS, box_suspicions, rank_label_issues
from tecktrack.mining.matching import MatchResult, align_tables, match_tables
from tecktrack.mining.pipeline import mine, mining_summary, write_summary
from tecktrack.mining.second_look import SecondLook, zoom_windows
from tecktrack.mining.sources import (
    Sources,
    images_by_stem,
    load_aligned,
    load_ground_truth,
    load_predictions,
    load_sources,
)

__all__ = [
    "ISSUE_KINDS", "LOSS_COMPONENTS", "HardNegativeMining", "MatchResult", "SecondLook", "Sources",
    "align_tables", "box_suspicions", "images_by_stem", "load_aligned", "load_ground_truth",
    "load_predictions", "load_sources", "match_tables", "mine", "mining_summary",
    "rank_label_issues", "write_summary", "zoom_windows",
]
