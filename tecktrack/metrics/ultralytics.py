"""``yolo val``'s numbers: Ultralytics' matching and AP, for comparing with its reports.

What differs from the COCO engine (:func:`tecktrack.metrics.evaluate`), read from
``ultralytics/utils/metrics.py`` (``ap_per_class``, ``compute_ap``, ``smooth``) and
``DetectionValidator.match_predictions`` (8.4):

* matching: detections in descending score order; at each of the 10 IoU thresholds a
  detection takes the unclaimed same-class target it overlaps most and is a true positive when
  that IoU reaches the threshold. No crowd regions, no area ranges, no ``maxDets`` (the
  detector's ``max_det`` already capped each image);
* one box may carry several classes (``yolo val`` runs multi-label NMS), each row a detection;
* AP: the precision envelope over ``[0, recall..., recall[-1], 1]``, then the trapezoidal
  integral of its interpolation at 101 recall points (COCO picks the envelope's value at
  each point and averages instead);
* classes without targets are left out; classes with targets but no detections count 0;
* P and R: per-class precision/recall curves interpolated on 1,000 confidence points; the
  point is the maximum of the class-mean F1 smoothed with a box filter of 10 % width.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tecktrack.detections import Detections
from tecktrack.errors import EvaluationError

__all__ = ["ULTRALYTICS_IOU_THRESHOLDS", "UltralyticsEvaluation", "match_ultralytics",
           "ultralytics_ap", "evaluate_ultralytics"]

#: ``torch.linspace(0.5, 0.95, 10)`` as Ultralytics' validator builds it.
ULTRALYTICS_IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
_EPS = 1e-16
_BOX_EPS = 1e-7
_CURVE_X = np.linspace(0, 1, 1000)
_AP_X = np.linspace(0, 1, 101)


def _box_iou(gt: np.ndarray, det: np.ndarray) -> np.ndarray:
    """Ultralytics' ``box_iou`` (``inter / (a1 + a2 - inter + 1e-7)``), float64."""
    lt = np.maximum(gt[:, None, :2], det[None, :, :2])
    rb = np.minimum(gt[:, None, 2:], det[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_gt = (gt[:, 2:] - gt[:, :2]).prod(axis=1)
    area_det = (det[:, 2:] - det[:, :2]).prod(axis=1)
    return inter / (area_gt[:, None] + area_det[None] - inter + _BOX_EPS)


def match_ultralytics(gt: Detections, det: Detections,
                      thresholds: np.ndarray = ULTRALYTICS_IOU_THRESHOLDS) -> np.ndarray:
    """``(n_det, T)`` true-positive flags for one image, as ``match_predictions`` gives them.

    ``det`` must be in descending score order (as NMS returns it).

    Examples
    --------
    >>> gt = Detections([[0, 0, 10, 10]], [0])
    >>> det = Detections([[0, 0, 10, 9], [0, 0, 10, 10]], [0, 0], [0.9, 0.8])
    >>> match_ultralytics(gt, det, np.array([0.5, 0.95])).tolist()
    [[True, False], [False, True]]
    """
    correct = np.zeros((len(det), len(thresholds)), dtype=bool)
    if not len(gt) or not len(det):
        return correct
    iou = _box_iou(gt.xyxy.astype(np.float64), det.xyxy.astype(np.float64))
    iou = iou * (gt.class_ids[:, None] == det.class_ids[None, :])
    matched = np.zeros((len(gt), len(thresholds)), dtype=bool)
    columns = np.arange(len(thresholds))
    for j in np.flatnonzero((iou >= thresholds.min()).any(axis=0)):
        available = np.where(matched, 0.0, iou[:, j, None])
        k = available.argmax(axis=0)
        correct[j] = available[k, columns] >= thresholds
        matched[k, columns] |= correct[j]
    return correct


def _compute_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    mrec = np.concatenate(([0.0], recall, [recall[-1] if len(recall) else 1.0], [1.0]))
    mpre = np.concatenate(([1.0], precision, [0.0], [0.0]))
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))
    return float(np.trapezoid(np.interp(_AP_X, mrec, mpre), _AP_X))


def _smooth(y: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    nf = round(len(y) * fraction * 2) // 2 + 1
    pad = np.ones(nf // 2)
    padded = np.concatenate((pad * y[0], y, pad * y[-1]))
    return np.convolve(padded, np.ones(nf) / nf, mode="valid")


def ultralytics_ap(tp: np.ndarray, conf: np.ndarray, pred_cls: np.ndarray,
                   target_cls: np.ndarray) -> dict[str, np.ndarray]:
    """Ultralytics' ``ap_per_class``: AP per class and IoU threshold, P and R at best F1.

    Returns
    -------
    dict
        ``classes`` (classes with targets), ``ap`` (classes, T), ``p``, ``r``, ``f1``
        (per class, at the smoothed best mean F1), ``targets`` per class.

    Examples
    --------
    >>> out = ultralytics_ap(np.array([[True], [False]]), np.array([0.9, 0.8]),
    ...                      np.array([0, 0]), np.array([0]))
    >>> round(float(out["ap"][0, 0]), 3)
    0.995
    """
    order = np.argsort(-conf)  # NumPy's default sort, as Ultralytics: ties resolve alike
    tp, conf, pred_cls = tp[order], conf[order], pred_cls[order]
    classes, n_targets = np.unique(target_cls, return_counts=True)
    ap = np.zeros((len(classes), tp.shape[1]))
    p_curve, r_curve = np.zeros((len(classes), 1000)), np.zeros((len(classes), 1000))
    for ci, c in enumerate(classes):
        mine = pred_cls == c
        if not mine.any():
            continue
        tpc = tp[mine].cumsum(axis=0)
        fpc = (1 - tp[mine]).cumsum(axis=0)
        recall = tpc / (n_targets[ci] + _EPS)
        precision = tpc / (tpc + fpc)
        r_curve[ci] = np.interp(-_CURVE_X, -conf[mine], recall[:, 0], left=0)
        p_curve[ci] = np.interp(-_CURVE_X, -conf[mine], precision[:, 0], left=1)
        ap[ci] = [_compute_ap(recall[:, t], precision[:, t]) for t in range(tp.shape[1])]
    f1_curve = 2 * p_curve * r_curve / (p_curve + r_curve + _EPS)
    best = int(_smooth(f1_curve.mean(axis=0)).argmax()) if len(classes) else 0
    return {"classes": classes, "ap": ap, "p": p_curve[:, best], "r": r_curve[:, best],
            "f1": f1_curve[:, best], "targets": n_targets, "conf": float(_CURVE_X[best])}


def _label(class_id: int, names: Sequence[str] | None) -> str:
    return names[class_id] if names is not None and class_id < len(names) else str(class_id)


@dataclass(frozen=True)
class UltralyticsEvaluation:
    """What ``yolo val`` reports: ``summary`` (``precision``, ``recall``, ``map50``,
    ``map50_95``, ``fitness``) and the per-class table (``class, images, instances, P, R,
    mAP50, mAP50-95``) for classes with targets."""

    summary: dict[str, float]
    per_class: pd.DataFrame

    def format_summary(self) -> str:
        """One line per number, as ``yolo val`` prints its 'all' row."""
        return "\n".join(f"{k:>10s} = {v:.4f}" for k, v in self.summary.items())


def evaluate_ultralytics(gt: Mapping[Hashable, Detections],
                         preds: Mapping[Hashable, Detections], *,
                         names: Sequence[str] | None = None) -> UltralyticsEvaluation:
    """Score ``preds`` against ``gt`` the way ``yolo val`` does (see the module docstring).

    Raises
    ------
    EvaluationError
        A prediction for an image without ground truth entry, or detections without scores.

    Examples
    --------
    >>> gt = {"a": Detections([[0, 0, 10, 10]], [0])}
    >>> ev = evaluate_ultralytics(gt, {"a": Detections([[0, 0, 10, 10]], [0], [0.9])})
    >>> round(ev.summary["map50"], 3)
    0.995
    """
    unknown = [k for k in preds if k not in gt]
    if unknown:
        raise EvaluationError(f"{len(unknown)} prediction image(s) have no ground truth, "
                              f"e.g. {unknown[0]!r}")
    tps, confs, classes, targets, image_classes = [], [], [], [], []
    for key, truth in gt.items():
        det = preds.get(key, Detections.empty())
        if det.scores is None:
            raise EvaluationError(f"predictions for {key!r} have no scores")
        order = np.argsort(-det.scores, kind="stable")
        det = det[order]
        tps.append(match_ultralytics(truth, det))
        confs.append(det.scores.astype(np.float64))
        classes.append(det.class_ids)
        targets.append(truth.class_ids)
        image_classes.append(np.unique(truth.class_ids))
    stats = ultralytics_ap(np.concatenate(tps) if tps else np.zeros((0, 10), bool),
                           np.concatenate(confs) if confs else np.zeros(0),
                           np.concatenate(classes) if classes else np.zeros(0, np.int64),
                           np.concatenate(targets) if targets else np.zeros(0, np.int64))
    ap = stats["ap"]
    has = len(stats["classes"]) > 0
    summary = {
        "precision": float(stats["p"].mean()) if has else 0.0,
        "recall": float(stats["r"].mean()) if has else 0.0,
        "map50": float(ap[:, 0].mean()) if has else 0.0,
        "map50_95": float(ap.mean()) if has else 0.0,
    }
    summary["fitness"] = summary["map50_95"]
    images_with = np.bincount(np.concatenate(image_classes).astype(np.int64),
                              minlength=int(stats["classes"].max(initial=-1)) + 1) \
        if image_classes else np.zeros(0, np.int64)
    per_class = pd.DataFrame({
        "class": [_label(int(c), names) for c in stats["classes"]],
        "images": [int(images_with[c]) for c in stats["classes"]],
        "instances": stats["targets"].astype(int),
        "P": stats["p"], "R": stats["r"], "mAP50": ap[:, 0] if has else [],
        "mAP50-95": ap.mean(axis=1) if has else [],
    }, index=pd.Index(stats["classes"].astype(int), name="class_id"))
    return UltralyticsEvaluation(summary, per_class)
