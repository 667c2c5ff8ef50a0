"""Fuzzing the MOT reader and metrics: every input ends in a result or a TeckTrackError."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tecktrack.datasets.mot import MotRows, read_mot
from tecktrack.errors import TeckTrackError
from tecktrack.metrics.mot import evaluate_tracks

_TOKEN = st.one_of(
    st.integers(-3, 40).map(str),
    st.floats(-50, 500).map(lambda v: f"{v:.2f}"),
    st.sampled_from(["", "x", "1e3", "-1", "0", "nan", "inf", "1.5", " ", "٣"]),
)
_LINE = st.lists(_TOKEN, min_size=0, max_size=12).map(
    lambda tokens: st.sampled_from([",", " ", ", "]).map(lambda sep: sep.join(tokens)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_LINE.flatmap(lambda s: s), max_size=12))
def test_reader_returns_rows_or_a_clear_error(tmp_path, lines):
    path = tmp_path / "f.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    try:
        rows = read_mot(path)
    except TeckTrackError as exc:
        assert str(path) in str(exc)
        return
    assert np.all(rows.frames >= 1) and np.all(rows.xywh[:, 2:] >= 0)
    assert np.all(np.isfinite(rows.xywh))


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


@settings(max_examples=150, deadline=None)
@given(gt=st.lists(_ROW, max_size=25), tracks=st.lists(_ROW, max_size=25))
def test_metrics_are_bounded_on_any_sequence(gt, tracks):
    summary = evaluate_tracks(_rows(gt), _rows(tracks))
    for key in ("HOTA", "DetA", "AssA", "LocA", "MOTP", "IDF1", "IDP", "IDR"):
        assert 0.0 <= summary[key] <= 1.0 + 1e-12, key
    assert summary["MOTA"] <= 1.0 and summary["IDSW"] >= 0
    assert summary["CLR_TP"] + summary["CLR_FN"] == int(np.sum(_rows(gt).conf != 0))
