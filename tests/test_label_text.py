"""The shared fast parse of YOLO label text (#20): the same numbers as ``float``, bit for bit,
the same files refused, and the same boxes, notes and messages as the line-by-line reading."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tecktrack.datasets import yolo
from tecktrack.datasets.box_table import read_label_files
from tecktrack.datasets.label_text import (
    label_line_numbers,
    parse_label_texts,
    parse_numbers,
    read_label_bytes,
)
from tecktrack.datasets.yolo import invalid_rows, read_yolo_labels, rows_valid
from tecktrack.errors import FormatError, TeckTrackError

# tokens as annotation tools, scripts and careless editors write them
_TOKEN = st.one_of(
    st.floats(-2, 2).map(lambda v: f"{v:.6f}"),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.decimals(-2, 2, places=18, allow_nan=False).map(str),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["-0", "-0.0", "+0.5", ".5", "5.", "00.5", "1_0", "1e-3", "1E+2", "1e400",
                     "-1e400", "nan", "inf", "-inf", "0x1p-2", "0,5", "1e", "-", ".", "e5",
                     "18446744073709551616", "-9223372036854775809", "1" * 400, "\u0660.5",
                     "0.5\u00a0"]),
)


def _as_float(token: bytes) -> float | None:
    try:
        return float(token)
    except ValueError:
        return None


@settings(max_examples=400)
@given(st.lists(_TOKEN, max_size=12))
def test_numbers_are_float_of_each_token_bit_for_bit(tokens: list[str]) -> None:
    raw = [t.encode() for t in tokens]
    expected = [_as_float(t) for t in raw]
    parsed = parse_numbers(raw)
    if None in expected:
        assert parsed is None
        return
    assert parsed is not None and parsed.dtype == np.float64
    assert [struct.pack("<d", v) for v in parsed.tolist()] == \
        [struct.pack("<d", v) for v in expected]


def test_negative_zero_keeps_its_sign():
    # "-0" is JSON's integer 0 but float's -0.0
    assert np.signbit(parse_numbers([b"0.5", b"-0"])).tolist() == [False, True]


def test_a_comma_inside_a_token_is_not_two_numbers():
    assert parse_numbers([b"1", b"0,5"]) is None


def test_texts_are_parsed_together_with_rows_per_text():
    values, counts = parse_label_texts([b"0 0.5\r\n\r\n1 .25", b"", b" \t\n", b"2\x0b1e-3\r"], 2)
    assert values.tolist() == [[0.0, 0.5], [1.0, 0.25], [2.0, 0.001]]
    assert counts.tolist() == [2, 0, 0, 1]


@pytest.mark.parametrize("texts, bad", [
    ([b"0 0.5 0.5 0.1\n0.1 1 0.5 0.5 0.2 0.2\n"], 0),   # 4 + 6 tokens: as many as 2 rows
    ([b"0 0.5 0.5 0.1 0.1\n", b"0 0.5 0.5 0.1 0.1 0.3\n"], 1),
    ([b"0 0.5 0.5 0.1 0.1\n", b"0 0.5 0.5 x 0.1\n", b"0 0.5\n"], 1),
    (["0 0.5 0.5 0.1 0.1\u2028 0 0.5 0.5 0.1 0.1\n".encode()], 0),   # not a line end
])
def test_the_first_text_that_breaks_the_line_rule_is_named(texts: list[bytes], bad: int):
    assert parse_label_texts(texts, 5) == bad


def test_line_numbers_count_every_line_end():
    assert label_line_numbers(b"\r\n0 1\r2 3\n\n 4 5") == [2, 3, 5]


def test_a_byte_order_mark_is_skipped(tmp_path: Path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"\xef\xbb\xbf0 0.5 0.5 0.2 0.2\n")
    assert read_label_bytes(path) == b"0 0.5 0.5 0.2 0.2\n"


_ROW = st.tuples(
    st.integers(0, 4).map(str),
    st.lists(st.one_of(st.floats(0, 1), st.floats(-0.002, 1.002)).map(lambda v: f"{v:.6f}"),
             min_size=5, max_size=5),
)
_FILE = st.lists(
    st.one_of(_ROW.map(lambda r: " ".join([r[0], *r[1][:4]])),
              _ROW.map(lambda r: " ".join([r[0], *r[1]])),
              st.sampled_from(["", " ", "0 0.5 0.5 0.0 0.2", "9 0.5 0.5 0.2 0.2",
                               "0 1.5 0.5 0.2 0.2", "0 nan 0.5 0.2 0.2", "0 0.5 0.5 0.2"])),
    max_size=8,
).flatmap(lambda rows: st.sampled_from(["\n", "\r\n", "\r"]).map(
    lambda end: "".join(r + end for r in rows)))


def _read(path: Path, **kwargs) -> tuple:
    problems, notes, exact = [], [], []
    try:
        det = read_yolo_labels(path, 640, 480, problems=problems, notes=notes, exact=exact,
                               **kwargs)
    except TeckTrackError as exc:
        return ("error", str(exc))
    return (det.xyxy.tobytes(), det.class_ids.tolist(),
            None if det.scores is None else det.scores.tobytes(),
            [str(p) for p in problems], [str(n) for n in notes], [e.tobytes() for e in exact])


@settings(max_examples=150,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_FILE, with_scores=st.booleans(), strict=st.booleans(),
       n_classes=st.sampled_from([None, 3]))
def test_fast_reading_equals_the_line_by_line_reading(tmp_path: Path, monkeypatch, text: str,
                                                       with_scores: bool, strict: bool,
                                                       n_classes: int | None) -> None:
    path = tmp_path / "x.txt"
    path.write_text(text, newline="")
    kwargs = {"with_scores": with_scores, "strict": strict, "n_classes": n_classes}
    fast = _read(path, **kwargs)
    with monkeypatch.context() as patch:  # refuse every file: the line-by-line reader reads
        patch.setattr(yolo, "parse_label_texts", lambda texts, ncols: 0)
        slow = _read(path, **kwargs)
    assert fast == slow


@settings(max_examples=300)
@given(st.lists(st.lists(st.one_of(st.floats(-0.01, 1.01), st.integers(-1, 5).map(float),
                                   st.sampled_from([np.nan, np.inf, 2.5, 1.001, -0.001])),
                         min_size=5, max_size=5), max_size=6),
       st.sampled_from([None, 0, 1, 3]))
def test_rows_valid_is_no_invalid_row(rows: list[list[float]], n_classes: int | None) -> None:
    values = np.array(rows, dtype=np.float64).reshape(-1, 5)
    assert rows_valid(values, n_classes) == (not invalid_rows(values, n_classes).any())


def test_the_columnar_reader_refuses_lines_that_only_add_up(tmp_path: Path):
    # before #20 it read these two lines as two boxes: 4 + 6 tokens are 2 rows of 5
    path = tmp_path / "x.txt"
    path.write_text("0 0.5 0.5 0.1\n0.1 1 0.5 0.5 0.2 0.2\n")
    with pytest.raises(FormatError, match=r"x\.txt:1: expected 5 columns"):
        read_label_files(["x"], [path])


def test_the_columnar_reader_names_the_first_broken_file(tmp_path: Path):
    paths = []
    for name, text in (("a", "0 0.5 0.5 0.1 0.1\n"), ("b", "0 0.5 0.5 0.1 0.1 0.3\n"),
                       ("c", "0 0.5 0.5\n")):
        paths.append(tmp_path / f"{name}.txt")
        paths[-1].write_text(text)
    with pytest.raises(FormatError, match=r"b\.txt:1: expected 5 columns"):
        read_label_files(["a", "b", "c"], paths)


def test_a_warning_after_a_bom_line_names_the_line_the_one_file_reader_names(tmp_path: Path):
    path = tmp_path / "x.txt"
    path.write_bytes(b"\xef\xbb\xbf\n0 0.5 0.5 0.0 0.2\n")
    notes: list = []
    read_yolo_labels(path, 640, 480, notes=notes)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read_label_files(["x"], [path])
    assert [n.line for n in notes] == [2]
    assert f"{path}:2" in str(caught[0].message)


@pytest.mark.real
def test_numbers_equal_numpy_loadtxt_on_real_labels(real_data):
    files = sorted((real_data / "coco128-val" / "labels").glob("*.txt"))
    values, counts = parse_label_texts([read_label_bytes(f) for f in files], 5)
    expected = [np.loadtxt(f, ndmin=2) for f in files]
    assert counts.tolist() == [len(rows) for rows in expected]
    np.testing.assert_array_equal(values, np.concatenate(expected))   # bit for bit
    table = read_label_files([f.stem for f in files], files, n_classes=80)
    assert len(table) == len(values)
