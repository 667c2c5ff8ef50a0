"""Writing what a detector found: YOLO prediction files and annotated images.

The model computes; this module owns the files (the batch writer and the
:class:`~tecktrack.inference.InferenceService` pipeline both write through it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tecktrack.datasets.yolo import write_yolo_labels
from tecktrack.detections import Detections
from tecktrack.draw import draw_detections
from tecktrack.errors import FormatError

__all__ = ["save_predictions", "write_image"]


def save_predictions(frame: np.ndarray, detections: Detections, names: Sequence[str],
                     label_path: str | Path, image_path: str | Path | None = None,
                     trails: dict[int, np.ndarray] | None = None) -> None:
    """Write YOLO ``class cx cy w h conf`` lines, and optionally an annotated image.

    Parameters
    ----------
    frame : numpy.ndarray
        The BGR frame the detections belong to (its size normalises the boxes).
    detections : Detections
        Predictions in frame pixels.
    names : sequence of str
        Class names, drawn on the annotated image.
    label_path : str or Path
        Text file to write (parents created; empty file when there are no detections).
    image_path : str or Path, optional
        Where to write the frame with boxes, class names and scores drawn on a copy
        (tracked boxes also show ``#id`` and, with ``trails``, their recent path).
    trails : dict of int to (k, 2) array, optional
        Recent centre points per track id, drawn on the annotated image.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> save_predictions(np.zeros((10, 20, 3), np.uint8),
    ...                  Detections([[0, 0, 10, 10]], [0], [0.5]), ["x"], d / "a.txt")
    >>> (d / "a.txt").read_text()
    '0 0.250000 0.500000 0.500000 1.000000 0.500000\\n'
    """
    height, width = frame.shape[:2]
    write_yolo_labels(label_path, detections, width, height)
    if image_path is not None:
        write_image(image_path, draw_detections(frame, detections, names, trails=trails))


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write an image with OpenCV, creating parent folders; raise if it cannot be written.

    Examples
    --------
    >>> import tempfile
    >>> write_image(Path(tempfile.mkdtemp()) / "x" / "a.png", np.zeros((2, 2, 3), np.uint8))
    """
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise FormatError("cannot write image (unknown extension or unwritable folder)", path)
