"""Copy-paste augmentation: cut labelled objects out of one image, paste them onto another.

Following the seed: every labelled box is cut out of the source image (the crops), the
source's own background is kept by filling the cut-out areas (inpainting), and crops are
pasted at random *free* places (not overlapping any box already there) on another image's
background, with matching labels. Placement is seeded.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from tecktrack.augment.ops import Augmented
from tecktrack.detections import Detections, box_iou

__all__ = ["Crop", "copy_paste", "cut_objects", "paste_objects"]

_INPAINT_SCALE = 4


class Crop(NamedTuple):
    """One labelled object cut out of an image."""

    pixels: np.ndarray
    class_id: int


def cut_objects(image: np.ndarray, labels: Detections) -> tuple[np.ndarray, list[Crop]]:
    """Cut every labelled box out; return the filled background and the crops.

    The background is the image with each box area filled by OpenCV inpainting (Telea),
    done at 1/4 resolution and composited back into the boxes only, so the rest of the
    image is untouched. Boxes are rounded outwards to whole pixels and clipped.

    Examples
    --------
    >>> img = np.full((40, 40, 3), 90, np.uint8); img[10:20, 10:20] = 255
    >>> bg, crops = cut_objects(img, Detections([[10, 10, 20, 20]], [3]))
    >>> crops[0].pixels.shape, crops[0].class_id, int(bg[15, 15, 0]) < 200
    ((10, 10, 3), 3, True)
    """
    h, w = image.shape[:2]
    boxes = _pixel_boxes(labels.xyxy, w, h)
    crops = [Crop(image[y1:y2, x1:x2].copy(), int(c))
             for (x1, y1, x2, y2), c in zip(boxes, labels.class_ids, strict=True)
             if x2 > x1 and y2 > y1]
    mask = np.zeros((h, w), np.uint8)
    for x1, y1, x2, y2 in boxes:
        mask[y1:y2, x1:x2] = 255
    return _fill(image, mask), crops


def paste_objects(background: np.ndarray, labels: Detections, crops: list[Crop],
                  rng: np.random.Generator, *, tries: int = 50) -> Augmented:
    """Paste ``crops`` at random places that overlap no existing or pasted box.

    A crop larger than the background is shrunk to fit; a crop with no free place after
    ``tries`` random positions is skipped and counted in ``dropped``.

    Examples
    --------
    >>> bg = np.zeros((50, 50, 3), np.uint8)
    >>> crop = Crop(np.full((10, 10, 3), 255, np.uint8), 2)
    >>> out = paste_objects(bg, Detections.empty(with_scores=False), [crop],
    ...                     np.random.default_rng(0))
    >>> out.labels.class_ids, out.dropped, int(out.image.sum() // 255)
    (array([2]), 0, 300)
    """
    h, w = background.shape[:2]
    out = background.copy()
    boxes = [labels.xyxy.astype(np.float64)]
    classes = [labels.class_ids]
    dropped = 0
    for crop in crops:
        pixels = _fit(crop.pixels, w, h)
        ch, cw = pixels.shape[:2]
        place = _free_place(rng, np.concatenate(boxes), cw, ch, w, h, tries)
        if place is None:
            dropped += 1
            continue
        x, y = place
        out[y:y + ch, x:x + cw] = pixels
        boxes.append(np.array([[x, y, x + cw, y + ch]], np.float64))
        classes.append(np.array([crop.class_id]))
    return Augmented(out, Detections(np.concatenate(boxes), np.concatenate(classes)), dropped)


def copy_paste(source: np.ndarray, source_labels: Detections, target: np.ndarray,
               target_labels: Detections, *, seed: int = 0,
               keep_target_objects: bool = False) -> Augmented:
    """Paste every object of ``source`` onto ``target``'s background at free random places.

    By default the target's own objects are cut out first (its background only, as in the
    seed); with ``keep_target_objects`` they stay, labelled, and pasted crops avoid them.

    Examples
    --------
    >>> src = np.zeros((40, 40, 3), np.uint8); src[5:15, 5:15] = 200
    >>> out = copy_paste(src, Detections([[5, 5, 15, 15]], [1]), np.zeros((60, 60, 3), np.uint8),
    ...                  Detections.empty(with_scores=False), seed=1)
    >>> len(out.labels), out.image.shape
    (1, (60, 60, 3))
    """
    _, crops = cut_objects(source, source_labels)
    if keep_target_objects:
        background, kept = target, Detections(target_labels.xyxy, target_labels.class_ids)
    else:
        background, _ = cut_objects(target, target_labels)
        kept = Detections.empty(with_scores=False)
    out = paste_objects(background, kept, crops, np.random.default_rng(seed))
    # a box with no whole pixel inside the image has nothing to cut: dropped, and counted
    return out._replace(dropped=out.dropped + len(source_labels) - len(crops))


def _pixel_boxes(xyxy: np.ndarray, w: int, h: int) -> np.ndarray:
    lo = np.floor(xyxy[:, :2]).clip(0, [w, h])
    hi = np.ceil(xyxy[:, 2:]).clip(0, [w, h])
    return np.concatenate([lo, hi], axis=1).astype(np.int64)


def _fill(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    if not mask.any():
        return image.copy()
    h, w = mask.shape
    small = (max(1, w // _INPAINT_SCALE), max(1, h // _INPAINT_SCALE))
    small_img = cv2.resize(image, small, interpolation=cv2.INTER_AREA)
    small_mask = cv2.resize(mask, small, interpolation=cv2.INTER_NEAREST)
    small_mask = cv2.dilate(small_mask, np.ones((3, 3), np.uint8))
    filled = cv2.inpaint(small_img, small_mask, 3, cv2.INPAINT_TELEA)
    filled = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
    out = image.copy()
    out[mask > 0] = filled[mask > 0]
    return out


def _fit(pixels: np.ndarray, w: int, h: int) -> np.ndarray:
    ch, cw = pixels.shape[:2]
    scale = min(1.0, w / cw, h / ch)
    if scale >= 1.0:
        return pixels
    size = (max(1, int(cw * scale)), max(1, int(ch * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


def _free_place(rng: np.random.Generator, boxes: np.ndarray, cw: int, ch: int, w: int, h: int,
                tries: int) -> tuple[int, int] | None:
    """First of ``tries`` random top-left corners whose box overlaps none of ``boxes``."""
    xs = rng.integers(0, w - cw + 1, tries)
    ys = rng.integers(0, h - ch + 1, tries)
    cand = np.stack([xs, ys, xs + cw, ys + ch], axis=1).astype(np.float64)
    free = ~np.any(box_iou(cand, boxes) > 0, axis=1) if len(boxes) else np.ones(tries, bool)
    if not free.any():
        return None
    i = int(np.argmax(free))
    return int(xs[i]), int(ys[i])
