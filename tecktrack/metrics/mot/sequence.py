"""One tracking sequence prepared for the MOT metrics: per-frame ids and IoU similarities.

Both files' ids are relabelled to ``0..n-1`` (in increasing order of the original ids),
frames run from 1 to the last frame of either file (frames with no rows are empty
timesteps), ground-truth rows whose "consider" flag (column 7) is 0 are dropped, and the
similarity of a ground-truth box and a tracker box is their IoU, computed in float64 from
``x + w`` corners exactly as TrackEval computes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tecktrack.datasets.mot import MotRows
from tecktrack.detections import box_iou

__all__ = ["MotSequence", "prepare_sequence"]


@dataclass(eq=False)
class MotSequence:
    """Per-frame ground truth and tracker ids (contiguous) and similarity matrices.

    ``gt_ids[t]``, ``tracker_ids[t]`` and ``similarity[t]`` belong to frame ``t + 1``;
    ``gt_labels`` and ``tracker_labels`` map contiguous ids back to the files' ids.
    """

    gt_ids: list[np.ndarray]
    tracker_ids: list[np.ndarray]
    similarity: list[np.ndarray]
    gt_labels: np.ndarray
    tracker_labels: np.ndarray

    @property
    def num_frames(self) -> int:
        """Number of timesteps."""
        return len(self.gt_ids)

    @property
    def num_gt_ids(self) -> int:
        """Distinct ground-truth objects."""
        return len(self.gt_labels)

    @property
    def num_tracker_ids(self) -> int:
        """Distinct tracks."""
        return len(self.tracker_labels)

    @property
    def num_gt_dets(self) -> int:
        """Ground-truth boxes over all frames."""
        return int(sum(len(g) for g in self.gt_ids))

    @property
    def num_tracker_dets(self) -> int:
        """Tracker boxes over all frames."""
        return int(sum(len(t) for t in self.tracker_ids))


def _split(rows: MotRows, num_frames: int) -> tuple[list[np.ndarray], list[np.ndarray],
                                                     np.ndarray]:
    labels, ids = np.unique(rows.ids, return_inverse=True)
    bounds = np.searchsorted(rows.frames, np.arange(1, num_frames + 2))
    boxes = rows.xyxy
    id_parts = [ids[a:b].astype(np.int64) for a, b in zip(bounds[:-1], bounds[1:], strict=False)]
    box_parts = [boxes[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=False)]
    return id_parts, box_parts, labels


def prepare_sequence(gt: MotRows, tracker: MotRows, num_frames: int | None = None) -> MotSequence:
    """Build the :class:`MotSequence` of a ground-truth and a tracker file.

    Parameters
    ----------
    gt, tracker : MotRows
        As :func:`tecktrack.datasets.mot.read_mot` returns them.
    num_frames : int, optional
        Length of the sequence; default the last frame of either file. Rows after it are
        left out.

    Examples
    --------
    >>> gt = MotRows.from_arrays([1, 2], [5, 5], [[0, 0, 10, 10]] * 2)
    >>> tr = MotRows.from_arrays([2], [9], [[0, 0, 10, 5]])
    >>> seq = prepare_sequence(gt, tr)
    >>> seq.num_frames, seq.similarity[1].tolist()
    (2, [[0.5]])
    """
    # TrackEval reads the 'consider' flag as an int (0.5 -> 0: left out); whole flags as is
    gt = gt[np.trunc(gt.conf) != 0]
    if num_frames is None:
        num_frames = max(gt.num_frames, tracker.num_frames)
    gt_ids, gt_boxes, gt_labels = _split(gt[gt.frames <= num_frames], num_frames)
    tr_ids, tr_boxes, tr_labels = _split(tracker[tracker.frames <= num_frames], num_frames)
    similarity = [box_iou(g, t) for g, t in zip(gt_boxes, tr_boxes, strict=False)]
    return MotSequence(gt_ids, tr_ids, similarity, gt_labels, tr_labels)
