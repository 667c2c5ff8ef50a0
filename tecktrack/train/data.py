"""Training data: a YOLO split decoded into memory once, cheap augmentation, padded batches.

Images are resized (plain resize, no letterbox) to the square network input and kept as
one uint8 array; boxes are pixel corners in that input. Augmentation is a random scale
jitter, translation and horizontal flip (one affine warp per image) plus per-image
brightness, contrast and colour gains, all drawn from a seeded generator.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tecktrack.datasets.data_yaml import read_data_yaml
from tecktrack.datasets.images import imread_or_none
from tecktrack.datasets.yolo import label_path_for, read_yolo_labels
from tecktrack.errors import DatasetError
from tecktrack.progress import progress

__all__ = ["Batch", "InMemorySplit", "concat_splits", "load_split", "iterate_batches",
           "repeat_factors"]

#: Fill value of pixels an affine warp moves in from outside the image.
PAD_VALUE = 114


@dataclass
class InMemorySplit:
    """One dataset split decoded to the network input size.

    Attributes
    ----------
    images : np.ndarray
        ``(n, size, size, 3)`` uint8 RGB.
    boxes : list of np.ndarray
        Per image ``(k, 4)`` float32 pixel corners in the resized image.
    classes : list of np.ndarray
        Per image ``(k,)`` int64 class ids.
    names : list of str
        Class names from ``data.yaml``.
    paths : list of Path
        The image files, in order.
    sizes : np.ndarray
        ``(n, 2)`` int original width, height of each image.
    missing_labels : int
        Images without a label file (read as having no objects).
    """

    images: np.ndarray
    boxes: list[np.ndarray]
    classes: list[np.ndarray]
    names: list[str]
    paths: list[Path]
    sizes: np.ndarray
    missing_labels: int = 0

    def __len__(self) -> int:
        return len(self.images)


@dataclass
class Batch:
    """A padded training batch.

    Attributes
    ----------
    images : np.ndarray
        ``(B, 3, size, size)`` float32 RGB in [0, 1].
    boxes : np.ndarray
        ``(B, G, 4)`` float32 pixel corners, zero-padded.
    classes : np.ndarray
        ``(B, G)`` int64 class ids, zero-padded.
    mask : np.ndarray
        ``(B, G)`` bool, True for real boxes.
    """

    images: np.ndarray
    boxes: np.ndarray
    classes: np.ndarray
    mask: np.ndarray


def _read_image(path: Path, size: int) -> tuple[np.ndarray, int, int]:
    image = imread_or_none(path)
    if image is None:
        raise DatasetError("cannot decode image", path)
    height, width = image.shape[:2]
    resized = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(resized, cv2.COLOR_BGR2RGB), width, height


def load_split(data_yaml: str | Path, split: str, size: int,
               quiet: bool = False) -> InMemorySplit:
    """Decode every image of ``split`` in ``data_yaml`` to ``size x size`` with its boxes.

    Parameters
    ----------
    data_yaml : str or Path
        An ultralytics-style ``data.yaml`` (see :func:`tecktrack.datasets.read_data_yaml`).
    split : str
        ``"train"``, ``"val"`` or ``"test"``.
    size : int
        Network input side in pixels.
    quiet : bool
        Hide the progress bar.

    Raises
    ------
    DatasetError
        The split is not in the yaml, is empty, or an image cannot be decoded.
    FormatError
        A malformed label line (file and line named).

    Examples
    --------
    >>> split = load_split("data/synth/data.yaml", "val", 320)  # doctest: +SKIP
    >>> split.images.shape[1:]  # doctest: +SKIP
    (320, 320, 3)
    """
    config = read_data_yaml(data_yaml)
    if split not in config.splits:
        raise DatasetError(f"{split}: split not listed", config.path)
    paths = list(config.splits[split])
    if not paths:
        raise DatasetError(f"{split}: split has no images", config.path)
    images = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    sizes = np.empty((len(paths), 2), dtype=np.int64)
    boxes, classes, missing = [], [], 0
    for i, path in enumerate(progress(paths, desc=f"loading {split}", quiet=quiet)):
        images[i], width, height = _read_image(path, size)
        sizes[i] = width, height
        label = label_path_for(path)
        if not label.is_file():
            missing += 1
            boxes.append(np.zeros((0, 4), np.float32))
            classes.append(np.zeros(0, np.int64))
            continue
        det = read_yolo_labels(label, width, height, n_classes=config.nc)
        scale = np.array([size / width, size / height] * 2, dtype=np.float32)
        boxes.append(det.xyxy * scale)
        classes.append(det.class_ids.astype(np.int64))
    return InMemorySplit(images, boxes, classes, list(config.names), paths, sizes, missing)


def concat_splits(splits: list[InMemorySplit], sources: list[str | Path]) -> InMemorySplit:
    """Join loaded splits with the same class names into one (e.g. extra training data).

    Raises
    ------
    DatasetError
        Naming the source whose class names differ from the first one's.

    Examples
    --------
    >>> a = InMemorySplit(np.zeros((1, 8, 8, 3), np.uint8), [np.zeros((0, 4), np.float32)],
    ...                   [np.zeros(0, np.int64)], ["a"], [], np.full((1, 2), 8))
    >>> len(concat_splits([a, a], ["x.yaml", "y.yaml"]))
    2
    """
    for split, source in zip(splits[1:], sources[1:], strict=True):
        if split.names != splits[0].names:
            raise DatasetError(f"class names {split.names} differ from {splits[0].names} "
                               f"of {sources[0]}", source)
    return InMemorySplit(
        np.concatenate([s.images for s in splits]),
        [b for s in splits for b in s.boxes], [c for s in splits for c in s.classes],
        list(splits[0].names), [p for s in splits for p in s.paths],
        np.concatenate([s.sizes for s in splits]), sum(s.missing_labels for s in splits))


def _affine(rng: np.random.Generator, size: int, scale_jitter: float,
            flip: bool) -> np.ndarray:
    scale = rng.uniform(1.0 - scale_jitter, 1.0 + scale_jitter)
    sign = -1.0 if flip and rng.random() < 0.5 else 1.0
    span = size * (1.0 - scale)  # free room (negative when zooming in)
    tx, ty = rng.uniform(min(0.0, span), max(0.0, span), size=2)
    if sign < 0:
        tx += size * scale
    return np.array([[sign * scale, 0.0, tx], [0.0, scale, ty]], dtype=np.float32)


def _warp_boxes(boxes: np.ndarray, matrix: np.ndarray, size: int,
                min_visible: float) -> tuple[np.ndarray, np.ndarray]:
    # cv2 maps pixel centres (integer indices); box edges sit half a pixel off them
    xs = boxes[:, [0, 2]] * matrix[0, 0] + matrix[0, 2] + 0.5 * (1 - matrix[0, 0])
    ys = boxes[:, [1, 3]] * matrix[1, 1] + matrix[1, 2] + 0.5 * (1 - matrix[1, 1])
    warped = np.stack([xs.min(1), ys.min(1), xs.max(1), ys.max(1)], axis=1)
    clipped = np.clip(warped, 0, size)
    full = np.prod(warped[:, 2:] - warped[:, :2], axis=1)
    seen = np.prod(clipped[:, 2:] - clipped[:, :2], axis=1)
    keep = (seen >= min_visible * np.maximum(full, 1e-6)) & np.all(
        clipped[:, 2:] - clipped[:, :2] >= 2.0, axis=1)
    return clipped.astype(np.float32), keep


def _colour(rng: np.random.Generator, images: np.ndarray, strength: float) -> np.ndarray:
    n = len(images)
    gain = rng.uniform(1 - strength, 1 + strength, size=(n, 1, 1, 1))
    tint = rng.uniform(1 - strength / 4, 1 + strength / 4, size=(n, 1, 1, 3))
    mean = images.mean(axis=(1, 2, 3), keepdims=True)
    contrast = rng.uniform(1 - strength, 1 + strength, size=(n, 1, 1, 1))
    bias = rng.uniform(-strength / 4, strength / 4, size=(n, 1, 1, 1))
    out = ((images - mean) * contrast + mean) * gain * tint + bias
    return np.clip(out, 0.0, 1.0, out=out).astype(np.float32)


def make_batch(split: InMemorySplit, indices: np.ndarray, rng: np.random.Generator | None,
               scale_jitter: float = 0.15, colour: float = 0.2, flip: bool = True,
               min_visible: float = 0.4) -> Batch:
    """Assemble (and, when ``rng`` is given, augment) the images at ``indices``.

    Examples
    --------
    >>> boxes = [np.array([[4, 4, 20, 20]], np.float32), np.zeros((0, 4), np.float32)]
    >>> split = InMemorySplit(np.zeros((2, 32, 32, 3), np.uint8), boxes,
    ...                       [np.array([1]), np.zeros(0, np.int64)], ["a", "b"], [],
    ...                       np.full((2, 2), 32))
    >>> b = make_batch(split, np.array([0, 1]), None)
    >>> b.images.shape, b.boxes.shape, b.mask.tolist()
    ((2, 3, 32, 32), (2, 1, 4), [[True], [False]])
    """
    size = split.images.shape[1]
    images = np.empty((len(indices), size, size, 3), dtype=np.uint8)
    boxes, classes = [], []
    for j, i in enumerate(indices):
        box, cls = split.boxes[i], split.classes[i]
        if rng is None:
            images[j] = split.images[i]
        else:
            matrix = _affine(rng, size, scale_jitter, flip)
            images[j] = cv2.warpAffine(split.images[i], matrix, (size, size),
                                       flags=cv2.INTER_LINEAR, borderValue=(PAD_VALUE,) * 3)
            box, keep = _warp_boxes(box, matrix, size, min_visible)
            box, cls = box[keep], cls[keep]
        boxes.append(box)
        classes.append(cls)
    floats = images.astype(np.float32) / 255.0
    if rng is not None and colour > 0:
        floats = _colour(rng, floats, colour)
    return _pad(floats.transpose(0, 3, 1, 2), boxes, classes)


def _pad(images: np.ndarray, boxes: list[np.ndarray], classes: list[np.ndarray]) -> Batch:
    most = max(1, max(len(b) for b in boxes))
    out_boxes = np.zeros((len(boxes), most, 4), np.float32)
    out_classes = np.zeros((len(boxes), most), np.int64)
    mask = np.zeros((len(boxes), most), bool)
    for j, (box, cls) in enumerate(zip(boxes, classes, strict=True)):
        out_boxes[j, : len(box)] = box
        out_classes[j, : len(cls)] = cls
        mask[j, : len(box)] = True
    return Batch(np.ascontiguousarray(images), out_boxes, out_classes, mask)


def repeat_factors(split: InMemorySplit, threshold: float) -> np.ndarray:
    """Per-image sampling weights that favour images holding rare classes (LVIS-style).

    A class seen in a fraction ``f`` of the images gets ``max(1, sqrt(threshold / f))``;
    an image gets the largest factor among its classes (1 when it has no boxes). Classes
    in more than ``threshold`` of the images are not boosted; ``threshold=0`` gives all ones.

    Examples
    --------
    >>> classes = [np.array([0]), np.array([0]), np.array([0]), np.array([0, 1])]
    >>> split = InMemorySplit(np.zeros((4, 8, 8, 3), np.uint8), [np.zeros((1, 4))] * 4,
    ...                       classes, ["a", "b"], [], np.full((4, 2), 8))
    >>> repeat_factors(split, 1.0).round(3).tolist()
    [1.0, 1.0, 1.0, 2.0]
    """
    n, nc = len(split), len(split.names)
    present = np.zeros((n, nc), dtype=bool)
    for i, cls in enumerate(split.classes):
        present[i, cls] = True
    frequency = present.mean(axis=0)
    per_class = np.sqrt(threshold / np.maximum(frequency, 1e-12)).clip(min=1.0)
    return np.where(present, per_class, 1.0).max(axis=1, initial=1.0)


def iterate_batches(split: InMemorySplit, batch_size: int, seed: int,
                    augment: bool = True,
                    weights: np.ndarray | None = None) -> Iterator[Batch]:
    """One epoch of shuffled (augmented) batches; the last partial batch is dropped.

    With ``weights`` (e.g. :func:`repeat_factors`) the epoch draws ``len(split)`` images
    with replacement, each with probability proportional to its weight; without, it is
    a permutation.

    Examples
    --------
    >>> no_boxes = [np.zeros((0, 4), np.float32)] * 5
    >>> split = InMemorySplit(np.zeros((5, 16, 16, 3), np.uint8), no_boxes,
    ...                       [np.zeros(0, np.int64)] * 5, ["a"], [], np.full((5, 2), 16))
    >>> [b.images.shape[0] for b in iterate_batches(split, 2, seed=0)]
    [2, 2]
    """
    rng = np.random.default_rng(seed)
    if weights is None:
        order = rng.permutation(len(split))
    else:
        order = rng.choice(len(split), size=len(split), replace=True, p=weights / weights.sum())
    for start in range(0, len(order) - batch_size + 1, batch_size):
        yield make_batch(split, order[start:start + batch_size], rng if augment else None)
