"""tecktrack.lab.plots: every figure draws exactly the numbers it is given."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from tecktrack.datasets.dataset import size_bucket  # noqa: E402
from tecktrack.detections import Detections  # noqa: E402
from tecktrack.lab import plots  # noqa: E402
from tecktrack.lab.report import save_figure  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def boxes() -> pd.DataFrame:
    area = np.array([100.0, 2000.0, 12000.0, 50.0, 400.0, 30000.0])
    return pd.DataFrame({
        "name": ["box", "box", "box", "cone", "cone", "cone"],
        "area": area, "aspect": [1.0, 2.0, np.nan, 0.5, 0.25, 4.0],
        "size": size_bucket(area),
    })


def _widths(ax) -> list[float]:
    return [round(p.get_width(), 9) for p in ax.patches]


def _heights(ax) -> list[float]:
    return [round(p.get_height(), 9) for p in ax.patches]


def test_class_distribution_bars_are_the_counts():
    classes = pd.DataFrame({"name": ["box", "cone", "sign"], "instances": [7, 3, 0],
                            "images": [4, 2, 0]})
    fig = plots.class_distribution(classes)
    inst, imgs = fig.axes
    assert _widths(inst) == [7, 3, 0] and _widths(imgs) == [4, 2, 0]
    assert [t.get_text() for t in inst.get_yticklabels()] == ["box", "cone", "sign"]
    assert [t.get_text() for t in inst.texts] == ["7", "3", "0"]


def test_class_histograms_count_every_finite_value_once(boxes):
    fig = plots.class_histograms(boxes, "aspect", names=["box", "cone", "none"], log=True,
                                 bins=5)
    box_ax, cone_ax, none_ax = fig.axes[:3]
    assert sum(_heights(box_ax)) == 2            # the NaN aspect is left out
    assert sum(_heights(cone_ax)) == 3
    assert sum(_heights(none_ax)) == 0
    assert box_ax.get_xscale() == "log"
    assert [ax.get_title() for ax in fig.axes[:3]] == ["box (2)", "cone (3)", "none (0)"]
    # shared, log-spaced bins from the smallest to the largest value
    edges = [p.get_x() for p in cone_ax.patches]
    assert edges[0] == pytest.approx(0.25) and np.allclose(np.diff(np.log(edges)),
                                                            np.log(16) / 5)


def test_class_histograms_linear_bins_keep_zero(boxes):
    frame = boxes.assign(area=[0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    fig = plots.class_histograms(frame, "area", bins=5)
    assert sum(_heights(fig.axes[0])) == 3 and fig.axes[0].get_xscale() == "linear"


def test_size_buckets_stack_the_crosstab(boxes):
    ax = plots.size_buckets(boxes, ["box", "cone"]).axes[0]
    # patches: small (box, cone), medium (box, cone), large (box, cone)
    assert _widths(ax) == [1, 2, 1, 0, 1, 1]
    lefts = [p.get_x() for p in ax.patches]
    assert lefts == [0, 0, 1, 2, 2, 2]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["small", "medium", "large"]


def test_objects_per_image_bars():
    ax = plots.objects_per_image(pd.Series([2, 5, 1], index=[0, 1, 3])).axes[0]
    assert _heights(ax) == [2, 5, 1]
    assert [p.get_x() + p.get_width() / 2 for p in ax.patches] == [0, 1, 3]


def test_image_grid_shows_rgb_and_hides_spare_axes():
    bgr = np.zeros((4, 6, 3), np.uint8)
    bgr[..., 0] = 255                                       # blue in BGR
    fig = plots.image_grid([bgr, bgr, bgr], ["a", "b", "c"], ncols=2)
    shown = fig.axes[0].images[0].get_array()
    assert shown.shape == (4, 6, 3) and shown[0, 0].tolist() == [0, 0, 255]
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c", ""]
    assert not fig.axes[3].axison
    with pytest.raises(ValueError, match="at least one image"):
        plots.image_grid([])


def test_detection_pairs_draw_truth_left_and_predictions_right():
    img = np.zeros((40, 40, 3), np.uint8)
    gt = Detections([[5, 5, 30, 30]], [0])
    fig = plots.detection_pairs([img], [gt], [Detections.empty()], ["box"], ["im1"])
    left = fig.axes[0].images[0].get_array()
    right = fig.axes[1].images[0].get_array()
    assert left.any() and not right.any()                   # only the truth has a box
    assert [ax.get_title() for ax in fig.axes] == ["im1: ground truth (1)",
                                                   "im1: prediction (0)"]


def test_pr_curves_plot_draws_the_mean_and_names_best_and_worst():
    curves = pd.DataFrame({"class_id": [0, 0, 1], "class": ["a", "a", "b"],
                           "recall": [0.5, 1.0, 0.25], "envelope": [1.0, 0.5, 0.8]})
    fig = plots.pr_curves_plot({"m1": curves}, {"m1": pd.Series({"a": 0.75, "b": np.nan})})
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["mean of 1 classes (band: middle half)", "best: a (0.75)"]
    x, y = ax.lines[0].get_data()
    assert y[0] == 1.0 and y[50] == 1.0 and y[51] == 0.5 and y[-1] == 0.5


def test_confusion_heatmap_writes_counts_and_shades_row_shares():
    cm = pd.DataFrame([[3, 1, 0], [0, 2, 2], [1, 0, 0]],
                      index=["a", "b", "background"], columns=["a", "b", "background"])
    ax = plots.confusion_heatmap(cm, "t").axes[0]
    assert [t.get_text() for t in ax.texts] == ["3", "1", "0", "0", "2", "2", "1", "0", "0"]
    shade = ax.images[0].get_array()
    assert np.allclose(shade, [[0.75, 0.25, 0], [0, 0.5, 0.5], [1, 0, 0]])
    raw = plots.confusion_heatmap(cm, normalize=False).axes[0].images[0].get_array()
    assert np.array_equal(raw, cm.to_numpy())
    assert ax.get_title() == "t"


def test_threshold_sweep_plot_lines_are_the_table():
    cols = pd.MultiIndex.from_tuples([("m1", "precision"), ("m1", "recall"),
                                      ("m2", "precision"), ("m2", "recall")])
    sweep = pd.DataFrame([[0.5, 0.9, 0.6, 0.8], [0.7, 0.6, 0.9, 0.4]], index=[0.2, 0.6],
                         columns=cols)
    ax = plots.threshold_sweep_plot(sweep).axes[0]
    assert [line.get_label() for line in ax.lines] == ["m1 precision", "m1 recall",
                                                        "m2 precision", "m2 recall"]
    assert ax.lines[3].get_ydata().tolist() == [0.8, 0.4]
    assert ax.lines[0].get_xdata().tolist() == [0.2, 0.6]


def test_loss_components_stack_to_the_loss():
    hard = pd.DataFrame({"image": ["a", "b"], "box": [0.5, 0.0], "missed": [2.0, 4.0]})
    ax = plots.loss_components(hard, ["box", "missed"]).axes[0]
    ends = {}
    for p in ax.patches:
        key = round(p.get_y() + p.get_height() / 2)
        ends[key] = max(ends.get(key, 0), p.get_x() + p.get_width())
    assert sorted(ends.values()) == [2.5, 4.0]


def test_latency_plot_data_and_median():
    frames = pd.DataFrame({"frame": [0, 1, 2], "latency_ms": [5.0, 9.0, 6.0],
                           "detections": [1, 0, 3]})
    top, bottom = plots.latency_plot(frames).axes
    assert top.lines[0].get_ydata().tolist() == [5.0, 9.0, 6.0]
    assert top.get_legend().get_texts()[0].get_text() == "median 6.0 ms"
    assert _heights(bottom) == [1, 0, 3]


def test_augmentation_change_bars():
    summary = pd.DataFrame({"original_loss": [1.0, 2.0], "augmented_loss": [1.5, 0.5]},
                           index=pd.Index(["flip", "blur"], name="type"))
    ax = plots.augmentation_change(summary).axes[0]
    assert _heights(ax) == [1.0, 2.0, 1.5, 0.5]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["flip", "blur"]


def test_score_histogram_counts_by_folder():
    frame = pd.DataFrame({"folder": ["positive"] * 3 + ["background"] * 2,
                          "score": [0.9, 0.95, 0.1, 0.05, 0.7]})
    ax = plots.score_histogram(frame, 0.5, bins=10).axes[0]
    heights = _heights(ax)
    assert sum(heights[:10]) == 3 and sum(heights[10:]) == 2
    assert ax.lines[0].get_xdata()[0] == 0.5


def test_figures_save_as_png(tmp_path):
    fig = plots.objects_per_image(pd.Series([1, 2], index=[0, 1]))
    path = save_figure(fig, "opi", tmp_path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_jpeg_shows_photos_small_and_closes_the_figure():
    rng = np.random.default_rng(0)
    photos = [rng.integers(0, 255, (120, 160, 3), dtype=np.uint8) for _ in range(4)]
    fig = plots.image_grid(photos, ncols=2)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    shown = plots.jpeg(fig)
    assert shown.data[:3] == b"\xff\xd8\xff" and len(shown.data) < len(buffer.getvalue())
    assert fig.number not in plt.get_fignums()
