"""Files that other commands reject are found by ``dataset check``; class ids beyond the
names are refused everywhere; zero-size and clipped boxes are counted (#21, Files)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from tecktrack.cli import main
from tecktrack.datasets import Dataset
from tecktrack.datasets.box_table import read_label_files
from tecktrack.datasets.yolo import CLIPPED, ZERO_SIZE, LabelWarning, read_yolo_labels
from tecktrack.errors import FormatError
from tecktrack.metrics.loaders import load_yolo


def _image(path: Path, w: int = 64, h: int = 48) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((h, w, 3), 80, np.uint8))
    return path


def _label(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    """Two splits, three classes, every label valid."""
    root = tmp_path / "ds"
    _image(root / "images/train/a.jpg")
    _label(root / "labels/train/a.txt", "0 0.5 0.5 0.5 0.5\n")
    _image(root / "images/val/b.jpg")
    _label(root / "labels/val/b.txt", "1 0.5 0.5 0.2 0.2\n")
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/val\n"
                                    "names: [cat, dog, fish]\n")
    return root / "data.yaml"


# -- zero-size and clipped boxes ------------------------------------------------------------
LABELS = ("0 0.5 0.5 0.0 0.2\n"       # zero width
          "0 0.95 0.5 0.2 0.2\n"      # reaches 0.05 past the right edge: clipped
          "0 0.5 0.5 0.2 0.2\n"       # fine
          "\n"
          "0 0.9995 0.5 0.001 0.2\n")  # overhangs by 5e-4: rounding, not noted


def test_read_yolo_labels_notes_zero_size_and_clipped_boxes(tmp_path: Path) -> None:
    path = _label(tmp_path / "a.txt", LABELS)
    notes: list = []
    det = read_yolo_labels(path, 100, 100, notes=notes)
    assert len(det) == 4                                  # nothing dropped
    assert [(n.line, n.message) for n in notes] == [(1, ZERO_SIZE), (2, CLIPPED)]


def test_read_label_files_warns_with_a_count(tmp_path: Path) -> None:
    a = _label(tmp_path / "a.txt", LABELS)
    b = _label(tmp_path / "b.txt", "1 0.5 0.5 0.2 0.0\n")
    with pytest.warns(LabelWarning) as caught:
        table = read_label_files(["a", "b"], [a, b])
    assert len(table) == 5
    message = str(caught[0].message)
    assert f"2 label boxes of zero width or height (they can never be matched), first {a}:1" \
        in message
    assert f"1 label boxes reach outside the image by more than rounding (clipped to it), " \
           f"first {a}:2" in message


def test_clean_label_files_do_not_warn(tmp_path: Path) -> None:
    a = _label(tmp_path / "a.txt", "0 0.5 0.5 0.2 0.2\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_label_files(["a"], [a])


POLYGONS = ("2 0.25 0.5 0.375 0.25 0.625 0.25 0.75 0.5 0.625 0.75 0.375 0.75\n\n"
            "0 0.1 0.1 0.3 0.1 0.2 0.4\n")     # a hexagon and a triangle (a -seg dataset)


def test_polygon_rows_are_read_as_their_boxes_by_both_readers(tmp_path: Path) -> None:
    """Ultralytics reads segment labels as the boxes of their points; so do both readers."""
    a = _label(tmp_path / "a.txt", POLYGONS)
    b = _label(tmp_path / "b.txt", "1 0.5 0.5 0.2 0.2\n")
    det = read_yolo_labels(a, 100, 200)
    np.testing.assert_allclose(det.xyxy, [[25, 50, 75, 150], [10, 20, 30, 80]], atol=1e-4)
    assert det.class_ids.tolist() == [2, 0]
    table = read_label_files(["a", "b"], [a, b])
    assert table.counts().tolist() == [2, 1]
    np.testing.assert_allclose(table.detections(0, 100, 200).xyxy, det.xyxy, atol=1e-4)


@pytest.mark.parametrize(("row", "message"), [
    ("1 0.5 0.5 0.2 0.2", r"a box row \(class cx cy w h\) among polygon rows"),
    ("1 0.1 0.1 0.2 0.2 0.3 0.3 0.4", "three or more x y points, got 8 values"),
    ("1 0.1 0.1 0.2 0.2 0.3 1.5", "h=1.4 outside"),    # the box of the points is checked
])
def test_a_bad_row_among_polygon_rows_names_its_line(tmp_path: Path, row, message) -> None:
    a = _label(tmp_path / "a.txt", POLYGONS + row + "\n")
    with pytest.raises(FormatError, match=message) as caught:
        read_yolo_labels(a, 100, 100)
    assert caught.value.line == 4
    with pytest.raises(FormatError, match=message):
        read_label_files(["a"], [a])
    found: list = []
    assert len(read_yolo_labels(a, 100, 100, strict=False, problems=found)) == 2
    assert [f.line for f in found] == [4]


@pytest.mark.parametrize(("row", "xyxy", "problem"), [
    ("0 1.004 0.5 0.02 0.2", [99.4, 40, 101.4, 60], None),       # kept past the edge
    ("0 -0.005 0.5 0.02 0.2", [-1.5, 40, 0.5, 60], None),
    ("0 0.5 0.5 1.01 0.2", [-0.5, 40, 100.5, 60], None),
    ("0 0.5 0.5 1.011 0.2", None, "w=1.011 outside"),
    ("0 0.5 0.5 -0.002 0.2", None, "negative size w=-0.002"),    # no size below 0
])
def test_labels_read_as_ultralytics_reads_them(tmp_path: Path, row, xyxy, problem) -> None:
    """``ultralytics=True`` (``val --convention ultralytics``): Ultralytics'
    ``verify_image_label`` rule, values within 0.01 of [0, 1] and sizes not below 0, and
    the box as written (not clipped to the image)."""
    a = _label(tmp_path / "a.txt", row + "\n")
    if problem is None:
        det = read_yolo_labels(a, 100, 100, ultralytics=True)
        np.testing.assert_allclose(det.xyxy, [xyxy], atol=1e-4)
    else:
        with pytest.raises(FormatError, match=problem):
            read_yolo_labels(a, 100, 100, ultralytics=True)


def test_dataset_check_warns_of_repeated_label_lines(dataset: Path, capsys) -> None:
    """A line repeating an earlier one (as float32 numbers, ``.50`` = ``0.5``) is one object
    to ``val`` and Ultralytics: ``check`` names it and its first line, a warning (exit 0)."""
    label = dataset.parent / "labels/train/a.txt"
    label.write_text("0 0.5 0.5 0.2 0.2\n1 0.5 0.5 0.2 0.2\n\n0 .50 0.5 0.2 0.20\n"
                     "1 0.5 0.5 0.2 0.2\n")
    assert main(["dataset", "check", str(dataset)]) == 0
    out = capsys.readouterr().out
    assert f"{label.resolve()}:4: warning: repeats line 1: one object" in out
    assert f"{label.resolve()}:5: warning: repeats line 2: one object" in out
    assert out.strip().splitlines()[-1] == (
        "no problems in 2 images; 2 repeated label lines (one object each)")
    label.write_text("0 0.5 0.5 0.2 0.2\n0 0.5 0.5 0.2 0.2\n0 0.5 0.5 x 0.2\n")
    assert main(["dataset", "check", str(dataset)]) == 1   # the bad line, not the repeat
    out = capsys.readouterr().out
    assert ":3:" in out and "repeats" not in out


def test_dataset_check_and_stats_count_box_notes(dataset: Path, capsys) -> None:
    label = dataset.parent / "labels/train/a.txt"
    label.write_text(LABELS)
    assert main(["dataset", "check", str(dataset)]) == 0          # warnings alone: exit 0
    out = capsys.readouterr().out
    assert f"{label.resolve()}:1: warning: {ZERO_SIZE}" in out
    assert f"{label.resolve()}:2: warning: {CLIPPED}" in out
    assert out.strip().splitlines()[-1] == (
        "no problems in 2 images; 2 box warnings (zero-size or clipped)")
    report = dataset.parent / "stats.json"
    assert main(["dataset", "stats", str(dataset), "--json", str(report), "--quiet"]) == 0
    data = json.loads(report.read_text())
    assert (data["zero_size_boxes"], data["clipped_boxes"]) == (1, 1)
    assert "1 label boxes of zero width or height" in capsys.readouterr().err


def test_evaluate_notes_zero_size_boxes(tmp_path: Path) -> None:
    _image(tmp_path / "images/a.png")
    _label(tmp_path / "labels/a.txt", "0 0.5 0.5 0.0 0.2\n0 0.5 0.5 0.2 0.2\n")
    _label(tmp_path / "pred/a.txt", "0 0.5 0.5 0.2 0.2 0.9\n")
    inputs = load_yolo(tmp_path / "labels", tmp_path / "pred", quiet=True)
    assert any(n.startswith("1 label boxes of zero width or height") for n in inputs.notes)


# -- dataset check finds what other commands reject --------------------------------------
def test_check_finds_duplicate_stems_across_suffixes(dataset: Path, capsys) -> None:
    root = dataset.parent
    _image(root / "images/train/a.png")                 # a.jpg and a.png share labels/a.txt
    assert main(["dataset", "check", str(dataset)]) == 1
    out = capsys.readouterr().out
    png, jpg = (root / "images/train/a.png").resolve(), (root / "images/train/a.jpg").resolve()
    assert f"{png}: shares the stem 'a' and its label file with {jpg}" in out
    assert out.strip().endswith("1 images sharing a stem")
    # and mine refuses the same dataset: check found what mine rejects
    _label(root / "pred/a.txt", "0 0.5 0.5 0.5 0.5 0.9\n")
    assert main(["mine", "--pred", str(root / "pred"), "--gt", str(dataset), "--quiet"]) == 2
    assert "share the stem 'a'" in capsys.readouterr().err


def test_check_finds_label_files_without_an_image(dataset: Path, capsys) -> None:
    root = dataset.parent
    orphan = _label(root / "labels/val/ghost.txt", "0 0.5 0.5 0.1 0.1\n")
    _label(root / "labels/val/classes.txt", "cat\ndog\nfish\n")     # not a label file
    assert main(["dataset", "check", str(dataset)]) == 1
    out = capsys.readouterr().out
    assert f"{orphan.resolve()}: label file has no image" in out
    assert "classes.txt" not in out
    assert out.strip().endswith("1 label files without an image")


def test_check_finds_non_ascii_digits_that_mine_rejects(dataset: Path, capsys) -> None:
    label = dataset.parent / "labels/train/a.txt"
    label.write_text("0 \u0660.5 0.5 0.5 0.5\n")
    assert main(["dataset", "check", str(dataset)]) == 1
    assert f"{label.resolve()}:1: non-number" in capsys.readouterr().out


def test_check_accepts_a_utf8_bom(dataset: Path, capsys) -> None:
    label = dataset.parent / "labels/train/a.txt"
    label.write_bytes(b"\xef\xbb\xbf0 0.5 0.5 0.5 0.5\n")
    assert main(["dataset", "check", str(dataset)]) == 0
    assert len(Dataset.from_yaml(dataset).stats().boxes) == 2


# -- class ids beyond the names -------------------------------------------------------------
def test_mine_refuses_prediction_class_ids_beyond_the_names(dataset: Path, tmp_path: Path,
                                                            capsys) -> None:
    pred = _label(tmp_path / "pred/a.txt", "95 0.5 0.5 0.5 0.5 0.9\n")
    _label(tmp_path / "pred/b.txt", "")
    assert main(["mine", "--pred", str(tmp_path / "pred"), "--gt", str(dataset),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{pred}:1: class id 95 out of range [0, 3)" in err
    assert "labelled 95" not in err


def test_mine_refuses_label_class_ids_beyond_the_names(dataset: Path, tmp_path: Path,
                                                       capsys) -> None:
    label = dataset.parent / "labels/val/b.txt"
    label.write_text("95 0.5 0.5 0.2 0.2\n")
    _label(tmp_path / "pred/b.txt", "0 0.5 0.5 0.5 0.5 0.9\n")
    assert main(["mine", "--pred", str(tmp_path / "pred"), "--gt", str(dataset),
                 "--quiet"]) == 2
    assert "class id 95 out of range [0, 3)" in capsys.readouterr().err


def test_augment_never_copies_class_ids_beyond_the_names(dataset: Path, tmp_path: Path,
                                                         capsys) -> None:
    label = dataset.parent / "labels/val/b.txt"
    label.write_text("95 0.5 0.5 0.2 0.2\n")
    listing = _label(tmp_path / "list.txt", "a\nb\n")
    out = tmp_path / "aug"
    assert main(["augment", str(dataset), "--images", str(listing), "--ops", "flip",
                 "--out", str(out), "--quiet"]) == 2
    assert f"{label.resolve()}:1: class id 95 out of range [0, 3)" in capsys.readouterr().err
    assert not out.exists()                               # refused before writing anything
    # --balance reads the labels through the same check
    assert main(["augment", str(dataset), "--balance", "--ops", "flip", "--out",
                 str(tmp_path / "bal"), "--quiet"]) == 2
    assert "class id 95 out of range" in capsys.readouterr().err


def test_read_label_files_with_n_classes_names_the_line(tmp_path: Path) -> None:
    path = _label(tmp_path / "p.txt", "0 0.5 0.5 0.2 0.2 0.9\n7 0.5 0.5 0.2 0.2 0.9\n")
    assert len(read_label_files(["p"], [path], with_scores=True)) == 2
    with pytest.raises(FormatError, match=r"p.txt:2: class id 7 out of range \[0, 3\)"):
        read_label_files(["p"], [path], with_scores=True, n_classes=3)


# -- found by the fuzz corpus (tests/fuzz) ---------------------------------------------------
def test_names_with_mixed_key_types_is_a_format_error(tmp_path: Path) -> None:
    """``names: {0: a, x: b}`` raised a TypeError from sorted()."""
    from tecktrack.datasets.data_yaml import read_data_yaml

    _image(tmp_path / "images/a.jpg")
    path = _label(tmp_path / "data.yaml", "train: images\nval: images\nnames: {0: a, x: b}\n")
    with pytest.raises(FormatError, match="names: dict keys must be the ids 0..1"):
        read_data_yaml(path)


def test_unicode_separators_mean_the_same_to_both_label_readers(tmp_path: Path) -> None:
    """U+2028 split a line for the per-file reader but not for the columnar one, so one
    read an empty file and the other refused it."""
    path = tmp_path / "x.txt"
    path.write_bytes("\ufeff\u2028\u2028".encode())
    with pytest.raises(FormatError, match="expected 5 columns"):
        read_yolo_labels(path, 10, 10)
    with pytest.raises(FormatError, match="expected 5 columns"):
        read_label_files(["x"], [path])
    path.write_text("0 0.5 0.5 0.2\u00a00.2\n")
    with pytest.raises(FormatError, match="x.txt:1: expected 5 columns"):
        read_yolo_labels(path, 10, 10)
    with pytest.raises(FormatError, match="x.txt:1: expected 5 columns"):
        read_label_files(["x"], [path])
