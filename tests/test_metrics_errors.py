"""tecktrack.metrics.errors (TIDE error breakdown) against tidecv, plus hand-worked cases."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from test_metrics_oracle import make_dataset

from tecktrack.detections import Detections
from tecktrack.errors import EvaluationError
from tecktrack.metrics.errors import ERROR_KEYS, ERROR_TYPES, error_breakdown

N_RANDOM, N_SYNTH = 25, 40


def tide_problem(seed: int) -> dict:
    """Two-decimal boxes built to hit every TIDE type, IoU near 0.5 and 0.1, tied scores
    (odd seeds), crowd regions, images without predictions."""
    rng = np.random.default_rng(seed)
    n_cls = int(rng.integers(2, 5))
    gt, preds, crowd = {}, {}, {}
    for i in range(int(rng.integers(3, 12))):
        n_gt = int(rng.integers(0, 6))
        xy = np.round(rng.uniform(0, 300, (n_gt, 2)), 2)
        g = np.concatenate([xy, xy + np.round(rng.uniform(10, 120, (n_gt, 2)), 2)], 1)
        g_cls = rng.integers(0, n_cls, n_gt)
        boxes, cls = [], []
        for j in range(n_gt):
            x1, y1, x2, y2 = g[j]
            w, h = x2 - x1, y2 - y1
            kind = rng.choice(["tp", "dupe", "cls", "loc", "both", "half", "tenth", "miss"])
            jitter = np.round(rng.normal(0, 0.03, 4) * [w, h, w, h], 2)
            if kind in ("tp", "dupe", "cls"):
                boxes.append(g[j] + jitter)
                cls.append(g_cls[j] if kind != "cls" else (g_cls[j] + 1) % n_cls)
                if kind == "dupe":
                    boxes.append(g[j] + 1.5 * jitter)
                    cls.append(g_cls[j])
            elif kind in ("loc", "both"):
                s = rng.uniform(0.35, 0.8)
                boxes.append(np.round([x1 + s * w, y1, x2 + s * w, y2], 2))
                cls.append(g_cls[j] if kind == "loc" else (g_cls[j] + 1) % n_cls)
            elif kind == "half":
                boxes.append(np.array([x1, y1, x1 + w / 2, y2]))
                cls.append(g_cls[j])
            elif kind == "tenth":
                boxes.append(np.array([x1, y1, x1 + w / 10, y2]))
                cls.append(g_cls[j])
        for _ in range(int(rng.integers(0, 4))):
            xy0 = np.round(rng.uniform(400, 600, 2), 2)
            boxes.append(np.r_[xy0, xy0 + np.round(rng.uniform(5, 60, 2), 2)])
            cls.append(int(rng.integers(0, n_cls)))
        key = f"im{i}"
        gt[key] = Detections(g.astype(np.float32), g_cls)
        crowd[key] = rng.random(n_gt) < 0.15
        if boxes and rng.random() < 0.9:
            b = np.array(boxes, np.float32)
            b[:, 2:] = np.maximum(b[:, 2:], b[:, :2])
            scores = rng.choice([0.3, 0.6, 0.9], len(b)) if seed % 2 else rng.random(len(b))
            preds[key] = Detections(b, np.array(cls), scores.astype(np.float32))
    return {"gt": gt, "preds": preds, "iscrowd": crowd, "names": [f"c{k}" for k in range(n_cls)]}


def run_tidecv(data: dict) -> tuple[float, dict, dict]:
    """tidecv on the same boxes (xywh from the float32 corners, crowd = ignore region)."""
    tidecv = pytest.importorskip("tidecv")
    gt, pr = tidecv.Data("gt"), tidecv.Data("pred")
    for i, key in enumerate(data["gt"]):
        gt.add_image(i, str(key))
        g = data["gt"][key]
        for box, c, is_crowd in zip(g.to_coco().astype(np.float64).tolist(),
                                    g.class_ids.tolist(), data["iscrowd"][key], strict=True):
            add = gt.add_ignore_region if is_crowd else gt.add_ground_truth
            add(i, c, box, None)
        d = data["preds"].get(key, Detections.empty())
        for box, c, s in zip(_xywh(d.xyxy), d.class_ids.tolist(), d.scores.tolist(), strict=True):
            pr.add_detection(i, c, s, box, None)
    tide = tidecv.TIDE()
    with contextlib.redirect_stdout(io.StringIO()):
        run = tide.evaluate(gt, pr, mode=tidecv.TIDE.BOX)
        errors = tide.get_all_errors()
    dap = {**errors["main"]["pred"], **errors["special"]["pred"]}
    counts = {e.short_name: len(v) for e, v in run.error_dict.items()}
    return run.ap / 100, {k: v / 100 for k, v in dap.items()}, counts


def _xywh(xyxy: np.ndarray) -> list[list[float]]:
    b = xyxy.astype(np.float64)
    return np.c_[b[:, :2], b[:, 2:] - b[:, :2]].tolist()


def _check_against_tidecv(data: dict) -> dict:
    ap, dap, counts = run_tidecv(data)
    got = error_breakdown(data["gt"], data["preds"], names=data["names"],
                          iscrowd=data["iscrowd"])
    assert got.ap50 == pytest.approx(ap, abs=1e-9)
    for key in ERROR_KEYS:
        assert got.dap[key] == pytest.approx(dap[key], abs=1e-9), key
    assert got.counts == counts
    return got.counts


@pytest.mark.parametrize("seed", [s for s in range(N_RANDOM) if s != 19])  # 19: no predictions
def test_random_problems_match_tidecv(seed: int) -> None:
    data = make_dataset(seed)
    _check_against_tidecv(data)


@pytest.mark.parametrize("seed", range(N_SYNTH))
def test_synthetic_problems_match_tidecv(seed: int) -> None:
    _check_against_tidecv(tide_problem(seed))


def test_synthetic_problems_cover_every_error_type() -> None:
    total = dict.fromkeys(ERROR_TYPES, 0)
    for seed in range(N_SYNTH):
        d = tide_problem(seed)
        counts = error_breakdown(d["gt"], d["preds"], iscrowd=d["iscrowd"]).counts
        total = {k: total[k] + counts[k] for k in ERROR_TYPES}
    assert min(total.values()) >= 20, total


def test_dap_is_nonzero_for_every_type_somewhere() -> None:
    best = dict.fromkeys(ERROR_KEYS, 0.0)
    for seed in range(N_SYNTH):
        d = tide_problem(seed)
        dap = error_breakdown(d["gt"], d["preds"], iscrowd=d["iscrowd"]).dap
        best = {k: max(best[k], dap[k]) for k in ERROR_KEYS}
    assert min(best.values()) > 0.005, best


# -- hand-worked examples, one per type -----------------------------------------------------
CAT, DOG = 0, 1
A, B = [0, 0, 10, 10], [20, 20, 30, 30]
SPLIT = (51 + 50 * 2 / 3) / 101          # TP, FP, TP over two boxes: 101-point AP


def _one(gt_boxes, gt_cls, boxes, cls, scores, **kw):
    g = {"im": Detections(np.array(gt_boxes, np.float32).reshape(-1, 4), gt_cls, **kw)}
    p = {"im": Detections(np.array(boxes, np.float32).reshape(-1, 4), cls, scores)}
    return error_breakdown(g, p, names=["cat", "dog"])


@pytest.mark.parametrize(("case", "kind", "ap50", "dap"), [
    # right box, wrong class: the cat is found once the dog is called a cat
    ((([A], [CAT]), ([A], [DOG], [0.9])), "Cls", 0.0, 1.0),
    # IoU 0.4: a better box would have matched
    ((([A], [CAT]), ([[0, 0, 10, 4]], [CAT], [0.9])), "Loc", 0.0, 1.0),
    # IoU 0.4 with a box of another class; dropping it also drops the dog class (no dog GT)
    ((([A], [CAT]), ([A, [0, 0, 10, 4]], [CAT, DOG], [0.9, 0.8])), "Both", 0.5, 0.5),
    # a second box on A before the hit on B
    ((([A, B], [CAT, CAT]), ([A, [0, 0, 10, 9], B], [CAT, CAT, CAT], [0.9, 0.8, 0.7])),
     "Dupe", SPLIT, 1 - SPLIT),
    # a box far from everything before the hit on B
    ((([A, B], [CAT, CAT]), ([A, [90, 90, 99, 99], B], [CAT, CAT, CAT], [0.9, 0.8, 0.7])),
     "Bkg", SPLIT, 1 - SPLIT),
    # B is never found
    ((([A, B], [CAT, CAT]), ([A], [CAT], [0.9])), "Miss", 51 / 101, 50 / 101),
])
def test_hand_worked_example_per_type(case, kind, ap50, dap) -> None:
    (gb, gc), (db, dc, ds) = case
    e = _one(gb, gc, db, dc, ds)
    assert e.counts[kind] == 1
    assert sum(e.counts.values()) == 1
    assert e.ap50 == pytest.approx(ap50, abs=1e-12)
    assert e.dap[kind] == pytest.approx(dap, abs=1e-12)
    assert all(e.dap[k] == 0 for k in ERROR_TYPES if k != kind)


def test_special_errors_by_hand() -> None:
    dupe = _one([A, B], [CAT, CAT], [A, [0, 0, 10, 9], B], [CAT] * 3, [0.9, 0.8, 0.7])
    assert dupe.dap["FalsePos"] == pytest.approx(1 - SPLIT, abs=1e-12)
    assert dupe.dap["FalseNeg"] == 0.0
    miss = _one([A, B], [CAT, CAT], [A], [CAT], [0.9])
    assert miss.dap["FalseNeg"] == pytest.approx(50 / 101, abs=1e-12)


def test_loc_error_on_a_taken_box_is_dropped_not_fixed() -> None:
    e = _one([A], [CAT], [A, [0, 0, 10, 4]], [CAT, CAT], [0.9, 0.8])
    assert e.detection_type.tolist() == ["TP", "Loc"]
    assert e.dap["Loc"] == 0.0 and e.counts["Miss"] == 0


def test_no_predictions_is_all_missed() -> None:   # tidecv divides by zero here
    e = error_breakdown({"im": Detections(np.array([A], np.float32), [CAT])}, {})
    assert e.ap50 == 0.0 and e.counts["Miss"] == 1
    assert all(v == 0.0 for v in e.dap.values())


def test_detection_inside_a_crowd_region_is_not_counted() -> None:
    g = {"im": Detections(np.array([[0, 0, 100, 100], B], np.float32), [CAT, CAT])}
    p = {"im": Detections(np.array([[10, 10, 20, 20], B], np.float32), [CAT, CAT], [0.9, 0.8])}
    crowd = {"im": np.array([True, False])}
    e = error_breakdown(g, p, iscrowd=crowd)
    assert e.ap50 == pytest.approx(1.0)
    assert e.detection_type.tolist() == ["Bkg", "TP"]  # still typed, as tidecv types it
    assert _check_against_tidecv({"gt": g, "preds": p, "iscrowd": crowd, "names": None}) == \
        e.counts


def test_max_dets_keeps_the_top_scores_per_image() -> None:
    boxes = np.array([[i, 0, i + 5, 5] for i in range(0, 300, 2)], np.float32)
    p = {"im": Detections(boxes, np.zeros(len(boxes), int), np.linspace(1, 0.1, len(boxes)))}
    e = error_breakdown({"im": Detections(boxes[:1], [0])}, p, max_dets=10)
    assert (e.detection_type != "").sum() == 10 and e.detection_type[0] == "TP"


def test_bad_thresholds_are_refused() -> None:
    g = {"im": Detections(np.array([A], np.float32), [CAT])}
    with pytest.raises(EvaluationError, match="thresholds"):
        error_breakdown(g, {}, pos_threshold=0.1, background_threshold=0.5)


def test_table_and_dict_use_the_tide_keys() -> None:
    e = _one([A, B], [CAT, CAT], [A], [CAT], [0.9])
    assert list(e.to_dict()) == list(ERROR_KEYS)
    table = e.table()
    assert table.loc["Miss", "count"] == 1 and np.isnan(table.loc["FalsePos", "count"])


# -- tecktrack evaluate --errors, against tidecv's own COCO loaders -----------------------
def _write_json_pair(data: dict, folder) -> tuple:
    """COCO files as annotation tools write them: two-decimal boxes, a polygon per box."""
    import json

    cats = sorted(data["names"])
    images, anns, results = [], [], []
    for i, key in enumerate(data["gt"]):
        images.append({"id": i + 1, "file_name": f"{key}.jpg", "width": 1000, "height": 1000})
        g = data["gt"][key]
        for box, c, crowd in zip(np.round(g.to_coco().astype(np.float64), 2).tolist(),
                                 g.class_ids.tolist(), data["iscrowd"][key], strict=True):
            x, y, w, h = box
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": c, "bbox": box,
                         "area": w * h, "iscrowd": int(crowd),
                         "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]]})
        d = data["preds"].get(key, Detections.empty())
        for box, c, s in zip(np.round(d.to_coco().astype(np.float64), 2).tolist(),
                             d.class_ids.tolist(), d.scores.tolist(), strict=True):
            results.append({"image_id": i + 1, "category_id": c, "bbox": box, "score": s})
    gt_path, res_path = folder / "gt.json", folder / "res.json"
    gt_path.write_text(json.dumps({"images": images, "annotations": anns,
                                   "categories": [{"id": c, "name": f"c{c}"} for c in cats]}))
    res_path.write_text(json.dumps(results))
    return gt_path, res_path


@pytest.mark.parametrize("seed", [0, 4, 11])
def test_evaluate_errors_json_matches_tidecv_on_coco_files(tmp_path, capsys, seed) -> None:
    import json

    tidecv = pytest.importorskip("tidecv")
    from tecktrack.cli import main

    data = make_dataset(seed)
    gt_path, res_path = _write_json_pair(data, tmp_path)
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--gt", str(gt_path), "--pred", str(res_path), "--errors",
                 "--json", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "TIDE errors" in text and "FalseNeg" in text and "AP_small" in text
    report = json.loads(out.read_text())
    assert list(report["errors"]) == list(ERROR_KEYS)
    tide = tidecv.TIDE()
    with contextlib.redirect_stdout(io.StringIO()):
        tide.evaluate(tidecv.datasets.COCO(str(gt_path)), tidecv.datasets.COCOResult(
            str(res_path)), mode=tidecv.TIDE.BOX, name="r")
        errors = tide.get_all_errors()
    want = {**errors["main"]["r"], **errors["special"]["r"]}
    for key in ERROR_KEYS:
        assert report["errors"][key] == pytest.approx(want[key] / 100, abs=1e-9), key
    assert {r["class"] for r in report["per_class_size"]} == {f"c{c}" for c in data["names"]}
