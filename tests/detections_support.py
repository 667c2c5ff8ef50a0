"""One meaning of "the same detections" for the tests that pin the hot path's outputs."""

from __future__ import annotations

from tecktrack.detections import Detections
from tecktrack.model.trusted import check_trusted


def assert_same_bytes(a: Detections, b: Detections) -> None:
    """``a`` is a well-formed :class:`Detections` whose corners, classes and scores are
    ``b``'s byte for byte (same dtypes, same order): no tolerance.

    Examples
    --------
    >>> d = Detections([[0, 0, 2, 2]], [1], [0.5])
    >>> assert_same_bytes(d, Detections([[0, 0, 2, 2]], [1], [0.5]))
    """
    check_trusted(a)
    assert a.xyxy.tobytes() == b.xyxy.tobytes()
    assert a.class_ids.tobytes() == b.class_ids.tobytes()
    assert a.scores.tobytes() == b.scores.tobytes()
