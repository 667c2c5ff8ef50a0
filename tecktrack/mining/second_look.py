"""A second, closer look at suspicious boxes: the detector re-run on a zoomed crop.

A detector that misses a 12-pixel object in the whole frame usually finds it once the region
around it is cropped and resized to the network input (the idea behind sliced inference such
as SAHI). Label-issue ranking uses this to tell a real object the detector overlooked
(found on the second look) from a spurious label (nothing there at any scale), and to
confirm an unlabelled detection (still there, same class, when seen closer).

The window of a box is a square of side ``factor x max(w, h)`` pixels, at least
``min_side`` and at most the shorter image side, centred on the box and shifted to lie
inside the image. Boxes larger than ``1 / factor`` of the image get the whole-image square
around them: for them the second look is an independent re-run at about the same scale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from tecktrack.detections import box_iou, cxcywh_to_xyxy
from tecktrack.errors import DatasetError
from tecktrack.progress import progress

__all__ = ["SecondLook", "image_groups", "look_at_image", "zoom_windows"]

_BATCH = 16


def zoom_windows(xyxy: np.ndarray, width: int, height: int, factor: float = 4.0,
                 min_side: int = 64) -> np.ndarray:
    """Square crop windows ``(x0, y0, x1, y1)`` (ints, inside the image) around pixel boxes.

    Parameters
    ----------
    xyxy : ndarray, shape (n, 4)
        Boxes in pixels.
    width, height : int
        Image size.
    factor : float
        Window side as a multiple of the box's longer side.
    min_side : int
        Smallest window side in pixels (tiny boxes still get some context).

    Examples
    --------
    >>> zoom_windows(np.array([[100, 100, 110, 120]]), 320, 320).tolist()
    [[65, 70, 145, 150]]
    >>> zoom_windows(np.array([[0, 0, 300, 100]]), 320, 240).tolist()   # whole-height square
    [[30, 0, 270, 240]]
    """
    xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4)
    longer = np.maximum(xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1])
    side = np.clip(np.round(factor * longer), min_side, min(width, height)).astype(np.int64)
    centre = (xyxy[:, :2] + xyxy[:, 2:]) / 2
    limit = np.array([width, height])[None] - side[:, None]
    lo = np.clip(np.round(centre - side[:, None] / 2), 0, limit).astype(np.int64)
    return np.concatenate([lo, lo + side[:, None]], axis=1)


class SecondLook:
    """Re-run a detector on zoomed crops around boxes and report what it finds there.

    Parameters
    ----------
    model : tecktrack.model.Model
        Any loaded detector (its own ``conf`` is ignored; ``conf`` below is used).
    images : mapping of str to path
        Image path per stem (see :func:`tecktrack.mining.images_by_stem`).
    factor, min_side : float, int
        Window size (see :func:`zoom_windows`).
    conf : float
        Score threshold of the second look.
    quiet : bool
        No progress bar.

    Examples
    --------
    >>> from tecktrack.mining.sources import images_by_stem
    >>> images = images_by_stem("data/synth-noisy")                     # doctest: +SKIP
    >>> look = SecondLook(load_model("demo-s"), images)                 # doctest: +SKIP
    >>> look.evidence(["000010"], np.array([[0.3, 0.7, 0.05, 0.05]]))  # doctest: +SKIP
    array([0.83])
    """

    def __init__(self, model, images: Mapping[str, str | Path], *, factor: float = 4.0,
                 min_side: int = 64, conf: float = 0.01, quiet: bool = True):
        self.model = model
        self.images = {k: Path(v) for k, v in images.items()}
        self.factor = float(factor)
        self.min_side = int(min_side)
        self.conf = float(conf)
        self.quiet = quiet

    def evidence(self, stems: Sequence[str], boxes: np.ndarray, class_ids: np.ndarray | None = None,
                 min_iou: float = 0.3) -> np.ndarray:
        """Top second-look confidence overlapping each box by IoU >= ``min_iou`` (0 if none).

        Parameters
        ----------
        stems : sequence of str
            Image stem of each box.
        boxes : ndarray, shape (n, 4)
            Normalised ``cx cy w h`` boxes (YOLO label coordinates).
        class_ids : ndarray, optional
            Count only second-look detections of the box's class; any class when ``None``.
        min_iou : float
            Overlap a detection needs to count for a box.

        Raises
        ------
        DatasetError
            A stem has no image.
        """
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        out = np.zeros(len(boxes))
        stems = self.checked_stems(stems)
        groups = image_groups(stems)
        for rows in progress([g for g in groups if len(g)], desc="second look", quiet=self.quiet,
                             unit="image"):
            out[rows] = look_at_image(self.model, self.images[stems[rows[0]]], boxes[rows],
                                      None if class_ids is None else class_ids[rows],
                                      factor=self.factor, min_side=self.min_side,
                                      conf=self.conf, min_iou=min_iou)
        return out

    def checked_stems(self, stems: Sequence[str]) -> np.ndarray:
        """``stems`` as an object array, refused with a :class:`DatasetError` when any of them
        has no image."""
        stems = np.asarray(stems, dtype=object)
        missing = self.missing(stems)
        if missing:
            raise DatasetError(f"no image for {len(missing)} labelled stem(s) needed by the "
                               f"second look, e.g. {missing[0]!r}")
        return stems

    def missing(self, stems: Sequence[str]) -> list[str]:
        """Stems without an image, sorted."""
        return sorted(set(np.asarray(stems, dtype=object).tolist()) - set(self.images))


def image_groups(stems: Sequence[str]) -> list[np.ndarray]:
    """Row indices grouped by stem, groups in sorted stem order (rows stable inside).

    Examples
    --------
    >>> [g.tolist() for g in image_groups(["b", "a", "b"])]
    [[1], [0, 2]]
    """
    stems = np.asarray(stems, dtype=object)
    if not len(stems):
        return []
    order = np.argsort(stems, kind="stable")
    return np.split(order, np.flatnonzero(stems[order][1:] != stems[order][:-1]) + 1)


def look_at_image(model, image_path: str | Path, boxes: np.ndarray,
                  class_ids: np.ndarray | None = None, *, factor: float = 4.0,
                  min_side: int = 64, conf: float = 0.01, min_iou: float = 0.3) -> np.ndarray:
    """:meth:`SecondLook.evidence` for the boxes of one image: read it, zoom, re-run.

    Returns the top second-look confidence overlapping each box (0 if none).
    """
    from tecktrack.datasets.images import read_image

    out = np.zeros(len(boxes))
    image = read_image(image_path)
    height, width = image.shape[:2]
    xyxy = cxcywh_to_xyxy(boxes) * np.array([width, height, width, height])
    windows = zoom_windows(xyxy, width, height, factor, min_side)
    crops = [image[y0:y1, x0:x1] for x0, y0, x1, y1 in windows]
    found = model.predict_batch(crops, batch_size=_BATCH, conf=conf)
    for k, (det, win) in enumerate(zip(found, windows, strict=True)):
        if not len(det):
            continue
        shifted = det.xyxy + np.tile(win[:2], 2).astype(np.float32)
        ok = box_iou(xyxy[k:k + 1], shifted)[0] >= min_iou
        if class_ids is not None:
            ok &= det.class_ids == class_ids[k]
        if ok.any():
            out[k] = float(det.scores[ok].max())
    return out
