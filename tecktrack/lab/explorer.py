"""Notebook 02's operating-point explorer and image browser, as plain data and figures.

:func:`explorer_state` gathers what one slider position shows (P/R/F1, the per-class table,
the confusion matrix, per-image error counts) from an
:class:`~tecktrack.metrics.OperatingPoints`; :func:`outcome_figure` draws one image with its
ground truth, true positives, false positives and misses in distinct colours *and* line
styles (readable in grey too). The widgets in :mod:`tecktrack.lab.widgets` only call these.

Examples
--------
>>> from tecktrack.detections import Detections
>>> from tecktrack.metrics import OperatingPoints
>>> gt = {"a": Detections([[0, 0, 10, 10]], [0])}
>>> pts = OperatingPoints(gt, {"a": Detections([[0, 0, 10, 10]], [0], [0.9])}, names=["x"])
>>> explorer_state(pts, 0.5, 0.5).summary["precision"]
1.0
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tecktrack.detections import Detections
from tecktrack.metrics import ERROR_KINDS, OperatingPoints

__all__ = ["OUTCOME_STYLES", "ExplorerState", "explorer_state", "filter_images",
           "outcome_figure", "top_confusion"]

#: How the image browser draws each outcome: (colour, line style, line width).
OUTCOME_STYLES: dict[str, tuple[str, str, float]] = {
    "ground truth": ("#1f77b4", "-", 1.2),      # blue, solid, thin: every label
    "true positive": ("#2ca02c", "-", 2.4),     # green, solid, thick
    "false positive": ("#d62728", "--", 2.0),   # red, dashed
    "missed": ("#ff7f0e", ":", 2.6),            # orange, dotted
}


@dataclass(frozen=True)
class ExplorerState:
    """What the explorer shows at one ``(conf, iou)``."""

    conf: float
    iou: float
    summary: dict[str, float | int]
    per_class: pd.DataFrame
    confusion: pd.DataFrame
    errors: pd.DataFrame
    presence: np.ndarray

    def summary_html(self) -> str:
        """One line of HTML with stable class names (the browser test reads them)."""
        s = self.summary
        return (f"<div class='tt-summary'>score &ge; <b class='tt-conf'>{self.conf:.2f}</b>, "
                f"IoU &ge; <b class='tt-iou'>{self.iou:.2f}</b>: precision "
                f"<b class='tt-precision'>{s['precision']:.4f}</b>, recall "
                f"<b class='tt-recall'>{s['recall']:.4f}</b>, F1 <b class='tt-f1'>"
                f"{s['f1']:.4f}</b> (TP {s['tp']}, FP {s['fp']}, FN {s['fn']})</div>")

    def html(self) -> str:
        """The summary line, the per-class table and the confusion matrix as HTML."""
        return (self.summary_html() + "<h4>Per class</h4>" + self.per_class.to_html()
                + "<h4>Confusion (rows true, columns predicted)</h4>"
                + self.confusion.to_html())


def top_confusion(cm: pd.DataFrame, n: int = 15) -> pd.DataFrame:
    """The confusion matrix cut to the ``n`` classes with the most boxes, the rest summed into
    ``other`` (rows and columns); ``background`` stays last. Totals are unchanged.

    Examples
    --------
    >>> cm = pd.DataFrame(np.arange(16).reshape(4, 4), index=list("abc") + ["background"],
    ...                   columns=list("abc") + ["background"])
    >>> top_confusion(cm, 1).index.tolist(), int(top_confusion(cm, 1).to_numpy().sum())
    (['c', 'other', 'background'], 120)
    """
    classes = list(cm.index[:-1])
    if len(classes) <= n:
        return cm
    values = cm.to_numpy()
    k = len(classes)
    total = values[:k].sum(1) + values[:, :k].sum(0)
    keep = np.sort(np.argsort(-total, kind="stable")[:n])
    group = np.full(k + 1, n, np.int64)
    group[keep] = np.arange(n)
    group[k] = n + 1
    out = np.zeros((n + 2, n + 2), values.dtype)
    np.add.at(out, (group[:, None], group[None, :]), values)
    labels = [classes[i] for i in keep] + ["other", cm.index[-1]]
    return pd.DataFrame(out, index=pd.Index(labels, name=cm.index.name),
                        columns=pd.Index(labels, name=cm.columns.name))


def explorer_state(points: OperatingPoints, conf: float, iou: float, *, top: int = 15
                   ) -> ExplorerState:
    """Everything the explorer shows at ``(conf, iou)``; tables cut to ``top`` classes.

    The per-class table keeps the ``top`` classes with the most instances, then ``mean``.
    """
    table = points.precision_recall(conf, iou)
    body = table.drop(index="mean")
    order = np.argsort(-body["instances"].to_numpy(), kind="stable")[:top]
    per_class = pd.concat([body.iloc[np.sort(order)], table.loc[["mean"]]])
    per_class = per_class[["instances", "tp", "fp", "fn", "precision", "recall"]].round(3)
    return ExplorerState(float(conf), float(iou), points.summary(conf, iou), per_class,
                         top_confusion(points.confusion(conf, iou), top),
                         points.image_errors(conf, iou), points.class_presence(conf))


def filter_images(errors: pd.DataFrame, presence: np.ndarray | None = None, *,
                  class_id: int | None = None, kind: str | None = None) -> list[Hashable]:
    """Images with class ``class_id`` present (``presence[:, class_id]``) and at least one
    error of ``kind`` (None: of any kind), worst first (most errors of that kind, then of any
    kind), ties in order.

    Examples
    --------
    >>> e = pd.DataFrame({"tp": [1, 0], "false positive": [0, 2], "missed": [1, 0],
    ...                   "wrong class": [0, 0]}, index=["a", "b"])
    >>> present = np.array([[True, False], [False, True]])
    >>> filter_images(e, present, kind="missed"), filter_images(e, present, class_id=1)
    (['a'], ['b'])
    """
    if kind is not None and kind not in ERROR_KINDS:
        raise ValueError(f"kind must be one of {ERROR_KINDS}, got {kind!r}")
    mask = np.ones(len(errors), bool)
    if class_id is not None:
        if presence is None:
            raise ValueError("filtering by class needs the presence matrix")
        mask &= presence[:, class_id]
    n_kind = errors[list(ERROR_KINDS) if kind is None else [kind]].sum(axis=1).to_numpy()
    mask &= n_kind > 0
    n_all = errors[list(ERROR_KINDS)].sum(axis=1).to_numpy()
    idx = np.flatnonzero(mask)
    idx = idx[np.lexsort((idx, -n_all[idx], -n_kind[idx]))]
    return [errors.index[i] for i in idx]


def outcome_figure(image: np.ndarray, gt: Detections, preds: Detections, state: np.ndarray,
                   found: np.ndarray, names: Sequence[str], title: str = "",
                   size: float = 6.0) -> Figure:
    """One image with its outcomes drawn in :data:`OUTCOME_STYLES`, with a legend outside.

    Parameters
    ----------
    image : ndarray
        BGR image (as :func:`tecktrack.datasets.read_image` gives).
    gt, preds : Detections
        The image's labels and predictions.
    state : ndarray
        Per prediction ``-1`` (below the score threshold: not drawn), ``0`` FP, ``1`` TP.
    found : ndarray
        Per label whether a prediction found it (unfound labels are misses).
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    h, w = image.shape[:2]
    fig = Figure(figsize=(size, size * h / w + 0.6))
    ax = fig.add_axes((0.0, 0.1, 1.0, 0.82))
    ax.imshow(image[:, :, ::-1])
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)

    def boxes(xyxy: np.ndarray, cls: np.ndarray, style: str, label: bool) -> None:
        colour, ls, lw = OUTCOME_STYLES[style]
        for (x0, y0, x1, y1), c in zip(xyxy, cls, strict=True):
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=colour,
                                   linestyle=ls, linewidth=lw))
            if label:
                ax.text(x0, y0 - 2, names[int(c)] if 0 <= c < len(names) else str(c),
                        color="white", fontsize=6, va="bottom",
                        bbox={"facecolor": colour, "alpha": 0.7, "pad": 1, "lw": 0})

    boxes(gt.xyxy[found], gt.class_ids[found], "ground truth", False)
    boxes(gt.xyxy[~found], gt.class_ids[~found], "missed", True)
    boxes(preds.xyxy[state == 1], preds.class_ids[state == 1], "true positive", True)
    boxes(preds.xyxy[state == 0], preds.class_ids[state == 0], "false positive", True)
    handles = [Line2D([], [], color=c, linestyle=ls, linewidth=lw, label=k)
               for k, (c, ls, lw) in OUTCOME_STYLES.items()]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    return fig
