"""Bootstrap over images: each resample equals the engine (and pycocotools) on the duplicated
dataset; intervals, seeds and the paired comparison."""

from __future__ import annotations

import numpy as np
import pytest
from test_metrics_oracle import make_dataset, run_pycocotools

from tecktrack.detections import Detections
from tecktrack.errors import EvaluationError
from tecktrack.metrics import SUMMARY_KEYS, evaluate
from tecktrack.metrics.bootstrap import (
    bootstrap_intervals,
    percentile_interval,
    resample_counts,
    resampled_metrics,
)


def duplicated(data: dict, counts: np.ndarray) -> dict:
    """The resampled dataset spelled out: image i appears counts[i] times, copies adjacent."""
    out = {"gt": {}, "preds": {}, "areas": {}, "iscrowd": {}, "names": data["names"]}
    for i, key in enumerate(data["gt"]):
        for r in range(int(counts[i])):
            out["gt"][(key, r)] = data["gt"][key]
            out["areas"][(key, r)] = data["areas"][key]
            out["iscrowd"][(key, r)] = data["iscrowd"][key]
            if key in data["preds"]:
                out["preds"][(key, r)] = data["preds"][key]
    return out


def _kw(data: dict) -> dict:
    return {"names": data["names"], "areas": data["areas"], "iscrowd": data["iscrowd"]}


def _nan(values) -> np.ndarray:
    v = np.asarray(values, np.float64)
    return np.where(v < 0, np.nan, v)


@pytest.mark.parametrize("seed", [0, 1, 3, 4, 6, 8])   # tie scores in 0, 3, 4 and 8
def test_each_of_20_resamples_equals_the_engine_on_the_duplicated_dataset(seed: int) -> None:
    data = make_dataset(seed)
    counts = resample_counts(len(data["gt"]), 20, seed=seed)
    got = resampled_metrics(data["gt"], data["preds"], counts, **_kw(data))
    for b in range(20):
        dup = duplicated(data, counts[b])
        ev = evaluate(dup["gt"], dup["preds"], **_kw(dup))
        want = _nan([ev.summary[k] for k in SUMMARY_KEYS])
        np.testing.assert_allclose(got.summary[b], want, atol=1e-12, rtol=0)
        np.testing.assert_allclose(got.class_ap[b], ev.per_class["mAP50-95"], atol=1e-12, rtol=0)
        np.testing.assert_allclose(got.class_ap50[b], ev.per_class["mAP50"], atol=1e-12, rtol=0)


def test_tied_scores_are_exact_only_with_copy_by_copy_blocks() -> None:
    """Guard: one image drawn twice with a tied TP/FP pair changes AP when copies interleave."""
    box = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    gt = {"a": Detections(box[:1], [0]), "b": Detections(box[2:], [0])}
    preds = {"a": Detections(box[:2] + [[0, 0, 0, 0], [30, 30, 30, 30]], [0, 0], [0.5, 0.5]),
             "b": Detections(box[2:], [0], [0.4])}
    counts = np.array([[2, 1]])
    dup = duplicated({"gt": gt, "preds": preds, "areas": {k: None for k in gt},
                      "iscrowd": {k: None for k in gt}, "names": None}, counts[0])
    want = evaluate(dup["gt"], dup["preds"]).summary["map50"]
    assert resampled_metrics(gt, preds, counts).summary[0, 1] == pytest.approx(want, abs=1e-12)
    assert want != pytest.approx(evaluate(gt, preds).summary["map50"])


@pytest.mark.parametrize("seed", [2, 5])
def test_resamples_equal_pycocotools_on_the_duplicated_dataset(seed: int) -> None:
    data = make_dataset(seed)
    counts = resample_counts(len(data["gt"]), 3, seed=seed)
    got = resampled_metrics(data["gt"], data["preds"], counts, **_kw(data))
    for b in range(3):
        ev = run_pycocotools(duplicated(data, counts[b]))
        if ev is None:
            continue
        np.testing.assert_allclose(got.summary[b], _nan(ev.stats[:12]), atol=1e-9, rtol=0)


def test_drawing_every_image_once_gives_the_point_estimate() -> None:
    data = make_dataset(7)
    ones = np.ones((1, len(data["gt"])), np.int32)
    got = resampled_metrics(data["gt"], data["preds"], ones, **_kw(data))
    ev = evaluate(data["gt"], data["preds"], **_kw(data))
    np.testing.assert_allclose(got.summary[0], _nan([ev.summary[k] for k in SUMMARY_KEYS]),
                               atol=1e-12, rtol=0)


def test_counts_are_seeded_and_sum_to_the_image_count() -> None:
    a, b = resample_counts(50, 30, seed=3), resample_counts(50, 30, seed=3)
    assert np.array_equal(a, b) and not np.array_equal(a, resample_counts(50, 30, seed=4))
    assert (a.sum(axis=1) == 50).all()
    # an image is left out of about 1/e of the resamples
    assert 0.3 < (a == 0).mean() < 0.44


def test_bootstrap_intervals_contain_the_point_estimate_and_shrink_with_more_images() -> None:
    rng = np.random.default_rng(0)

    def problem(n: int) -> tuple[dict, dict]:
        gt, preds = {}, {}
        for i in range(n):
            box = np.array([[10, 10, 50, 50]], np.float32)
            gt[i] = Detections(box, [0])
            hit = rng.random() < 0.7
            preds[i] = Detections(box + (0 if hit else 60), [0], [rng.random()])
        return gt, preds

    widths = []
    for n in (20, 400):
        b = bootstrap_intervals(*problem(n), n_resamples=300, seed=1, quiet=True)
        row = b.summary_intervals().loc["map50"]
        assert row["lo"] <= row["value"] <= row["hi"]
        widths.append(row["hi"] - row["lo"])
    assert widths[1] < widths[0] / 2


def test_to_dict_is_json_ready_and_names_classes() -> None:
    data = make_dataset(1)
    b = bootstrap_intervals(data["gt"], data["preds"], n_resamples=30, seed=0, quiet=True,
                            **_kw(data))
    d = b.to_dict()
    assert d["n_resamples"] == 30 and d["seed"] == 0 and set(d["summary"]) == set(SUMMARY_KEYS)
    assert {r["class"] for r in d["per_class"]} == set(data["names"].values())


def test_percentile_interval_skips_undefined_resamples() -> None:
    s = np.array([[0.0, np.nan], [1.0, np.nan], [2.0, 5.0]])
    lo, hi = percentile_interval(s, 0.5)
    assert lo[0] == 0.5 and hi[0] == 1.5 and lo[1] == hi[1] == 5.0


def test_bad_counts_are_refused() -> None:
    g = {"a": Detections(np.array([[0, 0, 5, 5]], np.float32), [0])}
    with pytest.raises(EvaluationError, match="counts"):
        resampled_metrics(g, {}, np.ones((2, 3)))
    with pytest.raises(EvaluationError, match="confidence"):
        bootstrap_intervals(g, {}, confidence=1.5)


def test_class_size_table_averages_to_the_coco_summary() -> None:
    from tecktrack.metrics.breakdown import class_size_table

    for seed in (0, 2, 5):
        data = make_dataset(seed)
        ev = evaluate(data["gt"], data["preds"], **_kw(data))
        table = class_size_table(ev)
        for col, key in [("AP", "map"), ("AP_small", "map_small"), ("AP_medium", "map_medium"),
                         ("AP_large", "map_large"), ("AP50", "map50"), ("AR100", "ar100"),
                         ("AR_small", "ar_small"), ("AR_large", "ar_large")]:
            want = ev.summary[key]
            got = table[col].mean() if table[col].notna().any() else -1.0
            assert got == pytest.approx(want, abs=1e-12), (seed, col)


def test_evaluate_bootstrap_flag_is_seeded_and_written(tmp_path, capsys) -> None:
    import json

    from test_metrics_errors import _write_json_pair

    from tecktrack.cli import main

    gt_path, res_path = _write_json_pair(make_dataset(6), tmp_path)
    reports = []
    for i, seed in enumerate((3, 3, 4)):
        out = tmp_path / f"eval{i}.json"
        assert main(["evaluate", "--gt", str(gt_path), "--pred", str(res_path), "--bootstrap",
                     "40", "--seed", str(seed), "--json", str(out), "--quiet"]) == 0
        reports.append(json.loads(out.read_text())["bootstrap"])
    assert "95% intervals over 40 image resamples" in capsys.readouterr().out
    assert reports[0] == reports[1] and reports[0] != reports[2]
    row = reports[0]["summary"]["map"]
    assert row["lo"] <= row["value"] <= row["hi"] and reports[0]["n_resamples"] == 40
    assert main(["evaluate", "--gt", str(gt_path), "--pred", str(res_path), "--bootstrap",
                 "-1"]) == 2


def test_interpolated_pr_columns_average_to_per_class_ap50() -> None:
    from tecktrack.metrics.curves import interpolated_pr, pr_curves

    for seed in (0, 3, 5):
        data = make_dataset(seed)
        ev = evaluate(data["gt"], data["preds"], **_kw(data))
        table = interpolated_pr(pr_curves(data["gt"], data["preds"], **_kw(data)),
                                classes=ev.per_class.dropna()["class"])
        want = ev.per_class.dropna().set_index("class")["mAP50"]
        np.testing.assert_allclose(table.mean().to_numpy(), want.loc[table.columns].to_numpy(),
                                   atol=1e-12, rtol=0)


def test_evaluate_refuses_an_existing_json_before_the_long_work(tmp_path, capsys) -> None:
    from test_metrics_errors import _write_json_pair

    from tecktrack.cli import main

    gt_path, res_path = _write_json_pair(make_dataset(6), tmp_path)
    out = tmp_path / "eval.json"
    out.write_text("keep")
    assert main(["evaluate", "--gt", str(gt_path), "--pred", str(res_path), "--bootstrap",
                 "100000", "--json", str(out)]) == 2
    captured = capsys.readouterr()
    assert "pass --force" in captured.err and "Average Precision" not in captured.out
    assert out.read_text() == "keep"


@pytest.mark.parametrize("seed", [0, 3])                # 3 has tied scores
def test_one_matching_gives_evaluate_and_the_resamples_exactly(seed: int) -> None:
    """``bootstrap_intervals`` matches once for the point estimate and the resamples: the
    same numbers as ``evaluate`` and as ``resampled_metrics`` (each matching on its own)."""
    data = make_dataset(seed)
    counts = resample_counts(len(data["gt"]), 30, seed)
    b = bootstrap_intervals(data["gt"], data["preds"], counts=counts, quiet=True, **_kw(data))
    ev = evaluate(data["gt"], data["preds"], **_kw(data))
    assert b.evaluation.summary == ev.summary
    assert b.evaluation.per_class.equals(ev.per_class)
    np.testing.assert_array_equal(b.evaluation.precision, ev.precision)
    alone = resampled_metrics(data["gt"], data["preds"], counts, **_kw(data))
    np.testing.assert_array_equal(b.samples.summary, alone.summary)
    np.testing.assert_array_equal(b.samples.class_ap, alone.class_ap)
    with pytest.raises(EvaluationError, match="counts"):
        bootstrap_intervals(data["gt"], data["preds"], counts=counts[:, 1:], **_kw(data))
