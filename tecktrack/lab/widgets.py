"""ipywidgets front ends for notebooks 02, 03 and 06, with a static fallback for batch runs.

In JupyterLab (a kernel started by a Jupyter server, which sets ``JPY_SESSION_NAME``) each
``show_*`` function returns a live widget. Under papermill and nbval, which start kernels
without a server, the same call displays a static fallback (the same table, the image as
PNG) and returns ``None``, so batch reruns stay deterministic. ``TECKTRACK_WIDGETS=1`` / ``0``
forces either. Everything computed lives in :mod:`tecktrack.lab.explorer` and
:mod:`tecktrack.lab.review`; these functions only lay it out.

Examples
--------
>>> import os; os.environ["TECKTRACK_WIDGETS"] = "0"
>>> interactive()
False
>>> del os.environ["TECKTRACK_WIDGETS"]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tecktrack.datasets.images import read_image
from tecktrack.detections import Detections
from tecktrack.lab.explorer import explorer_state, filter_images, outcome_figure
from tecktrack.lab.plots import image_grid, jpeg
from tecktrack.lab.review import BUTTONS, ReviewCard, ReviewQueue, card_image, cards_table
from tecktrack.metrics import ERROR_KINDS, OperatingPoints

__all__ = ["interactive", "show_explorer", "show_hard_gallery", "show_image_browser",
           "show_review_queue"]


def interactive() -> bool:
    """Whether to build live widgets: in a Jupyter server's kernel with ipywidgets present."""
    forced = os.environ.get("TECKTRACK_WIDGETS")
    if forced is not None:
        return forced.strip() not in ("", "0", "false", "no")
    if "JPY_SESSION_NAME" not in os.environ:
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def _display(*objs: Any) -> None:
    from IPython.display import display

    display(*objs)


def _png(fig) -> Any:
    """A matplotlib figure as an inline PNG (closed afterwards)."""
    import io

    import matplotlib.pyplot as plt
    from IPython.display import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return Image(data=buf.getvalue(), format="png")


# -- notebook 02: operating point explorer and image browser -------------------------------
def show_explorer(models: Mapping[str, OperatingPoints], conf: float = 0.5, iou: float = 0.5,
                  *, top: int = 15) -> Any:
    """Sliders for score and IoU threshold over the cached predictions of each model.

    The summary line (P/R/F1), the per-class table (top ``top`` classes by instances, then
    the mean) and the confusion matrix (top classes, the rest summed) follow the sliders.
    Static fallback: the same HTML at ``(conf, iou)`` for each model.
    """
    if not interactive():
        for label, points in models.items():
            state = explorer_state(points, conf, iou, top=top)
            _display(pd.DataFrame([state.summary], index=[label]).round(4),
                     state.per_class, state.confusion)
        return None
    import ipywidgets as w
    from IPython.display import HTML

    model = w.Dropdown(options=list(models), description="model")
    conf_s = w.FloatSlider(value=conf, min=0.05, max=0.95, step=0.05, description="score ≥",
                           continuous_update=False, readout_format=".2f")
    iou_s = w.FloatSlider(value=iou, min=0.1, max=0.95, step=0.05, description="IoU ≥",
                          continuous_update=False, readout_format=".2f")
    summary = w.HTML()
    tables = w.Output()

    def update(_=None) -> None:
        state = explorer_state(models[model.value], conf_s.value, iou_s.value, top=top)
        summary.value = state.summary_html()
        with tables:
            tables.clear_output(wait=True)
            _display(HTML("<h4>Per class</h4>" + state.per_class.to_html()
                          + "<h4>Confusion (rows true, columns predicted)</h4>"
                          + state.confusion.to_html()))

    for widget in (model, conf_s, iou_s):
        widget.observe(update, names="value")
    update()
    box = w.VBox([w.HBox([model, conf_s, iou_s]), summary, tables])
    box.add_class("tt-explorer")
    return box


def show_image_browser(points: OperatingPoints, images: Mapping[Any, str | Path],
                       gt: Mapping[Any, Detections], preds: Mapping[Any, Detections],
                       names: Sequence[str], conf: float = 0.5, iou: float = 0.5,
                       *, n_static: int = 2) -> Any:
    """Page through the images with errors at ``(conf, iou)``, filtered by class and by
    error kind, drawn with :data:`tecktrack.lab.explorer.OUTCOME_STYLES`.

    Static fallback: the ``n_static`` worst images, as PNG.
    """
    def figure(key: Any, state) -> Any:
        s, f = points.image_outcomes(key, state.conf, state.iou)
        e = state.errors.loc[key]
        title = (f"{key}: TP {e['tp']}, FP {e['false positive']}, missed {e['missed']}, "
                 f"wrong class {e['wrong class']}")
        return outcome_figure(read_image(images[key]), gt[key], preds[key], s, f, names, title)

    if not interactive():
        state = explorer_state(points, conf, iou)
        for key in filter_images(state.errors)[:n_static]:
            _display(_png(figure(key, state)))
        return None
    import ipywidgets as w

    cls = w.Dropdown(options=[("any class", -1)] + [(n, i) for i, n in enumerate(names)],
                     description="class")
    kind = w.Dropdown(options=["any error", *ERROR_KINDS], description="error")
    conf_s = w.FloatSlider(value=conf, min=0.05, max=0.95, step=0.05, description="score ≥",
                           continuous_update=False)
    prev, nxt = w.Button(description="◀ previous"), w.Button(description="next ▶")
    where = w.Label()
    out = w.Output()
    shown = {"keys": [], "i": 0}

    def draw() -> None:
        keys = shown["keys"]
        with out:
            out.clear_output(wait=True)
            if not keys:
                where.value = "no image matches"
                return
            i = shown["i"] % len(keys)
            where.value = f"image {i + 1} of {len(keys)}"
            _display(_png(figure(keys[i], explorer_state(points, conf_s.value, iou))))

    def refilter(_=None) -> None:
        state = explorer_state(points, conf_s.value, iou)
        shown["keys"] = filter_images(state.errors, state.presence,
                                      class_id=None if cls.value < 0 else cls.value,
                                      kind=None if kind.value == "any error" else kind.value)
        shown["i"] = 0
        draw()

    def step(delta: int) -> Callable[[Any], None]:
        def go(_) -> None:
            shown["i"] += delta
            draw()
        return go

    for widget in (cls, kind, conf_s):
        widget.observe(refilter, names="value")
    prev.on_click(step(-1))
    nxt.on_click(step(1))
    refilter()
    return w.VBox([w.HBox([cls, kind, conf_s]), w.HBox([prev, nxt, where]), out])


# -- notebook 03: gallery of hard images --------------------------------------------------
def show_hard_gallery(hard: pd.DataFrame, render: Callable[[str], np.ndarray],
                      components: Sequence[str], *, per_page: int = 6, ncols: int = 3) -> Any:
    """The top hard images with their loss terms, ``per_page`` at a time.

    ``render(stem)`` draws one image (e.g. labels and predictions side by side). Static
    fallback: the first page as PNG.
    """
    def page(start: int):
        rows = hard.iloc[start:start + per_page]
        titles = [f"{r.image}: loss {r.loss:.2f}\n" + ", ".join(
            f"{c} {getattr(r, c):.2f}" for c in components) for r in rows.itertuples()]
        return image_grid([render(s) for s in rows["image"]], titles, ncols=ncols, size=3.2)

    if not interactive():
        _display(jpeg(page(0)))
        return None
    import ipywidgets as w

    n_pages = max(1, -(-len(hard) // per_page))
    pager = w.IntSlider(value=1, min=1, max=n_pages, description="page",
                        continuous_update=False)
    out = w.Output()

    def draw(_=None) -> None:
        with out:
            out.clear_output(wait=True)
            _display(jpeg(page((pager.value - 1) * per_page)))

    pager.observe(draw, names="value")
    draw()
    return w.VBox([pager, out])


# -- notebook 06: review queue -------------------------------------------------------------
def show_review_queue(cards: Sequence[ReviewCard], review_file: str | Path,
                      names: Sequence[str], *, n_static: int = 6) -> Any:
    """One card at a time with Keep / Apply suggestion / Delete box / Skip and shortcuts
    (type ``k``, ``a``, ``d`` or ``s`` in the shortcut box). Each decision is appended to
    ``review_file`` at once; reopening resumes at the first undecided card.

    Static fallback: the cards as a table and the first ``n_static`` crops as PNG (nothing is
    written).
    """
    if not interactive():
        _display(cards_table(cards, names))
        if cards:
            shown = list(cards)[:n_static]
            fig = image_grid([card_image(c, names) for c in shown],
                             [f"{c.stem}: {c.kind} ({c.score:.2f})" for c in shown],
                             ncols=3, size=2.8)
            _display(_png(fig))
        return None
    import ipywidgets as w

    queue = ReviewQueue(cards, review_file)
    header, reason, status = w.HTML(), w.HTML(), w.HTML()
    picture = w.Image(format="png", layout=w.Layout(width="360px"))
    buttons = {label: w.Button(description=label) for label in BUTTONS}
    for label, button in buttons.items():
        button.add_class(f"tt-{BUTTONS[label]}")
    keys = w.Text(value="", placeholder="shortcut: k / a / d / s", description="keys",
                  continuous_update=True)

    def show() -> None:
        card = queue.current
        counts = queue.counts()
        status.value = ("<span class='tt-status'>" + ", ".join(
            f"{k} {v}" for k, v in counts.items()) + f"</span> · file: {Path(review_file).name}")
        if card is None:
            header.value = "<b class='tt-card'>every card is decided</b>"
            reason.value, picture.value = "", b""
            for button in buttons.values():
                button.disabled = True
            return
        header.value = (f"<b class='tt-card' data-card='{card.card}'>card {queue.position} of "
                        f"{len(queue.cards)}: {card.stem}</b> · {card.kind} "
                        f"(score {card.score:.2f})")
        sug = ("remove the label" if card.suggestion is None
               else f"{names[card.suggestion['class']]} at the "
                    f"{'detector' if card.kind != 'wrong class' else 'same'} box")
        reason.value = f"{card.reason}<br>suggestion: {sug}"
        import cv2

        ok, data = cv2.imencode(".png", card_image(card, names))
        picture.value = data.tobytes() if ok else b""
        buttons["Delete box"].disabled = not card.can_delete
        for label in ("Keep", "Apply suggestion", "Skip"):
            buttons[label].disabled = False

    def press(decision: str) -> Callable[[Any], None]:
        def go(_) -> None:
            if queue.current is not None:
                queue.decide(decision)
            show()
        return go

    def on_key(change) -> None:
        if change["new"]:
            queue.key(change["new"][-1])
            keys.value = ""
            show()

    for label, button in buttons.items():
        button.on_click(press(BUTTONS[label]))
    keys.observe(on_key, names="value")
    show()
    box = w.VBox([header, picture, reason, w.HBox(list(buttons.values())), keys, status])
    box.add_class("tt-review")
    box._tt_queue = queue          # for tests and for a curious user
    return box
