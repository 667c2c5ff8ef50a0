"""``tecktrack compare``: outputs, numbers equal to the library, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_metrics_errors import _write_json_pair
from test_metrics_oracle import make_dataset

from tecktrack.cli import main
from tecktrack.commands.compare import OUTPUTS
from tecktrack.detections import Detections
from tecktrack.metrics import SUMMARY_KEYS, evaluate
from tecktrack.metrics.errors import ERROR_KEYS, error_breakdown
from tecktrack.metrics.loaders import load_coco


@pytest.fixture()
def pair(tmp_path: Path) -> tuple[Path, Path, Path]:
    """GT plus model A (the random predictions) and model B (A with its false boxes gone)."""
    data = make_dataset(3)
    (tmp_path / "a").mkdir()
    gt_path, a_path = _write_json_pair(data, tmp_path / "a")
    better = {}
    for key, d in data["preds"].items():
        keep = np.zeros(len(d), bool)
        g = data["gt"][key]
        for j in range(len(d)):
            keep[j] = bool(len(g)) and bool(np.any(np.abs(g.xyxy - d.xyxy[j]).max(axis=1) < 40))
        better[key] = Detections(d.xyxy[keep], d.class_ids[keep], d.scores[keep])
    (tmp_path / "b").mkdir()
    _, b_path = _write_json_pair({**data, "preds": better}, tmp_path / "b")
    return gt_path, a_path, b_path


def test_compare_writes_every_output_with_library_numbers(tmp_path, pair, capsys) -> None:
    gt_path, a_path, b_path = pair
    out = tmp_path / "cmp"
    assert main(["compare", "--gt", str(gt_path), "--pred", str(a_path), "--pred", str(b_path),
                 "--names", "base", "clean", "--bootstrap", "50", "--out", str(out),
                 "--quiet"]) == 0
    assert "clean - base" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)
    report = json.loads((out / "compare.json").read_text())
    assert report["models"] == ["base", "clean"] and report["n_resamples"] == 50
    inputs = {n: load_coco(gt_path, p) for n, p in (("base", a_path), ("clean", b_path))}
    for name, i in inputs.items():
        ev = evaluate(i.gt, i.preds, names=i.names, areas=i.areas, iscrowd=i.iscrowd)
        got = report["per_model"][name]["summary"]
        for k in SUMMARY_KEYS:
            want = ev.summary[k] if ev.summary[k] >= 0 else None
            assert got[k]["value"] == pytest.approx(want, abs=1e-12)
        errors = error_breakdown(i.gt, i.preds, names=i.names, iscrowd=i.iscrowd)
        assert report["per_model"][name]["errors"] == pytest.approx(errors.to_dict(), abs=1e-12)
        assert list(report["per_model"][name]["errors"]) == list(ERROR_KEYS)
    diff = report["difference"]["summary"]["map50"]
    a = report["per_model"]["base"]["summary"]["map50"]["value"]
    b = report["per_model"]["clean"]["summary"]["map50"]["value"]
    assert diff["value"] == pytest.approx(b - a) and diff["lo"] <= diff["value"] <= diff["hi"]
    assert 0.0 <= diff["p_b_better"] <= 1.0
    csv = pd.read_csv(out / "compare.csv", index_col=0)
    assert {"map", "AP[c1]", "dAP Miss", "AP50 (TIDE)"} <= set(csv.index)
    assert csv.loc["map50", "diff"] == pytest.approx(b - a, abs=1e-6)


def test_compare_refuses_to_overwrite_and_needs_two_models(tmp_path, pair, capsys) -> None:
    gt_path, a_path, b_path = pair
    out = tmp_path / "cmp"
    argv = ["compare", "--gt", str(gt_path), "--pred", str(a_path), "--pred", str(b_path),
            "--bootstrap", "0", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    before = (out / "compare.json").read_bytes()
    assert main(argv) == 2
    assert "pass --force" in capsys.readouterr().err
    assert (out / "compare.json").read_bytes() == before
    assert main([*argv, "--force"]) == 0
    report = json.loads((out / "compare.json").read_text())
    assert report["n_resamples"] == 0
    assert report["difference"]["summary"]["map"]["lo"] is None
    assert main(["compare", "--gt", str(gt_path), "--pred", str(a_path), "--out",
                 str(tmp_path / "x")]) == 2
    assert "exactly twice" in capsys.readouterr().err


def _perturbed_labels(root: Path, out: Path, seed: int, shift: float) -> Path:
    """Prediction files from the real COCO128 labels: dropped, shifted and relabelled boxes."""
    rng = np.random.default_rng(seed)
    out.mkdir()
    for label in sorted((root / "labels").glob("*.txt")):
        rows = np.loadtxt(label, ndmin=2).reshape(-1, 5)
        rows = rows[rng.random(len(rows)) < 0.85]
        rows[:, 1:3] = np.clip(rows[:, 1:3] + rng.normal(0, shift, (len(rows), 2)), 0, 1)
        flip = rng.random(len(rows)) < 0.1
        rows[flip, 0] = rng.integers(0, 80, int(flip.sum()))
        np.savetxt(out / label.name, np.column_stack([rows, rng.random(len(rows))]),
                   fmt=["%d"] + ["%.6f"] * 5)
    return out


@pytest.mark.real
def test_real_coco128_compare_errors_and_resamples(real_data: Path, tmp_path: Path) -> None:
    from test_metrics_bootstrap import duplicated
    from test_metrics_errors import _check_against_tidecv

    from tecktrack.metrics.bootstrap import resample_counts, resampled_metrics
    from tecktrack.metrics.loaders import load_yolo

    root = real_data / "coco128-val"
    a = _perturbed_labels(root, tmp_path / "a", 0, 0.02)
    b = _perturbed_labels(root, tmp_path / "b", 1, 0.005)
    out = tmp_path / "cmp"
    assert main(["compare", "--gt", str(root / "data.yaml"), "--pred", str(a), "--pred", str(b),
                 "--bootstrap", "200", "--out", str(out), "--quiet"]) == 0
    report = json.loads((out / "compare.json").read_text())
    diff = report["difference"]["summary"]["map"]
    assert diff["lo"] > 0 and diff["p_b_better"] > 0.95       # smaller shifts score higher
    assert len(report["per_model"]["a"]["per_class_ap"]) == 80
    inputs = load_yolo(root / "data.yaml", a, quiet=True)
    no_crowd = {k: np.zeros(len(g), bool) for k, g in inputs.gt.items()}
    data = {"gt": inputs.gt, "preds": inputs.preds, "iscrowd": no_crowd, "names": inputs.names,
            "areas": {k: None for k in inputs.gt}}
    assert _check_against_tidecv(data)["Cls"] > 0
    counts = resample_counts(len(inputs.gt), 3, seed=2)
    got = resampled_metrics(inputs.gt, inputs.preds, counts, names=inputs.names)
    for row, c in zip(got.summary, counts, strict=True):
        dup = duplicated(data, c)
        ev = evaluate(dup["gt"], dup["preds"], names=inputs.names)
        want = np.array([ev.summary[k] for k in SUMMARY_KEYS])
        np.testing.assert_allclose(row, np.where(want < 0, np.nan, want), atol=1e-12, rtol=0)
