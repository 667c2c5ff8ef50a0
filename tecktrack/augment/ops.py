"""Box-aware image augmentations: flip, blur, resize, rotate, brightness, contrast.

Every operation takes a BGR ``uint8`` image (H, W, 3) and its labels as
:class:`~tecktrack.detections.Detections` (pixel corners) and returns an :class:`Augmented`
``(image, labels, dropped)``; inputs are never modified.

Geometry conventions (the ones OpenCV and albumentations use): pixel ``i`` covers the
continuous interval ``[i, i + 1]``, so the image centre is ``(W/2, H/2)`` in box coordinates
and ``((W-1)/2, (H-1)/2)`` in pixel indices. Rotation is counter-clockwise for positive
angles, about the centre, on the same canvas (corners are cut, uncovered area is black).
A rotated box becomes the axis-aligned box around its four rotated corners, clipped to the
image; a box keeping less than ``min_visibility`` of its rotated area inside the image is
dropped, and the count is returned in ``dropped``.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from tecktrack.detections import Detections, box_area

__all__ = [
    "Augmented",
    "brightness",
    "contrast",
    "gaussian_blur",
    "hflip",
    "resize",
    "rotate",
    "rotate90",
]


class Augmented(NamedTuple):
    """Result of one augmentation.

    Attributes
    ----------
    image : ndarray
        The new BGR uint8 image.
    labels : Detections
        Boxes in the new image's pixel corners (scores kept when present).
    dropped : int
        Boxes removed because too little of them stayed inside the image.
    """

    image: np.ndarray
    labels: Detections
    dropped: int = 0


def _check(image: np.ndarray) -> tuple[int, int]:
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or image.size == 0:
        shape = getattr(image, "shape", image)
        raise ValueError(f"expected an (H, W[, C]) image array, got {shape}")
    return image.shape[1], image.shape[0]


def _with_boxes(labels: Detections, xyxy: np.ndarray, keep: np.ndarray | None = None) -> Detections:
    if keep is None:
        keep = np.ones(len(labels), bool)
    scores = None if labels.scores is None else labels.scores[keep]
    return Detections(xyxy[keep], labels.class_ids[keep], scores)


def hflip(image: np.ndarray, labels: Detections) -> Augmented:
    """Mirror left-right: ``x -> W - x``.

    Examples
    --------
    >>> img = np.zeros((10, 20, 3), np.uint8)
    >>> hflip(img, Detections([[2, 1, 5, 4]], [0])).labels.xyxy
    array([[15.,  1., 18.,  4.]], dtype=float32)
    """
    w, _ = _check(image)
    xyxy = labels.xyxy.copy()
    xyxy[:, [0, 2]] = w - labels.xyxy[:, [2, 0]]
    return Augmented(cv2.flip(image, 1), _with_boxes(labels, xyxy))


def gaussian_blur(image: np.ndarray, labels: Detections, sigma: float = 1.5) -> Augmented:
    """Gaussian blur with standard deviation ``sigma`` pixels (kernel ``2*ceil(3 sigma)+1``).

    Boxes are unchanged.

    Examples
    --------
    >>> img = np.zeros((9, 9, 3), np.uint8); img[4, 4] = 255
    >>> int(gaussian_blur(img, Detections.empty(), 1.0).image[4, 4, 0]) < 255
    True
    """
    _check(image)
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    k = 2 * int(np.ceil(3 * sigma)) + 1
    return Augmented(cv2.GaussianBlur(image, (k, k), sigma), _with_boxes(labels, labels.xyxy))


def resize(image: np.ndarray, labels: Detections, width: int, height: int) -> Augmented:
    """Resize to ``width x height`` (bilinear, area when shrinking); boxes scale with it.

    Examples
    --------
    >>> img = np.zeros((10, 20, 3), np.uint8)
    >>> r = resize(img, Detections([[2, 1, 6, 5]], [0]), 40, 5)
    >>> r.image.shape, r.labels.xyxy
    ((5, 40, 3), array([[ 4. ,  0.5, 12. ,  2.5]], dtype=float32))
    """
    w, h = _check(image)
    if width < 1 or height < 1:
        raise ValueError(f"target size must be >= 1, got {width}x{height}")
    shrink = width * height < w * h
    out = cv2.resize(image, (int(width), int(height)),
                     interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    scale = np.array([width / w, height / h, width / w, height / h], np.float64)
    return Augmented(out, _with_boxes(labels, labels.xyxy.astype(np.float64) * scale))


def rotate(image: np.ndarray, labels: Detections, angle: float, *,
           min_visibility: float = 0.3) -> Augmented:
    """Rotate counter-clockwise by ``angle`` degrees about the centre, same canvas size.

    Each box becomes the axis-aligned bounding box of its four rotated corners, clipped to
    the image. A box whose clipped area is below ``min_visibility`` times its unclipped
    rotated area is dropped (counted in ``dropped``).

    Examples
    --------
    >>> img = np.zeros((100, 100, 3), np.uint8)
    >>> r = rotate(img, Detections([[10, 40, 30, 60]], [0]), 90)
    >>> np.round(r.labels.xyxy, 3), r.dropped
    (array([[40., 70., 60., 90.]], dtype=float32), 0)
    """
    w, h = _check(image)
    if not 0 <= min_visibility <= 1:
        raise ValueError(f"min_visibility must be in [0, 1], got {min_visibility}")
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), float(angle), 1.0)
    out = cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    box = _rotated_boxes(labels.xyxy.astype(np.float64), matrix[:, :2], (w / 2, h / 2))
    clipped = np.clip(box, 0, [w, h, w, h])
    full = box_area(box)
    visible = np.zeros(len(box))
    np.divide(box_area(clipped), full, out=visible, where=full > 0)
    keep = visible >= max(min_visibility, 1e-12)
    return Augmented(out, _with_boxes(labels, clipped, keep), int((~keep).sum()))


def _rotated_boxes(xyxy: np.ndarray, rot: np.ndarray, centre: tuple[float, float]) -> np.ndarray:
    """Axis-aligned hull of the four corners of each box after ``rot`` about ``centre``."""
    corners = xyxy[:, [[0, 1], [2, 1], [2, 3], [0, 3]]]           # (n, 4, 2)
    c = np.asarray(centre, np.float64)
    moved = (corners - c) @ rot.T + c
    return np.concatenate([moved.min(axis=1), moved.max(axis=1)], axis=1)


def rotate90(image: np.ndarray, labels: Detections, k: int = 1) -> Augmented:
    """Rotate by ``k`` quarter turns counter-clockwise, exactly (the canvas turns with it).

    Examples
    --------
    >>> img = np.zeros((10, 20, 3), np.uint8)
    >>> r = rotate90(img, Detections([[2, 1, 5, 4]], [0]))
    >>> r.image.shape, r.labels.xyxy
    ((20, 10, 3), array([[ 1., 15.,  4., 18.]], dtype=float32))
    """
    _check(image)
    out, xyxy = image, labels.xyxy.astype(np.float64)
    for _ in range(int(k) % 4):
        w = out.shape[1]
        xyxy = np.stack([xyxy[:, 1], w - xyxy[:, 2], xyxy[:, 3], w - xyxy[:, 0]], axis=1)
        out = np.rot90(out)
    return Augmented(np.ascontiguousarray(out), _with_boxes(labels, xyxy))


def brightness(image: np.ndarray, labels: Detections, delta: float) -> Augmented:
    """Add ``delta`` (in 0-255 units) to every pixel, saturating; boxes unchanged.

    Examples
    --------
    >>> img = np.full((2, 2, 3), 250, np.uint8)
    >>> int(brightness(img, Detections.empty(), 20).image.max())
    255
    """
    _check(image)
    return Augmented(_lut(image, np.arange(256) + float(delta)), _with_boxes(labels, labels.xyxy))


def contrast(image: np.ndarray, labels: Detections, factor: float) -> Augmented:
    """Scale each pixel's distance from the image mean by ``factor``; boxes unchanged.

    Examples
    --------
    >>> img = np.array([[[100] * 3, [200] * 3]], np.uint8)
    >>> contrast(img, Detections.empty(), 2.0).image[0, :, 0]
    array([ 50, 250], dtype=uint8)
    """
    _check(image)
    if factor < 0:
        raise ValueError(f"contrast factor must be >= 0, got {factor}")
    channels = 1 if image.ndim == 2 else min(image.shape[2], 4)
    mean = float(np.mean(cv2.mean(image)[:channels]))
    table = (np.arange(256) - mean) * float(factor) + mean
    return Augmented(_lut(image, table), _with_boxes(labels, labels.xyxy))


def _lut(image: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Apply a 256-entry intensity map (rounded, saturated) to a uint8 image."""
    lut = np.rint(np.clip(table, 0, 255)).astype(np.uint8)
    return cv2.LUT(np.ascontiguousarray(image, dtype=np.uint8), lut).reshape(image.shape)
