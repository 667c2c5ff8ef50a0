"""``tecktrack evaluate`` on COCO JSON pairs and YOLO folders: numbers, JSON, errors."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tecktrack.cli import main
from tecktrack.datasets.coco import CocoDataset, CocoImage, write_coco, write_coco_results
from tecktrack.detections import Detections
from tecktrack.errors import EvaluationError
from tecktrack.metrics import SUMMARY_KEYS
from tecktrack.metrics.loaders import load_yolo

pytest.importorskip("pycocotools")
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402
from test_metrics_oracle import make_dataset  # noqa: E402


def _pycocotools_stats(gt_json: Path | dict, results: Path | list) -> np.ndarray:
    with contextlib.redirect_stdout(io.StringIO()):
        if isinstance(gt_json, dict):
            coco = COCO()
            coco.dataset = gt_json
            coco.createIndex()
        else:
            coco = COCO(str(gt_json))
        ev = COCOeval(coco, coco.loadRes(str(results) if isinstance(results, Path) else results),
                      "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    status = main(argv)
    out = capsys.readouterr()
    return status, out.out, out.err


def _write_coco_pair(data: dict, folder: Path) -> tuple[Path, Path]:
    cat_ids = sorted(data["names"])
    index = {c: i for i, c in enumerate(cat_ids)}
    keys = list(data["gt"])
    images = [CocoImage(i + 1, f"{k}.jpg", 1000, 1000) for i, k in enumerate(keys)]

    def reindex(d: Detections) -> Detections:
        cls = np.array([index[int(c)] for c in d.class_ids], dtype=np.int64)
        return Detections(d.xyxy, cls, d.scores)

    dataset = CocoDataset(
        images, [data["names"][c] for c in cat_ids], cat_ids,
        {i + 1: reindex(data["gt"][k]) for i, k in enumerate(keys)},
        iscrowd={i + 1: data["iscrowd"][k] for i, k in enumerate(keys)},
        areas={i + 1: data["areas"][k] for i, k in enumerate(keys)})
    gt_path, res_path = folder / "gt.json", folder / "res.json"
    write_coco(gt_path, dataset)
    write_coco_results(res_path, {i + 1: reindex(data["preds"][k])
                                  for i, k in enumerate(keys) if k in data["preds"]}, cat_ids)
    return gt_path, res_path


@pytest.mark.parametrize("seed", [0, 9, 18])
def test_coco_json_pair_matches_pycocotools(tmp_path: Path, capsys, seed: int) -> None:
    gt_path, res_path = _write_coco_pair(make_dataset(seed), tmp_path)
    out = tmp_path / "out" / "eval.json"
    status, text, _ = _run(["evaluate", "--gt", str(gt_path), "--pred", str(res_path),
                            "--json", str(out)], capsys)
    assert status == 0
    assert "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]" in text
    report = json.loads(out.read_text())
    assert set(report) >= {"summary", "per_class", "confusion", "precision_recall"}
    got = [report["summary"][k] for k in SUMMARY_KEYS]
    np.testing.assert_allclose(got, _pycocotools_stats(gt_path, res_path), rtol=0, atol=1e-9)
    labels = report["confusion"]["labels"]
    assert labels[-1] == "background" and len(report["confusion"]["matrix"]) == len(labels)
    assert report["precision_recall"][-1]["class"] == "mean"


def _yolo_world(root: Path) -> tuple[Path, Path, Path]:
    """Three 64x48 images, labels for two of them, predictions for two."""
    images, labels, preds = root / "images", root / "labels", root / "pred"
    for d in (images, labels, preds):
        d.mkdir(parents=True)
    for stem in ("000000", "000001", "000002"):
        cv2.imwrite(str(images / f"{stem}.png"), np.zeros((48, 64, 3), np.uint8))
    (labels / "000000.txt").write_text("0 0.5 0.5 0.5 0.5\n1 0.25 0.25 0.2 0.2\n")
    (labels / "000001.txt").write_text("1 0.5 0.5 0.4 0.4\n")
    (preds / "000000.txt").write_text("0 0.5 0.5 0.5 0.5 0.9\n1 0.25 0.25 0.2 0.2 0.8\n")
    (preds / "000002.txt").write_text("1 0.5 0.5 0.4 0.4 0.7\n")
    (root / "data.yaml").write_text("path: .\ntrain: images\nval: images\nnames: [a, b]\n")
    return labels, preds, images


def test_yolo_folders_with_notes_and_json(tmp_path: Path, capsys) -> None:
    labels, preds, images = _yolo_world(tmp_path)
    out = tmp_path / "eval.json"
    status, text, _ = _run(["evaluate", "--gt", str(labels), "--pred", str(preds), "--images",
                            str(images), "--names", str(tmp_path / "data.yaml"), "--json",
                            str(out)], capsys)
    assert status == 0
    assert "1 image(s) have no label file" in text and "1 image(s) have no prediction file" in text
    report = json.loads(out.read_text())
    assert report["notes"] and report["per_class"][0]["class"] == "a"
    # class a: 1 GT, 1 exact hit; class b: 2 GT, a hit then an FP (image 2 has no GT), so
    # precision 1 up to recall 0.5: 51 of the 101 recall points
    assert report["per_class"][0]["mAP50"] == pytest.approx(1.0, abs=1e-12)
    assert report["per_class"][1]["mAP50"] == pytest.approx(51 / 101, abs=1e-12)
    assert report["confusion"]["matrix"] == [[1, 0, 0], [0, 1, 1], [0, 1, 0]]


def test_yolo_data_yaml_as_ground_truth(tmp_path: Path, capsys) -> None:
    _, preds, _ = _yolo_world(tmp_path)
    status, text, _ = _run(["evaluate", "--gt", str(tmp_path / "data.yaml"), "--pred",
                            str(preds)], capsys)
    assert status == 0 and " a " in text and " b " in text


def _expect_error(argv: list[str], capsys, message: str) -> None:
    status, _, err = _run(argv, capsys)
    assert status == 2
    assert message in err, err


def test_bad_yolo_inputs_are_one_line_errors(tmp_path: Path, capsys) -> None:
    labels, preds, images = _yolo_world(tmp_path)
    (preds / "999999.txt").write_text("0 0.5 0.5 0.1 0.1 0.5\n")
    _expect_error(["evaluate", "--gt", str(labels), "--pred", str(preds), "--images",
                   str(images)], capsys, "1 prediction file(s) name images that are not in")
    empty = tmp_path / "nothing"
    empty.mkdir()
    _expect_error(["evaluate", "--gt", str(labels), "--pred", str(empty), "--images",
                   str(images)], capsys, "no prediction files")
    (preds / "999999.txt").unlink()
    (preds / "000000.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    _expect_error(["evaluate", "--gt", str(labels), "--pred", str(preds), "--images",
                   str(images)], capsys, "000000.txt:1: expected 6 columns")
    other = tmp_path / "other" / "lbl"
    other.mkdir(parents=True)
    _expect_error(["evaluate", "--gt", str(other), "--pred", str(preds)], capsys,
                  "pass --images DIR")
    _expect_error(["evaluate", "--gt", str(labels), "--pred", str(preds), "--images",
                   str(images), "--iou", "1.5"], capsys, "--iou must be in (0, 1]")


def test_bad_coco_inputs_are_one_line_errors(tmp_path: Path, capsys) -> None:
    gt_path, res_path = _write_coco_pair(make_dataset(2), tmp_path)
    results = json.loads(res_path.read_text())
    cases = {
        "unknown image": ([{**results[0], "image_id": 12345}], "12345 is not in images"),
        "unknown category": ([{**results[0], "category_id": 999}], "999 is not a known category"),
        "negative size": ([{**results[0], "bbox": [1, 1, -3, 4]}], "negative"),
    }
    for name, (content, message) in cases.items():
        bad = tmp_path / f"{name.replace(' ', '_')}.json"
        bad.write_text(json.dumps(content))
        _expect_error(["evaluate", "--gt", str(gt_path), "--pred", str(bad)], capsys, message)
    empty = tmp_path / "empty.json"
    empty.write_text("")
    _expect_error(["evaluate", "--gt", str(empty), "--pred", str(res_path)], capsys,
                  "file is empty")
    _expect_error(["evaluate", "--gt", str(gt_path), "--pred", str(res_path), "--json",
                   str(res_path)], capsys, "would overwrite an input")
    assert json.loads(res_path.read_text()) == results


@pytest.mark.real
def test_real_coco128_labels_match_pycocotools(real_data: Path, tmp_path: Path, capsys) -> None:
    root = real_data / "coco128-val"
    rng = np.random.default_rng(0)
    pred_dir = tmp_path / "pred"
    pred_dir.mkdir()
    for label in sorted((root / "labels").glob("*.txt"))[:100]:
        rows = np.loadtxt(label, ndmin=2).reshape(-1, 5)
        keep = rng.random(len(rows)) < 0.8
        rows = rows[keep]
        rows[:, 1:3] = np.clip(rows[:, 1:3] + rng.normal(0, 0.01, (len(rows), 2)), 0, 1)
        flip = rng.random(len(rows)) < 0.1
        rows[flip, 0] = rng.integers(0, 80, int(flip.sum()))
        table = np.column_stack([rows, rng.random(len(rows))])
        np.savetxt(pred_dir / label.name, table, fmt=["%d"] + ["%.6f"] * 5)
    out = tmp_path / "eval.json"
    status, _, _ = _run(["evaluate", "--gt", str(root / "data.yaml"), "--pred", str(pred_dir),
                         "--json", str(out)], capsys)
    assert status == 0
    report = json.loads(out.read_text())
    inputs = load_yolo(root / "data.yaml", pred_dir, quiet=True)
    images, anns, results = [], [], []
    for i, key in enumerate(inputs.gt):
        images.append({"id": i + 1})
        for box, c in zip(inputs.gt[key].to_coco().tolist(), inputs.gt[key].class_ids.tolist(),
                          strict=True):
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": c,
                         "bbox": box, "area": box[2] * box[3], "iscrowd": 0})
        d = inputs.preds.get(key)
        for box, c, s in zip(*(() if d is None else (d.to_coco().tolist(),
                                                     d.class_ids.tolist(),
                                                     d.scores.astype(float).tolist())),
                             strict=True):
            results.append({"image_id": i + 1, "category_id": c, "bbox": box, "score": s})
    dataset = {"images": images, "annotations": anns,
               "categories": [{"id": c} for c in range(80)]}
    expected = _pycocotools_stats(dataset, results)
    got = [report["summary"][k] for k in SUMMARY_KEYS]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    assert 0.2 < report["summary"]["map50"] < 0.95


def test_evaluate_json_refuses_an_existing_file_without_force(tmp_path):
    from tecktrack.metrics.report import write_report

    out = tmp_path / "eval.json"
    out.write_text("keep me")
    with pytest.raises(EvaluationError, match="exists already; pass --force"):
        write_report(out, {"summary": {}})
    assert out.read_text() == "keep me"
    write_report(out, {"summary": {}}, force=True)
    assert json.loads(out.read_text()) == {"summary": {}}
