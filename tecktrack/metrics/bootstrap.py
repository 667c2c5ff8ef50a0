"""Bootstrap over images: COCO metrics of many resampled datasets from one matching.

A resample draws ``n`` images with replacement; an image drawn ``c`` times counts ``c`` times.
Its metrics equal :func:`tecktrack.metrics.evaluate` run on the *duplicated dataset*: the
drawn images in their original order, each copy next to the others (image ``i`` drawn twice
becomes two images ``(i, 0), (i, 1)``). COCO matching is per image, so the matching of the
full dataset is reused; only the accumulation is redone, with each detection weighted by
how often its image was drawn:

* along a class's score-ordered detections, cumulative true and false positives are
  cumulative sums of weights (a run of ``c`` copies of one true positive gives the same
  interpolated precision as its last copy, copies of a false positive never raise it);
* detections of one image, class and score tie: the duplicated dataset interleaves their
  copies, so such blocks are expanded copy by copy (weights 0/1) to stay exact;
* only true positives are read by the 101-point interpolation, so the precision envelope is
  built over them alone.

The numbers of each resample therefore equal the engine's on the duplicated dataset (a test
checks it against the engine and pycocotools).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tecktrack.detections import Detections
from tecktrack.errors import EvaluationError
from tecktrack.metrics._inputs import ExactBoxes, FlatInputs, Names, flatten
from tecktrack.metrics.accumulate import COCO_RECALL_THRESHOLDS, class_order
from tecktrack.metrics.bootstrap_kernel import threshold_curve
from tecktrack.metrics.coco import COCO_IOU_THRESHOLDS, SUMMARY_KEYS, Evaluation, evaluate_flat
from tecktrack.metrics.matching import MatchResult, match
from tecktrack.progress import progress

_CHUNK_ELEMENTS = 600_000  # resamples x detections at once: the working arrays stay in cache


def resample_counts(n_images: int, n_resamples: int, seed: int = 0) -> np.ndarray:
    """``(n_resamples, n_images)`` int32: how often each image is drawn in each resample.

    Examples
    --------
    >>> c = resample_counts(5, 3, seed=1)
    >>> c.shape, c.sum(axis=1).tolist()
    ((3, 5), [5, 5, 5])
    """
    if n_images < 1 or n_resamples < 1:
        raise EvaluationError(f"need at least one image and one resample, got {n_images} images "
                              f"and {n_resamples} resamples")
    rng = np.random.default_rng(seed)
    out = np.empty((n_resamples, n_images), np.int32)
    step = max(1, 2_000_000 // n_images)
    for lo in range(0, n_resamples, step):
        hi = min(lo + step, n_resamples)
        draws = rng.integers(0, n_images, (hi - lo, n_images))
        flat = (draws + np.arange(hi - lo)[:, None] * n_images).ravel()
        out[lo:hi] = np.bincount(flat, minlength=(hi - lo) * n_images).reshape(hi - lo, -1)
    return out


@dataclass(frozen=True)
class _Curve:
    """One (area, class): the slots (detections, tie blocks expanded) and per-threshold flags."""

    area: int
    cls: int
    img: np.ndarray
    copy: np.ndarray
    tp_pos: tuple[np.ndarray, ...]
    tp_rank: tuple[np.ndarray, ...]
    ig_pos: tuple[np.ndarray, ...]


def _slots(image: np.ndarray, score: np.ndarray, n_copies: int) -> tuple[np.ndarray, np.ndarray]:
    """Slot -> detection index and copy number (-1: weighted by the image's count).

    Runs of one image and one score (ties) are expanded ``n_copies`` times, copy-major, the
    order in which the duplicated dataset lists them.
    """
    n = len(image)
    new = np.r_[True, (image[1:] != image[:-1]) | (score[1:] != score[:-1])] if n else \
        np.zeros(0, bool)
    starts = np.flatnonzero(new)
    lengths = np.diff(np.r_[starts, n])
    ties = np.flatnonzero(lengths > 1)
    if ties.size == 0 or n_copies <= 1:
        return np.arange(n), np.full(n, -1, np.int64)
    det, copy, at = [], [], 0
    for t in ties:
        s, length = starts[t], lengths[t]
        det += [np.arange(at, s), s + np.tile(np.arange(length), n_copies)]
        copy += [np.full(s - at, -1), np.repeat(np.arange(n_copies), length)]
        at = s + length
    det.append(np.arange(at, n))
    copy.append(np.full(n - at, -1))
    return np.concatenate(det), np.concatenate(copy).astype(np.int64)


def _curves(m: MatchResult, n_copies: int) -> list[_Curve]:
    order, bounds = class_order(m)
    tp_all, fp_all = m.true_positive, m.false_positive
    out = []
    for k in range(m.n_positive.shape[1]):
        sl = order[bounds[k]:bounds[k + 1]]
        det, copy = _slots(m.image[sl], m.score[sl], n_copies)
        idx = sl[det]
        for a in range(m.n_positive.shape[0]):
            if m.n_positive[a, k] == 0:
                continue
            tp, fp = tp_all[a][:, idx], fp_all[a][:, idx]
            used = np.flatnonzero((tp | fp).any(axis=0))
            tp, fp = tp[:, used], fp[:, used]
            tp_pos = tuple(np.flatnonzero(row) for row in tp)
            out.append(_Curve(
                area=a, cls=k, img=m.image[idx[used]], copy=copy[used], tp_pos=tp_pos,
                tp_rank=tuple(m.rank[idx[used][p]] for p in tp_pos),
                ig_pos=tuple(np.flatnonzero(~(t | f)) for t, f in zip(tp, fp, strict=True)),
            ))
    return out


def _served(n_pos: np.ndarray, rec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lookup ``F[p, x]``: recall thresholds reached with ``x`` of ``p`` positives.

    ``F[p, x] = #{r : rec[r] <= x / p}``, so a true positive whose cumulative count moves from
    ``x0`` to ``x1`` is the first point reaching ``F[p, x1] - F[p, x0]`` thresholds, exactly
    the engine's ``searchsorted(arange(p + 1) / p, rec)``. Returns the table and each
    resample's row in it.
    """
    values, row = np.unique(np.maximum(n_pos, 1), return_inverse=True)
    x = np.arange(int(values.max()) + 1)
    table = np.searchsorted(rec, (x[None, :] / values[:, None]).ravel(), side="right")
    return table.reshape(len(values), -1).astype(np.int16), row.reshape(-1)


def _accumulate_curve(c: _Curve, counts_t: np.ndarray, n_pos: np.ndarray,
                      max_dets: Sequence[int], rec: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """AP ``(T, B)`` and recall ``(T, M, B)`` of one (area, class) for a chunk of resamples.

    ``counts_t`` is ``(n_images, B)``; arrays run along detections (axis 0) with the
    resamples contiguous, so gathers copy rows and the loops of
    :func:`~tecktrack.metrics.bootstrap_kernel.threshold_curve` (one call per IoU threshold)
    vectorise over resamples.
    """
    n_b, n_t = counts_t.shape[1], len(c.tp_pos)
    w = counts_t[c.img]
    expanded = np.flatnonzero(c.copy >= 0)
    if expanded.size:
        w[expanded] = w[expanded] > c.copy[expanded][:, None]
    total = np.cumsum(w, axis=0, dtype=np.int32)
    table, row = _served(n_pos, rec)
    row_start = (row * table.shape[1]).astype(np.int32)
    table = table.ravel()
    limits = np.asarray(max_dets, np.int64)
    ap = np.zeros((n_t, n_b))
    recall = np.zeros((n_t, len(max_dets), n_b))
    scale = 1.0 / np.maximum(n_pos, 1)
    summed, found = np.zeros(n_b), np.zeros(n_b, np.int64)
    late = np.zeros((len(max_dets), n_b), np.int64)
    for t in range(n_t):
        if c.tp_pos[t].size == 0:
            continue
        threshold_curve(w, total, c.tp_pos[t], c.ig_pos[t], c.tp_rank[t], limits, table,
                        row_start, summed, late, found)
        ap[t] = summed / len(rec)
        recall[t] = (found - late) * scale
    return ap, recall


def _gt_matrix(flat: FlatInputs, m: MatchResult) -> np.ndarray:
    """``(n_images, A * K)`` float: non-ignored ground truth per image, area and class."""
    n_a, n_k = m.n_positive.shape
    out = np.zeros((len(flat.image_keys), n_a * n_k))
    for a in range(n_a):
        keep = ~m.gt_ignored[a]
        np.add.at(out, (flat.gt_image[keep], a * n_k + flat.gt_class[keep]), 1.0)
    return out


def _mean_valid(values: np.ndarray, valid: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    total = np.where(valid, values, 0.0).sum(axis=axes)
    n = valid.sum(axis=axes)
    return np.where(n > 0, total / np.maximum(n, 1), -1.0)


@dataclass(frozen=True)
class ResampledMetrics:
    """COCO numbers of every resample.

    Attributes
    ----------
    summary : ndarray (B, 12)
        The ``SUMMARY_KEYS`` numbers per resample (NaN where undefined, e.g. no small box drawn).
    class_ap, class_ap50 : ndarray (B, K)
        Per-class AP (IoU 0.50:0.95) and AP50, area all, 100 detections; NaN where a class
        has no ground truth in the resample.
    class_ids, names : tuple
        Classes along axis K.
    """

    summary: np.ndarray
    class_ap: np.ndarray
    class_ap50: np.ndarray
    class_ids: tuple[int, ...]
    names: tuple[str, ...]


def _index_of(values: Sequence[float], target: float) -> int:
    hits = [i for i, v in enumerate(values) if abs(v - target) < 1e-12]
    return hits[0] if hits else -1


def _resampled(flat: FlatInputs, m: MatchResult, counts: np.ndarray,
               iou_thresholds: Sequence[float], max_dets: Sequence[int],
               quiet: bool, workers: int) -> ResampledMetrics:
    n_b = len(counts)
    n_a, n_k = m.n_positive.shape
    n_t = len(iou_thresholds)
    tie_images = counts.max(initial=1)
    curves = _curves(m, int(tie_images))
    n_pos = (counts.astype(np.float64) @ _gt_matrix(flat, m)).round().astype(np.int64)
    n_pos = n_pos.reshape(n_b, n_a, n_k)
    ap = np.zeros((n_b, n_a, n_t, n_k))
    recall = np.zeros((n_b, n_a, n_t, n_k, len(max_dets)))
    rec = COCO_RECALL_THRESHOLDS
    longest = max((len(c.img) for c in curves), default=1)
    step = max(1, _CHUNK_ELEMENTS // max(longest, 1))
    chunks = [(lo, min(lo + step, n_b)) for lo in range(0, n_b, step)]
    bar = progress(None, total=len(curves) * len(chunks), desc="bootstrap", quiet=quiet)
    for lo, hi in chunks:
        counts_t = np.ascontiguousarray(counts[lo:hi].T, dtype=np.int32)

        def run(c: _Curve, lo: int = lo, hi: int = hi, counts_t: np.ndarray = counts_t) -> None:
            a_ap, a_rec = _accumulate_curve(c, counts_t, n_pos[lo:hi, c.area, c.cls],
                                            max_dets, rec)
            ap[lo:hi, c.area, :, c.cls] = a_ap.T
            recall[lo:hi, c.area, :, c.cls] = a_rec.transpose(2, 0, 1)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            for _ in pool.map(run, curves):
                bar.update(1)
    bar.close()
    valid = np.broadcast_to((n_pos > 0)[:, :, None, :], ap.shape)
    t50, t75 = _index_of(iou_thresholds, 0.5), _index_of(iou_thresholds, 0.75)

    def at(t: int) -> np.ndarray:
        if t < 0:
            return np.full(n_b, -1.0)
        return _mean_valid(ap[:, 0, t], valid[:, 0, t], (1,))

    summary = np.stack([
        _mean_valid(ap[:, 0], valid[:, 0], (1, 2)), at(t50), at(t75),
        *(_mean_valid(ap[:, a], valid[:, a], (1, 2)) for a in (1, 2, 3)),
        *(_mean_valid(recall[:, 0, :, :, mi], valid[:, 0], (1, 2)) for mi in range(3)),
        *(_mean_valid(recall[:, a, :, :, -1], valid[:, a], (1, 2)) for a in (1, 2, 3)),
    ], axis=1)
    has = n_pos[:, 0] > 0
    class_ap = np.where(has, ap[:, 0].mean(axis=1), np.nan)
    class_ap50 = np.where(has, ap[:, 0, t50], np.nan) if t50 >= 0 else np.full(has.shape, np.nan)
    return ResampledMetrics(
        summary=np.where(summary < 0, np.nan, summary), class_ap=class_ap,
        class_ap50=class_ap50, class_ids=tuple(int(c) for c in flat.class_ids),
        names=flat.names)


def resampled_metrics(gt: Mapping[Hashable, Detections], preds: Mapping[Hashable, Detections],
                      counts: np.ndarray, *, names: Names = None,
                      areas: Mapping[Hashable, np.ndarray] | None = None,
                      iscrowd: Mapping[Hashable, np.ndarray] | None = None,
                      iou_thresholds: Sequence[float] = COCO_IOU_THRESHOLDS,
                      max_dets: Sequence[int] = (1, 10, 100),
                      quiet: bool = True, workers: int = 2,
                      exact: ExactBoxes | None = None) -> ResampledMetrics:
    """COCO numbers of each resample given as image counts (see :func:`resample_counts`).

    Row ``b`` equals ``evaluate`` on the dataset in which image ``i`` appears
    ``counts[b, i]`` times (copies adjacent, images in ground-truth order). ``workers``
    threads share the (area, class) curves (NumPy releases the GIL in the heavy loops).

    Examples
    --------
    >>> g = {"a": Detections([[0, 0, 10, 10]], [0]), "b": Detections([[0, 0, 10, 10]], [0])}
    >>> p = {"a": Detections([[0, 0, 10, 10]], [0], [0.9])}
    >>> r = resampled_metrics(g, p, np.array([[2, 0], [0, 2], [1, 1]]))
    >>> r.summary[:, 1].round(3).tolist()
    [1.0, 0.0, 0.505]
    """
    flat = flatten(gt, preds, names=names, areas=areas, iscrowd=iscrowd, exact=exact)
    counts = _checked_counts(counts, len(flat.image_keys))
    m = match(flat, [float(t) for t in iou_thresholds], max_det=int(max_dets[-1]))
    return _resampled(flat, m, counts, iou_thresholds, max_dets, quiet, max(1, int(workers)))


def _checked_counts(counts: np.ndarray, n_images: int) -> np.ndarray:
    """``counts`` as an array, if it is ``(resamples, n_images)`` non-negative."""
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[1] != n_images or (counts < 0).any():
        raise EvaluationError(f"counts must be (resamples, {n_images}) non-negative "
                              f"ints, got shape {counts.shape}")
    return counts


def percentile_interval(samples: np.ndarray, confidence: float = 0.95) -> np.ndarray:
    """``(2, ...)`` lower and upper percentile bounds along axis 0, NaN samples left out.

    Examples
    --------
    >>> percentile_interval(np.arange(101.0)[:, None]).ravel().round(6).tolist()
    [2.5, 97.5]
    """
    tail = (1 - confidence) / 2 * 100
    samples = np.asarray(samples, np.float64)
    ok = ~np.isnan(samples)
    if ok.all():
        return np.percentile(samples, [tail, 100 - tail], axis=0)
    out = np.full((2, *samples.shape[1:]), np.nan)
    cols = ok.any(axis=0)
    if cols.any():
        out[:, cols] = np.nanpercentile(samples[:, cols], [tail, 100 - tail], axis=0)
    return out


@dataclass(frozen=True)
class Bootstrap:
    """Point estimates of :func:`evaluate` with percentile intervals over image resamples.

    Attributes
    ----------
    evaluation : Evaluation
        The full-data evaluation (the point estimates).
    samples : ResampledMetrics
        The numbers of every resample.
    confidence : float
        Interval coverage (0.95: 2.5th to 97.5th percentile).
    seed : int or None
        Seed of the resamples (None when counts were given).
    """

    evaluation: Evaluation
    samples: ResampledMetrics
    confidence: float
    seed: int | None

    @property
    def n_resamples(self) -> int:
        """Number of resamples ``B``."""
        return len(self.samples.summary)

    def summary_intervals(self) -> pd.DataFrame:
        """Index ``SUMMARY_KEYS``; columns ``value, lo, hi``.

        Examples
        --------
        >>> g = {i: Detections([[0, 0, 10, 10]], [0]) for i in range(4)}
        >>> p = {0: Detections([[0, 0, 10, 10]], [0], [0.9])}
        >>> b = bootstrap_intervals(g, p, n_resamples=50, seed=0, quiet=True)
        >>> round(float(b.summary_intervals().loc["map50", "value"]), 3)
        0.257
        """
        lo, hi = percentile_interval(self.samples.summary, self.confidence)
        return pd.DataFrame({"value": [self.evaluation.summary[k] for k in SUMMARY_KEYS],
                             "lo": lo, "hi": hi}, index=pd.Index(SUMMARY_KEYS, name="metric"))

    def class_intervals(self) -> pd.DataFrame:
        """Per class: ``AP, AP_lo, AP_hi, AP50, AP50_lo, AP50_hi`` (index class id)."""
        pc = self.evaluation.per_class
        ap_lo, ap_hi = percentile_interval(self.samples.class_ap, self.confidence)
        a50_lo, a50_hi = percentile_interval(self.samples.class_ap50, self.confidence)
        return pd.DataFrame({
            "class": pc["class"].to_numpy(), "AP": pc["mAP50-95"].to_numpy(), "AP_lo": ap_lo,
            "AP_hi": ap_hi, "AP50": pc["mAP50"].to_numpy(), "AP50_lo": a50_lo,
            "AP50_hi": a50_hi}, index=pc.index)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready ``{n_resamples, seed, confidence, summary, per_class}`` (NaN -> None)."""
        return {
            "n_resamples": self.n_resamples, "seed": self.seed, "confidence": self.confidence,
            "summary": {k: _clean_row(row) for k, row in
                        self.summary_intervals().to_dict("index").items()},
            "per_class": [{"class_id": int(i), **_clean_row(row)} for i, row in
                          self.class_intervals().to_dict("index").items()],
        }


def _clean_row(row: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if isinstance(v, (float, np.floating)):
            v = None if np.isnan(v) else float(v)
        out[k] = v
    return out


def bootstrap_intervals(gt: Mapping[Hashable, Detections], preds: Mapping[Hashable, Detections], *,
              n_resamples: int = 1000, seed: int = 0, confidence: float = 0.95,
              counts: np.ndarray | None = None, names: Names = None,
              areas: Mapping[Hashable, np.ndarray] | None = None,
              iscrowd: Mapping[Hashable, np.ndarray] | None = None,
              quiet: bool = False, workers: int = 2,
              exact: ExactBoxes | None = None) -> Bootstrap:
    """Percentile bootstrap over images of the COCO summary and per-class AP of one model.

    Parameters
    ----------
    gt, preds, names, areas, iscrowd
        As in :func:`tecktrack.metrics.evaluate`.
    n_resamples, seed : int
        Resamples drawn with :func:`resample_counts` (ignored when ``counts`` is given).
    confidence : float
        Interval coverage.
    counts : ndarray (B, n_images), optional
        Explicit resamples, e.g. the same ones for two models (a paired bootstrap).
    quiet : bool
        Hide the progress bar.
    workers : int
        Threads accumulating the resamples.
    exact : ExactBoxes, optional
        The float64 boxes the ``Detections`` were read from (see ``evaluate``).

    Examples
    --------
    >>> g = {i: Detections([[0, 0, 10, 10]], [0]) for i in range(4)}
    >>> p = {i: Detections([[0, 0, 10, 10]], [0], [0.9]) for i in range(2)}
    >>> b = bootstrap_intervals(g, p, n_resamples=200, seed=1, quiet=True)
    >>> row = b.summary_intervals().loc["map50"]
    >>> bool(row["lo"] < row["value"] < row["hi"])
    True
    """
    if not 0.0 < confidence < 1.0:
        raise EvaluationError(f"confidence must be in (0, 1), got {confidence}")
    flat = flatten(gt, preds, names=names, areas=areas, iscrowd=iscrowd, exact=exact)
    n_images = len(flat.image_keys)
    if counts is None:
        counts = resample_counts(n_images, n_resamples, seed)
    else:
        counts, seed = _checked_counts(counts, n_images), None
    ev, m = evaluate_flat(flat)  # one match: the point estimate and the resamples
    samples = _resampled(flat, m, counts, ev.iou_thresholds, (1, 10, 100), quiet,
                         max(1, int(workers)))
    return Bootstrap(evaluation=ev, samples=samples, confidence=float(confidence), seed=seed)
