"""Fuzzing the MOT reader and metrics: every input ends in a result or a TeckTrackError."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tecktrack.datasets.mot import MotRows, read_mot
from tecktrack.errors import TeckTrackError
from tecktrack.metrics.mot import evaluate_tracks

_TOKEN = st.one_of(
    st.integers(-3, 40).map(str),
    st.floats(-50, 500).map(lambda v: f"{v:.2f}"),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "x", "1e3", "-1", "0", "nan", "inf", "1.5", " ", "\u0663", "1_0",
                     "\u0660.5", "\uff10.5", "1e309", "0x1p-2", "+0.25", "0.5\u00a0", "5."]),
)
_LINE = st.tuples(st.lists(_TOKEN, min_size=0, max_size=12),
                  st.sampled_from([",", " ", ", ", "\t"])).map(lambda t: t[1].join(t[0]))
_SEPARATOR = st.sampled_from(["\n", "\r\n", "\r", "\n\n", "\x0b", "\u2028", "\x85"])
_TEXT = st.one_of(
    st.lists(st.tuples(_LINE, _SEPARATOR), max_size=12).map(
        lambda rows: "".join(a + b for a, b in rows)),
    st.text(max_size=200),
)
_PREFIX = st.sampled_from([b""] * 6 + [b"\xef\xbb\xbf", b"\xff\xfe", b"\x00", b"\x80"])


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(text=_TEXT, prefix=_PREFIX)
def test_reader_returns_rows_or_a_clear_error(text, prefix):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.txt"
        path.write_bytes(prefix + text.encode("utf-8", errors="surrogatepass"))
        try:
            rows = read_mot(path)
        except TeckTrackError as exc:
            assert str(path) in str(exc)
            return
    assert np.all(rows.frames >= 1) and np.all(rows.xywh[:, 2:] >= 0)
    assert np.all(np.isfinite(rows.xywh)) and np.all(np.isfinite(rows.conf))
    pairs = np.unique(np.c_[rows.frames, rows.ids].reshape(-1, 2), axis=0)
    assert len(pairs) == len(rows)                   # one box per id and frame


_ROW = st.tuples(st.integers(1, 8), st.integers(0, 5),
                 st.floats(-20, 100, allow_nan=False), st.floats(-20, 100, allow_nan=False),
                 st.floats(0, 60, allow_nan=False), st.floats(0, 60, allow_nan=False),
                 st.sampled_from([0.0, 1.0, 0.5]))


def _rows(items: list) -> MotRows:
    seen, keep = set(), []
    for item in items:
        if (item[0], item[1]) not in seen:
            seen.add((item[0], item[1]))
            keep.append(item)
    if not keep:
        return MotRows.empty()
    a = np.array(keep, np.float64)
    return MotRows.from_arrays(a[:, 0], a[:, 1], a[:, 2:6], conf=a[:, 6])


@settings(max_examples=150)
@given(gt=st.lists(_ROW, max_size=25), tracks=st.lists(_ROW, max_size=25))
def test_metrics_are_bounded_on_any_sequence(gt, tracks):
    summary = evaluate_tracks(_rows(gt), _rows(tracks))
    for key in ("HOTA", "DetA", "AssA", "LocA", "MOTP", "IDF1", "IDP", "IDR"):
        assert 0.0 <= summary[key] <= 1.0 + 1e-12, key
    assert summary["MOTA"] <= 1.0 and summary["IDSW"] >= 0
    # the rows considered: a flag that is not 0 as an int (TrackEval: 0.5 is 0)
    assert summary["CLR_TP"] + summary["CLR_FN"] == int(np.sum(np.trunc(_rows(gt).conf) != 0))
