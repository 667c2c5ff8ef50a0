"""The label review queue without a browser: cards from suspicions, decisions appended at
once, resume, shortcuts, the widgets driven in-process, and `clean apply --review` with undo."""

from __future__ import annotations

import json
import re

import cv2
import numpy as np
import pytest

from tecktrack.cleaning.review import apply_review, read_review, undo_review
from tecktrack.cli import main
from tecktrack.datasets.dataset import DatasetItem
from tecktrack.detections import Detections
from tecktrack.errors import DatasetError, FormatError, TeckTrackError
from tecktrack.lab.predictions import SplitPredictions
from tecktrack.lab.review import ReviewQueue, card_image, cards_table, review_cards

NAMES = ["box", "cone", "pallet"]
# Labels as an annotation tool writes them (two to six decimals), 200 x 100 images
LABELS = {
    "a": "0 0.25 0.5 0.2 0.4\n1 0.7125 0.45 0.125 0.3\n",     # box ok, cone called a pallet
    "b": "2 0.5 0.5 0.3 0.3\n0 0.1 0.15 0.05 0.1\n",          # pallet ok, box nobody sees
    "c": "1 0.3 0.5 0.2 0.4\n",                               # cone, detector boxes it shifted
}


def _px(cls, cx, cy, w, h):
    return [(cx - w / 2) * 200, (cy - h / 2) * 100, (cx + w / 2) * 200, (cy + h / 2) * 100]


@pytest.fixture()
def split(tmp_path) -> SplitPredictions:
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    items, gt = [], {}
    rng = np.random.default_rng(0)
    for stem, text in LABELS.items():
        image = tmp_path / "images" / f"{stem}.png"
        cv2.imwrite(str(image), rng.integers(0, 255, (100, 200, 3), dtype=np.uint8))
        label = tmp_path / "labels" / f"{stem}.txt"
        label.write_text(text)
        rows = [list(map(float, line.split())) for line in text.splitlines()]
        gt[stem] = Detections([_px(*r) for r in rows], [int(r[0]) for r in rows])
        items.append(DatasetItem(image, label, "val"))
    preds = {
        "a": Detections([_px(0, .25, .5, .2, .4), _px(2, .7125, .45, .125, .3),
                         _px(1, .85, .8, .1, .2)], [0, 2, 1], [0.95, 0.9, 0.8]),
        "b": Detections([_px(2, .5, .5, .3, .3)], [2], [0.9]),
        "c": Detections([_px(1, .42, .5, .2, .4)], [1], [0.85]),
    }
    return SplitPredictions(items, [(200, 100)] * 3, gt, preds, NAMES)


def test_cards_carry_the_label_the_detection_and_the_suggestion(split):
    cards = review_cards(split, min_score=0.0)
    kinds = {(c.stem, c.kind) for c in cards}
    assert {("a", "wrong class"), ("a", "unlabelled object"), ("b", "unsupported label"),
            ("c", "misplaced box")} <= kinds
    wrong = next(c for c in cards if c.kind == "wrong class")
    assert wrong.label == {"class": 1, "box": [0.7125, 0.45, 0.125, 0.3]}
    assert wrong.suggestion == {"class": 2, "box": [0.7125, 0.45, 0.125, 0.3]}
    added = next(c for c in cards if c.kind == "unlabelled object")
    assert added.label is None and added.suggestion["class"] == 1 and not added.can_delete
    shifted = next(c for c in cards if c.kind == "misplaced box")
    assert shifted.suggestion["class"] == 1 and shifted.suggestion["box"][0] == pytest.approx(
        0.42)
    assert next(c for c in cards if c.kind == "unsupported label").suggestion is None
    assert [c.score for c in cards] == sorted((c.score for c in cards), reverse=True)
    assert len({c.card for c in cards}) == len(cards)
    assert [c.card for c in review_cards(split, min_score=0.0)] == [c.card for c in cards]
    table = cards_table(cards, NAMES)
    assert list(table.columns) == ["image", "kind", "score", "label", "suggestion", "reason"]
    crop = card_image(wrong, NAMES, size=128)
    assert crop.shape[1] == 128 and crop.ndim == 3


def test_queue_appends_each_decision_at_once_and_resumes(split, tmp_path):
    cards = review_cards(split, min_score=0.0)
    log = tmp_path / "review.jsonl"
    queue = ReviewQueue(cards, log)
    first = queue.current
    queue.decide("apply")
    assert [line["card"] for line in read_review(log)] == [first.card]   # on disk already
    assert queue.key("s").decision == "skip" and queue.key("x") is None
    again = ReviewQueue(cards, log)
    assert again.current == cards[2] and again.position == 3
    assert again.counts() == {"keep": 0, "apply": 1, "delete": 0, "skip": 1,
                              "pending": len(cards) - 2}
    with pytest.raises(TeckTrackError, match="no label box to delete"):
        next(c for c in cards if c.label is None).line("delete")
    # a line torn by a crash at the end is not a decision; a bad line elsewhere is an error
    with open(log, "a") as fh:
        fh.write('{"card": "x", "deci')
    assert len(read_review(log)) == 2
    log.write_text('{"card": "x", "decision": "maybe"}\n')
    with pytest.raises(FormatError, match=r"review.jsonl:1: decision"):
        read_review(log)


def test_apply_review_changes_only_accepted_decisions_and_undo_restores(split, tmp_path):
    cards = {(c.stem, c.kind): c for c in review_cards(split, min_score=0.0)}
    log = tmp_path / "review.jsonl"
    queue = ReviewQueue([cards["a", "wrong class"], cards["a", "unlabelled object"],
                         cards["b", "unsupported label"], cards["c", "misplaced box"]], log)
    for decision in ("apply", "apply", "keep", "delete"):
        queue.decide(decision)
    labels = {s: split.item(s).label_path for s in LABELS}
    before = {s: p.read_bytes() for s, p in labels.items()}
    assert main(["clean", "apply", "--review", str(log), "--quiet"]) == 0
    a = labels["a"].read_text().splitlines()
    assert a[0] == "0 0.25 0.5 0.2 0.4"                          # untouched line, exact text
    assert a[1] == "2 0.712500 0.450000 0.125000 0.300000"      # class changed, box kept
    assert a[2].startswith("1 0.85") and len(a) == 3            # the unlabelled cone added
    assert labels["b"].read_bytes() == before["b"]              # kept
    assert labels["c"].read_text() == ""                        # deleted
    record = next(tmp_path.glob("review-applied-*.json"))
    assert main(["clean", "apply", "--undo", str(record), "--quiet"]) == 0
    assert {s: p.read_bytes() for s, p in labels.items()} == before


def test_a_label_changed_since_the_review_is_refused_and_nothing_moves(split, tmp_path):
    card = next(c for c in review_cards(split, min_score=0.0) if c.kind == "wrong class")
    log = tmp_path / "review.jsonl"
    ReviewQueue([card], log).decide("delete")
    path = split.item("a").label_path
    path.write_text("0 0.25 0.5 0.2 0.4\n")
    with pytest.raises(DatasetError, match="is not in .* any more"):
        apply_review(log)
    assert path.read_text() == "0 0.25 0.5 0.2 0.4\n"
    only_kept = tmp_path / "kept.jsonl"
    ReviewQueue([card], only_kept).decide("keep")
    with pytest.raises(DatasetError, match="no accepted decision"):
        apply_review(only_kept)


def test_undo_refuses_when_a_label_file_changed_after_apply(split, tmp_path):
    card = next(c for c in review_cards(split, min_score=0.0) if c.kind == "unsupported label")
    log = tmp_path / "review.jsonl"
    ReviewQueue([card], log).decide("apply")
    record = apply_review(log)
    path = split.item("b").label_path
    assert path.read_text() == "2 0.5 0.5 0.3 0.3\n"
    path.write_text("edited by hand\n")
    with pytest.raises(DatasetError, match="cannot be done safely"):
        undo_review(record)
    assert path.read_text() == "edited by hand\n"


def test_review_widget_buttons_and_shortcuts_write_the_file(split, tmp_path, monkeypatch):
    pytest.importorskip("ipywidgets")
    from tecktrack.lab.widgets import show_review_queue

    monkeypatch.setenv("TECKTRACK_WIDGETS", "1")
    cards = review_cards(split, min_score=0.0)
    log = tmp_path / "review.jsonl"
    box = show_review_queue(cards, log, NAMES)
    buttons = {b.description: b for b in box.children[3].children}
    buttons["Apply suggestion"].click()
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert [(x["card"], x["decision"]) for x in lines] == [(cards[0].card, "apply")]
    box.children[4].value = "k"                                  # the shortcut box
    assert json.loads(log.read_text().splitlines()[-1])["decision"] == "keep"
    assert box.children[4].value == ""
    reopened = show_review_queue(cards, log, NAMES)
    assert f"card 3 of {len(cards)}" in reopened.children[0].value
    assert cards[2].card in reopened.children[0].value


def test_static_fallback_writes_nothing(split, tmp_path, monkeypatch, capsys):
    from tecktrack.lab.widgets import show_review_queue

    monkeypatch.setenv("TECKTRACK_WIDGETS", "0")
    log = tmp_path / "review.jsonl"
    import pandas as pd

    # pandas cuts a wide frame's repr to the terminal's width: print it whole to compare
    with pd.option_context("display.width", 10_000, "display.max_columns", None,
                           "display.max_colwidth", None):
        assert show_review_queue(review_cards(split, min_score=0.0), log, NAMES) is None
    out = capsys.readouterr().out
    table = cards_table(review_cards(split, min_score=0.0), NAMES)
    assert not log.exists() and "Image object" in out
    assert len(table) == 5 and all(reason in out for reason in table["reason"])


def _decision(card: str, labels, label, suggestion, decision: str = "apply") -> str:
    return json.dumps({"card": card, "decision": decision, "labels": str(labels),
                       "label": label, "suggestion": suggestion})


@pytest.mark.parametrize("original,expected", [
    # CRLF endings stay CRLF, on untouched and changed lines alike
    (b"0 0.5 0.5 0.2 0.2\r\n1 0.1 0.1 0.1 0.1\r\n2 0.7 0.7 0.1 0.1\r\n",
     b"0 0.5 0.5 0.2 0.2\r\n2 0.100000 0.100000 0.100000 0.100000\r\n2 0.7 0.7 0.1 0.1\r\n"),
    # a last line without an ending keeps having none
    (b"1 0.1 0.1 0.1 0.1\n0 0.5 0.5 0.2 0.2",
     b"2 0.100000 0.100000 0.100000 0.100000\n0 0.5 0.5 0.2 0.2"),
    # a byte-order mark before the first line: the card about that line is found, the BOM kept
    ("\ufeff1 0.1 0.1 0.1 0.1\n0 0.5 0.5 0.2 0.2\n".encode(),
     "\ufeff2 0.100000 0.100000 0.100000 0.100000\n0 0.5 0.5 0.2 0.2\n".encode()),
])
def test_an_apply_keeps_the_files_line_endings_and_bom(tmp_path, original, expected):
    """Untouched lines keep their exact bytes (CRLF came back as LF, a final newline was
    added, and a BOM made the first line's card "changed since the review?")."""
    labels = tmp_path / "a.txt"
    labels.write_bytes(original)
    log = tmp_path / "review.jsonl"
    log.write_text(_decision("a#1", labels, {"class": 1, "box": [0.1, 0.1, 0.1, 0.1]},
                             {"class": 2, "box": [0.1, 0.1, 0.1, 0.1]}) + "\n")
    record = apply_review(log)
    assert labels.read_bytes() == expected
    undo_review(record)
    assert labels.read_bytes() == original


def test_an_added_box_follows_the_files_own_line_ending(tmp_path):
    labels = tmp_path / "a.txt"
    labels.write_bytes(b"0 0.5 0.5 0.2 0.2\r\n1 0.1 0.1 0.1 0.1")
    log = tmp_path / "review.jsonl"
    log.write_text(_decision("a#2", labels, None, {"class": 2, "box": [0.3, 0.3, 0.1, 0.1]})
                   + "\n")
    apply_review(log)
    assert labels.read_bytes() == (b"0 0.5 0.5 0.2 0.2\r\n1 0.1 0.1 0.1 0.1\r\n"
                                   b"2 0.300000 0.300000 0.100000 0.100000\r\n")


def test_an_apply_to_a_file_of_polygon_rows_keeps_it_polygons(tmp_path):
    """A ``-seg`` dataset's label file: the card's polygon is found by its box (as the
    readers take it), a changed box and an added one are written as rectangles of four
    points (a box row among polygon rows makes Ultralytics refuse the whole file), a
    deleted one goes, and the file still reads as the boxes the decisions asked for."""
    from tecktrack.datasets.yolo import read_yolo_labels

    labels = tmp_path / "a.txt"
    original = (b"0 0.25 0.5 0.375 0.25 0.625 0.25 0.75 0.5 0.625 0.75 0.375 0.75\n"
                b"1 0.1 0.1 0.3 0.1 0.2 0.4\n")
    labels.write_bytes(original)
    log = tmp_path / "review.jsonl"
    log.write_text("\n".join([
        _decision("a#1", labels, {"class": 0, "box": [0.5, 0.5, 0.5, 0.5]},
                  {"class": 2, "box": [0.5, 0.5, 0.5, 0.5]}),
        _decision("a#2", labels, {"class": 1, "box": [0.2, 0.25, 0.2, 0.3]}, None, "delete"),
        _decision("a#3", labels, None, {"class": 1, "box": [0.8, 0.8, 0.2, 0.2]})]) + "\n")
    record = apply_review(log)
    assert labels.read_bytes() == (
        b"2 0.250000 0.250000 0.750000 0.250000 0.750000 0.750000 0.250000 0.750000\n"
        b"1 0.700000 0.700000 0.900000 0.700000 0.900000 0.900000 0.700000 0.900000\n")
    det = read_yolo_labels(labels, 100, 100)
    np.testing.assert_allclose(det.xyxy, [[25, 25, 75, 75], [70, 70, 90, 90]], atol=1e-4)
    undo_review(record)
    assert labels.read_bytes() == original


@pytest.mark.parametrize("suggestion,message", [
    ({"class": -3, "box": [0.5, 0.5, 0.1, 0.1]}, "suggestion: class id -3"),
    ({"class": True, "box": [0.5, 0.5, 0.1, 0.1]}, "suggestion: expected null or"),
    ({"class": 1, "box": [1.7, -0.4, 0.1, 0.1]}, "suggestion: cx=1.7 outside"),
    ({"class": 1, "box": [0.5, 0.5, -0.2, 0.1]}, "suggestion: negative size w=-0.2"),
    ({"class": 1, "box": [0.5, 0.5, float("nan"), 0.1]}, "suggestion: expected null or"),
])
def test_a_suggestion_that_is_no_label_line_is_refused_before_anything_is_written(
        tmp_path, suggestion, message):
    labels = tmp_path / "a.txt"
    labels.write_text("1 0.1 0.1 0.1 0.1\n")
    log = tmp_path / "review.jsonl"
    log.write_text(_decision("a#1", labels, {"class": 1, "box": [0.1, 0.1, 0.1, 0.1]},
                             suggestion) + "\n")
    with pytest.raises(FormatError, match=re.escape(message)):
        apply_review(log)
    assert labels.read_text() == "1 0.1 0.1 0.1 0.1\n"
    assert not list(tmp_path.glob("review-applied-*"))
