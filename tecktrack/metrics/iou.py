"""IoU of COCO ``x, y, w, h`` boxes, computed the way pycocotools computes it.

pycocotools' ``bbIou`` (``common/maskApi.c``) works on the ``bbox`` values as given, in
double: the intersection runs from ``max(x)`` to ``min(x + w)`` (likewise in y), the areas are
``w * h``, and the union is ``da + ga - i`` (the detection's own area for crowd ground truth).
Corners rebuilt from ``x + w`` give a different last bit of ``w``, and float32 corners a
different seventh digit, so an IoU that sits on a threshold (two-decimal boxes often do) can
land on the other side. Evaluating on the same double ``x, y, w, h`` with the same order of
operations gives bit-identical IoUs.
"""

from __future__ import annotations

import numpy as np

__all__ = ["coco_iou", "corner_iou", "far_corners"]


def far_corners(xywh: np.ndarray) -> np.ndarray:
    """``x, y, x + w, y + h`` in float64: the sums ``bbIou`` forms (addition commutes, so
    forming them once per box gives the same bits as forming them per pair).

    Examples
    --------
    >>> far_corners(np.array([[318.48, 10, 54.69, 20]])).tolist()
    [[318.48, 10.0, 373.17, 30.0]]
    """
    xywh = np.asarray(xywh, np.float64).reshape(-1, 4)
    return np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)


def corner_iou(dt_xyxy: np.ndarray, gt_xyxy: np.ndarray, dt_area: np.ndarray,
               gt_area: np.ndarray, crowd: np.ndarray | None = None) -> np.ndarray:
    """:func:`coco_iou` from :func:`far_corners` and the ``w * h`` areas formed beforehand.

    The matcher gathers these per pair; the arithmetic is ``bbIou``'s, so the values are
    bit-identical to :func:`coco_iou` on the boxes they came from.

    Examples
    --------
    >>> d, g = np.array([[0.0, 0, 2, 2]]), np.array([[1.0, 0, 2, 2]])
    >>> corner_iou(far_corners(d), far_corners(g), np.array([4.0]), np.array([4.0]))
    array([0.33333333])
    """
    w = np.minimum(dt_xyxy[:, 2], gt_xyxy[:, 2])
    w -= np.maximum(dt_xyxy[:, 0], gt_xyxy[:, 0])
    h = np.minimum(dt_xyxy[:, 3], gt_xyxy[:, 3])
    h -= np.maximum(dt_xyxy[:, 1], gt_xyxy[:, 1])
    overlap = (w > 0) & (h > 0)
    inter = w * h
    union = dt_area + gt_area
    union -= inter                                 # (da + ga) - i, as C evaluates da+ga-i
    if crowd is not None:
        union = np.where(crowd, dt_area, union)
    out = np.zeros(len(inter))
    np.divide(inter, union, out=out, where=overlap)
    return out


def coco_iou(dt: np.ndarray, gt: np.ndarray, crowd: np.ndarray | None = None) -> np.ndarray:
    """IoU of row-aligned pairs of COCO boxes ``dt[i]``, ``gt[i]`` (float64, shape ``(n,)``).

    Parameters
    ----------
    dt, gt : ndarray, shape (n, 4)
        Detection and ground-truth boxes as COCO ``x, y, w, h`` (float64).
    crowd : ndarray of bool, shape (n,), optional
        Where true, the union is the detection's own area (COCO's rule for crowd ground truth).

    Returns
    -------
    ndarray, shape (n,)
        Bit-identical to ``pycocotools.mask.iou``; 0 where the boxes do not overlap.

    Examples
    --------
    >>> float(coco_iou(np.array([[336.71000000000004, 10, 54.69, 20]]),
    ...                np.array([[318.48, 10, 54.69, 20]]))[0])
    0.4999999999999996
    >>> coco_iou(np.array([[0.0, 0, 2, 2], [0, 0, 2, 2]]), np.array([[1.0, 0, 2, 2]] * 2),
    ...          crowd=np.array([False, True]))
    array([0.33333333, 0.5       ])
    """
    dt = np.asarray(dt, np.float64).reshape(-1, 4)
    gt = np.asarray(gt, np.float64).reshape(-1, 4)
    return corner_iou(far_corners(dt), far_corners(gt), dt[:, 2] * dt[:, 3],
                      gt[:, 2] * gt[:, 3], crowd)
