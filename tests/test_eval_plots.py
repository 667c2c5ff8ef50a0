"""Evaluation figures at 80 classes: bounded legends, one panel per class, intervals drawn."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from tecktrack.detections import Detections  # noqa: E402
from tecktrack.lab import eval_plots, plots  # noqa: E402
from tecktrack.metrics import evaluate, pr_curves  # noqa: E402
from tecktrack.metrics.curves import interpolated_pr  # noqa: E402


@pytest.fixture(scope="module")
def eighty() -> tuple[dict, dict, list[str]]:
    rng = np.random.default_rng(0)
    gt, preds = {}, {}
    for i in range(120):
        cls = rng.integers(0, 80, 6)
        xy = rng.uniform(0, 400, (6, 2))
        boxes = np.c_[xy, xy + rng.uniform(20, 80, (6, 2))].astype(np.float32)
        gt[i] = Detections(boxes, cls)
        noise = rng.normal(0, 6 * (1 + cls[:, None] / 20), (6, 4))
        moved = (boxes + noise).clip(0)
        moved[:, 2:] = np.maximum(moved[:, 2:], moved[:, :2] + 1)
        preds[i] = Detections(moved, cls, rng.random(6))
    return gt, preds, [f"class {k}" for k in range(80)]


def test_pr_summary_at_80_classes_names_only_the_extremes(eighty) -> None:
    gt, preds, names = eighty
    curves = {"A": pr_curves(gt, preds, names=names)}
    ap = {"A": evaluate(gt, preds, names=names).per_class.set_index("class")["mAP50"]}
    fig = plots.pr_curves_plot(curves, ap, n_named=3)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert len(legend) == 7
    ranked = ap["A"].sort_values(ascending=False)
    assert legend[1] == f"best: {ranked.index[0]} ({ranked.iloc[0]:.2f})"
    assert legend[-1] == f"worst: {ranked.index[-1]} ({ranked.iloc[-1]:.2f})"
    _, mean_line = fig.axes[0].lines[0].get_data()
    table = interpolated_pr(curves["A"], classes=ranked.index)
    np.testing.assert_allclose(mean_line, table.mean(axis=1))
    assert float(np.mean(mean_line)) == pytest.approx(ranked.mean(), abs=1e-12)


def test_grid_has_one_titled_panel_per_class(eighty) -> None:
    gt, preds, names = eighty
    curves = {"A": pr_curves(gt, preds, names=names), "B": pr_curves(gt, {
        k: Detections(v.xyxy, v.class_ids, np.full(len(v), 0.9)) for k, v in gt.items()},
        names=names)}
    fig = eval_plots.pr_curves_grid(curves, ncols=8)
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert len(titled) == 80
    assert all(t.get_title().endswith("/1.00") for t in titled)   # B is perfect
    assert all(len(ax.lines) == 2 for ax in titled)


def test_class_diff_plot_marks_intervals_that_exclude_zero() -> None:
    t = pd.DataFrame({"diff": [0.3, 0.1, -0.2, np.nan], "diff lo": [0.1, -0.1, -0.3, np.nan],
                      "diff hi": [0.4, 0.2, -0.1, np.nan]}, index=["a", "b", "c", "d"])
    ax = eval_plots.class_diff_plot(t).axes[0]
    assert [x.get_text() for x in ax.get_yticklabels()] == ["a", "b", "c"]
    alphas = sorted(c.get_alpha() for c in ax.collections if hasattr(c, "get_offsets")
                    and len(c.get_offsets()))
    assert alphas[0] == pytest.approx(0.35) and alphas[-1] == 1.0


def test_error_bars_one_bar_per_type_and_model() -> None:
    e = pd.DataFrame({"A": [0.1, 0.0, 0.2], "B": [0.05, 0.02, 0.1]},
                     index=["Cls", "Loc", "AP50 (TIDE)"])
    ax = eval_plots.error_bars_plot(e).axes[0]
    assert len(ax.patches) == 4
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Cls", "Loc"]
