"""``evaluate``: the COCO summary, per-class AP and the YOLO table in one pass.

The numbers equal ``pycocotools.cocoeval.COCOeval`` (bbox) to within 1e-12: same greedy
matching, area ranges, ``maxDets``, crowd handling and 101-point interpolation, and IoU computed
on float64 ``x, y, w, h`` exactly as pycocotools' ``bbIou`` computes it (boxes read from COCO
JSON come with their file values as :class:`~tecktrack.metrics.ExactBoxes`, so an IoU on a
threshold lands on the same side). ``ap_method="voc"`` swaps the interpolation for VOC
all-point AP.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tecktrack.detections import Detections
from tecktrack.errors import EvaluationError
from tecktrack.metrics._inputs import ExactBoxes, FlatInputs, Names, flatten
from tecktrack.metrics.accumulate import COCO_RECALL_THRESHOLDS, accumulate
from tecktrack.metrics.matching import AREA_RANGES, MatchResult, match
from tecktrack.metrics.tables import f1_optimal_pr

#: COCO IoU thresholds 0.50:0.05:0.95, computed as pycocotools does.
COCO_IOU_THRESHOLDS: tuple[float, ...] = tuple(np.linspace(0.5, 0.95, 10, endpoint=True))

#: The 12 summary keys in pycocotools' ``stats`` order.
SUMMARY_KEYS: tuple[str, ...] = (
    "map", "map50", "map75", "map_small", "map_medium", "map_large",
    "ar1", "ar10", "ar100", "ar_small", "ar_medium", "ar_large",
)

_AREA_NAMES: tuple[str, ...] = tuple(AREA_RANGES)


def _mean_valid(values: np.ndarray) -> float:
    valid = values[values > -1]
    return float(valid.mean()) if valid.size else -1.0


@dataclass(frozen=True)
class Evaluation:
    """Result of :func:`evaluate`.

    Attributes
    ----------
    summary : dict
        The 12 COCO numbers (``SUMMARY_KEYS``); ``-1.0`` where nothing can be averaged.
    per_class : pandas.DataFrame
        Indexed by class id: ``class, images, instances, P, R, mAP50, mAP50-95`` (the YOLO
        table). P and R are taken at the score ``conf`` that maximises class-mean F1 at IoU 0.5;
        mAP columns are NaN for classes without ground truth.
    precision : ndarray (T, R, K, A, M)
        Like ``COCOeval.eval['precision']`` (areas all/small/medium/large, ``max_dets``).
    recall : ndarray (T, K, A, M)
        Like ``COCOeval.eval['recall']``.
    ap : ndarray (T, K, A, M)
        AP per IoU threshold, class, area and max_dets under ``ap_method``; -1 = no ground truth.
    iou_thresholds, max_dets : tuple
        The evaluation parameters (axes T and M).
    class_ids, names : tuple
        Class ids and names along axis K.
    ap_method : str
        ``"coco"`` or ``"voc"``.
    conf : float
        The score threshold at which ``per_class`` P and R are read.
    n_images : int
        Number of evaluated images.
    """

    summary: dict[str, float]
    per_class: pd.DataFrame
    precision: np.ndarray
    recall: np.ndarray
    ap: np.ndarray
    iou_thresholds: tuple[float, ...]
    max_dets: tuple[int, ...]
    class_ids: tuple[int, ...]
    names: tuple[str, ...]
    ap_method: str
    conf: float
    n_images: int

    def format_summary(self) -> str:
        """The summary as pycocotools prints it (12 lines).

        Examples
        --------
        >>> g = {"a": Detections([[0, 0, 10, 10]], [0])}
        >>> p = {"a": Detections([[0, 0, 10, 10]], [0], [0.9])}
        >>> print(evaluate(g, p).format_summary().splitlines()[0])
         Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000
        """
        lo, hi = self.iou_thresholds[0], self.iou_thresholds[-1]
        rows = [(1, f"{lo:0.2f}:{hi:0.2f}", "all", 2), (1, "0.50", "all", 2),
                (1, "0.75", "all", 2), (1, None, "small", 2), (1, None, "medium", 2),
                (1, None, "large", 2), (0, None, "all", 0), (0, None, "all", 1),
                (0, None, "all", 2), (0, None, "small", 2), (0, None, "medium", 2),
                (0, None, "large", 2)]
        lines = []
        for key, (is_ap, iou, area, m) in zip(SUMMARY_KEYS, rows, strict=True):
            title, short = ("Average Precision", "(AP)") if is_ap else ("Average Recall", "(AR)")
            iou = iou or f"{lo:0.2f}:{hi:0.2f}"
            lines.append(f" {title:<18} {short} @[ IoU={iou:<9} | area={area:>6s} | "
                         f"maxDets={self.max_dets[m]:>3d} ] = {self.summary[key]:0.3f}")
        return "\n".join(lines)

    def yolo_table(self) -> pd.DataFrame:
        """The per-class table with an ``all`` row first, as YOLO validators print it.

        Examples
        --------
        >>> g = {"a": Detections([[0, 0, 10, 10]], [0])}
        >>> p = {"a": Detections([[0, 0, 10, 10]], [0], [0.9])}
        >>> evaluate(g, p, names=["cat"]).yolo_table()["class"].tolist()
        ['all', 'cat']
        """
        pc = self.per_class
        has_gt = pc["instances"] > 0
        head = pd.DataFrame([{
            "class": "all", "images": self.n_images, "instances": int(pc["instances"].sum()),
            "P": pc.loc[has_gt, "P"].mean(), "R": pc.loc[has_gt, "R"].mean(),
            "mAP50": self.summary["map50"], "mAP50-95": self.summary["map"],
        }])
        return pd.concat([head, pc.reset_index(drop=True)], ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``summary``, ``per_class`` records and the parameters.

        NaN becomes ``None``.

        Examples
        --------
        >>> g = {"a": Detections([[0, 0, 10, 10]], [0])}
        >>> p = {"a": Detections([[0, 0, 10, 10]], [0], [0.9])}
        >>> sorted(evaluate(g, p).to_dict())
        ['params', 'per_class', 'summary']
        """
        records = [{k: (None if isinstance(v, float) and np.isnan(v) else v)
                    for k, v in row.items()}
                   for row in self.per_class.reset_index().astype(object).to_dict("records")]
        return {
            "summary": {k: float(v) for k, v in self.summary.items()},
            "per_class": records,
            "params": {
                "iou_thresholds": [float(t) for t in self.iou_thresholds],
                "max_dets": list(self.max_dets), "ap_method": self.ap_method,
                "conf": self.conf, "n_images": self.n_images,
            },
        }


def _index_of(values: Sequence[float], target: float) -> list[int]:
    return [i for i, v in enumerate(values) if abs(v - target) < 1e-12]


def _summary(ap: np.ndarray, recall: np.ndarray, iou_thresholds: Sequence[float]
             ) -> dict[str, float]:
    t50, t75 = _index_of(iou_thresholds, 0.5), _index_of(iou_thresholds, 0.75)
    area = {name: i for i, name in enumerate(_AREA_NAMES)}
    top = -1
    values = [
        _mean_valid(ap[:, :, 0, top]), _mean_valid(ap[t50, :, 0, top]),
        _mean_valid(ap[t75, :, 0, top]),
        *(_mean_valid(ap[:, :, area[a], top]) for a in ("small", "medium", "large")),
        *(_mean_valid(recall[:, :, 0, m]) for m in range(3)),
        *(_mean_valid(recall[:, :, area[a], top]) for a in ("small", "medium", "large")),
    ]
    return dict(zip(SUMMARY_KEYS, values, strict=True))


def _class_ap(ap: np.ndarray, iou_thresholds: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Per-class AP at IoU 0.5 and averaged over all thresholds (area all, last max_dets)."""
    a = ap[:, :, 0, -1]
    valid = (a > -1).all(axis=0)
    t50 = _index_of(iou_thresholds, 0.5)
    ap50 = np.where(valid, a[t50[0]] if t50 else np.nan, np.nan)
    ap_all = np.where(valid, a.mean(axis=0), np.nan)
    return ap50, ap_all


def class_counts(flat: FlatInputs) -> tuple[np.ndarray, np.ndarray]:
    """Per class: non-crowd ground-truth boxes and images holding at least one of them.

    Both are sums over images, so the counts of disjoint image sets add up exactly.

    Examples
    --------
    >>> from tecktrack.metrics._inputs import flatten
    >>> g = {"a": Detections([[0, 0, 1, 1], [2, 2, 3, 3]], [0, 0]),
    ...      "b": Detections([[0, 0, 1, 1]], [1])}
    >>> [c.tolist() for c in class_counts(flatten(g, {}))]
    [[2, 1], [1, 1]]
    """
    k = flat.n_classes
    regular = ~flat.gt_crowd
    instances = np.bincount(flat.gt_class[regular], minlength=k)
    pairs = np.unique(flat.gt_image[regular] * k + flat.gt_class[regular])
    images = np.bincount(pairs % k, minlength=k) if k else np.zeros(0, np.int64)
    return instances, images


def _per_class(class_ids: np.ndarray, names: Sequence[str], instances: np.ndarray,
               images: np.ndarray, ap: np.ndarray, iou_thresholds: Sequence[float],
               precision: np.ndarray, recall: np.ndarray) -> pd.DataFrame:
    ap50, ap_all = _class_ap(ap, iou_thresholds)
    return pd.DataFrame({
        "class": list(names), "images": images, "instances": instances,
        "P": precision, "R": recall, "mAP50": ap50, "mAP50-95": ap_all,
    }, index=pd.Index(class_ids, name="class_id"))


def check_params(iou_thresholds: Sequence[float], max_dets: Sequence[int], ap_method: str
                 ) -> None:
    """Raise :class:`EvaluationError` for bad thresholds, ``max_dets`` or AP method.

    Examples
    --------
    >>> check_params([0.5], (1, 10, 100), "coco")
    """
    if ap_method not in ("coco", "voc"):
        raise EvaluationError(f"ap_method must be 'coco' or 'voc', got {ap_method!r}")
    if len(max_dets) != 3 or any(int(m) < 1 for m in max_dets) or list(max_dets) != sorted(
            max_dets):
        raise EvaluationError(f"max_dets must be 3 increasing positive ints, got {max_dets!r}")
    thr = np.asarray(iou_thresholds, np.float64)
    if thr.ndim != 1 or thr.size == 0 or np.any((thr <= 0) | (thr > 1)):
        raise EvaluationError(f"iou_thresholds must be in (0, 1], got {list(iou_thresholds)!r}")


def evaluate(gt: Mapping[Hashable, Detections], preds: Mapping[Hashable, Detections], *,
             names: Names = None, iou_thresholds: Sequence[float] = COCO_IOU_THRESHOLDS,
             max_dets: Sequence[int] = (1, 10, 100),
             areas: Mapping[Hashable, np.ndarray] | None = None,
             iscrowd: Mapping[Hashable, np.ndarray] | None = None,
             ap_method: str = "coco", exact: ExactBoxes | None = None, cluster: Any = None,
             shard_size: int = 256, quiet: bool = True) -> Evaluation:
    """COCO-exact evaluation of predictions against ground truth, keyed by image.

    Parameters
    ----------
    gt : Mapping
        ``{image: Detections}`` ground truth for every evaluated image (empty ``Detections``
        for images without objects). Its order is the image order (ties in scores across
        images resolve in this order, as pycocotools resolves them by sorted image id).
    preds : Mapping
        ``{image: Detections}`` with scores; keys must be ground-truth keys.
    names : list or mapping, optional
        Class names; they define the class set (default: ids seen in either input).
    iou_thresholds : sequence of float
        Default COCO 0.50:0.05:0.95.
    max_dets : three ints
        Detections kept per image and class for AR@1, AR@10 and everything else.
    areas, iscrowd : Mapping, optional
        Per-image COCO ``area`` / ``iscrowd`` of the ground-truth boxes (default box area, 0).
    ap_method : {"coco", "voc"}
        101-point interpolated AP (COCO) or all-point AP (VOC 2010+).
    exact : ExactBoxes, optional
        The float64 ``x, y, w, h`` and scores the ``Detections`` were read from (what
        :func:`tecktrack.metrics.loaders.load_coco` returns); without it the float32 boxes of
        the ``Detections`` are used.
    cluster : str or distributed.Client, optional
        Match shards of ``shard_size`` images on Dask workers and reduce on the client: the
        same numbers (see :func:`tecktrack.metrics.sharded.evaluate_sharded`; the ``exact``
        values travel with their shards).
    shard_size : int
        Images per shard on a cluster.
    quiet : bool
        No progress bar on a cluster.

    Returns
    -------
    Evaluation

    Raises
    ------
    EvaluationError
        Unknown image ids, prediction without scores, bad boxes or parameters.

    Examples
    --------
    >>> g = {"a": Detections([[0, 0, 10, 10], [20, 20, 60, 60]], [0, 1])}
    >>> p = {"a": Detections([[0, 0, 10, 10]], [0], [0.9])}
    >>> ev = evaluate(g, p)
    >>> [round(ev.summary[k], 6) for k in ("map", "map_small", "map_medium")]
    [0.5, 1.0, 0.0]
    >>> ev.per_class["mAP50"].round(6).tolist()
    [1.0, 0.0]
    """
    if cluster is not None:
        from tecktrack.metrics.sharded import evaluate_sharded

        return evaluate_sharded(gt, preds, names=names, iou_thresholds=iou_thresholds,
                                max_dets=max_dets, areas=areas, iscrowd=iscrowd,
                                ap_method=ap_method, exact=exact, cluster=cluster,
                                shard_size=shard_size, quiet=quiet).evaluation
    check_params(iou_thresholds, max_dets, ap_method)
    flat = flatten(gt, preds, names=names, areas=areas, iscrowd=iscrowd, exact=exact)
    return evaluate_flat(flat, iou_thresholds, max_dets, ap_method)[0]


def evaluate_flat(flat: FlatInputs, iou_thresholds: Sequence[float] = COCO_IOU_THRESHOLDS,
                  max_dets: Sequence[int] = (1, 10, 100), ap_method: str = "coco"
                  ) -> tuple[Evaluation, MatchResult]:
    """:func:`evaluate` of already flattened inputs, and the COCO match it reduced (which a
    bootstrap re-accumulates for its resamples).

    Examples
    --------
    >>> from tecktrack.metrics._inputs import flatten
    >>> g = {"a": Detections([[0, 0, 10, 10]], [0])}
    >>> ev, m = evaluate_flat(flatten(g, {"a": Detections([[0, 0, 10, 10]], [0], [0.9])}))
    >>> round(ev.summary["map"], 6), m.n_positive.shape
    (1.0, (4, 1))
    """
    thresholds = tuple(float(t) for t in iou_thresholds)
    m = match(flat, thresholds, max_det=int(max_dets[-1]))
    instances, images = class_counts(flat)
    ev = evaluation_from_match(m, class_ids=flat.class_ids, names=flat.names,
                               instances=instances, images=images,
                               n_images=len(flat.image_keys), iou_thresholds=thresholds,
                               max_dets=max_dets, ap_method=ap_method)
    return ev, m


def evaluation_from_match(m: MatchResult, *, class_ids: np.ndarray, names: Sequence[str],
                          instances: np.ndarray, images: np.ndarray, n_images: int,
                          iou_thresholds: Sequence[float], max_dets: Sequence[int],
                          ap_method: str = "coco") -> Evaluation:
    """The :class:`Evaluation` of a COCO match (the reduce step of :func:`evaluate`).

    ``m`` is :func:`~tecktrack.metrics.match` over every image (or the image-ordered
    concatenation of the matches of disjoint image shards: matching is per image);
    ``instances`` and ``images`` come from :func:`class_counts`.

    Examples
    --------
    >>> from tecktrack.metrics._inputs import flatten
    >>> g = {"a": Detections([[0, 0, 10, 10]], [0])}
    >>> p = {"a": Detections([[0, 0, 10, 10]], [0], [0.9])}
    >>> flat = flatten(g, p)
    >>> m = match(flat, COCO_IOU_THRESHOLDS, tuple(AREA_RANGES.values()))
    >>> ev = evaluation_from_match(m, class_ids=flat.class_ids, names=flat.names,
    ...     instances=np.array([1]), images=np.array([1]), n_images=1,
    ...     iou_thresholds=COCO_IOU_THRESHOLDS, max_dets=(1, 10, 100))
    >>> round(ev.summary["map"], 6)
    1.0
    """
    thresholds = tuple(float(t) for t in iou_thresholds)
    precision, recall, voc = accumulate(m, max_dets, COCO_RECALL_THRESHOLDS)
    if ap_method == "coco":
        ap = np.where((precision > -1).all(axis=1), precision.mean(axis=1), -1.0)
    else:
        ap = voc
    t50 = _index_of(thresholds, 0.5)
    conf, p_cls, r_cls = f1_optimal_pr(m, t50[0] if t50 else 0)
    return Evaluation(
        summary=_summary(ap, recall, thresholds),
        per_class=_per_class(class_ids, names, instances, images, ap, thresholds, p_cls, r_cls),
        precision=precision, recall=recall, ap=ap, iou_thresholds=thresholds,
        max_dets=tuple(int(x) for x in max_dets), class_ids=tuple(int(c) for c in class_ids),
        names=tuple(names), ap_method=ap_method, conf=conf, n_images=int(n_images),
    )
