"""Bulk label reading, ground-truth sources (data.yaml, folders) and the mine CLI."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tecktrack.cli import main
from tecktrack.datasets.box_table import BoxTable, read_label_dir, read_label_files
from tecktrack.datasets.yolo import read_yolo_labels
from tecktrack.errors import DatasetError, FormatError
from tecktrack.mining.sources import load_ground_truth, load_predictions, load_sources


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_bulk_reader_agrees_with_the_one_file_reader(tmp_path):
    write(tmp_path / "a.txt", "0 0.5 0.5 0.2 0.2 0.9\n\n2 0.1 0.2 0.1 0.1 0.3\n")
    write(tmp_path / "b.txt", "")
    write(tmp_path / "c.txt", "1 1.0004 0.5 0.2 0.2 1\n")   # within tolerance: clipped
    table = read_label_dir(tmp_path, with_scores=True)
    assert table.stems == ["a", "b", "c"]
    assert list(table.counts()) == [2, 0, 1]
    for i, stem in enumerate(table.stems):
        ref = read_yolo_labels(tmp_path / f"{stem}.txt", 640, 480, with_scores=True)
        got = table.detections(i, 640, 480)
        assert np.allclose(got.xyxy, ref.xyxy, atol=1e-3)
        assert np.array_equal(got.class_ids, ref.class_ids)
        assert np.allclose(got.scores, ref.scores)


@pytest.mark.parametrize(("text", "line", "message"), [
    ("0 0.5 0.5 0.2 0.2\n0 0.5 0.5 0.2\n", 2, "columns"),
    ("0 0.5 0.5 0.2 0.2\n\n0 0.5 x 0.2 0.2\n", 3, "non-number"),
    ("0 0.5 0.5 0.2 0.2\n-1 0.5 0.5 0.2 0.2\n", 2, "class"),
    ("1.5 0.5 0.5 0.2 0.2\n", 1, "integer"),
    ("0 0.5 0.5 1.7 0.2\n", 1, "outside"),
])
def test_bulk_reader_names_file_and_line(tmp_path, text, line, message):
    write(tmp_path / "good.txt", "0 0.5 0.5 0.2 0.2\n")
    bad = write(tmp_path / "labels.txt", text)
    with pytest.raises(FormatError, match=message) as err:
        read_label_dir(tmp_path)
    assert err.value.path == str(bad) and err.value.line == line


def test_bulk_reader_checks_prediction_columns_and_scores(tmp_path):
    p = write(tmp_path / "p.txt", "0 0.5 0.5 0.2 0.2\n")
    with pytest.raises(FormatError, match="6 columns"):
        read_label_files(["p"], [p], with_scores=True)
    write(p, "0 0.5 0.5 0.2 0.2 1.5\n")
    with pytest.raises(FormatError, match="outside"):
        read_label_files(["p"], [p], with_scores=True)
    with pytest.raises(DatasetError, match="not found"):
        read_label_files(["q"], [tmp_path / "missing.txt"])


def test_take_images_reorders_and_keeps_boxes():
    t = BoxTable(["a", "b", "c"], [0, 0, 2], [1, 2, 3], np.arange(12.0).reshape(3, 4) / 12)
    sub = t.take_images([2, 1, 0])
    assert sub.stems == ["c", "b", "a"]
    assert list(sub.counts()) == [1, 0, 2]
    assert list(sub.class_ids) == [3, 1, 2]


def make_dataset(root: Path) -> Path:
    """Two splits, one image without a label file, one with an empty label file."""
    for split, stems in (("train", ["t1", "t2"]), ("val", ["v1", "v2"])):
        for stem in stems:
            image = root / "images" / split / f"{stem}.png"
            image.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(image), np.zeros((8, 8, 3), np.uint8))
    write(root / "labels/train/t1.txt", "0 0.5 0.5 0.2 0.2\n1 0.2 0.2 0.1 0.1\n")
    write(root / "labels/val/v1.txt", "1 0.5 0.5 0.4 0.4\n")
    write(root / "labels/val/v2.txt", "")
    return write(root / "data.yaml", "path: .\ntrain: images/train\nval: images/val\n"
                                     "names: [cat, dog]\n")


def test_ground_truth_from_data_yaml_spans_all_splits(tmp_path):
    yaml_path = make_dataset(tmp_path / "ds")
    table, names = load_ground_truth(yaml_path)
    assert names == ["cat", "dog"]
    assert table.stems == ["t1", "t2", "v1", "v2"]
    assert list(table.counts()) == [2, 0, 1, 0]
    same, _ = load_ground_truth(tmp_path / "ds")            # the folder holding data.yaml
    assert same.stems == table.stems


def test_ground_truth_from_label_tree_and_flat_folder(tmp_path):
    make_dataset(tmp_path / "ds")
    (tmp_path / "ds" / "data.yaml").unlink()
    table, names = load_ground_truth(tmp_path / "ds")
    assert names is None and table.stems == ["t1", "v1", "v2"]
    flat, _ = load_ground_truth(tmp_path / "ds" / "labels" / "val")
    assert flat.stems == ["v1", "v2"]


def test_duplicate_stems_across_splits_are_refused(tmp_path):
    yaml_path = make_dataset(tmp_path / "ds")
    cv2.imwrite(str(tmp_path / "ds/images/val/t1.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(DatasetError, match="t1"):
        load_ground_truth(yaml_path)


def test_sources_pair_by_stem_and_count_the_rest(tmp_path):
    yaml_path = make_dataset(tmp_path / "ds")
    write(tmp_path / "pred/labels/t1.txt", "0 0.5 0.5 0.2 0.2 0.9\n")
    write(tmp_path / "pred/labels/v1.txt", "0 0.5 0.5 0.4 0.4 0.8\n")
    write(tmp_path / "pred/labels/zz.txt", "0 0.5 0.5 0.4 0.4 0.8\n")
    src = load_sources(tmp_path / "pred", yaml_path)
    assert src.pred.stems == src.gt.stems == ["t1", "v1"]
    assert (src.pred_only, src.gt_only) == (1, 2)
    with pytest.raises(FormatError, match="expected 6 columns"):   # labels are not predictions
        load_predictions(tmp_path / "ds")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no prediction"):
        load_predictions(tmp_path / "empty")


def test_predictions_in_a_split_tree_as_predict_writes_them(tmp_path):
    yaml_path = make_dataset(tmp_path / "ds")
    write(tmp_path / "pred/labels/train/t1.txt", "0 0.5 0.5 0.2 0.2 0.9\n")
    write(tmp_path / "pred/labels/val/v2.txt", "")
    src = load_sources(tmp_path / "pred", yaml_path)
    assert src.pred.stems == ["t1", "v2"] and list(src.pred.counts()) == [1, 0]
    write(tmp_path / "pred/labels/val/t1.txt", "")
    with pytest.raises(DatasetError, match="share the stem 't1'"):
        load_predictions(tmp_path / "pred")


def test_mine_cli_json_keys_and_order(tmp_path, capsys):
    yaml_path = make_dataset(tmp_path / "ds")
    write(tmp_path / "pred/t1.txt", "0 0.5 0.5 0.2 0.2 0.9\n")          # misses the dog
    write(tmp_path / "pred/t2.txt", "1 0.5 0.5 0.3 0.3 0.95\n")         # unlabelled dog
    write(tmp_path / "pred/v1.txt", "0 0.5 0.5 0.4 0.4 0.8\n")          # dog called cat
    write(tmp_path / "pred/v2.txt", "")
    out = tmp_path / "mine.json"
    status = main(["mine", "--pred", str(tmp_path / "pred"), "--gt", str(yaml_path),
                   "--top", "3", "--json", str(out), "--quiet"])
    assert status == 0
    data = json.loads(out.read_text())
    assert {"hard_negatives", "misclassifications", "label_issues"} <= set(data)
    hard = data["hard_negatives"]
    assert [r["image"] for r in hard] == ["t1", "v1", "t2"]
    assert hard[0]["loss"] == pytest.approx(2.0 + 0.01)
    assert {"loss", "box", "objectness", "classification", "false_positive", "missed"} <= set(
        hard[0])
    assert data["misclassifications"][0]["class"] == "dog"
    assert data["misclassifications"][0]["confused_with"] == {"cat": 1}
    issues = data["label_issues"]
    assert [r["image"] for r in issues][:2] == ["t2", "v1"]
    assert issues[0]["reason"].startswith("unlabelled object: dog")
    assert {"image", "score", "reason"} == set(issues[0])
    assert "hard negatives" in capsys.readouterr().out
    # never overwrites
    assert main(["mine", "--pred", str(tmp_path / "pred"), "--gt", str(yaml_path),
                 "--json", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{out}: --json file exists already; refusing to overwrite it" in err
    assert "('" not in err   # a sentence, not a Python tuple


def test_mine_cli_bad_input_is_one_line_error(tmp_path, capsys):
    write(tmp_path / "pred/a.txt", "0 0.5 0.5 0.2\n")
    write(tmp_path / "gt/a.txt", "0 0.5 0.5 0.2 0.2\n")
    assert main(["mine", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt")]) == 2
    err = capsys.readouterr().err
    assert "a.txt:1:" in err and len(err.strip().splitlines()) == 1


def test_mine_cli_second_look(tmp_path, capsys, repo_root):
    model = repo_root / "models" / "demo-n"
    if not (model / "model.onnx").is_file():
        pytest.skip("models/demo-n not present")
    yaml_path = make_dataset(tmp_path / "ds")
    write(tmp_path / "pred/t1.txt", "0 0.5 0.5 0.2 0.2 0.9\n")          # misses the dog
    write(tmp_path / "pred/t2.txt", "1 0.5 0.5 0.3 0.3 0.95\n")         # unlabelled dog?
    write(tmp_path / "pred/v1.txt", "1 0.5 0.5 0.4 0.4 0.8\n")
    out = tmp_path / "mine.json"
    assert main(["mine", "--pred", str(tmp_path / "pred"), "--gt", str(yaml_path), "--model",
                 str(model), "--json", str(out), "--quiet"]) == 0
    issues = {r["image"]: r["reason"] for r in json.loads(out.read_text())["label_issues"]}
    # black 8x8 images: the closer look finds nothing, so the unlabelled "dog" is not
    # confirmed and the unmatched dog label stays suspicious
    assert "t2" not in issues
    assert issues["t1"].startswith("unsupported label: dog with no matching prediction, nor "
                                   "one on a closer look")
    capsys.readouterr()
    assert main(["mine", "--pred", str(tmp_path / "pred"), "--gt", str(yaml_path),
                 "--images", str(tmp_path / "ds")]) == 2
    assert "add --model" in capsys.readouterr().err
    assert main(["mine", "--pred", str(tmp_path / "pred"), "--gt",
                 str(tmp_path / "ds" / "labels" / "val"), "--model", str(model), "--quiet"]) == 2
    assert "no images found" in capsys.readouterr().err


def test_a_classes_txt_beside_the_labels_is_no_label_file(tmp_path):
    """Labelling tools write the class names as classes.txt in the label folder; `dataset
    check` ignored it, but `mine` read it as labels ("classes.txt:1: expected 5 columns") and
    `evaluate` as a label file without an image."""
    make_dataset(tmp_path / "ds")
    (tmp_path / "ds" / "data.yaml").unlink()
    for folder in ("labels/val", "labels/train"):
        write(tmp_path / "ds" / folder / "classes.txt", "cat\ndog\n")
    flat, _ = load_ground_truth(tmp_path / "ds" / "labels" / "val")
    tree, _ = load_ground_truth(tmp_path / "ds")
    assert flat.stems == ["v1", "v2"] and tree.stems == ["t1", "v1", "v2"]
    pred = tmp_path / "pred"
    for label in (tmp_path / "ds" / "labels" / "val").glob("v*.txt"):
        write(pred / label.name, "".join(f"{line} 0.9\n"
                                         for line in label.read_text().splitlines()))
    write(pred / "classes.txt", "cat\ndog\n")
    report = tmp_path / "report.json"
    assert main(["evaluate", "--gt", str(tmp_path / "ds" / "labels" / "val"), "--pred",
                 str(pred), "--images", str(tmp_path / "ds" / "images" / "val"), "--quiet",
                 "--json", str(report)]) == 0
    assert json.loads(report.read_text())["summary"]["map50"] == pytest.approx(1.0)  # the labels
