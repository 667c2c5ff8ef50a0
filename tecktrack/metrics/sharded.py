"""Evaluation on Dask workers: match shards of images there, reduce exactly on the client.

Each shard travels as flat columns: the float32 ``Detections`` of its images and, where the
boxes were read from files, their float64 COCO ``x, y, w, h`` and float64 scores
(:class:`~tecktrack.metrics.ExactBoxes`), so the workers compute IoU on the very values the
local :func:`~tecktrack.metrics.evaluate` uses.

COCO matching, the P/R table's matching and the confusion pairing all work image by image.
Each worker flattens and matches its shard of images and returns compact NumPy arrays: the
shard's :class:`~tecktrack.metrics.MatchResult` and per-class integer counts. The client
concatenates the matches in image order (shifting image, detection and ground-truth indices
by the shards before) and sums the counts, which gives the very arrays one process computes
over all images; accumulation, AP, the F1-optimal threshold and the tables then run once on
the client. The numbers are therefore identical, not merely close.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from tecktrack.cluster import cluster_session, shard
from tecktrack.detections import Detections
from tecktrack.metrics._inputs import ExactBoxes, Names, check_image_keys, flatten, names_to_dict
from tecktrack.metrics.coco import (
    COCO_IOU_THRESHOLDS,
    Evaluation,
    check_params,
    class_counts,
    evaluation_from_match,
)
from tecktrack.metrics.confusion import confusion_counts, confusion_frame
from tecktrack.metrics.matching import AREA_RANGES, MatchResult, match
from tecktrack.metrics.tables import pr_counts, pr_frame, pr_match

__all__ = ["ShardedEvaluation", "evaluate_sharded", "merge_matches"]


@dataclass(frozen=True)
class ShardedEvaluation:
    """What ``tecktrack evaluate`` prints: the COCO evaluation, P/R table, confusion matrix."""

    evaluation: Evaluation
    precision_recall: pd.DataFrame
    confusion: pd.DataFrame


@dataclass(frozen=True)
class _Packed:
    """Per-image arrays of some keys as flat columns (one pickle, not one per image)."""

    present: np.ndarray            # (n_keys,) bool: the key has an entry
    counts: np.ndarray             # (n_keys,) rows per key
    columns: tuple[np.ndarray, ...]
    scored: np.ndarray             # (n_keys,) bool: the entry has scores

    @classmethod
    def of(cls, mapping: Mapping | None, keys: Sequence[Hashable], detections: bool,
           dtype: type | None = None) -> _Packed | None:
        if mapping is None:
            return None
        present = np.array([k in mapping for k in keys], bool)
        items = [mapping[k] for k in keys if k in mapping]
        counts = np.zeros(len(keys), np.int64)
        scored = np.zeros(len(keys), bool)
        if detections:
            counts[present] = [len(d) for d in items]
            scored[present] = [d.scores is not None for d in items]
            columns = (
                _cat([np.asarray(d.xyxy, np.float32).reshape(-1, 4) for d in items],
                     np.zeros((0, 4), np.float32)),
                _cat([np.asarray(d.class_ids, np.int64) for d in items], np.zeros(0, np.int64)),
                _cat([d.scores if d.scores is not None else np.zeros(len(d), np.float32)
                      for d in items], np.zeros(0, np.float32)),
            )
        else:
            values = [np.asarray(v, dtype).reshape(-1) for v in items]
            counts[present] = [len(v) for v in values]
            columns = (_cat(values, np.zeros(0, dtype)),)
        return cls(present, counts, columns, scored)

    def unpack(self, keys: Sequence[Hashable], detections: bool) -> dict:
        bounds = np.concatenate([[0], np.cumsum(self.counts)])
        out = {}
        for i in np.flatnonzero(self.present):
            a, b = bounds[i], bounds[i + 1]
            if detections:
                xyxy, cls, scores = self.columns
                out[keys[i]] = Detections(xyxy[a:b], cls[a:b],
                                          scores[a:b] if self.scored[i] else None)
            else:
                out[keys[i]] = self.columns[0][a:b]
        return out


def _cat(parts: list[np.ndarray], empty: np.ndarray) -> np.ndarray:
    return np.concatenate(parts) if parts else empty


@dataclass(frozen=True)
class _Job:
    keys: list
    gt: _Packed
    preds: _Packed
    areas: _Packed | None
    iscrowd: _Packed | None
    exact_gt: _Packed | None           # float64 x, y, w, h (4 values a box), per image
    exact_preds: _Packed | None
    exact_scores: _Packed | None       # float64 scores
    names: dict[int, str]
    thresholds: tuple[float, ...]
    max_det: int
    conf: float
    iou: float

    @classmethod
    def of(cls, keys: list, gt: Mapping, preds: Mapping, areas: Mapping | None,
           iscrowd: Mapping | None, exact: ExactBoxes, **params: Any) -> _Job:
        def values(mapping: Mapping | None, dtype: type | None = None) -> _Packed | None:
            return _Packed.of(mapping or None, keys, False, dtype)

        return cls(keys, _Packed.of(gt, keys, True), _Packed.of(preds, keys, True),
                   values(areas), values(iscrowd), values(exact.gt, np.float64),
                   values(exact.preds, np.float64), values(exact.scores, np.float64),
                   **params)

    def exact(self) -> ExactBoxes:
        """The shard's :class:`ExactBoxes` (float64 values keyed by image, as given)."""
        def unpack(packed: _Packed | None) -> dict | None:
            return None if packed is None else packed.unpack(self.keys, False)

        return ExactBoxes(gt=unpack(self.exact_gt), preds=unpack(self.exact_preds),
                          scores=unpack(self.exact_scores))


def _match_shard(job: _Job) -> dict[str, Any]:
    """Worker side: flatten and match one shard of images; compact arrays back."""
    keys = job.keys
    flat = flatten(job.gt.unpack(keys, True), job.preds.unpack(keys, True), names=job.names,
                   areas=None if job.areas is None else job.areas.unpack(keys, False),
                   iscrowd=None if job.iscrowd is None else job.iscrowd.unpack(keys, False),
                   exact=job.exact())
    m = match(flat, job.thresholds, tuple(AREA_RANGES.values()), max_det=job.max_det)
    instances, images = class_counts(flat)
    tp, fp, n_pos = pr_counts(pr_match(flat, job.iou), job.conf)
    small = {f: getattr(m, f).astype(np.int32)        # shard-local indices fit in 32 bits
             for f in ("det_index", "image", "cls", "rank", "gt_match")}
    return {"match": replace(m, **small), "n_images": len(flat.image_keys),
            "n_gt": len(flat.gt_area), "n_dt": len(flat.dt_score),
            "class_ids": flat.class_ids, "names": flat.names,
            "instances": instances, "images": images, "tp": tp, "fp": fp, "n_pos": n_pos,
            "confusion": confusion_counts(flat, conf=job.conf, iou=job.iou)}


def merge_matches(parts: Sequence[MatchResult], n_images: Sequence[int], n_gt: Sequence[int],
                  n_dt: Sequence[int]) -> MatchResult:
    """Concatenate the matches of consecutive image shards into the match of all images.

    Image, detection and ground-truth indices are shifted by the sizes of the shards before;
    ``n_positive`` adds up.

    Examples
    --------
    >>> from tecktrack.metrics._inputs import flatten
    >>> g = {"a": Detections([[0, 0, 10, 10]], [0]), "b": Detections([[0, 0, 10, 10]], [0])}
    >>> p = {k: Detections([[0, 0, 10, 10]], [0], [0.9]) for k in g}
    >>> one = [match(flatten({k: g[k]}, {k: p[k]}), [0.5]) for k in g]
    >>> merged = merge_matches(one, [1, 1], [1, 1], [1, 1])
    >>> merged.gt_match[0, 0].tolist() == match(flatten(g, p), [0.5]).gt_match[0, 0].tolist()
    True
    """
    img = np.cumsum([0, *n_images])[:-1]
    gto = np.cumsum([0, *n_gt])[:-1]
    dto = np.cumsum([0, *n_dt])[:-1]
    def cat(arrays: list[np.ndarray], axis: int = 0) -> np.ndarray:
        return np.concatenate([np.asarray(a, np.int64) for a in arrays], axis=axis)

    return MatchResult(
        det_index=cat([p.det_index.astype(np.int64) + o for p, o in zip(parts, dto, strict=True)]),
        image=cat([p.image.astype(np.int64) + o for p, o in zip(parts, img, strict=True)]),
        cls=cat([p.cls for p in parts]),
        rank=cat([p.rank for p in parts]),
        score=np.concatenate([p.score for p in parts]),
        gt_match=cat([np.where(p.gt_match >= 0, p.gt_match.astype(np.int64) + o, -1)
                      for p, o in zip(parts, gto, strict=True)], axis=2),
        ignored=np.concatenate([p.ignored for p in parts], axis=2),
        gt_ignored=np.concatenate([p.gt_ignored for p in parts], axis=1),
        n_positive=np.sum([p.n_positive for p in parts], axis=0),
    )


def _class_names(gt: Mapping, preds: Mapping, names: Names) -> dict[int, str]:
    """The class set every shard must use: ``names``, or every id seen (as flatten does)."""
    given = names_to_dict(names)
    if given is not None:
        return given
    ids = [d.class_ids for d in gt.values()] + [d.class_ids for d in preds.values()]
    seen = np.unique(np.concatenate(ids)).astype(np.int64) if ids else np.zeros(0, np.int64)
    return {int(i): str(int(i)) for i in seen}


def evaluate_sharded(gt: Mapping[Hashable, Detections], preds: Mapping[Hashable, Detections],
                     *, names: Names = None,
                     iou_thresholds: Sequence[float] = COCO_IOU_THRESHOLDS,
                     max_dets: Sequence[int] = (1, 10, 100),
                     areas: Mapping[Hashable, np.ndarray] | None = None,
                     iscrowd: Mapping[Hashable, np.ndarray] | None = None,
                     ap_method: str = "coco", exact: ExactBoxes | None = None,
                     conf: float = 0.5, iou: float = 0.5,
                     cluster: Any = "local", shard_size: int = 256,
                     quiet: bool = True) -> ShardedEvaluation:
    """:func:`~tecktrack.metrics.evaluate`, :func:`~tecktrack.metrics.precision_recall` and
    :func:`~tecktrack.metrics.confusion_matrix` at once, matched on Dask workers.

    Parameters
    ----------
    gt, preds, names, iou_thresholds, max_dets, areas, iscrowd, ap_method
        As in :func:`~tecktrack.metrics.evaluate`.
    exact : ExactBoxes, optional
        Float64 boxes and scores read from files (as in :func:`~tecktrack.metrics.evaluate`);
        each shard's values go to its worker as flat float64 columns.
    conf, iou : float
        Score and IoU threshold of the P/R table and the confusion matrix.
    cluster : str, distributed.Client or ClusterSession
        Where to run (see :func:`tecktrack.cluster.cluster_session`).
    shard_size : int
        Images per shard.
    quiet : bool
        No progress bar.

    Returns
    -------
    ShardedEvaluation
        Equal to the three local calls, number for number.

    Examples
    --------
    >>> r = evaluate_sharded(gt, preds, cluster="local:2")           # doctest: +SKIP
    >>> r.evaluation.summary == evaluate(gt, preds).summary           # doctest: +SKIP
    True
    """
    check_params(iou_thresholds, max_dets, ap_method)
    check_image_keys(gt, preds)
    classes = _class_names(gt, preds, names)
    thresholds = tuple(float(t) for t in iou_thresholds)
    exact = exact or ExactBoxes()
    jobs = [_Job.of(keys, gt, preds, areas, iscrowd, exact, names=classes,
                    thresholds=thresholds, max_det=int(max_dets[-1]), conf=float(conf),
                    iou=float(iou))
            for keys in shard(list(gt), shard_size)]
    with cluster_session(cluster, quiet=quiet) as session:
        parts = session.map(_match_shard, jobs, desc="evaluate")
    m = merge_matches([p["match"] for p in parts], [p["n_images"] for p in parts],
                      [p["n_gt"] for p in parts], [p["n_dt"] for p in parts])

    def total(key: str) -> np.ndarray:
        return np.sum([p[key] for p in parts], axis=0)

    class_ids, class_names = parts[0]["class_ids"], parts[0]["names"]
    ev = evaluation_from_match(m, class_ids=class_ids, names=class_names,
                               instances=total("instances"), images=total("images"),
                               n_images=len(gt), iou_thresholds=thresholds, max_dets=max_dets,
                               ap_method=ap_method)
    pr = pr_frame(class_ids, class_names, total("tp"), total("fp"), total("n_pos"))
    return ShardedEvaluation(ev, pr, confusion_frame(total("confusion"), class_names))
