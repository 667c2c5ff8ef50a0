"""Matplotlib figures for the analysis notebooks; each function returns one Figure.

Figures come from :func:`matplotlib.pyplot.subplots`, so a notebook shows them inline;
save them with :func:`tecktrack.lab.save_figure`. Classes keep the colours
:func:`tecktrack.draw.class_colors` gives them on annotated images.

Examples
--------
>>> import matplotlib; matplotlib.use("Agg")
>>> classes = pd.DataFrame({"name": ["box", "cone"], "instances": [5, 2], "images": [3, 2]})
>>> fig = class_distribution(classes)
>>> [ax.get_title() for ax in fig.axes]
['instances per class', 'images per class']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tecktrack.datasets.dataset import SIZE_BUCKETS
from tecktrack.detections import Detections
from tecktrack.draw import class_colors, draw_detections

__all__ = ["MAX_CLASSES", "augmentation_change", "class_distribution", "class_histograms",
           "confusion_heatmap",
           "detection_pairs", "image_grid", "jpeg", "latency_plot", "loss_components",
           "objects_per_image", "pr_curves_plot", "score_histogram", "size_buckets",
           "threshold_sweep_plot", "top_classes"]


def _rgb(n: int) -> np.ndarray:
    """The class colours of annotated images as matplotlib RGB floats."""
    return class_colors(n)[:, ::-1] / 255.0


def _grid(n: int, ncols: int, size: tuple[float, float]) -> tuple[Figure, np.ndarray]:
    ncols = max(1, min(ncols, n))
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows),
                             squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes


#: Classes a per-class chart shows by name; the rest are summed into one "other" entry.
MAX_CLASSES = 25


def top_classes(counts: Sequence[float], max_classes: int = MAX_CLASSES) -> np.ndarray:
    """Indices of the classes a chart names: all when there are at most ``max_classes``,
    else the ``max_classes - 1`` largest ``counts`` (in their original order).

    Examples
    --------
    >>> top_classes([5, 1, 9, 3], 3).tolist()
    [0, 2]
    >>> top_classes([5, 1], 3).tolist()
    [0, 1]
    """
    counts = np.asarray(counts, np.float64)
    if len(counts) <= max_classes:
        return np.arange(len(counts))
    return np.sort(np.argsort(-counts, kind="stable")[:max_classes - 1])


def _other(n: int) -> str:
    return f"other ({n} classes)"


def class_distribution(classes: pd.DataFrame, max_classes: int = MAX_CLASSES) -> Figure:
    """Instances and images per class, side by side (``DatasetStats.classes``).

    With more than ``max_classes`` classes the largest ones (by instances) are named and the
    rest summed into one "other" bar (its images count an image once per class).

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> c = pd.DataFrame({"name": ["a"], "instances": [3], "images": [1]})
    >>> [t.get_text() for t in class_distribution(c).axes[0].get_yticklabels()]
    ['a']
    >>> c = pd.DataFrame({"name": list("abcd"), "instances": [3, 1, 5, 2], "images": [1] * 4})
    >>> [t.get_text() for t in class_distribution(c, 3).axes[0].get_yticklabels()]
    ['a', 'c', 'other (2 classes)']
    """
    keep = top_classes(classes["instances"].to_numpy(), max_classes)
    colours = _rgb(len(classes))[keep]
    if len(keep) < len(classes):
        rest = classes.drop(index=classes.index[keep])
        classes = pd.concat([classes.iloc[keep], pd.DataFrame(
            {"name": [_other(len(rest))], "instances": [rest["instances"].sum()],
             "images": [rest["images"].sum()]})], ignore_index=True)
        colours = np.vstack([colours, [[0.6, 0.6, 0.6]]])
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.45 * len(classes) + 1.5), sharey=True)
    y = np.arange(len(classes))
    for ax, column in zip(axes, ("instances", "images"), strict=True):
        values = classes[column].to_numpy()
        ax.barh(y, values, color=colours)
        for yi, v in zip(y, values, strict=True):
            ax.annotate(f"{int(v)}", (v, yi), xytext=(3, 0), textcoords="offset points",
                        va="center", fontsize=8)
        ax.set_title(f"{column} per class")
        ax.set_xlabel(column)
        ax.margins(x=0.15)
    axes[0].set_yticks(y, classes["name"].tolist())
    axes[0].invert_yaxis()
    fig.tight_layout()
    return fig


def class_histograms(boxes: pd.DataFrame, column: str, *, names: Sequence[str] | None = None,
                     bins: int = 20, log: bool = False, ncols: int = 4,
                     max_classes: int = 12) -> Figure:
    """One histogram of ``column`` per class (``DatasetStats.boxes``), shared bins.

    ``log`` uses logarithmic bins (for areas and aspect ratios); NaN and non-positive
    values are left out then. With more than ``max_classes`` classes, the classes with the
    most boxes get a panel each and one last panel holds all the others together (80 COCO
    classes: 12 panels, readable, and drawn in a fraction of the time).

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> b = pd.DataFrame({"name": ["a", "a", "b"], "aspect": [0.5, 2.0, 1.0]})
    >>> [ax.get_title() for ax in class_histograms(b, "aspect", log=True).axes]
    ['a (2)', 'b (1)']
    """
    names = list(names) if names is not None else list(dict.fromkeys(boxes["name"]))
    values = boxes[column].to_numpy(np.float64)
    keep = np.isfinite(values) & ((values > 0) if log else True)
    lo, hi = (values[keep].min(), values[keep].max()) if keep.any() else (1.0, 2.0)
    hi = hi if hi > lo else lo + 1.0
    edges = np.geomspace(lo, hi, bins + 1) if log else np.linspace(lo, hi, bins + 1)
    box_names = boxes["name"].to_numpy()
    counts = pd.Series(box_names).value_counts().reindex(names, fill_value=0).to_numpy()
    shown = top_classes(counts, max_classes)
    colours = _rgb(len(names))
    panels = [(names[i], box_names == names[i], colours[i]) for i in shown]
    if len(shown) < len(names):
        named = np.isin(box_names, [names[i] for i in shown])
        panels.append((_other(len(names) - len(shown)), ~named, (0.6, 0.6, 0.6)))
    fig, axes = _grid(len(panels), ncols, (3.2, 2.4))
    for ax, (name, mask, colour) in zip(axes.flat, panels, strict=False):
        mine = values[keep & mask]
        ax.hist(mine, bins=edges, color=colour)
        ax.set_title(f"{name} ({len(mine)})", fontsize=9)
        ax.set_xlabel(column, fontsize=8)
        ax.tick_params(labelsize=7)
        if log:
            _log_axis(ax, np.log10(hi / lo))
    fig.tight_layout()
    return fig


def _log_axis(ax, decades: float) -> None:
    """Log x axis with plain tick labels, fewer per decade the more decades it spans."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    subs = (1.0, 2.0, 5.0) if decades < 1.5 else (1.0, 3.0) if decades < 2.5 else (1.0,)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=subs))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def size_buckets(boxes: pd.DataFrame, names: Sequence[str] | None = None,
                 max_classes: int = MAX_CLASSES) -> Figure:
    """Stacked bars: COCO size buckets (small/medium/large) of each class's boxes.

    With more than ``max_classes`` classes, the ones with the most boxes are named and the
    rest summed into one "other" bar; the legend sits below the axes, never over a bar.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> b = pd.DataFrame({"name": ["a", "a"], "size": ["small", "large"]})
    >>> len(size_buckets(b).axes[0].patches)
    3
    """
    names = list(names) if names is not None else list(dict.fromkeys(boxes["name"]))
    table = pd.crosstab(pd.Categorical(boxes["name"], categories=names),
                        pd.Categorical(boxes["size"], categories=list(SIZE_BUCKETS)),
                        dropna=False)
    keep = top_classes(table.sum(axis=1).to_numpy(), max_classes)
    if len(keep) < len(names):
        rest = table.drop(index=table.index[keep]).sum()
        table = pd.concat([table.iloc[keep], rest.to_frame(_other(len(names) - len(keep))).T])
    names = [str(n) for n in table.index]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(names) + 2.0))
    left = np.zeros(len(names))
    for bucket, colour in zip(SIZE_BUCKETS, ("#9ecae1", "#4292c6", "#08519c"), strict=True):
        ax.barh(names, table[bucket].to_numpy(), left=left, color=colour, label=bucket)
        left += table[bucket].to_numpy()
    ax.invert_yaxis()
    ax.set_xlabel("boxes")
    ax.set_title("COCO size buckets per class")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.9 / (0.45 * len(names) + 2.0)),
              ncol=3, frameon=False)
    fig.tight_layout()
    return fig


def objects_per_image(counts: pd.Series) -> Figure:
    """Bar chart of how many images hold 0, 1, 2, ... objects.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> len(objects_per_image(pd.Series([4, 9], index=[0, 1])).axes[0].patches)
    2
    """
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.bar(counts.index.astype(int), counts.to_numpy(), color="#4292c6")
    ax.set_xlabel("objects in the image")
    ax.set_ylabel("images")
    ax.set_title("objects per image")
    ax.set_xticks(counts.index.astype(int))
    fig.tight_layout()
    return fig


def image_grid(images: Sequence[np.ndarray], titles: Sequence[str] | None = None, *,
               ncols: int = 4, size: float = 3.0) -> Figure:
    """BGR images in a grid, each with an optional title.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> fig = image_grid([np.zeros((4, 4, 3), np.uint8)] * 3, ["a", "b", "c"], ncols=2)
    >>> [ax.get_title() for ax in fig.axes]
    ['a', 'b', 'c', '']
    """
    if not images:
        raise ValueError("image_grid needs at least one image")
    fig, axes = _grid(len(images), ncols, (size, size))
    for i, (ax, image) in enumerate(zip(axes.flat, images, strict=False)):
        ax.imshow(np.ascontiguousarray(image[..., ::-1]))
        ax.set_title(titles[i] if titles is not None else "", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig


def jpeg(fig: Figure, quality: int = 85, dpi: int = 80):
    """Show a figure of photos as a JPEG in a notebook (PNG of photos is ~10x larger).

    The figure is closed, so the inline backend does not show it a second time; save it
    with :func:`tecktrack.lab.save_figure` first.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> fig = image_grid([np.zeros((8, 8, 3), np.uint8)])
    >>> img = jpeg(fig)
    >>> img.format, img.data[:2] == b"\\xff\\xd8", fig.number in plt.get_fignums()
    ('jpeg', True, False)
    """
    from io import BytesIO

    from IPython.display import Image

    buffer = BytesIO()
    fig.savefig(buffer, format="jpeg", dpi=dpi, bbox_inches="tight",
                pil_kwargs={"quality": quality})
    plt.close(fig)
    return Image(data=buffer.getvalue(), format="jpeg")


def detection_pairs(images: Sequence[np.ndarray], gt: Sequence[Detections],
                    preds: Sequence[Detections], names: Sequence[str],
                    titles: Sequence[str] | None = None, size: float = 3.5) -> Figure:
    """One row per image: ground truth (left) beside predictions (right).

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> img = np.zeros((20, 20, 3), np.uint8)
    >>> fig = detection_pairs([img], [Detections([[1, 1, 9, 9]], [0])],
    ...                       [Detections.empty()], ["a"], ["x"])
    >>> [ax.get_title() for ax in fig.axes]
    ['x: ground truth (1)', 'x: prediction (0)']
    """
    shown, labels = [], []
    for i, (image, g, p) in enumerate(zip(images, gt, preds, strict=True)):
        name = titles[i] if titles is not None else str(i)
        shown += [draw_detections(image, g, names), draw_detections(image, p, names)]
        labels += [f"{name}: ground truth ({len(g)})", f"{name}: prediction ({len(p)})"]
    return image_grid(shown, labels, ncols=2, size=size)


def pr_curves_plot(curves: Mapping[str, pd.DataFrame], maps: Mapping[str, pd.Series] | None = None,
                   n_named: int = 3) -> Figure:
    """Precision-recall per model, readable at any number of classes (``pr_curves`` output).

    One panel per model: the class-mean interpolated curve with the band of the middle half
    of the classes, and the ``n_named`` best and worst classes by AP50 named in the legend
    (``maps`` optionally gives each model's per-class AP50, indexed by class name). Every
    class on its own: :func:`tecktrack.lab.eval_plots.pr_curves_grid`.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> c = pd.DataFrame({"class_id": [0, 0], "class": ["a", "a"], "recall": [0.5, 1.0],
    ...                   "envelope": [1.0, 0.5]})
    >>> [ax.get_title() for ax in pr_curves_plot({"m1": c, "m2": c}).axes]
    ['m1 (mAP50 0.752)', 'm2 (mAP50 0.752)']
    """
    from tecktrack.lab.eval_plots import pr_curves_summary

    return pr_curves_summary(curves, maps, n_named=n_named)


def confusion_heatmap(cm: pd.DataFrame, title: str = "confusion matrix",
                      normalize: bool = True) -> Figure:
    """Heatmap of a ``confusion_matrix`` table, counts written in the cells.

    With ``normalize`` the colour is the share of each true class's row.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> cm = pd.DataFrame([[3, 1], [2, 0]], index=["a", "background"],
    ...                   columns=["a", "background"])
    >>> [t.get_text() for t in confusion_heatmap(cm).axes[0].texts]
    ['3', '1', '2', '0']
    """
    counts = cm.to_numpy()
    rows = counts.sum(axis=1, keepdims=True)
    shade = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0) \
        if normalize else counts
    n = len(cm)
    fig, ax = plt.subplots(figsize=(0.6 * n + 3, 0.55 * n + 2))
    ax.imshow(shade, cmap="Blues", vmin=0)
    for (i, j), v in np.ndenumerate(counts):
        dark = shade[i, j] > 0.6 * (shade.max() or 1)
        ax.text(j, i, str(int(v)), ha="center", va="center", fontsize=7,
                color="white" if dark else "black")
    ax.set_xticks(range(n), list(cm.columns), rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), list(cm.index), fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def threshold_sweep_plot(sweep: pd.DataFrame) -> Figure:
    """Mean precision and recall over score thresholds per model (``threshold_sweep``).

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> cols = pd.MultiIndex.from_tuples([("m", "precision"), ("m", "recall")])
    >>> s = pd.DataFrame([[0.5, 0.9], [0.8, 0.6]], index=[0.2, 0.4], columns=cols)
    >>> len(threshold_sweep_plot(s).axes[0].lines)
    2
    """
    fig, ax = plt.subplots(figsize=(6.5, 4))
    thresholds = sweep.index.to_numpy(np.float64)
    for i, model in enumerate(dict.fromkeys(sweep.columns.get_level_values(0))):
        colour = f"C{i}"
        ax.plot(thresholds, sweep[(model, "precision")], "-o", color=colour,
                label=f"{model} precision")
        ax.plot(thresholds, sweep[(model, "recall")], "--s", color=colour,
                label=f"{model} recall")
    ax.set(xlabel="score threshold", ylabel="class mean", ylim=(0, 1.02),
           title="precision and recall vs score threshold")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def loss_components(hard: pd.DataFrame, components: Sequence[str]) -> Figure:
    """Stacked horizontal bars of the loss components of each (hard) image.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> h = pd.DataFrame({"image": ["a", "b"], "box": [0.1, 0.0], "missed": [2.0, 0.0]})
    >>> len(loss_components(h, ["box", "missed"]).axes[0].patches)
    4
    """
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(hard) + 1.5))
    left = np.zeros(len(hard))
    labels = hard["image"].astype(str).tolist()
    for i, comp in enumerate(components):
        values = hard[comp].to_numpy(np.float64)
        ax.barh(labels, values, left=left, color=f"C{i}", label=comp)
        left += values
    ax.invert_yaxis()
    ax.set_xlabel("loss")
    ax.set_title("loss components of the hardest images")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def latency_plot(frames: pd.DataFrame) -> Figure:
    """Per-frame latency (ms) and detections of a stream run (``streaming.frame_table``).

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> f = pd.DataFrame({"frame": [0, 1], "latency_ms": [5.0, 7.0], "detections": [1, 2]})
    >>> [ax.get_ylabel() for ax in latency_plot(f).axes]
    ['latency (ms)', 'detections']
    """
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 4.5), sharex=True,
                                      height_ratios=(2, 1))
    top.plot(frames["frame"], frames["latency_ms"], lw=1, color="C0")
    median = float(np.median(frames["latency_ms"])) if len(frames) else 0.0
    top.axhline(median, color="C1", ls="--", lw=1, label=f"median {median:.1f} ms")
    top.set_ylabel("latency (ms)")
    top.set_title("per-frame latency (read to labels written)")
    top.legend(fontsize=8)
    top.grid(alpha=0.3)
    bottom.bar(frames["frame"], frames["detections"], color="C2", width=1.0)
    bottom.set_ylabel("detections")
    bottom.set_xlabel("frame")
    fig.tight_layout()
    return fig


def augmentation_change(summary: pd.DataFrame) -> Figure:
    """Mean loss before and after each augmentation type (``augmentation_summary``), and the
    change itself.

    The left panel's y axis spans the losses (not from zero), so differences show; the right
    panel plots ``augmented - original`` per type about a zero line; the legend sits below
    the axes, never over a bar.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> s = pd.DataFrame({"original_loss": [1.0], "augmented_loss": [2.0]},
    ...                  index=pd.Index(["flip"], name="type"))
    >>> fig = augmentation_change(s)
    >>> len(fig.axes[0].patches), [round(float(p.get_height()), 3) for p in fig.axes[1].patches]
    (2, [1.0])
    """
    width = max(5.0, 0.9 * len(summary) + 2)
    fig, (ax, dx) = plt.subplots(1, 2, figsize=(2 * width, 4.2))
    x = np.arange(len(summary))
    before = summary["original_loss"].to_numpy(np.float64)
    after = summary["augmented_loss"].to_numpy(np.float64)
    ax.bar(x - 0.2, before, 0.4, label="original", color="C0")
    ax.bar(x + 0.2, after, 0.4, label="augmented", color="C3")
    both = np.concatenate([before, after])
    both = both[np.isfinite(both)]
    if both.size:
        lo, hi = both.min(), both.max()
        pad = max(hi - lo, 1e-6 * max(abs(hi), 1.0)) * 0.15
        ax.set_ylim(max(0.0, lo - 3 * pad) if lo >= 0 else lo - 3 * pad, hi + pad)
    labels = summary.index.astype(str).tolist()
    ax.set_xticks(x, labels, rotation=20, ha="right")
    ax.set_ylabel("mean loss per image")
    ax.set_title("mean loss before and after (y axis zoomed)")
    change = after - before
    dx.bar(x, change, 0.6, color=np.where(change > 0, "C3", "C2"))
    dx.axhline(0.0, color="black", lw=0.8)
    for xi, v in zip(x, change, strict=True):
        dx.annotate(f"{v:+.3f}", (xi, v), xytext=(0, 3 if v >= 0 else -10),
                    textcoords="offset points", ha="center", fontsize=8)
    dx.margins(y=0.2)
    dx.set_xticks(x, labels, rotation=20, ha="right")
    dx.set_ylabel("augmented - original")
    dx.set_title("change (red: harder, green: easier)")
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=2, fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def score_histogram(frame: pd.DataFrame, conf: float, bins: int = 25) -> Figure:
    """Detector score per image by folder (``classify_images``), threshold marked.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> f = pd.DataFrame({"folder": ["positive", "background"], "score": [0.9, 0.1]})
    >>> score_histogram(f, 0.5).axes[0].get_legend_handles_labels()[1]
    ['conf 0.5', 'positive', 'background']
    """
    fig, ax = plt.subplots(figsize=(7, 3.5))
    edges = np.linspace(0.0, 1.0, bins + 1)
    ax.axvline(conf, color="black", ls="--", lw=1, label=f"conf {conf:g}")
    for folder, colour in (("positive", "C2"), ("background", "C7")):
        scores = frame.loc[frame["folder"] == folder, "score"]
        ax.hist(scores, bins=edges, alpha=0.6, color=colour, label=folder)
    ax.set_xlabel("highest detection score in the image")
    ax.set_ylabel("images")
    ax.set_yscale("log")
    ax.set_title("detector score by folder")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
