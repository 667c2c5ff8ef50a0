"""Figures stay readable at 80 classes: top-N with the rest summed, legends off the axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from tecktrack.lab import plots

N = 80


@pytest.fixture()
def coco_like():
    rng = np.random.default_rng(0)
    names = [f"class {i}" for i in range(N)]
    counts = np.maximum(1, (rng.pareto(1.2, N) * 20).astype(int))
    name = np.repeat(names, counts)
    area = rng.uniform(10, 2e5, len(name))
    size = np.where(area < 32**2, "small", np.where(area < 96**2, "medium", "large"))
    boxes = pd.DataFrame({"name": name, "area": area, "aspect": rng.uniform(0.2, 5, len(name)),
                          "size": size})
    classes = pd.DataFrame({"name": names, "instances": counts,
                            "images": np.maximum(1, counts // 2)})
    return names, counts, boxes, classes


def test_class_distribution_names_the_largest_and_sums_the_rest(coco_like):
    names, counts, _, classes = coco_like
    ax = plots.class_distribution(classes).axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == plots.MAX_CLASSES and labels[-1] == "other (56 classes)"
    heights = [p.get_width() for p in ax.patches]
    assert sum(heights) == counts.sum()
    assert min(heights[:-1]) >= np.sort(counts)[::-1][plots.MAX_CLASSES - 2]


def test_class_histograms_draw_top_panels_plus_one_for_the_rest(coco_like):
    names, counts, boxes, _ = coco_like
    fig = plots.class_histograms(boxes, "area", names=names, log=True)
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert len(titled) == 12 and titled[-1].get_title().startswith("other (69 classes)")
    total = sum(int(t.get_title().rsplit("(", 1)[1].rstrip(")")) for t in titled)
    assert total == len(boxes)


def test_size_buckets_keep_every_box_and_the_legend_below_the_bars(coco_like):
    names, counts, boxes, _ = coco_like
    fig = plots.size_buckets(boxes, names)
    ax = fig.axes[0]
    assert len(ax.get_yticklabels()) == plots.MAX_CLASSES
    assert sum(p.get_width() for p in ax.patches) == len(boxes)
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    assert legend.y1 <= ax.get_window_extent().y0


def test_augmentation_change_legend_clear_of_the_axes_and_differences_visible():
    summary = pd.DataFrame({"original_loss": [3.10, 3.20, 3.05, 3.15],
                            "augmented_loss": [3.00, 3.40, 3.02, 3.30]},
                           index=pd.Index(["flip", "blur", "rotate", "contrast"], name="type"))
    fig = plots.augmentation_change(summary)
    fig.canvas.draw()
    legend = fig.legends[0].get_window_extent()
    for ax in fig.axes:
        assert not legend.overlaps(ax.get_window_extent())
    bottom, top = fig.axes[0].get_ylim()
    assert bottom > 2.5 and top < 3.6              # zoomed on the losses, not from 0
    change = [round(p.get_height(), 3) for p in fig.axes[1].patches]
    assert change == [-0.1, 0.2, -0.03, 0.15]
