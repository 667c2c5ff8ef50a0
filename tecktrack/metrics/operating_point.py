"""Precision, recall, F1, the per-class table and the confusion matrix at any operating point,
recomputed from cached predictions fast enough for a slider.

:class:`OperatingPoints` flattens ground truth and predictions once. Greedy COCO matching
visits detections by descending score, so the detections scoring at least ``conf`` are matched
exactly as in a matching of all detections (the lower ones come later and cannot change it):
one matching per IoU threshold (cached) serves every score threshold. The confusion matrix
reuses the class-agnostic (detection, ground truth) pairs computed once, with their IoU.

Examples
--------
>>> from tecktrack.detections import Detections
>>> gt = {"a": Detections([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 1])}
>>> preds = {"a": Detections([[0, 0, 10, 10], [50, 50, 60, 60]], [0, 1], [0.9, 0.4])}
>>> points = OperatingPoints(gt, preds, names=["cat", "dog"])
>>> points.summary(conf=0.5, iou=0.5)
{'precision': 0.5, 'recall': 0.5, 'f1': 0.5, 'tp': 1, 'fp': 0, 'fn': 1}
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import pandas as pd

from tecktrack.detections import Detections
from tecktrack.metrics._inputs import Names, flatten
from tecktrack.metrics.confusion import BACKGROUND, image_pairs
from tecktrack.metrics.matching import MatchResult
from tecktrack.metrics.tables import pr_counts, pr_frame, pr_match

__all__ = ["ERROR_KINDS", "OperatingPoints"]

#: What the image browser filters by: images with at least one of these at the operating point.
ERROR_KINDS = ("false positive", "missed", "wrong class")


class OperatingPoints:
    """Metrics of one model's cached predictions at any ``(conf, iou)``.

    Parameters
    ----------
    gt, preds : Mapping
        ``{image: Detections}`` as in :func:`tecktrack.metrics.precision_recall`.
    names : list or mapping, optional
        Class names.
    min_iou : float
        Smallest IoU threshold that will be asked for (pairs below it are dropped once).
    """

    def __init__(self, gt: Mapping[Hashable, Detections], preds: Mapping[Hashable, Detections],
                 *, names: Names = None, min_iou: float = 0.05) -> None:
        self.flat = flatten(gt, preds, names=names)
        self.min_iou = float(min_iou)
        self._matches: dict[float, MatchResult] = {}
        truth = np.flatnonzero(~self.flat.gt_crowd)
        p_det, p_gt, p_iou = image_pairs(self.flat, np.arange(len(self.flat.dt_score)), truth)
        keep = p_iou >= self.min_iou
        order = np.argsort(-p_iou[keep], kind="stable")      # descending IoU, once
        self._pairs = (p_det[keep][order], p_gt[keep][order], p_iou[keep][order])
        self._truth = truth
        self._memo: dict[tuple[str, float, float], object] = {}

    def _cached(self, what: str, conf: float, iou: float, compute):
        """The last value of ``what`` per ``(conf, iou)`` (one slider position's work)."""
        key = (what, float(conf), float(iou))
        if key not in self._memo:
            for old in [k for k in self._memo if k[0] == what]:
                del self._memo[old]
            self._memo[key] = compute()
        return self._memo[key]

    @property
    def names(self) -> list[str]:
        """Class names in table order."""
        return list(self.flat.names)

    @property
    def images(self) -> list[Hashable]:
        """Image keys in order."""
        return list(self.flat.image_keys)

    def match(self, iou: float) -> MatchResult:
        """The COCO matching at ``iou`` with every detection kept (cached per threshold)."""
        key = round(float(iou), 6)
        if key < self.min_iou - 1e-9:
            raise ValueError(f"iou {iou} is below min_iou {self.min_iou}")
        if key not in self._matches:
            self._matches[key] = pr_match(self.flat, key)
        return self._matches[key]

    def precision_recall(self, conf: float, iou: float) -> pd.DataFrame:
        """The table of :func:`tecktrack.metrics.precision_recall` at ``(conf, iou)``."""
        return self._cached("pr", conf, iou,
                            lambda: pr_frame(self.flat.class_ids, self.flat.names,
                                             *pr_counts(self.match(iou), conf))).copy()

    def summary(self, conf: float, iou: float) -> dict[str, float | int]:
        """Class-mean precision and recall, their F1, and the total TP / FP / FN."""
        mean = self.precision_recall(conf, iou).loc["mean"]
        p, r = float(mean["precision"]), float(mean["recall"])
        f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
        return {"precision": p, "recall": r, "f1": f1, "tp": int(mean["tp"]),
                "fp": int(mean["fp"]), "fn": int(mean["fn"])}

    def _one_to_one(self, conf: float, iou: float) -> tuple[np.ndarray, np.ndarray]:
        return self._cached("pairs", conf, iou, lambda: self._pairs_at(conf, iou))

    def _pairs_at(self, conf: float, iou: float) -> tuple[np.ndarray, np.ndarray]:
        p_det, p_gt, p_iou = self._pairs
        keep = (p_iou >= iou) & (self.flat.dt_score[p_det] >= conf)
        p_det, p_gt = p_det[keep], p_gt[keep]                 # still descending IoU
        _, first = np.unique(p_det, return_index=True)
        first = np.sort(first)
        p_det, p_gt = p_det[first], p_gt[first]
        _, first = np.unique(p_gt, return_index=True)
        return p_det[first], p_gt[first]

    def confusion(self, conf: float, iou: float) -> pd.DataFrame:
        """The table of :func:`tecktrack.metrics.confusion_matrix` at ``(conf, iou)``."""
        flat = self.flat
        m_det, m_gt = self._one_to_one(conf, iou)
        k = flat.n_classes
        counts = np.zeros((k + 1, k + 1), dtype=np.int64)
        np.add.at(counts, (flat.gt_class[m_gt], flat.dt_class[m_det]), 1)
        det = np.flatnonzero(flat.dt_score >= conf)
        missed = np.setdiff1d(self._truth, m_gt)
        false = np.setdiff1d(det, m_det)
        counts[:k, k] += np.bincount(flat.gt_class[missed], minlength=k)
        counts[k, :k] += np.bincount(flat.dt_class[false], minlength=k)
        labels = [*flat.names, BACKGROUND]
        return pd.DataFrame(counts, index=pd.Index(labels, name="true"),
                            columns=pd.Index(labels, name="predicted"))

    def outcomes(self, conf: float, iou: float) -> tuple[np.ndarray, np.ndarray]:
        """Per detection ``-1`` (below ``conf``), ``0`` (false positive) or ``1`` (true
        positive), and per ground-truth box whether it was found (class-aware, COCO rule);
        both in the flat order (images in order, boxes in their per-image order)."""
        return self._cached("outcomes", conf, iou, lambda: self._outcomes_at(conf, iou))

    def _outcomes_at(self, conf: float, iou: float) -> tuple[np.ndarray, np.ndarray]:
        flat, m = self.flat, self.match(iou)
        kept = m.score >= conf
        state = np.full(len(flat.dt_score), -1, np.int8)
        state[m.det_index[kept]] = m.true_positive[0, 0, kept].astype(np.int8)
        state[m.det_index[kept & m.ignored[0, 0]]] = -1
        found = np.zeros(len(flat.gt_class), bool)
        hit = m.gt_match[0, 0][kept & m.true_positive[0, 0]]
        found[hit] = True
        return state, found

    def image_outcomes(self, key: Hashable, conf: float, iou: float
                       ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`outcomes` of one image: its detections' states and its labels' found flags,
        in the order of its ``Detections``."""
        i = self.flat.image_keys.index(key)
        state, found = self.outcomes(conf, iou)
        d0, d1 = np.searchsorted(self.flat.dt_image, [i, i + 1])
        g0, g1 = np.searchsorted(self.flat.gt_image, [i, i + 1])
        return state[d0:d1], found[g0:g1]

    def image_errors(self, conf: float, iou: float) -> pd.DataFrame:
        """Per image: ``tp``, ``false positive``, ``missed`` and ``wrong class`` counts."""
        flat = self.flat
        n = len(flat.image_keys)
        state, found = self.outcomes(conf, iou)
        m_det, m_gt = self._one_to_one(conf, iou)
        wrong = flat.dt_class[m_det] != flat.gt_class[m_gt]
        truth = ~flat.gt_crowd
        return pd.DataFrame({
            "tp": np.bincount(flat.dt_image[state == 1], minlength=n),
            "false positive": np.bincount(flat.dt_image[state == 0], minlength=n),
            "missed": np.bincount(flat.gt_image[truth & ~found], minlength=n),
            "wrong class": np.bincount(flat.gt_image[m_gt[wrong]], minlength=n),
        }, index=pd.Index(list(flat.image_keys), name="image"))

    def class_presence(self, conf: float) -> np.ndarray:
        """``(n_images, n_classes)`` bool: the image has a label or a detection scoring at
        least ``conf`` of the class (columns in table order)."""
        flat = self.flat
        kept = flat.dt_score >= conf
        present = np.zeros((len(flat.image_keys), flat.n_classes), bool)
        present[flat.gt_image, flat.gt_class] = True
        present[flat.dt_image[kept], flat.dt_class[kept]] = True
        return present
