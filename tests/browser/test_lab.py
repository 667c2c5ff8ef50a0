"""JupyterLab in a real browser: the explorer's slider and the review queue's buttons.

Notebook 02: run all cells, move the score slider, and the precision shown equals the
library's value at the new threshold. Notebook 06: press Apply suggestion on the first card,
the review file holds that decision; close the page, reopen, and the queue resumes at the
next card.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tecktrack.lab.review import review_cards
from tecktrack.metrics import OperatingPoints

RUN_TIMEOUT_MS = 150_000       # all cells of one small notebook on a loaded 2-core machine
STEP_TIMEOUT_MS = 20_000


#: The notebook panel of ``path`` once its kernel is ready (JupyterLab's app object).
_PANEL = """(path) => {
  const app = window.jupyterapp;
  if (!app) return false;
  for (const w of app.shell.widgets('main')) {
    if (w.context && w.context.path === path && w.sessionContext
        && w.sessionContext.session && w.sessionContext.session.kernel) {
      app.shell.activateById(w.id);
      return app.shell.currentWidget === w;
    }
  }
  return false;
}"""


def _open_and_run(page, lab, notebook: str, ready: str) -> None:
    page.goto(lab.url(notebook), timeout=STEP_TIMEOUT_MS * 3)
    page.wait_for_function(_PANEL, arg=notebook, timeout=STEP_TIMEOUT_MS * 3)
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.ready")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    try:
        page.locator(ready).first.wait_for(state="attached", timeout=RUN_TIMEOUT_MS)
    except Exception:
        failure = lab.root / f"failure-{notebook}.png"
        page.screenshot(path=str(failure), full_page=True)
        errors = page.locator(".jp-OutputArea-output[data-mime-type="
                              "'application/vnd.jupyter.stderr']").all_inner_texts()
        raise AssertionError(f"{notebook}: {ready} did not appear (screenshot {failure}); "
                             f"stderr outputs: {errors[-3:]}") from None
    assert not page.locator(".jp-RenderedText[data-mime-type="
                            "'application/vnd.jupyter.error']").count(), "a cell raised"


def _still_screenshot(page, path: Path) -> None:
    """A screenshot that is the same bytes from run to run: the file browser (whose
    "Modified 22s ago" column is the wall clock) is collapsed and the kernel is idle (its
    status circle drawn empty), so a test run leaves the README's tracked images as they are."""
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext"
                           ".kernelDisplayStatus === 'idle'", timeout=STEP_TIMEOUT_MS)
    page.wait_for_function("() => document.querySelector('.jp-SideBar.jp-mod-left "
                           ".lm-TabBar-tab.lm-mod-current') === null", timeout=STEP_TIMEOUT_MS)
    shot = page.screenshot(full_page=False, animations="disabled")
    if not _same_picture(path, shot):
        path.write_bytes(shot)


#: Largest per-channel difference between two screenshots still taken as the same picture:
#: Chromium on another CPU antialiases a few pixels one or two levels apart (21 pixels of
#: 02_explorer.png, by 2 at most, on a Zen 4 machine against the committed image).
SAME_PICTURE = 3


def _same_picture(path: Path, png: bytes) -> bool:
    """Whether the image at ``path`` shows what ``png`` shows (same size, every channel within
    :data:`SAME_PICTURE`): then the tracked file is left as it is, so a clone stays clean."""
    if not path.is_file():
        return False
    import io

    import numpy as np
    from PIL import Image

    old = np.asarray(Image.open(path).convert("RGB"), np.int16)
    new = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), np.int16)
    return old.shape == new.shape and int(np.abs(old - new).max()) <= SAME_PICTURE


def _library_points(n_images: int) -> OperatingPoints:
    from tecktrack.lab import predict_split
    from tecktrack.model import load_model
    from tecktrack.paths import data_dir

    sp = predict_split(load_model("demo-n", conf=0.001), data_dir() / "synth" / "data.yaml",
                       "val", n_images=n_images, seed=0)
    return OperatingPoints(sp.gt, sp.preds, names=sp.names)


@pytest.mark.timeout(300)
def test_score_slider_recomputes_precision_like_the_library(page, lab, screenshots, small):
    _open_and_run(page, lab, "02_model_performance.ipynb", ".tt-explorer .tt-precision")
    explorer = page.locator(".tt-explorer").first
    explorer.scroll_into_view_if_needed(timeout=STEP_TIMEOUT_MS)
    # textContent, not innerText: JupyterLab's windowed notebook may not have laid out a cell
    # that run-all scrolled past, and innerText of an unrendered node is ''
    page.wait_for_function("() => document.querySelector('.tt-explorer .tt-conf')"
                           ".textContent === '0.50'", timeout=STEP_TIMEOUT_MS)
    handle = explorer.locator(".widget-slider .noUi-handle").first
    handle.focus(timeout=STEP_TIMEOUT_MS)
    for _ in range(3):
        handle.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('.tt-explorer .tt-conf')"
                           ".textContent === '0.65'", timeout=STEP_TIMEOUT_MS)
    conf = float(explorer.locator(".tt-conf").text_content())
    shown = float(explorer.locator(".tt-precision").text_content())
    assert conf == pytest.approx(0.65)
    points = _library_points(small["02_model_performance"]["n_images"])
    assert shown == pytest.approx(points.summary(conf, 0.5)["precision"], abs=5e-5)
    assert shown != pytest.approx(points.summary(0.5, 0.5)["precision"], abs=5e-5)
    # the heading at the top: the timing table above it (new numbers each run) out of view
    page.locator(".jp-MarkdownOutput h2", has_text="Operating point explorer").first.evaluate(
        "(heading) => heading.scrollIntoView({block: 'start'})")
    _still_screenshot(page, screenshots / "02_explorer.png")


def _card_id(page) -> str:
    header = page.locator(".tt-review .tt-card").first
    header.wait_for(state="visible", timeout=STEP_TIMEOUT_MS)
    return header.get_attribute("data-card", timeout=STEP_TIMEOUT_MS)


@pytest.mark.timeout(300)
def test_review_queue_records_a_decision_and_resumes(page, lab, screenshots, small):
    review = lab.root / "results" / "review" / "06_label_review.jsonl"
    _open_and_run(page, lab, "06_dataset_cleaning.ipynb", ".tt-review .tt-card")
    page.locator(".tt-review").first.scroll_into_view_if_needed(timeout=STEP_TIMEOUT_MS)
    first = _card_id(page)
    _still_screenshot(page, screenshots / "06_review_queue.png")
    page.locator(".tt-review button.tt-apply").first.click(timeout=STEP_TIMEOUT_MS)
    page.wait_for_function(f"() => document.querySelector('.tt-review .tt-card')"
                           f".dataset.card !== '{first}'", timeout=STEP_TIMEOUT_MS)
    second = _card_id(page)
    lines = [json.loads(x) for x in review.read_text().splitlines()]
    assert [(x["card"], x["decision"]) for x in lines] == [(first, "apply")]
    # the same cards the library makes, in the same order
    from tecktrack.lab import predict_split
    from tecktrack.model import load_model
    from tecktrack.paths import data_dir

    sp = predict_split(load_model("demo-n", conf=0.05), data_dir() / "synth-noisy" / "data.yaml",
                       "val", n_images=small["06_dataset_cleaning"]["n_images"], seed=0)
    cards = review_cards(sp, top=small["06_dataset_cleaning"]["n_cards"])
    assert [first, second] == [c.card for c in cards[:2]]
    assert lines[0]["suggestion"] == cards[0].suggestion

    context = page.context
    page.close()
    again = context.new_page()
    _open_and_run(again, lab, "06_dataset_cleaning.ipynb", ".tt-review .tt-card")
    assert _card_id(again) == second
    text = again.locator(".tt-review .tt-card").first.inner_text()
    assert re.search(rf"card 2 of {len(cards)}", text), text
    again.locator(".tt-review").first.scroll_into_view_if_needed(timeout=STEP_TIMEOUT_MS)
    _still_screenshot(again, screenshots / "06_review_resumed.png")
