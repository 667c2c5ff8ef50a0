"""A detector over image files, the next file decoded while the last one is predicted."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tecktrack.datasets.images import read_image
from tecktrack.detections import Detections
from tecktrack.model.core import Model
from tecktrack.model.overlap import overlapped
from tecktrack.model.protocol import Detector
from tecktrack.progress import progress

__all__ = ["detect_files"]


def detect_files(detector: Detector, paths: Sequence[str | Path], *, desc: str = "predict",
                 quiet: bool = False) -> tuple[list[Detections], list[tuple[int, int]]]:
    """``detector.predict(read_image(path))`` for every path, in order, and each image's
    ``(width, height)``.

    A TeckTrack :class:`~tecktrack.model.Model` with :attr:`~tecktrack.model.Model.overlap`
    predicts on a helper thread while the next image is decoded on this one
    (:func:`~tecktrack.model.overlap.overlapped`); decoding stays here because
    :func:`~tecktrack.datasets.images.read_image` points the process's stderr at a file
    meanwhile, where it must never catch the progress bar (which also advances here). Other
    detectors run one image after the other. The same detections either way.

    Raises
    ------
    FormatError
        Naming the first image that cannot be decoded.

    Examples
    --------
    >>> import tempfile, cv2
    >>> class Echo:  # a "detector" that finds one fixed box
    ...     def predict(self, frame):
    ...         return Detections([[0, 0, 2, 2]], [0], [0.5])
    >>> p = Path(tempfile.mkdtemp()) / "a.png"
    >>> _ = cv2.imwrite(str(p), np.zeros((4, 6, 3), np.uint8))
    >>> dets, sizes = detect_files(Echo(), [p, p], quiet=True)
    >>> len(dets), sizes
    (2, [(6, 4), (6, 4)])
    """
    bar = progress(None, total=len(paths), desc=desc, quiet=quiet, unit="img")
    dets: list[Detections | None] = [None] * len(paths)
    sizes: list[tuple[int, int]] = []

    def read(k: int) -> np.ndarray:
        bar.update(1)
        frame = read_image(paths[k])
        sizes.append((frame.shape[1], frame.shape[0]))
        return frame

    def detect(k: int, _: int, frame: np.ndarray) -> None:
        dets[k] = detector.predict(frame)

    overlapped(len(paths), lambda k: k, read, detect,
               overlap=isinstance(detector, Model) and detector.overlap)
    bar.close()
    return dets, sizes
