"""COCO JSON at TeckTrack's boundary: ground truth (``images``, ``annotations``,
``categories``) and detection results (``[{"image_id", "category_id", "bbox", "score"}]``).

TeckTrack class ids are positions in the categories sorted by COCO id; ``category_ids``
maps them back. Everything malformed is a :class:`~tecktrack.errors.FormatError` naming the
file and the record (``annotations[12].bbox``). Also importable from :mod:`tecktrack.datasets`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import msgspec
import numpy as np

from tecktrack.datasets.coco_json import (
    column,
    has_field,
    load_ground_truth,
    load_results,
    records,
)
from tecktrack.detections import Detections, xywh_to_xyxy
from tecktrack.errors import FormatError

__all__ = [
    "CocoDataset",
    "CocoImage",
    "CocoResults",
    "coco_results",
    "coco_to_dict",
    "read_coco",
    "read_coco_results",
    "read_coco_results_exact",
    "write_coco",
    "write_coco_results",
]


@dataclass(frozen=True)
class CocoImage:
    """One entry of a COCO ``images`` list."""

    id: int
    file_name: str
    width: int
    height: int


@dataclass
class CocoDataset:
    """COCO ground truth: images, categories and per-image boxes.

    Attributes
    ----------
    images : list of CocoImage
        In file order.
    names : list of str
        Category names ordered by category id; TeckTrack class id = index into this list.
    category_ids : list of int
        The COCO ``category_id`` of each class id (``category_ids[class_id]``).
    annotations : dict of int to Detections
        Ground truth per image id (every image has an entry, possibly empty).
    iscrowd : dict of int to ndarray of bool, optional
        ``iscrowd`` flag per box; all False when not given.
    areas : dict of int to ndarray of float64, optional
        Annotation ``area`` per box (COCO uses it for the size ranges); box area when not given.
    boxes : dict of int to ndarray of float64, optional
        The ``bbox`` values ``x, y, w, h`` per box as the file wrote them (float64; the
        ``Detections`` hold float32 corners). Metrics compute IoU from these, as pycocotools
        does, and :func:`write_coco` writes them back unchanged. From the Detections when not
        given.

    Examples
    --------
    >>> ds = CocoDataset([CocoImage(1, "a.jpg", 64, 48)], ["cat"], [1],
    ...                  {1: Detections([[0, 0, 10, 10]], [0])})
    >>> coco_to_dict(ds)["annotations"][0]["bbox"]
    [0.0, 0.0, 10.0, 10.0]
    """

    images: list[CocoImage]
    names: list[str]
    category_ids: list[int]
    annotations: dict[int, Detections]
    iscrowd: dict[int, np.ndarray] | None = None
    areas: dict[int, np.ndarray] | None = None
    boxes: dict[int, np.ndarray] | None = None

    def __post_init__(self) -> None:
        if len(self.names) != len(self.category_ids):
            raise ValueError("names and category_ids must have the same length")
        ids = [im.id for im in self.images]
        annotations = dict(self.annotations)  # the caller's dict is never changed
        for image_id in ids:
            if image_id not in annotations:
                annotations[image_id] = Detections.empty(with_scores=False)
        self.annotations = annotations
        if set(self.annotations) != set(ids):
            raise ValueError("annotations has image ids that are not in images")
        iscrowd, areas = self.iscrowd or {}, self.areas or {}
        self.iscrowd = {i: np.asarray(iscrowd[i] if i in iscrowd else np.zeros(len(d), bool),
                                      dtype=bool) for i, d in self.annotations.items()}
        self.areas = {i: np.asarray(areas[i] if i in areas else d.area, dtype=np.float64)
                      for i, d in self.annotations.items()}
        boxes = self.boxes or {}
        self.boxes = {i: np.array(boxes[i], dtype=np.float64).reshape(-1, 4) if i in boxes
                      else d.to_coco() for i, d in self.annotations.items()}
        for i, b in self.boxes.items():
            if len(b) != len(self.annotations[i]):
                raise ValueError(f"boxes of image {i} has {len(b)} rows for "
                                 f"{len(self.annotations[i])} annotations")

    @classmethod
    def _of_reader(cls, images: list[CocoImage], names: list[str], category_ids: list[int],
                   annotations: dict[int, Detections], iscrowd: dict[int, np.ndarray],
                   areas: dict[int, np.ndarray], boxes: dict[int, np.ndarray]) -> CocoDataset:
        """The dataset ``CocoDataset(...)`` makes of what a reader built, without its second
        pass over every image: the four dicts have the same keys (the images with boxes), and
        the arrays are fresh, typed (bool, float64, float64 ``(n, 4)``) and as long as their
        Detections. Images without boxes get their empty entries as ``__post_init__`` gives
        them."""
        dataset = object.__new__(cls)
        dataset.images, dataset.names, dataset.category_ids = images, names, category_ids
        dataset.annotations, dataset.iscrowd = dict(annotations), dict(iscrowd)
        dataset.areas, dataset.boxes = dict(areas), dict(boxes)
        for image in images:
            if image.id not in dataset.annotations:
                empty = Detections.empty(with_scores=False)
                dataset.annotations[image.id] = empty
                dataset.iscrowd[image.id] = np.zeros(0, bool)
                dataset.areas[image.id] = np.asarray(empty.area, dtype=np.float64)
                dataset.boxes[image.id] = empty.to_coco()
        return dataset


def _int_column(values: list, field_name: str, key: str, path: Path) -> np.ndarray:
    try:
        arr = np.array(values) if values else np.zeros(0, np.int64)
    except (OverflowError, ValueError):
        arr = np.zeros(0, object)
    if arr.dtype.kind not in "iu" or arr.shape != (len(values),):
        index = next(i for i, v in enumerate(values)
                     if not isinstance(v, int) or isinstance(v, bool) or abs(v) >= 2**63)
        raise FormatError(f"{key}[{index}].{field_name}: expected an integer, "
                          f"got {values[index]!r}", path)
    return arr.astype(np.int64, copy=False)


def _float_column(values: list, field_name: str, key: str, path: Path) -> np.ndarray:
    if not values:
        return np.zeros(0, np.float64)
    try:
        arr = np.array(values)
    except ValueError:  # ragged nested lists
        arr = np.zeros(0, object)
    if arr.dtype.kind not in "iuf" or arr.shape != (len(values),):
        index = next(i for i, v in enumerate(values) if not _fits(v))
        raise FormatError(f"{key}[{index}].{field_name}: expected a number, "
                          f"got {values[index]!r}", path)
    arr = arr.astype(np.float64, copy=False)
    finite = np.isfinite(arr)
    if not finite.all():  # NaN or Infinity, as Python's json writes and reads them
        index = int(np.argmin(finite))
        raise FormatError(f"{key}[{index}].{field_name}: expected a finite number, "
                          f"got {values[index]!r}", path)
    return arr


def _check_annotation_ids(rows: list, key: str, path: Path) -> None:
    """Ids, where given, are unique integers >= 1 (pycocotools mis-scores id 0: its matcher
    uses 0 for "unmatched")."""
    if not has_field(rows, "id"):
        return
    ids = _int_column(column(rows, "id", key, path), "id", key, path)
    if (ids < 1).any():
        index = int(np.argmax(ids < 1))
        raise FormatError(f"{key}[{index}].id: {int(ids[index])} (ids start at 1; pycocotools "
                          "mis-scores id 0)", path)
    order = np.argsort(ids, kind="stable")
    repeated = np.flatnonzero(ids[order][1:] == ids[order][:-1])
    if repeated.size:
        first, second = sorted(order[repeated[0]:repeated[0] + 2].tolist())
        raise FormatError(f"{key}[{second}].id: {int(ids[second])} repeats {key}[{first}].id",
                          path)


def _crowd_column(values: list, key: str, path: Path) -> np.ndarray:
    """``iscrowd`` as bool: 0, 1 (or false, true) only."""
    try:
        arr = np.array(values) if values else np.zeros(0, bool)
    except (OverflowError, ValueError):
        arr = np.zeros(0, object)
    if arr.dtype.kind not in "bi" or arr.shape != (len(values),) or (arr > 1).any() \
            or (arr < 0).any():  # the common case, checked in one go
        bad = next(i for i, v in enumerate(values)
                   if v not in (0, 1) or isinstance(v, (float, str)))
        raise FormatError(f"{key}[{bad}].iscrowd: expected 0 or 1, got {values[bad]!r}", path)
    return arr.astype(bool, copy=False)


def _warn_boxes(boxes: np.ndarray, image_ids: np.ndarray, images: list, key: str,
                path: Path) -> None:
    """Warn, with a count, about zero-size boxes and boxes wholly outside their image (every
    image id is one of ``images``)."""
    empty = (boxes[:, 2] <= 0) | (boxes[:, 3] <= 0)
    if empty.any():
        _warn(path, f"{key}: {int(empty.sum())} boxes of zero width or height (they can never "
                    f"be matched), first {key}[{int(np.argmax(empty))}]")
    table = np.array([(im.id, im.width, im.height) for im in images],
                     dtype=np.int64).reshape(-1, 3)
    table = table[np.argsort(table[:, 0])]
    wh = table[np.searchsorted(table[:, 0], image_ids), 1:].astype(np.float64)
    outside = ((boxes[:, 0] >= wh[:, 0]) | (boxes[:, 1] >= wh[:, 1])
               | (boxes[:, 0] + boxes[:, 2] <= 0) | (boxes[:, 1] + boxes[:, 3] <= 0)) & ~empty
    if outside.any():
        _warn(path, f"{key}: {int(outside.sum())} boxes wholly outside their image, first "
                    f"{key}[{int(np.argmax(outside))}]")


def _warn(path: Path, message: str) -> None:
    warnings.warn(f"{path}: {message}", CocoWarning, stacklevel=3)


class CocoWarning(UserWarning):
    """COCO ground truth that loads, but that pycocotools would score differently or that
    cannot be matched; the message names the field and counts the records."""


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fits(value: object) -> bool:
    """A number NumPy holds in a numeric array (an integer beyond 64 bits makes it objects)."""
    return _is_number(value) and (isinstance(value, float) or -2**63 <= value < 2**63)


def _bbox_array(values: list, key: str, path: Path) -> np.ndarray:
    try:
        arr = np.array(values) if values else np.zeros((0, 4))
    except ValueError:  # ragged nested lists
        arr = np.zeros(0, object)
    if arr.dtype.kind not in "iuf" or arr.shape != (len(values), 4):
        index = next(i for i, v in enumerate(values) if not (
            isinstance(v, list) and len(v) == 4 and all(_fits(x) for x in v)))
        raise FormatError(f"{key}[{index}].bbox: expected [x, y, w, h] numbers", path)
    boxes = arr.astype(np.float64, copy=False)
    bad = ~np.isfinite(boxes).all(axis=1) | (boxes[:, 2:] < 0).any(axis=1)
    if bad.any():
        index = int(np.argmax(bad))
        raise FormatError(f"{key}[{index}].bbox: {values[index]} has a negative "
                          "or non-finite value", path)
    return boxes


def _class_index(category: np.ndarray, category_ids: list[int], key: str,
                 path: Path) -> np.ndarray:
    lookup = np.asarray(category_ids, dtype=np.int64)
    order = np.argsort(lookup)
    pos = np.minimum(np.searchsorted(lookup[order], category), max(len(lookup) - 1, 0))
    known = (lookup[order][pos] == category) if len(lookup) else np.zeros(len(category), bool)
    if not known.all():
        index = int(np.argmax(~known))
        raise FormatError(f"{key}[{index}].category_id: {category[index]} is not a known "
                          "category", path)
    return order[pos]


def _group(image_ids: np.ndarray, known_ids: list[int], key: str,
           path: Path) -> tuple[np.ndarray, dict[int, slice]]:
    """Rows sorted by image id (stable) and, per image id, its slice of them; every image id
    must be in ``known_ids``."""
    unknown = ~np.isin(image_ids, np.asarray(known_ids, dtype=np.int64))
    if unknown.any():
        index = int(np.argmax(unknown))
        raise FormatError(f"{key}[{index}].image_id: {image_ids[index]} is not in images", path)
    order = np.argsort(image_ids, kind="stable")
    ids, starts = np.unique(image_ids[order], return_index=True)
    bounds = [*starts.tolist(), len(image_ids)]
    return order, {i: slice(a, b)
                   for i, a, b in zip(ids.tolist(), bounds[:-1], bounds[1:], strict=True)}


def _read_categories(data: object, path: Path) -> tuple[list[int], list[str]]:
    cats = records(data, "categories", path)
    ids = _int_column(column(cats, "id", "categories", path), "id", "categories", path)
    if len(np.unique(ids)) != len(ids):
        raise FormatError("categories: duplicate category id", path)
    names = [str(n) for n in column(cats, "name", "categories", path)]
    order = np.argsort(ids, kind="stable")
    return ids[order].tolist(), [names[i] for i in order]


def _read_images(data: object, path: Path) -> list[CocoImage]:
    rows = records(data, "images", path)
    ids, widths, heights = (
        _int_column(column(rows, f, "images", path), f, "images", path).tolist()
        for f in ("id", "width", "height"))
    if len(set(ids)) != len(ids):
        raise FormatError("images: duplicate image id", path)
    files = column(rows, "file_name", "images", path)
    return [CocoImage(i, str(f), w, h)
            for i, f, w, h in zip(ids, files, widths, heights, strict=True)]


def read_coco(path: str | Path) -> CocoDataset:
    """Read a COCO ground-truth JSON (``images``, ``annotations``, ``categories``).

    Class ids are positions in the categories sorted by id. Segmentations are ignored;
    ``iscrowd`` and ``area`` are kept for COCO-exact evaluation.

    Raises
    ------
    FormatError
        Invalid JSON (with its line), a missing field, a malformed bbox, or an annotation
        whose image or category is unknown (named as ``annotations[i].field``).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "gt.json"
    >>> _ = p.write_text('{"images": [{"id": 7, "file_name": "a.jpg", "width": 9, "height": 9}],'
    ...     '"annotations": [{"id": 1, "image_id": 7, "category_id": 3, "bbox": [1, 1, 2, 2],'
    ...     ' "area": 4}],'
    ...     '"categories": [{"id": 3, "name": "dog"}]}')
    >>> ds = read_coco(p)
    >>> ds.names, ds.annotations[7].xyxy
    (['dog'], array([[1., 1., 3., 3.]], dtype=float32))
    """
    path = Path(path)
    data = load_ground_truth(path)
    if not isinstance(data, (dict, msgspec.Struct)):
        raise FormatError("expected an object with images, annotations, categories", path)
    category_ids, names = _read_categories(data, path)
    images = _read_images(data, path)
    key = "annotations"
    anns = records(data, key, path)
    boxes = _bbox_array(column(anns, "bbox", key, path), key, path)
    classes = _class_index(
        _int_column(column(anns, "category_id", key, path), "category_id", key, path),
        category_ids, key, path)
    _check_annotation_ids(anns, key, path)
    crowd = _crowd_column(column(anns, "iscrowd", key, path, default=0), key, path)
    areas, missing = _area_column(anns, boxes, key, path)
    image_ids = _int_column(column(anns, "image_id", key, path), "image_id", key, path)
    order, groups = _group(image_ids, [im.id for im in images], key, path)
    if missing:
        _warn(path, f"{key}: {len(missing)} without 'area' (pycocotools cannot "
                    f"evaluate them; w*h used), first {key}[{missing[0]}]")
    _warn_boxes(boxes, image_ids, images, key, path)
    xyxy = xywh_to_xyxy(boxes).astype(np.float32)[order]
    classes, crowd, areas, boxes = classes[order], crowd[order], areas[order], boxes[order]
    return CocoDataset._of_reader(
        images=images, names=names, category_ids=category_ids,
        annotations={i: Detections(xyxy[rows], classes[rows]) for i, rows in groups.items()},
        iscrowd={i: crowd[rows] for i, rows in groups.items()},
        areas={i: areas[rows] for i, rows in groups.items()},
        boxes={i: boxes[rows] for i, rows in groups.items()},
    )


def _area_column(rows: list, boxes: np.ndarray, key: str,
                 path: Path) -> tuple[np.ndarray, list[int]]:
    """``area`` of every annotation (``w * h`` where it is missing or null), and the indices
    of those without one."""
    given = column(rows, "area", key, path, default=None)
    if given.count(None) == 0:  # the common case: every annotation has its area
        areas = _float_column(given, "area", key, path)
        missing = []
    else:
        missing = [i for i, a in enumerate(given) if a is None]
        has_area = np.ones(len(given), dtype=bool)
        has_area[missing] = False
        areas = boxes[:, 2] * boxes[:, 3]
        if has_area.any():
            areas[has_area] = _float_column([a for a in given if a is not None], "area", key,
                                            path)
    negative = areas < 0
    if negative.any():
        index = int(np.argmax(negative))
        raise FormatError(f"{key}[{index}].area: {given[index]!r} is negative", path)
    return areas, missing


def coco_to_dict(dataset: CocoDataset) -> dict:
    """The COCO JSON object of a :class:`CocoDataset` (annotation ids numbered from 1).

    Examples
    --------
    >>> ds = CocoDataset([CocoImage(1, "a.jpg", 9, 9)], ["dog"], [3], {})
    >>> coco_to_dict(ds)["categories"]
    [{'id': 3, 'name': 'dog', 'supercategory': 'none'}]
    """
    annotations = []
    for im in dataset.images:
        det = dataset.annotations[im.id]
        xywh = dataset.boxes[im.id].tolist()
        category = np.asarray(dataset.category_ids, dtype=np.int64)[det.class_ids].tolist()
        first_id = len(annotations) + 1
        annotations.extend(
            {"id": first_id + k, "image_id": im.id, "category_id": c, "bbox": b,
             "area": a, "iscrowd": int(z), "segmentation": []}
            for k, (c, b, a, z) in enumerate(zip(category, xywh, dataset.areas[im.id].tolist(),
                                                  dataset.iscrowd[im.id].tolist(), strict=True)))
    return {
        "images": [{"id": im.id, "file_name": im.file_name, "width": im.width,
                    "height": im.height} for im in dataset.images],
        "annotations": annotations,
        "categories": [{"id": c, "name": n, "supercategory": "none"}
                       for c, n in zip(dataset.category_ids, dataset.names, strict=True)],
    }


def write_coco(path: str | Path, dataset: CocoDataset) -> None:
    """Write a COCO ground-truth JSON that ``pycocotools.coco.COCO`` loads.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "gt.json"
    >>> write_coco(p, CocoDataset([CocoImage(1, "a.jpg", 9, 9)], ["dog"], [3], {}))
    >>> read_coco(p).names
    ['dog']
    """
    _write_json(path, coco_to_dict(dataset))


def _write_json(path: str | Path, data: object) -> None:
    import json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


def coco_results(detections: dict[int, Detections], category_ids: list[int]) -> list[dict]:
    """Predictions per image id as a COCO results list (``image_id, category_id, bbox, score``).

    Examples
    --------
    >>> coco_results({5: Detections([[1, 2, 4, 6]], [0], [0.5])}, [17])
    [{'image_id': 5, 'category_id': 17, 'bbox': [1.0, 2.0, 3.0, 4.0], 'score': 0.5}]
    """
    lookup = np.asarray(category_ids, dtype=np.int64)
    out: list[dict] = []
    for image_id, det in detections.items():
        if det.scores is None:
            raise ValueError(f"detections of image {image_id} have no scores")
        out.extend({"image_id": int(image_id), "category_id": c, "bbox": b, "score": s}
                   for c, b, s in zip(lookup[det.class_ids].tolist(), det.to_coco().tolist(),
                                      det.scores.astype(np.float64).tolist(), strict=True))
    return out


def write_coco_results(path: str | Path, detections: dict[int, Detections],
                       category_ids: list[int]) -> None:
    """Write :func:`coco_results` as JSON (what ``COCO.loadRes`` reads).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "res.json"
    >>> write_coco_results(p, {5: Detections([[1, 2, 4, 6]], [0], [0.5])}, [17])
    >>> read_coco_results(p, [17])[5].scores
    array([0.5], dtype=float32)
    """
    _write_json(path, coco_results(detections, category_ids))


@dataclass(frozen=True)
class CocoResults:
    """A COCO results file read with its float64 values beside the float32 Detections.

    Attributes
    ----------
    detections : dict of int to Detections
        Per image id, as :func:`read_coco_results` returns them.
    boxes : dict of int to ndarray
        Per image id, ``bbox`` ``x, y, w, h`` as written (float64), rows as in ``detections``.
    scores : dict of int to ndarray
        Per image id, ``score`` as written (float64).
    """

    detections: dict[int, Detections]
    boxes: dict[int, np.ndarray]
    scores: dict[int, np.ndarray]


def read_coco_results(path: str | Path, category_ids: list[int],
                      image_ids: list[int] | None = None) -> dict[int, Detections]:
    """Read a COCO detection results list into Detections per image id.

    Parameters
    ----------
    path : str or Path
        JSON list of ``{"image_id", "category_id", "bbox", "score"}``.
    category_ids : list of int
        COCO category id of each class id (as :attr:`CocoDataset.category_ids`).
    image_ids : list of int, optional
        Allowed image ids; each gets an entry (empty when it has no results). Without it,
        only images that appear in the file get an entry.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "res.json"
    >>> _ = p.write_text('[{"image_id": 1, "category_id": 9, "bbox": [0, 0, 2, 2], "score": 0.8}]')
    >>> res = read_coco_results(p, [4, 9], image_ids=[1, 2])
    >>> res[1].class_ids, len(res[2])
    (array([1]), 0)
    """
    return read_coco_results_exact(path, category_ids, image_ids).detections


def read_coco_results_exact(path: str | Path, category_ids: list[int],
                            image_ids: list[int] | None = None) -> CocoResults:
    """:func:`read_coco_results`, keeping the file's float64 boxes and scores beside.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "res.json"
    >>> _ = p.write_text('[{"image_id": 1, "category_id": 9, "bbox": [336.71000000000004, 10,'
    ...                  ' 54.69, 20], "score": 0.123456789}]')
    >>> res = read_coco_results_exact(p, [9])
    >>> res.boxes[1].tolist(), res.scores[1].tolist(), res.detections[1].xyxy.dtype.name
    ([[336.71000000000004, 10.0, 54.69, 20.0]], [0.123456789], 'float32')
    """
    path, category_ids = Path(path), list(category_ids)
    key = "results"
    recs = records(load_results(path), key, path)
    boxes = _bbox_array(column(recs, "bbox", key, path), key, path)
    classes = _class_index(
        _int_column(column(recs, "category_id", key, path), "category_id", key, path),
        category_ids, key, path)
    scores = _float_column(column(recs, "score", key, path), "score", key, path)
    ids = _int_column(column(recs, "image_id", key, path), "image_id", key, path)
    known = sorted(set(ids.tolist())) if image_ids is None else list(image_ids)
    order, groups = _group(ids, known, key, path)
    xyxy = xywh_to_xyxy(boxes).astype(np.float32)[order]
    classes, scores, boxes = classes[order], scores[order], boxes[order]
    none = slice(0, 0)
    return CocoResults(
        detections={i: (Detections(xyxy[groups[i]], classes[groups[i]], scores[groups[i]])
                        if i in groups else Detections.empty(with_scores=True)) for i in known},
        boxes={i: boxes[groups.get(i, none)] for i in known},
        scores={i: scores[groups.get(i, none)] for i in known},
    )
