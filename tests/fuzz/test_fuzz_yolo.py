"""Fuzzing the YOLO label readers (#21): every input ends in boxes or a TeckTrackError.

The per-file reader (``read_yolo_labels``) and the columnar one (``read_label_files``) also
keep their promise to accept and refuse the same files, with the same boxes.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tecktrack.datasets.box_table import read_label_files
from tecktrack.datasets.yolo import read_yolo_labels
from tecktrack.errors import TeckTrackError

FUZZ = settings(max_examples=200,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# numbers as annotation tools (and careless scripts) write them
_NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(-0.01, 1.01).map(lambda v: f"{v:.6f}"),
    st.integers(-3, 120).map(str),
    st.sampled_from(["0.5", "1e-3", "-0", "nan", "inf", "1e309", "0x1p-2", "1_0", ".5", "5.",
                     "\u0660.5", "\uff10.5", "0,5", "", "٣", "+0.25", "0.5\u00a0"]),
)
_LINE = st.lists(_NUMBER, min_size=0, max_size=7).map(" ".join)
_SEPARATOR = st.sampled_from(["\n", "\r\n", "\r", "\n\n", "\t\n", "\x0b", "\u2028"])
_TEXT = st.one_of(
    st.lists(st.tuples(_LINE, _SEPARATOR), max_size=8).map(
        lambda rows: "".join(a + b for a, b in rows)),
    st.text(max_size=200),
)


def _plausible_file(with_scores: bool) -> st.SearchStrategy[str]:
    """Mostly well-formed rows (values a hair outside [0, 1] at times), now and then a wild
    one, as label tools and scripts write them."""
    line = st.tuples(
        st.integers(0, 2).map(str),
        st.lists(st.one_of(st.floats(0, 1), st.floats(0, 1), st.floats(-0.002, 1.002)).map(
            lambda v: f"{v:.6f}"), min_size=4, max_size=4),
        st.floats(0, 1).map(lambda v: [f"{v:.4f}"]) if with_scores else st.just([]),
    ).map(lambda t: " ".join([t[0], *t[1], *t[2]]))
    return st.lists(st.one_of(*[line] * 30, _LINE), max_size=6).map(
        lambda rows: "".join(r + "\n" for r in rows))
_PREFIX = st.sampled_from([b""] * 6 + [b"\xef\xbb\xbf", b"\xff\xfe", b"\x00"])


def _per_file(path: Path, n_classes: int | None, with_scores: bool):
    try:
        return read_yolo_labels(path, 640, 480, n_classes=n_classes, with_scores=with_scores)
    except TeckTrackError:
        return None


def _columnar(path: Path, n_classes: int | None, with_scores: bool):
    try:
        return read_label_files(["x"], [path], with_scores=with_scores, n_classes=n_classes)
    except TeckTrackError:
        return None


@FUZZ
@given(data=st.data(), prefix=_PREFIX, with_scores=st.booleans(),
       n_classes=st.one_of(st.none(), st.integers(1, 100), st.just(3)))
def test_yolo_readers_end_in_boxes_or_a_tecktrack_error(data: st.DataObject, prefix: bytes,
                                                        n_classes: int | None,
                                                        with_scores: bool) -> None:
    plausible = _plausible_file(with_scores)
    text = data.draw(st.one_of(_TEXT, plausible, plausible, plausible), label="text")
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")                     # counted notes are fine
        path = Path(folder) / "x.txt"
        path.write_bytes(prefix + text.encode("utf-8", errors="surrogatepass"))
        one = _per_file(path, n_classes, with_scores)
        many = _columnar(path, n_classes, with_scores)
        lenient: list = []
        read_yolo_labels(path, 640, 480, n_classes=n_classes, with_scores=with_scores,
                         strict=False, problems=lenient)     # never raises for bad lines
    assert (one is None) == (many is None), "the two readers disagree on this file"
    event("refused" if one is None else "read")
    if one is not None:
        assert not lenient
        assert len(one) == len(many)
        assert np.isfinite(one.xyxy).all()
        assert (one.xyxy >= 0).all() and (one.xyxy[:, [0, 2]] <= 640).all()
        assert (one.xyxy[:, [1, 3]] <= 480).all()
        np.testing.assert_allclose(many.detections(0, 640, 480).xyxy, one.xyxy, atol=1e-3)
        if n_classes is not None:
            assert (one.class_ids < n_classes).all()
