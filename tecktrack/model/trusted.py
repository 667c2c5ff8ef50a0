"""Detections built on the hot path from arrays the model has just made, without re-checking.

:class:`~tecktrack.detections.Detections` validates and copies what it is given, which is
right for arrays from outside. The decoders and NMS of :class:`~tecktrack.model.Model` make
fresh arrays of the right dtypes and shapes themselves; :func:`trusted_detections` wraps
them as they are, which saves a copy and the checks of every array several times a frame.
"""

from __future__ import annotations

import numpy as np

from tecktrack.detections import Detections

__all__ = ["trusted_detections"]


def trusted_detections(xyxy: np.ndarray, class_ids: np.ndarray,
                       scores: np.ndarray) -> Detections:
    """A :class:`Detections` over these arrays, with no copy and no validation.

    Only for arrays the caller has just created and owns: ``xyxy`` a C-contiguous float32
    ``(n, 4)`` array, ``class_ids`` int64 ``(n,)``, ``scores`` float32 ``(n,)``, none of them
    a view of an array anyone else holds. These are the invariants ``Detections`` itself
    establishes; :func:`tecktrack.model.trusted.check_trusted` (used by the tests) checks them.

    Examples
    --------
    >>> d = trusted_detections(np.zeros((1, 4), np.float32), np.zeros(1, np.int64),
    ...                        np.ones(1, np.float32))
    >>> len(d), d.tracker_ids is None
    (1, True)
    """
    det = object.__new__(Detections)
    det.xyxy = xyxy
    det.class_ids = class_ids
    det.scores = scores
    det.tracker_ids = None
    return det


def check_trusted(det: Detections) -> None:
    """Raise ``AssertionError`` unless ``det`` holds what :class:`Detections` would store.

    Examples
    --------
    >>> check_trusted(Detections([[0, 0, 1, 1]], [0], [0.5]))
    """
    n = len(det.xyxy)
    assert det.xyxy.dtype == np.float32 and det.xyxy.shape == (n, 4), det.xyxy.shape
    assert det.xyxy.flags.c_contiguous and _owned(det.xyxy), "xyxy is a view"
    assert det.class_ids.dtype == np.int64 and det.class_ids.shape == (n,), det.class_ids.shape
    assert det.scores is not None and det.scores.dtype == np.float32, "scores"
    assert det.scores.shape == (n,), det.scores.shape
    assert det.tracker_ids is None


def _owned(array: np.ndarray) -> bool:
    """Whether ``array`` holds its own memory: NumPy's own, or a compiled kernel's (numba
    hands its arrays over with its memory record as their ``base``; nothing else sees it)."""
    return array.flags.owndata or type(array.base).__name__ == "_MemInfo"
