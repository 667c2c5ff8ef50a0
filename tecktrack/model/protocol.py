"""The one detector protocol every consumer of a detector accepts."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from tecktrack.detections import Detections

__all__ = ["Detector"]


@runtime_checkable
class Detector(Protocol):
    """Anything with ``names`` and ``predict(frame_bgr) -> Detections`` (a loaded Model).

    The lab helpers, the cleaning plan and the augmentation analysis all take a Detector, so a
    stand-in (a test double, a wrapped third-party model) works everywhere a Model does.

    Examples
    --------
    >>> class Nothing:
    ...     names = ["cat"]
    ...     def predict(self, frame):
    ...         return Detections.empty()
    >>> isinstance(Nothing(), Detector)
    True
    """

    names: list[str]

    def predict(self, frame: np.ndarray) -> Detections: ...
