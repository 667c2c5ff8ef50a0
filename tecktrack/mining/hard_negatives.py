r"""Hard-negative mining: the images a detector gets most wrong, the classes it mixes up.

The per-image loss (all coordinates normalised by the image width and height)::

    L = lambda_bb     * sum_matched [ (cx-cx')^2 + (cy-cy')^2
                                      + (sqrt w - sqrt w')^2 + (sqrt h - sqrt h')^2 ]
      + lambda_obj    * sum_matched (1 - s)^2                    # confident when right
      + lambda_cls    * sum_matched [c != c']                    # wrong class
      + lambda_obj    * sum_unmatched_pred s^2                   # confident false positives
      + lambda_no_obj * (number of unmatched labels)             # missed objects

A prediction (score ``s``, class ``c``) is *matched* to a label box (class ``c'``) by the
greedy class-agnostic rule of :mod:`tecktrack.mining.matching` at IoU >= ``iou_threshold``.
The box term is the YOLO (v1) one on centre and square-root size; missed objects weigh
``lambda_no_obj`` = 2 by default, twice a fully confident false positive.

Examples
--------
>>> from tecktrack.detections import Detections
>>> gt = Detections([[0, 0, 50, 50]], [0])
>>> HardNegativeMining().compute_loss(Detections.empty(), gt, 100, 100)   # one missed object
2.0
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tecktrack.datasets.box_table import BoxTable
from tecktrack.detections import Detections
from tecktrack.mining.matching import MatchResult, match_tables

__all__ = ["HardNegativeMining", "LOSS_COMPONENTS"]

#: Columns of the loss breakdown, in the order of the formula.
LOSS_COMPONENTS = ("box", "objectness", "classification", "false_positive", "missed")


@dataclass(frozen=True)
class HardNegativeMining:
    """Rank images by a YOLO-style per-image loss and count class confusions.

    Parameters
    ----------
    iou_threshold : float
        Minimum IoU for a prediction to match a label box.
    lambda_bb : float
        Weight of the box (centre + square-root size) term of matched pairs.
    lambda_obj : float
        Weight of the objectness terms: ``(1-s)^2`` for matched, ``s^2`` for unmatched predictions.
    lambda_cls : float
        Weight of a wrong class on a matched pair.
    lambda_no_obj : float
        Cost of each label box no prediction matched (a missed object).

    Examples
    --------
    >>> m = HardNegativeMining(lambda_no_obj=3)
    >>> m.compute_loss(Detections.empty(), Detections([[0, 0, 5, 5]], [1]), 10, 10)
    3.0
    """

    iou_threshold: float = 0.5
    lambda_bb: float = 5.0
    lambda_obj: float = 1.0
    lambda_cls: float = 1.0
    lambda_no_obj: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.iou_threshold <= 1:
            raise ValueError(f"iou_threshold must be in (0, 1], got {self.iou_threshold}")
        for name in ("lambda_bb", "lambda_obj", "lambda_cls", "lambda_no_obj"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    # -- one image ----------------------------------------------------------------------
    def compute_loss(self, predictions: Detections, annotations: Detections,
                     image_width: float, image_height: float) -> float:
        """The loss of one image (see the module docstring for the formula).

        Examples
        --------
        >>> gt = Detections([[0, 0, 50, 50]], [0])
        >>> pred = Detections([[0, 0, 50, 50]], [0], [0.5])
        >>> HardNegativeMining().compute_loss(pred, gt, 100, 100)
        0.25
        """
        return float(self.loss_components(predictions, annotations, image_width,
                                          image_height)["loss"])

    def loss_components(self, predictions: Detections, annotations: Detections,
                        image_width: float, image_height: float) -> dict[str, float]:
        """The loss of one image and its weighted components (keys ``loss`` + LOSS_COMPONENTS).

        Examples
        --------
        >>> pred = Detections([[0, 0, 50, 50]], [1], [1.0])
        >>> parts = HardNegativeMining().loss_components(pred, Detections([[0, 0, 50, 50]], [0]),
        ...                                              100, 100)
        >>> parts["loss"], parts["classification"], parts["missed"]
        (1.0, 1.0, 0.0)
        """
        if predictions.scores is None:
            raise ValueError("predictions need scores")
        if image_width <= 0 or image_height <= 0:
            raise ValueError("image_width and image_height must be > 0")
        size = [(image_width, image_height)]
        pred = BoxTable.from_detections(["image"], [predictions], size)
        gt = BoxTable.from_detections(
            ["image"], [Detections(annotations.xyxy, annotations.class_ids)], size)
        row = self.image_losses(pred, gt).iloc[0]
        return {k: float(row[k]) for k in ("loss", *LOSS_COMPONENTS)}

    # -- many images, vectorised ----------------------------------------------------------
    def match(self, pred: BoxTable, gt: BoxTable) -> MatchResult:
        """Greedy class-agnostic matching of aligned tables at ``iou_threshold``."""
        return match_tables(pred, gt, self.iou_threshold)

    def image_losses(self, pred: BoxTable, gt: BoxTable,
                     match: MatchResult | None = None) -> pd.DataFrame:
        """Loss and weighted components of every image of two aligned tables.

        Returns a DataFrame with columns ``image, loss, box, objectness, classification,
        false_positive, missed, n_pred, n_gt`` in the tables' image order.

        Examples
        --------
        >>> gt = BoxTable(["a", "b"], [0, 1], [0, 0], [[.5, .5, .2, .2], [.5, .5, .2, .2]])
        >>> pred = BoxTable(["a", "b"], [0], [0], [[.5, .5, .2, .2]], [1.0])
        >>> HardNegativeMining().image_losses(pred, gt)[["image", "loss", "missed"]]
          image  loss  missed
        0     a   0.0     0.0
        1     b   2.0     2.0
        """
        match = match if match is not None else self.match(pred, gt)
        n = pred.n_images
        matched = match.pred_gt >= 0
        p, g = np.flatnonzero(matched), match.pred_gt[matched]
        img = pred.image[p]
        s = pred.scores.astype(np.float64)
        terms = {
            "box": (img, self.lambda_bb * _box_term(pred.boxes[p], gt.boxes[g])),
            "objectness": (img, self.lambda_obj * (1.0 - s[p]) ** 2),
            "classification": (img, self.lambda_cls * (pred.class_ids[p] != gt.class_ids[g])),
            "false_positive": (pred.image[~matched], self.lambda_obj * s[~matched] ** 2),
            "missed": (gt.image[match.gt_pred < 0],
                       np.full(int((match.gt_pred < 0).sum()), float(self.lambda_no_obj))),
        }
        table = {k: np.bincount(i, weights=w.astype(np.float64), minlength=n)
                 for k, (i, w) in terms.items()}
        frame = pd.DataFrame({"image": pred.stems, **table})
        frame.insert(1, "loss", frame[list(LOSS_COMPONENTS)].sum(axis=1))
        frame["n_pred"] = pred.counts()
        frame["n_gt"] = gt.counts()
        return frame

    def hard_negatives(self, pred: BoxTable, gt: BoxTable, num_samples: int | None = 10,
                       match: MatchResult | None = None) -> pd.DataFrame:
        """The ``num_samples`` images with the highest loss, best (hardest) first.

        Ties are broken by image name so the order is deterministic.
        """
        frame = self.image_losses(pred, gt, match)
        frame = frame.sort_values(["loss", "image"], ascending=[False, True], kind="stable")
        return frame.head(num_samples if num_samples is not None else len(frame)).reset_index(
            drop=True)

    def count_misclassifications_per_class(self, pred: BoxTable, gt: BoxTable,
                                           match: MatchResult | None = None,
                                           names: list[str] | None = None) -> pd.DataFrame:
        """Counts of matched pairs whose predicted class differs from the label's class.

        Returns columns ``true_class, predicted_class, count`` (names when ``names`` is
        given, else ids), most frequent confusion first.

        Examples
        --------
        >>> gt = BoxTable(["a"], [0, 0], [0, 0], [[.2, .2, .1, .1], [.7, .7, .1, .1]])
        >>> pred = BoxTable(["a"], [0, 0], [1, 1], [[.2, .2, .1, .1], [.7, .7, .1, .1]], [.9, .8])
        >>> HardNegativeMining().count_misclassifications_per_class(pred, gt)
           true_class  predicted_class  count
        0           0                1      2
        """
        match = match if match is not None else self.match(pred, gt)
        p = np.flatnonzero(match.pred_gt >= 0)
        true_c, pred_c = gt.class_ids[match.pred_gt[p]], pred.class_ids[p]
        wrong = true_c != pred_c
        frame = pd.DataFrame({"true_class": true_c[wrong], "predicted_class": pred_c[wrong]})
        counts = frame.value_counts(sort=False).rename("count").reset_index()
        counts = counts.sort_values(["count", "true_class", "predicted_class"],
                                    ascending=[False, True, True], kind="stable")
        counts = counts.reset_index(drop=True)
        if names is not None:
            for col in ("true_class", "predicted_class"):
                counts[col] = [_name(names, c) for c in counts[col]]
        return counts.astype({"count": np.int64})

    def misclassifications(self, pred: BoxTable, gt: BoxTable, num_samples: int | None = None,
                           match: MatchResult | None = None,
                           names: list[str] | None = None) -> pd.DataFrame:
        """Classes by number of misclassified label boxes, with what they were confused with.

        Returns columns ``class, count, confused_with`` (a dict name -> count, largest first)
        and ``images`` (the images where it happened, sorted), most confused class first.
        """
        match = match if match is not None else self.match(pred, gt)
        pairs = self.count_misclassifications_per_class(pred, gt, match)
        p = np.flatnonzero(match.pred_gt >= 0)
        true_c, pred_c = gt.class_ids[match.pred_gt[p]], pred.class_ids[p]
        wrong = true_c != pred_c
        stems = np.asarray(pred.stems, dtype=object)[pred.image[p][wrong]]
        rows = []
        for true_class, group in pairs.groupby("true_class", sort=False):
            images = sorted(set(stems[true_c[wrong] == true_class]))
            rows.append({
                "class": _name(names, true_class),
                "count": int(group["count"].sum()),
                "confused_with": {_name(names, c): int(n) for c, n in
                                  zip(group["predicted_class"], group["count"],
                                      strict=True)},
                "images": images,
            })
        frame = pd.DataFrame(rows, columns=["class", "count", "confused_with", "images"])
        frame = frame.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)
        return frame.head(num_samples) if num_samples is not None else frame

    # -- from folders -------------------------------------------------------------------
    def sample_hard_negatives(self, prediction_dir: str | Path, annotation_dir: str | Path,
                              num_samples: int = 10) -> pd.DataFrame:
        """Top ``num_samples`` images by loss, with loss components, from YOLO folders.

        ``prediction_dir`` holds ``<stem>.txt`` with ``class cx cy w h conf`` (or a
        ``labels/`` sub-folder of them); ``annotation_dir`` is a label folder, a dataset
        folder or a ``data.yaml`` (all splits, matched by stem).
        """
        from tecktrack.mining.sources import load_aligned

        pred, gt, _ = load_aligned(prediction_dir, annotation_dir)
        return self.hard_negatives(pred, gt, num_samples)

    def sample_misclassifications(self, prediction_dir: str | Path, annotation_dir: str | Path,
                                  num_samples: int | None = None) -> pd.DataFrame:
        """Classes by misclassification count, with their confusions, from YOLO folders."""
        from tecktrack.mining.sources import load_aligned

        pred, gt, names = load_aligned(prediction_dir, annotation_dir)
        return self.misclassifications(pred, gt, num_samples, names=names)


def _box_term(pred_boxes: np.ndarray, gt_boxes: np.ndarray) -> np.ndarray:
    """YOLO box term on normalised ``cx, cy, w, h``: squared centre + square-root-size errors."""
    centre = np.sum((pred_boxes[:, :2] - gt_boxes[:, :2]) ** 2, axis=1)
    size = np.sum((np.sqrt(np.clip(pred_boxes[:, 2:], 0, None))
                   - np.sqrt(np.clip(gt_boxes[:, 2:], 0, None))) ** 2, axis=1)
    return centre + size


def _name(names: list[str] | None, class_id: int) -> str | int:
    if names is None:
        return int(class_id)
    return names[class_id] if 0 <= class_id < len(names) else str(int(class_id))
