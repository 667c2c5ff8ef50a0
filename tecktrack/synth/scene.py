"""Composing a scene: placing objects with controlled occlusion, labelling what is visible.

Labelling rule of the still images (the video applies the same visible-box rule with its own
threshold, see :mod:`tecktrack.synth.video`): objects are painted back to front into an
ownership map, and each labelled object's box is the tight box around its *visible* pixels
(what is left after later objects, unlabelled occluders and the image border cut it).
Placement is rejected whenever it would leave any labelled object with less than
:data:`MIN_VISIBLE` of its pixels visible, so every object drawn is labelled and no label
covers a mostly hidden object. Small objects (a side under :data:`FRAGILE_SIDE`) are kept
whole: never occluded, never cut by the border, so no box gets under :data:`MIN_SIDE`.
Distractors are painted into the background first and therefore never hide an object.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from tecktrack.detections import Detections
from tecktrack.synth.backgrounds import paint_distractors, render_background
from tecktrack.synth.objects import (
    CLASS_ASPECTS,
    CLASS_NAMES,
    CLASS_WEIGHTS,
    ROTATABLE,
    render_object,
)

#: Least fraction of an object's pixels that must stay visible for it to be placed.
MIN_VISIBLE = 0.55
#: COCO size buckets (areas in pixels at 320 x 320, scaled with the image area).
SIZE_BUCKETS: list[tuple[float, float]] = [(11.0**2, 30.0**2), (35.0**2, 90.0**2),
                                           (100.0**2, 190.0**2)]
SIZE_BUCKET_WEIGHTS = np.array([0.35, 0.40, 0.25])
#: Smallest object side in pixels, so small objects stay detectable.
MIN_SIDE = 10
#: Objects with a side below this are never occluded or cut, so their box keeps MIN_SIDE.
FRAGILE_SIDE = 2 * MIN_SIDE
_OCCLUDER = -2


@dataclass
class Canvas:
    """An image being composed plus its ownership map (which object each pixel shows).

    Examples
    --------
    >>> c = Canvas(np.zeros((50, 50, 3), np.uint8))
    >>> patch = np.full((10, 10, 3), 200, np.uint8); mask = np.full((10, 10), 255, np.uint8)
    >>> c.paint(patch, mask, 5, 5, class_id=1)
    True
    >>> c.detections().xyxy.tolist(), c.detections().class_ids.tolist()
    ([[5.0, 5.0, 15.0, 15.0]], [1])
    """

    image: np.ndarray
    min_visible: float = MIN_VISIBLE
    owner: np.ndarray = field(init=False)
    class_ids: list[int] = field(default_factory=list, init=False)
    totals: list[int] = field(default_factory=list, init=False)
    visible: list[int] = field(default_factory=list, init=False)
    fragile: list[bool] = field(default_factory=list, init=False)
    regions: list[tuple[int, int, int, int]] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.owner = np.full(self.image.shape[:2], -1, np.int16)

    def _clip(self, x: int, y: int, w: int, h: int) -> tuple[int, int, int, int] | None:
        height, width = self.owner.shape
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
        return None if x1 <= x0 or y1 <= y0 else (x0, y0, x1, y1)

    def paint(self, patch: np.ndarray, mask: np.ndarray, x: int, y: int,
              class_id: int | None, force: bool = False) -> bool:
        """Paint ``patch`` where ``mask`` is set, top-left at ``(x, y)``, if visibility allows.

        ``class_id=None`` paints an unlabelled occluder. ``force=True`` skips the visibility
        checks (video frames, where motion decides what hides what). Returns whether it was
        painted (never when the patch lies wholly outside the image).
        """
        h, w = mask.shape
        box = self._clip(x, y, w, h)
        if box is None:
            return False
        x0, y0, x1, y1 = box
        sub = mask[y0 - y:y1 - y, x0 - x:x1 - x] > 0
        total = int(np.count_nonzero(mask))
        inside = int(np.count_nonzero(sub))
        fragile = min(h, w) < FRAGILE_SIDE
        region = self.owner[y0:y1, x0:x1]
        covered = region[sub]
        stolen = np.bincount(covered[covered >= 0], minlength=len(self.totals))
        if not force and not self._allowed(class_id, fragile, inside, total, stolen):
            return False
        self.image[y0:y1, x0:x1][sub] = patch[y0 - y:y1 - y, x0 - x:x1 - x][sub]
        self.visible = (np.asarray(self.visible, np.int64) - stolen).tolist()
        if class_id is None:
            region[sub] = _OCCLUDER
            return True
        region[sub] = len(self.totals)
        self.class_ids.append(int(class_id))
        self.totals.append(total)
        self.visible.append(inside)
        self.fragile.append(fragile)
        self.regions.append(box)
        return True

    def _allowed(self, class_id: int | None, fragile: bool, inside: int, total: int,
                 stolen: np.ndarray) -> bool:
        if class_id is not None and (inside < self.min_visible * total
                                     or (fragile and inside < total)):
            return False
        if np.any(np.asarray(self.visible) - stolen < self.min_visible * np.asarray(self.totals)):
            return False
        return not np.any(stolen[np.asarray(self.fragile, bool)] > 0)

    def kept(self, min_visible: float = 0.0) -> list[int]:
        """Indices (in paint order) of the objects :meth:`detections` labels, in its order."""
        return [j for j in range(len(self.totals))
                if self.visible[j] > 0 and self.visible[j] >= min_visible * self.totals[j]]

    def detections(self, min_visible: float = 0.0) -> Detections:
        """Ground truth: the tight box around each object's visible pixels.

        Objects with no visible pixel, or fewer than ``min_visible`` of their pixels
        visible, are left out.
        """
        keep = self.kept(min_visible)
        boxes = np.zeros((len(keep), 4), np.float32)
        for k, j in enumerate(keep):
            x0, y0, x1, y1 = self.regions[j]
            ys, xs = np.nonzero(self.owner[y0:y1, x0:x1] == j)
            boxes[k] = (x0 + xs.min(), y0 + ys.min(), x0 + xs.max() + 1, y0 + ys.max() + 1)
        return Detections(boxes, np.asarray(self.class_ids, np.int64)[keep])


def sample_object_size(rng: np.random.Generator, class_id: int, size: int) -> tuple[int, int]:
    """Width and height for one object: a COCO size bucket, then area and class aspect.

    Examples
    --------
    >>> w, h = sample_object_size(np.random.default_rng(0), 2, 320)
    >>> min(w, h) >= MIN_SIDE
    True
    """
    scale = (size / 320.0) ** 2
    lo, hi = SIZE_BUCKETS[int(rng.choice(3, p=SIZE_BUCKET_WEIGHTS))]
    area = np.exp(rng.uniform(np.log(lo * scale), np.log(hi * scale)))
    a_lo, a_hi = CLASS_ASPECTS[class_id]
    aspect = np.exp(rng.uniform(np.log(a_lo), np.log(a_hi)))
    w, h = np.sqrt(area * aspect), np.sqrt(area / aspect)
    grow = max(1.0, MIN_SIDE / min(w, h))
    shrink = min(1.0, 0.85 * size / (max(w, h) * grow))
    w, h = int(round(w * grow * shrink)), int(round(h * grow * shrink))
    return max(MIN_SIDE, w), max(MIN_SIDE, h)


def _rotate(patch: np.ndarray, mask: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    h, w = mask.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(np.ceil(h * sin + w * cos)), int(np.ceil(h * cos + w * sin))
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    patch = cv2.warpAffine(patch, m, (nw, nh), flags=cv2.INTER_LINEAR)
    mask = cv2.warpAffine(mask, m, (nw, nh), flags=cv2.INTER_NEAREST)
    return patch, mask


def make_object(rng: np.random.Generator, class_id: int,
                size: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw one object of ``class_id`` sized for a ``size`` image, with per-object look.

    Examples
    --------
    >>> patch, mask = make_object(np.random.default_rng(0), 0, 320)
    >>> patch.shape[:2] == mask.shape
    True
    """
    w, h = sample_object_size(rng, class_id, size)
    patch, mask = render_object(rng, class_id, w, h)
    if class_id in ROTATABLE and rng.random() < 0.3:
        patch, mask = _rotate(patch, mask, float(rng.uniform(-15, 15)))
    patch = cv2.convertScaleAbs(patch, alpha=float(rng.uniform(0.75, 1.15)))
    return patch, mask


def _position(rng: np.random.Generator, canvas: Canvas, w: int, h: int) -> tuple[int, int]:
    height, width = canvas.owner.shape
    if canvas.regions and rng.random() < 0.35:  # near an existing object: overlaps happen
        x0, y0, x1, y1 = canvas.regions[int(rng.integers(len(canvas.regions)))]
        cx = (x0 + x1) / 2 + rng.uniform(-0.7, 0.7) * (x1 - x0 + w) / 2
        cy = (y0 + y1) / 2 + rng.uniform(-0.7, 0.7) * (y1 - y0 + h) / 2
        return int(round(cx - w / 2)), int(round(cy - h / 2))
    slack = 0.3 if rng.random() < 0.15 else 0.0  # sometimes cut by the image border
    x = rng.uniform(-slack * w, max(width - (1 - slack) * w, 1))
    y = rng.uniform(-slack * h, max(height - (1 - slack) * h, 1))
    return int(x), int(y)


def place(rng: np.random.Generator, canvas: Canvas, patch: np.ndarray, mask: np.ndarray,
          class_id: int | None, tries: int = 6) -> bool:
    """Try up to ``tries`` positions for an object (or occluder when ``class_id`` is None)."""
    h, w = mask.shape
    return any(canvas.paint(patch, mask, *_position(rng, canvas, w, h), class_id)
               for _ in range(tries))


def _occluder(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """An unlabelled foreground occluder: a striped post or a dark rounded silhouette."""
    if rng.random() < 0.5:
        w, h = int(rng.integers(5, 14)), int(rng.uniform(0.3, 0.9) * size)
        patch = np.empty((h, w, 3), np.uint8)
        stripe = (np.arange(h) // max(4, w)) % 2 == 0
        patch[stripe] = (20, 200, 230)
        patch[~stripe] = (30, 30, 30)
        return patch, np.full((h, w), 255, np.uint8)
    w, h = int(rng.uniform(0.08, 0.2) * size), int(rng.uniform(0.2, 0.45) * size)
    patch = np.full((h, w, 3), rng.integers(20, 70), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    cv2.ellipse(mask, (w // 2, h // 2), (w // 2, h // 2), 0, 0, 360, 255, -1)
    return patch, mask


def sample_classes(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` class ids drawn from the long-tailed class frequency.

    Examples
    --------
    >>> ids = sample_classes(np.random.default_rng(0), 1000)
    >>> int((ids == 0).sum()) > 10 * int((ids == len(CLASS_NAMES) - 1).sum())
    True
    """
    return rng.choice(len(CLASS_NAMES), size=n, p=CLASS_WEIGHTS / CLASS_WEIGHTS.sum())


def compose_scene(rng: np.random.Generator, size: int,
                  class_ids: np.ndarray | None = None,
                  distractors: tuple[int, int] = (1, 5)) -> tuple[np.ndarray, Detections]:
    """Render a cluttered scene with objects; returns the BGR image and its ground truth.

    Parameters
    ----------
    rng : numpy.random.Generator
        The only source of randomness.
    size : int
        Square image side in pixels.
    class_ids : array of int, optional
        Objects to try to place, back to front; default: 0-8 from the long tail.
    distractors : (int, int)
        Range of the number of unlabelled distractors.

    Examples
    --------
    >>> img, gt = compose_scene(np.random.default_rng(1), 128, np.array([0, 3]))
    >>> img.shape, len(gt) <= 2
    ((128, 128, 3), True)
    """
    if class_ids is None:
        n = 0 if rng.random() < 0.04 else int(rng.integers(1, 9))
        class_ids = sample_classes(rng, n)
    canvas = Canvas(render_background(rng, size, size))
    paint_distractors(rng, canvas.image, int(rng.integers(*distractors)))
    for class_id in class_ids:
        patch, mask = make_object(rng, int(class_id), size)
        place(rng, canvas, patch, mask, int(class_id))
    if rng.random() < 0.3:
        for _ in range(int(rng.integers(1, 3))):
            place(rng, canvas, *_occluder(rng, size), None)
    return canvas.image, canvas.detections()
