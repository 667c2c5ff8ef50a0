"""COCO evaluation on two-decimal boxes placed exactly on the IoU thresholds (#21).

Annotation tools write boxes with two decimals; a detection shifted by a two-decimal amount
can have an IoU of exactly 0.50, 0.55, ..., 0.95 in real arithmetic. Which side of the threshold
the computed IoU lands on then depends on the last bit of the double arithmetic, so only an
evaluator that keeps the file's float64 ``x, y, w, h`` and computes IoU as pycocotools'
``bbIou`` does can agree with pycocotools. Float32 corners (what ``Detections`` stores) cannot.
The files are read by the same loader ``tecktrack evaluate`` uses; pycocotools and
faster-coco-eval read the very same files.
"""

from __future__ import annotations

import contextlib
import io
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tecktrack.cli import main
from tecktrack.datasets.coco import read_coco, write_coco
from tecktrack.detections import Detections
from tecktrack.errors import EvaluationError
from tecktrack.metrics import SUMMARY_KEYS, ExactBoxes, evaluate
from tecktrack.metrics.loaders import load_coco

pytest.importorskip("pycocotools")
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

THRESHOLDS = [Fraction(p, 20) for p in range(10, 20)]     # 0.50 .. 0.95


def _shift_pair(rng: np.random.Generator, t: Fraction) -> tuple[list[float], list[float]]:
    """A two-decimal ground truth and a detection shifted along x or y with IoU exactly ``t``.

    Same size, shift ``s``: IoU = (w - s) / (w + s), so ``s = w (1 - t) / (1 + t)``; ``w`` is
    picked so that ``s`` has two decimals too.
    """
    ratio = (1 - t) / (1 + t)
    k = int(rng.integers(1, 40))
    w = Fraction(ratio.denominator * k, 100)
    s = Fraction(ratio.numerator * k, 100)
    while w < 4:                                   # keep boxes of a plausible size
        w, s = 2 * w, 2 * s
    h = Fraction(int(rng.integers(500, 30000)), 100)
    x = Fraction(int(rng.integers(0, 60000)), 100)
    y = Fraction(int(rng.integers(0, 40000)), 100)
    gt = [float(x), float(y), float(w), float(h)]
    axis = int(rng.integers(0, 2))
    if axis == 1:                                  # shift along y instead: swap the roles
        gt = [float(x), float(y), float(h), float(w)]
    det = list(gt)
    # as a tool computing x + s in floating point writes it (e.g. 336.71000000000004), or
    # rounded back to two decimals as an annotation tool would
    det[axis] = gt[axis] + float(s) if rng.random() < 0.5 else round(gt[axis] + float(s), 2)
    return gt, det


def _inset_pair(rng: np.random.Generator, t: Fraction) -> tuple[list[float], list[float]]:
    """A detection inside its ground truth, same height, width ``t * w``: IoU exactly ``t``."""
    k = int(rng.integers(5, 200))
    w = Fraction(20 * k, 100)                      # t * w then has two decimals
    h = Fraction(int(rng.integers(500, 30000)), 100)
    x = Fraction(int(rng.integers(0, 60000)), 100)
    y = Fraction(int(rng.integers(0, 40000)), 100)
    return ([float(x), float(y), float(w), float(h)],
            [float(x), float(y), float(t * w), float(h)])


def threshold_files(tmp: Path, seed: int, n_images: int = 40) -> tuple[Path, Path]:
    """COCO ground truth and results JSON whose boxes sit on the IoU thresholds."""
    rng = np.random.default_rng(seed)
    images, anns, results = [], [], []
    for image_id in range(1, n_images + 1):
        images.append({"id": image_id, "file_name": f"{image_id}.jpg", "width": 1000,
                       "height": 1000})
        for _ in range(int(rng.integers(1, 5))):
            t = THRESHOLDS[int(rng.integers(0, len(THRESHOLDS)))]
            gt, det = (_shift_pair if rng.random() < 0.7 else _inset_pair)(rng, t)
            cat = int(rng.integers(1, 4))
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": cat,
                         "bbox": gt, "area": gt[2] * gt[3], "iscrowd": 0})
            results.append({"image_id": image_id, "category_id": cat, "bbox": det,
                            "score": round(float(rng.random()), 3)})
    cats = [{"id": c, "name": f"c{c}"} for c in (1, 2, 3)]
    gt_path, res_path = tmp / f"gt{seed}.json", tmp / f"res{seed}.json"
    gt_path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    res_path.write_text(json.dumps(results))
    return gt_path, res_path


def _cocoeval(coco_cls, eval_cls, gt_path: Path, res_path: Path):
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = coco_cls(str(gt_path))
        ev = eval_cls(coco_gt, coco_gt.loadRes(str(res_path)), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def _ours(gt_path: Path, res_path: Path):
    inputs = load_coco(gt_path, res_path)
    return evaluate(inputs.gt, inputs.preds, names=inputs.names, areas=inputs.areas,
                    iscrowd=inputs.iscrowd, exact=inputs.exact)


@pytest.mark.parametrize("seed", range(6))
def test_threshold_boxes_match_pycocotools(tmp_path: Path, seed: int) -> None:
    gt_path, res_path = threshold_files(tmp_path, seed)
    oracle = _cocoeval(COCO, COCOeval, gt_path, res_path)
    ours = _ours(gt_path, res_path)
    got = np.array([ours.summary[k] for k in SUMMARY_KEYS])
    np.testing.assert_allclose(got, oracle.stats, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.precision, oracle.eval["precision"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.recall, oracle.eval["recall"], rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_threshold_boxes_match_faster_coco_eval(tmp_path: Path, seed: int) -> None:
    fce = pytest.importorskip("faster_coco_eval")
    gt_path, res_path = threshold_files(tmp_path, seed)
    oracle = _cocoeval(fce.COCO, fce.COCOeval_faster, gt_path, res_path)
    ours = _ours(gt_path, res_path)
    got = np.array([ours.summary[k] for k in SUMMARY_KEYS])
    np.testing.assert_allclose(got, np.asarray(oracle.stats[:12]), rtol=0, atol=1e-12)


def test_threshold_files_really_sit_on_the_thresholds(tmp_path: Path) -> None:
    """The generator's pairs have IoU on a threshold in exact arithmetic, and float32 corners
    put a good share of them on the other side than pycocotools' double arithmetic does."""
    gt_path, res_path = threshold_files(tmp_path, 0)
    anns = json.loads(gt_path.read_text())["annotations"]
    res = json.loads(res_path.read_text())

    def iou(d, g, dtype):
        d, g = np.asarray(d, dtype), np.asarray(g, dtype)
        w = min(d[0] + d[2], g[0] + g[2]) - max(d[0], g[0])
        h = min(d[1] + d[3], g[1] + g[3]) - max(d[1], g[1])
        return float(w * h / (d[2] * d[3] + g[2] * g[3] - w * h))

    assert len(res) == len(anns)                   # one detection per ground truth
    on, flipped = 0, 0
    for a, r in zip(anns, res, strict=True):
        v64, v32 = iou(r["bbox"], a["bbox"], np.float64), iou(r["bbox"], a["bbox"], np.float32)
        near = min(THRESHOLDS, key=lambda t: abs(float(t) - v64))
        on += abs(v64 - float(near)) < 1e-9
        flipped += (v64 >= float(near)) != (v32 >= float(near))
    assert on >= 0.8 * len(anns)
    assert flipped > 0


def _issue_example(tmp_path: Path) -> tuple[Path, Path]:
    gt_path, res_path = tmp_path / "gt.json", tmp_path / "res.json"
    gt_path.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": 640, "height": 480}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
                         "bbox": [318.48, 10, 54.69, 20], "area": 54.69 * 20, "iscrowd": 0}],
        "categories": [{"id": 1, "name": "thing"}]}))
    res_path.write_text(json.dumps([{"image_id": 1, "category_id": 1,
                                     "bbox": [336.71000000000004, 10, 54.69, 20],
                                     "score": 0.9}]))
    return gt_path, res_path


def test_issue_example_gives_ap50_zero_as_pycocotools(tmp_path: Path) -> None:
    """#21: ground truth [318.48, 10, 54.69, 20], detection at x = 336.71000000000004."""
    gt_path, res_path = _issue_example(tmp_path)
    oracle = _cocoeval(COCO, COCOeval, gt_path, res_path)
    ours = _ours(gt_path, res_path)
    assert oracle.stats[1] == 0.0
    assert ours.summary["map50"] == 0.0


def test_exact_boxes_in_memory_match_the_file_path(tmp_path: Path) -> None:
    """``evaluate(..., exact=ExactBoxes(...))`` is what the loader hands over."""
    gt_path, res_path = threshold_files(tmp_path, 2)
    inputs = load_coco(gt_path, res_path)
    assert isinstance(inputs.exact, ExactBoxes)
    with_exact = _ours(gt_path, res_path)
    without = evaluate(inputs.gt, inputs.preds, names=inputs.names, areas=inputs.areas,
                       iscrowd=inputs.iscrowd)
    oracle = _cocoeval(COCO, COCOeval, gt_path, res_path)
    assert with_exact.summary["map"] == pytest.approx(oracle.stats[0], abs=1e-12)
    # float32 corners alone land on the other side of some threshold
    assert any(abs(without.summary[k] - s) > 1e-9
               for k, s in zip(SUMMARY_KEYS, oracle.stats, strict=True))


def test_evaluate_command_on_the_issue_example(tmp_path: Path) -> None:
    """The CLI path: ``tecktrack evaluate --json`` reports AP50 0.0, as pycocotools does."""
    gt_path, res_path = _issue_example(tmp_path)
    out = tmp_path / "report.json"
    with contextlib.redirect_stdout(io.StringIO()):
        status = main(["evaluate", "--gt", str(gt_path), "--pred", str(res_path), "--quiet",
                       "--json", str(out)])
    assert status == 0
    report = json.loads(out.read_text())
    assert report["summary"]["map50"] == 0.0
    assert report["confusion"] is not None


def test_write_coco_keeps_the_file_values(tmp_path: Path) -> None:
    """read_coco -> write_coco writes 318.48 back, not the float32 318.4800109863281."""
    gt_path, _ = _issue_example(tmp_path)
    again = tmp_path / "again.json"
    write_coco(again, read_coco(gt_path))
    assert json.loads(again.read_text())["annotations"][0]["bbox"] == [318.48, 10, 54.69, 20]


def test_yolo_files_keep_float64_too(tmp_path: Path) -> None:
    """YOLO label and prediction files near the thresholds: ``evaluate`` reads them in float64
    and agrees with pycocotools given the same float64 pixel boxes (float32 corners did not)."""
    import cv2

    gt_path, res_path = threshold_files(tmp_path, 4, n_images=30)
    coco_gt, results = json.loads(gt_path.read_text()), json.loads(res_path.read_text())
    size = 2000.0
    for sub in ("images", "labels", "pred"):
        (tmp_path / sub).mkdir()

    def yolo_row(box: list[float]) -> list[float]:
        x, y, w, h = box
        return [(x + w / 2) / size, (y + h / 2) / size, w / size, h / size]

    def as_read(row: list[float]) -> list[float]:
        """The float64 pixel box the reader makes of a row (corners, then x, y, w, h)."""
        c = np.array(row[:2]) * size
        half = np.array(row[2:]) * size / 2
        x1, y1 = c - half
        x2, y2 = c + half
        return [float(x1), float(y1), float(x2 - x1), float(y2 - y1)]

    lines: dict[int, list[str]] = {im["id"]: [] for im in coco_gt["images"]}
    preds: dict[int, list[str]] = {im["id"]: [] for im in coco_gt["images"]}
    for ann in coco_gt["annotations"]:
        row = yolo_row(ann["bbox"])
        lines[ann["image_id"]].append(" ".join([str(ann["category_id"] - 1), *map(repr, row)]))
        ann["bbox"] = as_read(row)
        ann["area"] = ann["bbox"][2] * ann["bbox"][3]
    for res in results:
        row = yolo_row(res["bbox"])
        preds[res["image_id"]].append(" ".join([str(res["category_id"] - 1), *map(repr, row),
                                                repr(res["score"])]))
        res["bbox"] = as_read(row)
    for im in coco_gt["images"]:
        im["width"] = im["height"] = int(size)
        stem = f"{im['id']:04d}"
        cv2.imwrite(str(tmp_path / "images" / f"{stem}.png"), np.zeros((8, 8, 3), np.uint8))
        (tmp_path / "labels" / f"{stem}.txt").write_text("\n".join(lines[im["id"]]) + "\n")
        (tmp_path / "pred" / f"{stem}.txt").write_text("\n".join(preds[im["id"]]) + "\n")
    # the PNGs are 8x8; the boxes are in a 2000 x 2000 frame: give the reader that size
    from unittest import mock

    from tecktrack.metrics import loaders

    with mock.patch.object(loaders, "image_size", return_value=(int(size), int(size))):
        inputs = loaders.load_yolo(tmp_path / "labels", tmp_path / "pred", quiet=True)
    ours = evaluate(inputs.gt, inputs.preds, names=["c1", "c2", "c3"], exact=inputs.exact)
    float32_only = evaluate(inputs.gt, inputs.preds, names=["c1", "c2", "c3"])
    (tmp_path / "gt64.json").write_text(json.dumps(coco_gt))
    (tmp_path / "res64.json").write_text(json.dumps(results))
    oracle = _cocoeval(COCO, COCOeval, tmp_path / "gt64.json", tmp_path / "res64.json")
    got = np.array([ours.summary[k] for k in SUMMARY_KEYS])
    np.testing.assert_allclose(got, oracle.stats, rtol=0, atol=1e-12)
    assert any(abs(float32_only.summary[k] - s) > 1e-9
               for k, s in zip(SUMMARY_KEYS, oracle.stats, strict=True))


def test_error_breakdown_and_bootstrap_read_the_exact_boxes(tmp_path: Path) -> None:
    """TIDE and the bootstrap see the file's float64 boxes too: on the issue example the
    detection is a localisation error (IoU 0.4999...), not a true positive as float32 says."""
    from tecktrack.metrics import bootstrap_intervals, compare_models, error_breakdown

    gt_path, res_path = _issue_example(tmp_path)
    inputs = load_coco(gt_path, res_path)
    common = {"names": inputs.names, "iscrowd": inputs.iscrowd}
    exact = error_breakdown(inputs.gt, inputs.preds, exact=inputs.exact, **common)
    float32 = error_breakdown(inputs.gt, inputs.preds, **common)
    assert exact.detection_type.tolist() == ["Loc"] and exact.ap50 == 0.0
    assert float32.detection_type.tolist() == ["TP"]       # what the old path scored
    boot = bootstrap_intervals(inputs.gt, inputs.preds, n_resamples=5, seed=0, quiet=True,
                               areas=inputs.areas, exact=inputs.exact, **common)
    assert boot.summary_intervals().loc["map50", "value"] == 0.0
    pair = compare_models(inputs.gt, {"A": inputs.preds, "B": inputs.preds}, n_resamples=3,
                          quiet=True, areas=inputs.areas, exact={"A": inputs.exact}, **common)
    assert pair.evaluations["A"].summary["map50"] == 0.0
    assert pair.evaluations["B"].summary["map50"] == pytest.approx(1.0)  # B: no exact boxes
    assert pair.errors["A"].detection_type.tolist() == ["Loc"]


def test_evaluate_errors_flag_on_the_issue_example(tmp_path: Path) -> None:
    """``evaluate --errors`` scores the same boxes as the summary: one Loc error."""
    gt_path, res_path = _issue_example(tmp_path)
    out = tmp_path / "report.json"
    with contextlib.redirect_stdout(io.StringIO()):
        status = main(["evaluate", "--gt", str(gt_path), "--pred", str(res_path), "--quiet",
                       "--errors", "--json", str(out)])
    assert status == 0
    report = json.loads(out.read_text())
    assert report["error_counts"]["Loc"] == 1 and report["summary"]["map50"] == 0.0


def _wide_files(tmp: Path, seed: int) -> tuple[Path, Path]:
    """Two-decimal boxes at x = 16,384 .. 131,072 on 140,000-pixel-wide images (aerial and
    whole-slide images), detections moved by two-decimal amounts: there a float32 step is
    0.002-0.016 px, so the float32 corners of a box lie further than 0.001 px from the file's
    x, y, w, h."""
    rng = np.random.default_rng(seed)
    images, anns, results = [], [], []
    for image_id in range(1, 21):
        images.append({"id": image_id, "file_name": f"{image_id}.tif", "width": 140_000,
                       "height": 2000})
        for _ in range(int(rng.integers(1, 6))):
            box = [round(float(rng.uniform(16_384, 131_072)), 2),
                   round(float(rng.uniform(0, 1900)), 2),
                   round(float(rng.uniform(2, 90)), 2), round(float(rng.uniform(2, 90)), 2)]
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": 1,
                         "bbox": box, "area": round(box[2] * box[3], 4), "iscrowd": 0})
            moved = [round(v + float(rng.integers(-300, 300)) / 100, 2) for v in box]
            moved[2:] = [max(v, 0.5) for v in moved[2:]]
            results.append({"image_id": image_id, "category_id": 1, "bbox": moved,
                            "score": round(float(rng.random()), 3)})
    gt_path, res_path = tmp / f"wide{seed}.json", tmp / f"wide_res{seed}.json"
    gt_path.write_text(json.dumps({"images": images, "annotations": anns,
                                   "categories": [{"id": 1, "name": "cell"}]}))
    res_path.write_text(json.dumps(results))
    return gt_path, res_path


@pytest.mark.parametrize("seed", range(3))
def test_boxes_far_from_the_origin_match_pycocotools(tmp_path: Path, seed: int) -> None:
    """The file's float64 boxes are checked against the float32 Detections made from them with
    a tolerance of a float32 step at the box (it was a fixed 0.001 px, which refused about half
    of all valid boxes beyond x = 65,536 with "exact boxes ... do not match")."""
    gt_path, res_path = _wide_files(tmp_path, seed)
    oracle = _cocoeval(COCO, COCOeval, gt_path, res_path)
    ours = _ours(gt_path, res_path)
    got = np.array([ours.summary[k] for k in SUMMARY_KEYS])
    np.testing.assert_allclose(got, oracle.stats, rtol=0, atol=1e-12)
    assert oracle.stats[0] > 0


def test_exact_boxes_that_are_not_the_detections_are_refused() -> None:
    """The check still catches float64 boxes that belong to other detections: a width 0.01 px
    off near the origin, or 0.05 px off at x = 100,000 (a float32 step there is 0.0078 px)."""
    for x, off in ((10.5, 0.01), (100_000.5, 0.05)):
        gt = {1: [[x, 5.0, 20.0, 20.0]]}
        dets = {1: Detections(np.array([[x, 5, x + 20, 25]], np.float32), [0], [0.9])}
        exact = ExactBoxes(gt=gt, preds={1: [[x, 5.0, 20.0 + off, 20.0]]})
        with pytest.raises(EvaluationError, match="exact boxes for image 1 do not match"):
            evaluate({1: Detections(np.array([[x, 5, x + 20, 25]], np.float32), [0])}, dets,
                     exact=exact)
