"""Validate ``{image: Detections}`` mappings and flatten them into float64 column arrays.

Every engine function starts here, so bad input fails in one place with one kind of message:
an :class:`~tecktrack.errors.EvaluationError` naming the image, the box index and the field.

Boxes are kept as COCO ``x, y, w, h`` in float64, the values pycocotools computes IoU from.
``Detections`` store float32 corners, which convert to ``x, y, w, h`` without loss; boxes read
from files in float64 (COCO JSON) come in beside them as :class:`ExactBoxes`, so an IoU on a
threshold lands on the same side as in pycocotools.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tecktrack.detections import Detections
from tecktrack.errors import EvaluationError
from tecktrack.metrics.iou import far_corners

Names = Mapping[int, str] | Sequence[str] | None

_NO_PREDICTIONS = Detections.empty()


@dataclass(frozen=True)
class ExactBoxes:
    """Float64 values read from files, beside the float32 ``Detections`` built from them.

    Each mapping is keyed like the ground truth / predictions and holds, per image, the
    values of that image's boxes in the same order as its ``Detections``. Images left out use
    their ``Detections``. :func:`tecktrack.metrics.loaders.load_coco` fills all three.

    Attributes
    ----------
    gt, preds : Mapping, optional
        ``{image: (n, 4) float64}`` COCO ``x, y, w, h`` as written in the file.
    scores : Mapping, optional
        ``{image: (n,) float64}`` prediction scores as written (float32 could tie them).

    Examples
    --------
    >>> g = {"a": Detections([[318.48, 10, 373.17, 30]], [0])}
    >>> p = {"a": Detections([[336.71, 10, 391.4, 30]], [0], [0.9])}
    >>> exact = ExactBoxes(gt={"a": [[318.48, 10, 54.69, 20]]},
    ...                    preds={"a": [[336.71000000000004, 10, 54.69, 20]]})
    >>> float(flatten(g, p, exact=exact).dt_xywh[0, 0])
    336.71000000000004
    """

    gt: Mapping[Hashable, np.ndarray] | None = None
    preds: Mapping[Hashable, np.ndarray] | None = None
    scores: Mapping[Hashable, np.ndarray] | None = None


@dataclass(frozen=True)
class FlatInputs:
    """Ground truth and predictions of a whole evaluation as flat column arrays.

    Images are numbered in the iteration order of the ground-truth mapping; classes are the
    sorted category ids, numbered ``0..K-1`` (``class_ids[k]`` is the id of class ``k``).
    Boxes are float64 COCO ``x, y, w, h``; predictions keep their per-image order.
    ``*_corners`` (``x, y, x + w, y + h``) and ``*_wh_area`` (``w * h``) are formed once
    from them, for IoU as pycocotools computes it.
    """

    image_keys: tuple[Hashable, ...]
    class_ids: np.ndarray
    names: tuple[str, ...]
    gt_image: np.ndarray
    gt_class: np.ndarray
    gt_xywh: np.ndarray
    gt_area: np.ndarray
    gt_crowd: np.ndarray
    dt_image: np.ndarray
    dt_class: np.ndarray
    dt_xywh: np.ndarray
    dt_score: np.ndarray
    gt_corners: np.ndarray
    dt_corners: np.ndarray
    gt_wh_area: np.ndarray
    dt_wh_area: np.ndarray

    @property
    def n_classes(self) -> int:
        """Number of evaluated classes ``K``."""
        return len(self.class_ids)

    @property
    def dt_area(self) -> np.ndarray:
        """Prediction areas ``w * h`` in float64, as pycocotools gives loaded results."""
        return self.dt_wh_area


def names_to_dict(names: Names) -> dict[int, str] | None:
    """Normalise class names given as a list (index = id) or a mapping to ``{id: name}``.

    Examples
    --------
    >>> names_to_dict(["cat", "dog"])
    {0: 'cat', 1: 'dog'}
    """
    if names is None:
        return None
    if isinstance(names, Mapping):
        return {int(k): str(v) for k, v in names.items()}
    return {i: str(n) for i, n in enumerate(names)}


def _check_boxes(xywh: np.ndarray, image: np.ndarray, keys: tuple[Hashable, ...],
                 what: str) -> None:
    """Raise for the first non-finite or inverted box, naming its image and index."""
    problems = (
        (~np.isfinite(xywh).all(axis=1), "is not finite"),
        ((xywh[:, 2] < 0) | (xywh[:, 3] < 0), "has a negative width or height"),
    )
    for bad, why in problems:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            first = int(np.searchsorted(image, image[i], side="left"))
            raise EvaluationError(f"{what} box {i - first} of image {keys[image[i]]!r} {why}: "
                                  f"x, y, w, h = {xywh[i].tolist()}")


def _xywh(det: Detections) -> np.ndarray:
    """Float32 corners as float64 ``x, y, w, h`` (exact: float32 differences fit a double)."""
    xyxy = det.xyxy.astype(np.float64)
    xyxy[:, 2:] -= xyxy[:, :2]
    return xyxy


def _corner_slack(det: Detections) -> np.ndarray:
    """How far each box's float64 ``x, y, w, h`` may lie from those of its float32 corners:
    a corner is a value rounded to float32 (half a float32 step) and a width the difference
    of two, so one float32 step at the box's largest corner, doubled for safety. 0.001 px
    covers it below x = 16,384; at x = 50,000 a step is 0.0039 px."""
    if not len(det):
        return np.zeros(0)
    return 2.0 * np.spacing(np.abs(det.xyxy).max(axis=1)).astype(np.float64)


def _exact_column(given: Mapping[Hashable, np.ndarray] | None, keys: tuple[Hashable, ...],
                  parts: list[Detections], fallback: np.ndarray, width: int,
                  field: str, slack: np.ndarray | float = 0.0) -> np.ndarray:
    """``fallback`` with each image's rows replaced by the float64 values in ``given``, which
    must lie within ``1e-3 + 1e-5 * |fallback| + slack`` (per row) of ``fallback``."""
    if not given:
        return fallback
    out = fallback.copy()
    start = 0
    for key, d in zip(keys, parts, strict=True):
        n = len(d)
        if key in given:
            values = np.asarray(given[key], dtype=np.float64)
            if values.size != n * width:
                raise EvaluationError(f"exact {field} for image {key!r} have {values.size // width}"
                                      f" rows but the image has {n} boxes")
            out[start:start + n] = values.reshape(out[start:start + n].shape)
        start += n
    # the float64 values must be the ones the float32 Detections were made from
    slack = np.reshape(slack, (-1,) + (1,) * (fallback.ndim - 1))
    near = np.abs(out - fallback) <= 1e-3 + 1e-5 * np.abs(fallback) + slack
    near |= ~np.isfinite(fallback)
    if not near.all():
        i = int(np.flatnonzero(~near.reshape(len(out), -1).all(axis=1))[0])
        image = np.repeat(np.arange(len(keys)), [len(d) for d in parts])[i]
        raise EvaluationError(f"exact {field} for image {keys[image]!r} do not match its "
                              f"Detections: {out[i].tolist()} vs {fallback[i].tolist()}")
    return out


def _check_scores(det: Detections, key: Hashable) -> None:
    if det.scores is None:
        raise EvaluationError(f"predictions for image {key!r} have no scores")


def _per_image(values: Mapping[Hashable, np.ndarray] | None, key: Hashable, n: int,
               default: np.ndarray | None, field: str, dtype: type) -> np.ndarray | None:
    if values is None or key not in values:
        return default
    arr = np.asarray(values[key], dtype=dtype).reshape(-1)
    if arr.shape != (n,):
        raise EvaluationError(
            f"{field} for image {key!r} has {arr.size} values but the image has {n} boxes")
    return arr


def _resolve_classes(gt_cls: np.ndarray, dt_cls: np.ndarray,
                     names: dict[int, str] | None) -> tuple[np.ndarray, tuple[str, ...]]:
    if names is None:
        ids = np.union1d(gt_cls, dt_cls).astype(np.int64)
        return ids, tuple(str(i) for i in ids)
    ids = np.array(sorted(names), dtype=np.int64)
    for what, cls in (("ground-truth", gt_cls), ("prediction", dt_cls)):
        unknown = np.setdiff1d(cls, ids)
        if unknown.size:
            raise EvaluationError(
                f"{what} class ids {unknown[:10].tolist()} are not among the "
                f"{len(ids)} named classes")
    return ids, tuple(names[int(i)] for i in ids)


def check_image_keys(gt: Mapping[Hashable, Detections],
                     preds: Mapping[Hashable, Detections]) -> None:
    """Refuse an empty ground truth and predictions for images it does not have.

    Examples
    --------
    >>> try:
    ...     check_image_keys({"a": Detections.empty(False)}, {"b": Detections.empty()})
    ... except EvaluationError as exc:
    ...     print(exc)
    predictions name 1 image(s) that are not in the ground truth, e.g. ['b']
    """
    if not gt:
        raise EvaluationError("no images to evaluate: the ground truth mapping is empty")
    unknown = [k for k in preds if k not in gt]
    if unknown:
        raise EvaluationError(
            f"predictions name {len(unknown)} image(s) that are not in the ground truth, "
            f"e.g. {unknown[:5]!r}")


def flatten(gt: Mapping[Hashable, Detections], preds: Mapping[Hashable, Detections], *,
            names: Names = None, areas: Mapping[Hashable, np.ndarray] | None = None,
            iscrowd: Mapping[Hashable, np.ndarray] | None = None,
            exact: ExactBoxes | None = None) -> FlatInputs:
    """Validate and flatten ground truth and predictions keyed by image.

    Parameters
    ----------
    gt, preds : Mapping
        ``{image: Detections}``; every prediction key must be a ground-truth key (an image
        without ground truth boxes is an empty ``Detections``). Predictions need scores.
    names : list or mapping, optional
        Class names; when given they define the class set and unknown ids are an error.
    areas, iscrowd : Mapping, optional
        Per-image COCO ``area`` and ``iscrowd`` values for the ground-truth boxes; images
        left out get the box area and ``iscrowd = 0``.
    exact : ExactBoxes, optional
        Float64 boxes and scores as read from files, used instead of the float32 values of
        the ``Detections`` they belong to (which must agree with them to float32 precision).

    Raises
    ------
    EvaluationError
        No images, unknown image ids, missing scores, non-finite or inverted boxes, bad
        lengths.

    Examples
    --------
    >>> g = {"a": Detections([[0, 0, 10, 10]], [1])}
    >>> p = {"a": Detections([[0, 0, 10, 9]], [1], [0.8])}
    >>> f = flatten(g, p)
    >>> f.class_ids.tolist(), f.gt_area.tolist(), f.dt_score.dtype.name
    ([1], [100.0], 'float64')
    """
    check_image_keys(gt, preds)
    keys = tuple(gt)
    g_parts = [gt[key] for key in keys]
    d_parts = [preds.get(key, _NO_PREDICTIONS) for key in keys]
    for key, d in zip(keys, d_parts, strict=True):
        _check_scores(d, key)
    areas_l = [_per_image(areas, key, len(g), None, "areas", np.float64)
               for key, g in zip(keys, g_parts, strict=True)]
    crowd_l = [_per_image(iscrowd, key, len(g), np.zeros(len(g), bool), "iscrowd", bool)
               for key, g in zip(keys, g_parts, strict=True)]
    g_all = Detections.concat(g_parts)
    d_all = Detections.concat(d_parts)
    gt_image = np.repeat(np.arange(len(keys)), [len(g) for g in g_parts]).astype(np.int64)
    dt_image = np.repeat(np.arange(len(keys)), [len(d) for d in d_parts]).astype(np.int64)
    exact = exact or ExactBoxes()
    gt_xywh = _exact_column(exact.gt, keys, g_parts, _xywh(g_all), 4, "boxes",
                            _corner_slack(g_all))
    dt_xywh = _exact_column(exact.preds, keys, d_parts, _xywh(d_all), 4, "boxes",
                            _corner_slack(d_all))
    _check_boxes(gt_xywh, gt_image, keys, "ground-truth")
    _check_boxes(dt_xywh, dt_image, keys, "prediction")
    scores = d_all.scores if d_all.scores is not None else np.zeros(len(d_all), np.float32)
    scores = _exact_column(exact.scores, keys, d_parts, scores.astype(np.float64), 1,
                           "scores")
    if not np.isfinite(scores).all():
        i = int(np.flatnonzero(~np.isfinite(scores))[0])
        first = int(np.searchsorted(dt_image, dt_image[i], side="left"))
        raise EvaluationError(f"prediction {i - first} of image {keys[dt_image[i]]!r} has a "
                              "non-finite score")
    gt_wh_area = gt_xywh[:, 2] * gt_xywh[:, 3]
    gt_area = gt_wh_area.copy()
    starts = np.searchsorted(gt_image, np.arange(len(keys)), side="left")
    for start, given in zip(starts, areas_l, strict=True):
        if given is not None:
            gt_area[start:start + len(given)] = given
    class_ids, class_names = _resolve_classes(g_all.class_ids, d_all.class_ids,
                                              names_to_dict(names))
    return FlatInputs(
        image_keys=keys,
        class_ids=class_ids,
        names=class_names,
        gt_image=gt_image,
        gt_class=np.searchsorted(class_ids, g_all.class_ids).astype(np.int64),
        gt_xywh=gt_xywh,
        gt_area=gt_area,
        gt_crowd=np.concatenate(crowd_l),
        dt_image=dt_image,
        dt_class=np.searchsorted(class_ids, d_all.class_ids).astype(np.int64),
        dt_xywh=dt_xywh,
        dt_score=scores,
        gt_corners=far_corners(gt_xywh),
        dt_corners=far_corners(dt_xywh),
        gt_wh_area=gt_wh_area,
        dt_wh_area=dt_xywh[:, 2] * dt_xywh[:, 3],
    )
