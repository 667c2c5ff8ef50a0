"""``tecktrack val`` and the class-name comparison, on a tiny end-to-end ONNX graph."""

from __future__ import annotations

import json
import warnings

import cv2
import numpy as np
import pytest
from model_graphs import make_graph
from test_model_ultralytics_layouts import E2E_ROWS, ULTRA

from tecktrack.cli import main
from tecktrack.datasets.class_names import ClassNamesWarning, compare_class_names
from tecktrack.errors import DatasetError


@pytest.fixture()
def setup(tmp_path):
    model = make_graph(tmp_path / "m" / "yolo26n.onnx", [E2E_ROWS],
                       metadata={**ULTRA, "end2end": "True"})
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for name in ("a", "b"):
        cv2.imwrite(str(root / "images" / f"{name}.png"), np.full((64, 64, 3), 90, np.uint8))
    # one car where the model's best row is (x 10..30, y 20..40); b.png has no label file
    (root / "labels" / "a.txt").write_text("2 0.3125 0.46875 0.3125 0.3125\n")
    data = root / "data.yaml"
    data.write_text("path: .\ntrain: images\nval: images\nnames: [person, bicycle, car]\n")
    return model, data


@pytest.mark.parametrize("convention", ["coco", "ultralytics"])
def test_val_prints_writes_json_and_plots(setup, tmp_path, capsys, convention):
    model, data = setup
    out = tmp_path / f"out-{convention}"
    status = main(["val", "--model", str(model), "--data", str(data), "--convention",
                   convention, "--json", str(out / "val.json"), "--out", str(out), "--quiet"])
    text = capsys.readouterr().out
    assert status == 0
    assert "1 image(s) without a label file counted as background" in text
    report = json.loads((out / "val.json").read_text())
    assert report["convention"] == convention and report["images"] == 2
    assert report["params"] == {"conf": 0.001, "iou": 0.7, "max_det": 300, "device": "cpu",
                                "batch": 16}
    # the one car is found first (score 0.9): AP 1 in COCO's 101 points, 0.995 in Ultralytics'
    expected = 1.0 if convention == "coco" else 0.995
    assert report["summary"]["map50"] == pytest.approx(expected, abs=1e-3)
    assert (out / "pr_curves.png").stat().st_size > 0
    assert (out / "confusion_matrix.png").stat().st_size > 0


def test_val_refuses_a_model_whose_class_order_would_misscore(setup, capsys):
    model, data = setup
    data.write_text("path: .\ntrain: images\nval: images\nnames: [car, bicycle, person]\n")
    assert main(["val", "--model", str(model), "--data", str(data), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "class order differs" in err and "0: person/car" in err


def test_renamed_classes_are_a_warning_listing_the_pairs():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = compare_class_names(["person", "aeroplane", "sofa"],
                                     ["person", "airplane", "couch"])
    assert result.renamed == [(1, "aeroplane", "airplane"), (2, "sofa", "couch")]
    assert caught[0].category is ClassNamesWarning
    assert "1: aeroplane/airplane; 2: sofa/couch" in str(caught[0].message)


def test_names_compare_by_name_not_spelling_and_refuse_extra_dataset_classes():
    assert compare_class_names(["traffic_light"], ["Traffic Light"]).renamed == []
    with pytest.raises(DatasetError, match="can never be detected"):
        compare_class_names(["a"], ["a", "b"])
    assert compare_class_names(["a", "b"], ["a"]).model_only == 1


@pytest.mark.real
def test_val_on_real_coco128_with_darknet(real_data, tmp_path, capsys):
    report = tmp_path / "val.json"
    status = main(["val", "--model", str(real_data / "models/yolo-fastest-1.1"),
                   "--data", str(real_data / "coco128-val/data.yaml"), "--iou", "0.45",
                   "--out", str(tmp_path / "plots"), "--json", str(report), "--quiet"])
    assert status == 0
    # the command prints the ClassNamesWarning as one line on stderr
    err = capsys.readouterr().err
    assert "tecktrack val: warning:" in err and "4: aeroplane/airplane; 57: sofa/couch" in err
    summary = json.loads(report.read_text())["summary"]
    # pycocotools on the same predictions: 0.3005113 / 0.1399200
    assert summary["map50"] == pytest.approx(0.3005113, abs=1e-6)
    assert summary["map"] == pytest.approx(0.1399200, abs=1e-6)


def test_val_skips_an_image_claiming_too_many_pixels(setup, tmp_path, capsys):
    """A PNG whose header claims 100,000 x 100,000 pixels (OpenCV raises for it rather than
    returning None) is skipped and named; the rest is scored as before."""
    from test_unreadable_images import _png_claiming

    model, data = setup
    (data.parent / "images" / "bomb.png").write_bytes(_png_claiming(100_000, 100_000))
    out = tmp_path / "out"
    status = main(["val", "--model", str(model), "--data", str(data), "--json",
                   str(out / "val.json"), "--out", str(out), "--quiet"])
    report = json.loads((out / "val.json").read_text())
    assert status == 1 and report["images"] == 2  # exit 1: something was left out
    assert any("bomb.png" in line for line in report["skipped"])
    assert report["summary"]["map50"] == pytest.approx(1.0, abs=1e-3)
    assert "cv2.error" not in capsys.readouterr().err


@pytest.mark.parametrize("convention", ["coco", "ultralytics"])
def test_a_repeated_label_row_is_one_object_as_ultralytics_reads_it(setup, tmp_path, capsys,
                                                                     convention):
    """Ultralytics keeps one of each repeated label row (with a warning): counted twice, the
    one car the model finds gave recall 0.5 and AP 0.5, not yolo val's numbers."""
    model, data = setup
    label = data.parent / "labels" / "a.txt"
    label.write_text(label.read_text() * 2)
    out = tmp_path / "out"
    assert main(["val", "--model", str(model), "--data", str(data), "--convention",
                 convention, "--json", str(out / "val.json"), "--out", str(out),
                 "--quiet"]) == 0
    assert "1 repeated label row(s) left out" in capsys.readouterr().out
    report = json.loads((out / "val.json").read_text())
    assert report["duplicate_labels"] == 1
    expected = 1.0 if convention == "coco" else 0.995
    assert report["summary"]["map50"] == pytest.approx(expected, abs=1e-3)
