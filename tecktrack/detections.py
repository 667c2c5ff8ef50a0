"""The one detections type, box format conversions and the vectorised IoU matrix.

Boxes live in pixel corners ``x1, y1, x2, y2`` (float32) everywhere inside TeckTrack.
YOLO-normalised ``cx, cy, w, h`` and COCO ``x, y, w, h`` exist only at file boundaries,
through the conversion functions here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Detections",
    "box_area",
    "box_iou",
    "paired_iou",
    "cxcywh_to_xyxy",
    "xyxy_to_cxcywh",
    "xywh_to_xyxy",
    "xyxy_to_xywh",
    "yolo_to_xyxy",
    "xyxy_to_yolo",
]


def _as_boxes(boxes: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    arr = np.asarray(boxes, dtype=dtype)
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"boxes must have shape (n, 4), got {arr.shape}")
    return arr


def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """Convert centre/size boxes to corners, same units and dtype.

    Examples
    --------
    >>> cxcywh_to_xyxy(np.array([[5.0, 5.0, 4.0, 2.0]]))
    array([[3., 4., 7., 6.]])
    """
    b = np.asarray(boxes)
    b = b.reshape(0, 4) if b.size == 0 else b
    half = b[:, 2:4] / 2
    return np.concatenate([b[:, 0:2] - half, b[:, 0:2] + half], axis=1)


def xyxy_to_cxcywh(boxes: np.ndarray) -> np.ndarray:
    """Convert corner boxes to centre/size, same units and dtype.

    Examples
    --------
    >>> xyxy_to_cxcywh(np.array([[3.0, 4.0, 7.0, 6.0]]))
    array([[5., 5., 4., 2.]])
    """
    b = np.asarray(boxes)
    b = b.reshape(0, 4) if b.size == 0 else b
    wh = b[:, 2:4] - b[:, 0:2]
    return np.concatenate([b[:, 0:2] + wh / 2, wh], axis=1)


def xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """Convert COCO ``x, y, w, h`` (top-left + size) to corners.

    Examples
    --------
    >>> xywh_to_xyxy(np.array([[1.0, 2.0, 3.0, 4.0]]))
    array([[1., 2., 4., 6.]])
    """
    b = np.asarray(boxes)
    b = b.reshape(0, 4) if b.size == 0 else b
    return np.concatenate([b[:, 0:2], b[:, 0:2] + b[:, 2:4]], axis=1)


def xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
    """Convert corners to COCO ``x, y, w, h``.

    Examples
    --------
    >>> xyxy_to_xywh(np.array([[1.0, 2.0, 4.0, 6.0]]))
    array([[1., 2., 3., 4.]])
    """
    b = np.asarray(boxes)
    b = b.reshape(0, 4) if b.size == 0 else b
    return np.concatenate([b[:, 0:2], b[:, 2:4] - b[:, 0:2]], axis=1)


def yolo_to_xyxy(boxes: np.ndarray, width: float, height: float) -> np.ndarray:
    """Convert YOLO-normalised ``cx, cy, w, h`` in [0, 1] to float32 pixel corners.

    Examples
    --------
    >>> yolo_to_xyxy(np.array([[0.5, 0.5, 0.5, 0.25]]), 200, 100)
    array([[ 50. ,  37.5, 150. ,  62.5]], dtype=float32)
    """
    scale = np.array([width, height, width, height], dtype=np.float64)
    return cxcywh_to_xyxy(np.asarray(boxes, dtype=np.float64) * scale).astype(np.float32)


def xyxy_to_yolo(boxes: np.ndarray, width: float, height: float) -> np.ndarray:
    """Convert pixel corners to YOLO-normalised ``cx, cy, w, h`` (float64).

    Examples
    --------
    >>> xyxy_to_yolo(np.array([[50.0, 37.5, 150.0, 62.5]]), 200, 100)
    array([[0.5 , 0.5 , 0.5 , 0.25]])
    """
    scale = np.array([width, height, width, height], dtype=np.float64)
    return xyxy_to_cxcywh(np.asarray(boxes, dtype=np.float64)) / scale


def box_area(boxes: np.ndarray) -> np.ndarray:
    """Area of corner boxes; inverted or degenerate boxes have area 0.

    Floating boxes keep their dtype; integer (and boolean) boxes are computed in float64, so a
    300 x 300 int16 box has area 90000, not an overflowed int16.

    Examples
    --------
    >>> box_area(np.array([[0, 0, 2, 3], [5, 5, 4, 4]], dtype=np.float32))
    array([6., 0.], dtype=float32)
    >>> box_area(np.array([[0, 0, 300, 300]], dtype=np.int16))
    array([90000.])
    """
    dtype = np.asarray(boxes).dtype
    b = _as_boxes(boxes, dtype if np.issubdtype(dtype, np.floating) else np.float64)
    w = np.clip(b[:, 2] - b[:, 0], 0, None)
    h = np.clip(b[:, 3] - b[:, 1], 0, None)
    return w * h


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix between two sets of corner boxes, shape ``(len(a), len(b))``, float64.

    Zero-area boxes (or pairs whose union is zero) get IoU 0, never NaN.

    Examples
    --------
    >>> box_iou(np.array([[0, 0, 2, 2]]), np.array([[1, 0, 3, 2], [5, 5, 5, 5]]))
    array([[0.33333333, 0.        ]])
    """
    a = _as_boxes(a, np.float64)
    b = _as_boxes(b, np.float64)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    # x and y handled separately, in place: no (n, m, 2) temporaries, no np.clip
    inter = np.minimum(a[:, None, 2], b[None, :, 2])
    inter -= np.maximum(a[:, None, 0], b[None, :, 0])
    np.maximum(inter, 0, out=inter)
    ih = np.minimum(a[:, None, 3], b[None, :, 3])
    ih -= np.maximum(a[:, None, 1], b[None, :, 1])
    np.maximum(ih, 0, out=ih)
    inter *= ih
    union = box_area(a)[:, None] + box_area(b)[None, :]
    union -= inter
    # union == 0 only when both boxes have zero area, and then inter == 0 already
    np.divide(inter, union, out=inter, where=union > 0)
    return inter



def paired_iou(a: np.ndarray, b: np.ndarray, crowd: np.ndarray | None = None) -> np.ndarray:
    """IoU of row-aligned pairs ``a[i]``, ``b[i]`` of corner boxes (float64, shape ``(n,)``).

    :func:`box_iou` gives the full ``n x m`` matrix; matching many images needs only the
    same-image pairs, which this computes without the matrix. Where ``crowd[i]`` is true the
    union is ``a[i]``'s own area (intersection over detection), COCO's rule for crowd ground
    truth. The arithmetic follows ``pycocotools.mask.iou`` step by step, so values are
    bit-identical to it; pairs that do not overlap (zero-area boxes included) get 0, never NaN.

    Examples
    --------
    >>> d = np.array([[0.0, 0, 2, 2], [0, 0, 2, 2], [0, 0, 1, 1]])
    >>> g = np.array([[1.0, 0, 3, 2], [1, 0, 3, 2], [5, 5, 5, 5]])
    >>> paired_iou(d, g)
    array([0.33333333, 0.33333333, 0.        ])
    >>> paired_iou(d, g, crowd=np.array([False, True, False]))
    array([0.33333333, 0.5       , 0.        ])
    """
    a = _as_boxes(a, np.float64)
    b = _as_boxes(b, np.float64)
    w = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    h = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    inter = w * h
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    union = area_a + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    if crowd is not None:
        union = np.where(crowd, area_a, union)
    out = np.zeros(len(a))
    np.divide(inter, union, out=out, where=(w > 0) & (h > 0))
    return out

@dataclass(eq=False)
class Detections:
    """Boxes with class ids and (for predictions) scores: the one type TeckTrack passes around.

    Parameters
    ----------
    xyxy : array-like, shape (n, 4)
        Pixel corners ``x1, y1, x2, y2``; stored as float32.
    class_ids : array-like, shape (n,)
        Integer class ids; stored as int64.
    scores : array-like, shape (n,), optional
        Confidence scores; stored as float32. ``None`` for ground truth.
    tracker_ids : array-like, shape (n,), optional
        Track identities across frames; stored as int64, ``-1`` for an untracked box.
        ``None`` (the default) when nothing tracked these boxes.

    Examples
    --------
    >>> d = Detections(xyxy=[[0, 0, 10, 10], [5, 5, 20, 20]], class_ids=[0, 2], scores=[0.9, 0.3])
    >>> len(d), d.has_scores
    (2, True)
    >>> d[d.scores > 0.5].class_ids
    array([0])
    >>> len(Detections.concat([d, Detections.empty()]))
    2
    >>> d.above(0.5).class_ids
    array([0])
    """

    xyxy: np.ndarray
    class_ids: np.ndarray
    scores: np.ndarray | None = None
    tracker_ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        xyxy = np.array(self.xyxy, dtype=np.float32)  # a copy: never the caller's memory
        if xyxy.size == 0:
            xyxy = xyxy.reshape(0, 4)
        if xyxy.ndim != 2 or xyxy.shape[1] != 4:
            raise ValueError(f"Detections.xyxy must have shape (n, 4), got {xyxy.shape}")
        n = len(xyxy)
        class_ids = np.asarray(self.class_ids)
        if class_ids.size and not np.issubdtype(class_ids.dtype, np.integer):
            if not np.all(np.isfinite(class_ids)) or np.any(class_ids != np.round(class_ids)):
                raise ValueError("Detections.class_ids must be integers")
        class_ids = class_ids.astype(np.int64).reshape(-1)
        if class_ids.shape != (n,):
            raise ValueError(f"Detections.class_ids must have shape ({n},), got {class_ids.shape}")
        scores = self.scores
        if scores is not None:
            scores = np.array(scores, dtype=np.float32).reshape(-1)
            if scores.shape != (n,):
                raise ValueError(f"Detections.scores must have shape ({n},), got {scores.shape}")
        tracker_ids = self.tracker_ids
        if tracker_ids is not None:
            tracker_ids = np.asarray(tracker_ids).astype(np.int64).reshape(-1)
            if tracker_ids.shape != (n,):
                raise ValueError(f"Detections.tracker_ids must have shape ({n},), "
                                 f"got {tracker_ids.shape}")
        self.xyxy = np.ascontiguousarray(xyxy)
        self.class_ids = class_ids
        self.scores = scores
        self.tracker_ids = tracker_ids

    # -- construction -------------------------------------------------------------------
    @classmethod
    def empty(cls, with_scores: bool = True) -> Detections:
        """No boxes; with an (empty) score array unless ``with_scores=False``.

        Examples
        --------
        >>> len(Detections.empty()), Detections.empty(with_scores=False).scores is None
        (0, True)
        """
        scores = np.zeros(0, np.float32) if with_scores else None
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.int64), scores)

    @classmethod
    def concat(cls, items: Sequence[Detections]) -> Detections:
        """Stack several Detections; scores are kept only if every non-empty part has them.

        Examples
        --------
        >>> a = Detections([[0, 0, 1, 1]], [1], [0.5])
        >>> Detections.concat([a, a]).class_ids
        array([1, 1])
        """
        items = list(items)
        if not items:
            return cls.empty()
        nonempty = [d for d in items if len(d)] or items[:1]
        keep_scores = all(d.scores is not None for d in nonempty)
        keep_ids = all(d.tracker_ids is not None for d in nonempty)
        return cls(
            np.concatenate([d.xyxy for d in items]),
            np.concatenate([d.class_ids for d in items]),
            np.concatenate([d.scores if d.scores is not None else np.zeros(len(d), np.float32)
                            for d in items]) if keep_scores else None,
            np.concatenate([d.tracker_ids if d.tracker_ids is not None
                            else np.full(len(d), -1, np.int64) for d in items])
            if keep_ids else None,
        )

    @classmethod
    def from_yolo(cls, boxes: np.ndarray, class_ids: np.ndarray, width: float, height: float,
                  scores: np.ndarray | None = None) -> Detections:
        """Build from YOLO-normalised ``cx, cy, w, h`` and the image size in pixels.

        Examples
        --------
        >>> Detections.from_yolo([[0.5, 0.5, 0.5, 0.5]], [0], 100, 50).xyxy
        array([[25. , 12.5, 75. , 37.5]], dtype=float32)
        """
        return cls(yolo_to_xyxy(np.asarray(boxes, np.float64).reshape(-1, 4), width, height),
                   class_ids, scores)

    @classmethod
    def from_coco(cls, boxes: np.ndarray, class_ids: np.ndarray,
                  scores: np.ndarray | None = None) -> Detections:
        """Build from COCO ``x, y, w, h`` pixel boxes.

        Examples
        --------
        >>> Detections.from_coco([[10, 20, 30, 40]], [3]).xyxy
        array([[10., 20., 40., 60.]], dtype=float32)
        """
        return cls(xywh_to_xyxy(np.asarray(boxes, np.float64).reshape(-1, 4)), class_ids, scores)

    # -- views --------------------------------------------------------------------------
    def to_yolo(self, width: float, height: float) -> np.ndarray:
        """Boxes as YOLO-normalised ``cx, cy, w, h`` (float64)."""
        return xyxy_to_yolo(self.xyxy, width, height)

    def to_coco(self) -> np.ndarray:
        """Boxes as COCO ``x, y, w, h`` pixels (float64)."""
        return xyxy_to_xywh(self.xyxy.astype(np.float64))

    @property
    def has_scores(self) -> bool:
        """Whether these are predictions (with scores) rather than ground truth."""
        return self.scores is not None

    @property
    def area(self) -> np.ndarray:
        """Pixel area of each box (0 for degenerate boxes)."""
        return box_area(self.xyxy)

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: int | slice | np.ndarray | Sequence[int]) -> Detections:
        """Select boxes with a boolean mask, an index array, a slice or a single index."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        return Detections(
            self.xyxy[index],
            self.class_ids[index],
            None if self.scores is None else self.scores[index],
            None if self.tracker_ids is None else self.tracker_ids[index],
        )

    def __iter__(self):
        raise TypeError("iterate over len(d) indices or use boolean masks; Detections is columnar")

    def above(self, min_score: float) -> Detections:
        """The boxes scoring at least ``min_score``; ground truth (no scores) comes back whole.

        Examples
        --------
        >>> d = Detections([[0, 0, 1, 1], [0, 0, 2, 2]], [0, 1], [0.9, 0.2])
        >>> d.above(0.3).class_ids, len(Detections([[0, 0, 1, 1]], [0]).above(0.3))
        (array([0]), 1)
        """
        if self.scores is None:
            return self
        return self[self.scores >= min_score]

    def sorted_by_score(self) -> Detections:
        """A copy ordered by descending score (stable, as OpenCV and pycocotools order ties)."""
        if self.scores is None:
            return self[np.arange(len(self))]
        return self[np.argsort(-self.scores, kind="stable")]

    def __repr__(self) -> str:
        s = "" if self.scores is None else ", with scores"
        t = "" if self.tracker_ids is None else ", tracked"
        return f"Detections(n={len(self)}{s}{t})"
