"""The review queue of suspected label issues (notebook 06): cards, decisions, resume.

One :class:`ReviewCard` per suspicion of :func:`tecktrack.mining.box_suspicions`: the image,
its label file, the label line concerned, the detector's box, the suspicion and its reason,
and a suggestion (what the label should become, or ``None`` to remove it):

==================  ====================  ============================================
kind                label                 suggestion
==================  ====================  ============================================
unlabelled object   none                  add the detector's box and class
wrong class         the label box         the same box with the detector's class
misplaced box       the label box         the detector's box with the label's class
unsupported label   the label box         remove it
==================  ====================  ============================================

A :class:`ReviewQueue` holds the cards still to decide; every decision is appended to the
review file at once (:func:`tecktrack.cleaning.review.append_decision`), and a queue built
again on the same file starts at the first undecided card. Keyboard shortcuts map one key
to one decision (:data:`SHORTCUTS`).

Examples
--------
>>> import tempfile
>>> card = ReviewCard("c1", "a.jpg", "a.txt", "a", "unsupported label", 0.7, "why",
...                   {"class": 0, "box": [0.5, 0.5, 0.2, 0.2]}, None, None)
>>> log = Path(tempfile.mkdtemp()) / "review.jsonl"
>>> queue = ReviewQueue([card], log)
>>> queue.decide("delete").decision, queue.done
('delete', True)
>>> ReviewQueue([card], log).remaining
0
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from tecktrack.cleaning.review import DECISIONS, append_decision, latest_decisions, read_review
from tecktrack.datasets.images import read_image
from tecktrack.errors import TeckTrackError
from tecktrack.lab.predictions import SplitPredictions
from tecktrack.mining import ISSUE_KINDS, box_suspicions, match_tables

__all__ = ["BUTTONS", "SHORTCUTS", "Decision", "ReviewCard", "ReviewQueue", "card_image",
           "cards_table", "review_cards"]

#: Button label -> decision, in the order the queue shows them.
BUTTONS = {"Keep": "keep", "Apply suggestion": "apply", "Delete box": "delete", "Skip": "skip"}
#: Keyboard shortcut -> decision.
SHORTCUTS = {"k": "keep", "a": "apply", "d": "delete", "s": "skip"}


@dataclass(frozen=True)
class ReviewCard:
    """One suspected label issue, with what applying a decision about it needs.

    Boxes are ``{"class": int, "box": [cx, cy, w, h]}`` (YOLO-normalised); ``detection``
    adds ``"confidence"``.
    """

    card: str
    image: str
    labels: str
    stem: str
    kind: str
    score: float
    reason: str
    label: dict[str, Any] | None
    suggestion: dict[str, Any] | None
    detection: dict[str, Any] | None

    @property
    def can_delete(self) -> bool:
        """Whether there is a label box to delete."""
        return self.label is not None

    def line(self, decision: str) -> dict[str, Any]:
        """The review-file line recording ``decision`` about this card."""
        if decision not in DECISIONS:
            raise TeckTrackError(f"decision must be one of {', '.join(DECISIONS)}, got "
                                 f"{decision!r}")
        if decision == "delete" and not self.can_delete:
            raise TeckTrackError(f"card {self.card} ({self.kind}) has no label box to delete")
        return {"card": self.card, "decision": decision, **{
            k: v for k, v in asdict(self).items() if k not in ("card", "detection")}}


@dataclass(frozen=True)
class Decision:
    """A decision just recorded: the card and what was decided."""

    card: ReviewCard
    decision: str


def _box(cls: int, box: np.ndarray, confidence: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"class": int(cls), "box": [round(float(v), 6) for v in box]}
    if confidence is not None:
        out["confidence"] = round(float(confidence), 4)
    return out


def _card_id(labels: str, kind: str, label: Any, suggestion: Any) -> str:
    text = json.dumps([labels, kind, label, suggestion], sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _reason(kind: str, label: dict | None, det: dict | None, names: Sequence[str]) -> str:
    def name(box: dict) -> str:
        c = box["class"]
        return names[c] if 0 <= c < len(names) else str(c)

    if kind == "unlabelled object":
        return f"the detector sees a {name(det)} ({det['confidence']:.2f}) where no label is"
    if kind == "wrong class":
        return (f"labelled {name(label)}, the detector says {name(det)} "
                f"({det['confidence']:.2f})")
    if kind == "misplaced box":
        return (f"the {name(label)} box is only partly covered by a {name(det)} detection "
                f"({det['confidence']:.2f})")
    return f"no detection supports this {name(label)} label"


def review_cards(sp: SplitPredictions, *, iou_threshold: float = 0.5, top: int | None = None,
                 min_score: float = 0.05) -> list[ReviewCard]:
    """Cards for every suspicion scoring at least ``min_score``, most suspicious first.

    Parameters
    ----------
    sp : SplitPredictions
        Labels and low-threshold predictions of a split (keep ``conf`` low: evidence).
    iou_threshold : float
        IoU a prediction needs to match a label box.
    top : int, optional
        Keep only the first ``top`` cards.
    """
    pred, gt = sp.tables()
    s = box_suspicions(pred, gt, match_tables(pred, gt, iou_threshold),
                       iou_threshold=iou_threshold)
    s = s[s["score"] >= min_score]
    order = np.lexsort((s["image"].to_numpy(), -s["score"].to_numpy()))
    s = s.iloc[order]
    if top is not None:
        s = s.head(top)
    cards = []
    for row in s.itertuples(index=False):
        item = sp.items[int(row.image)]
        kind = ISSUE_KINDS[int(row.kind)]
        g, p = int(row.gt_index), int(row.pred_index)
        label = _box(gt.class_ids[g], gt.boxes[g]) if g >= 0 else None
        det = _box(pred.class_ids[p], pred.boxes[p], pred.scores[p]) if p >= 0 else None
        suggestion = {"unlabelled object": det and {"class": det["class"], "box": det["box"]},
                      "wrong class": label and det and {"class": det["class"],
                                                        "box": label["box"]},
                      "misplaced box": label and det and {"class": label["class"],
                                                          "box": det["box"]},
                      "unsupported label": None}[kind]
        labels = str(Path(item.label_path).resolve())
        cards.append(ReviewCard(_card_id(labels, kind, label, suggestion),
                                str(Path(item.image_path).resolve()), labels, item.stem, kind,
                                round(float(row.score), 4), _reason(kind, label, det, sp.names),
                                label, suggestion, det))
    return cards


class ReviewQueue:
    """The cards not yet decided in ``review_file``, and the one on show.

    Parameters
    ----------
    cards : sequence of ReviewCard
        All cards, in review order.
    review_file : path
        JSON lines; created on the first decision; read on construction to resume.
    """

    def __init__(self, cards: Sequence[ReviewCard], review_file: str | Path) -> None:
        self.review_file = Path(review_file)
        self.cards = list(cards)
        decided = (latest_decisions(read_review(self.review_file))
                   if self.review_file.is_file() else {})
        self.decided = {c.card: decided[c.card]["decision"] for c in self.cards
                        if c.card in decided}
        self.pending = [c for c in self.cards if c.card not in self.decided]

    @property
    def current(self) -> ReviewCard | None:
        """The card on show (``None`` when every card is decided)."""
        return self.pending[0] if self.pending else None

    @property
    def remaining(self) -> int:
        return len(self.pending)

    @property
    def done(self) -> bool:
        return not self.pending

    @property
    def position(self) -> int:
        """1-based number of the card on show among all cards."""
        return len(self.cards) - len(self.pending) + 1

    def decide(self, decision: str) -> Decision:
        """Record ``decision`` about the current card (appended to the file now), go on."""
        card = self.current
        if card is None:
            raise TeckTrackError("the review queue is empty: every card is decided")
        append_decision(self.review_file, card.line(decision))
        self.decided[card.card] = decision
        self.pending.pop(0)
        return Decision(card, decision)

    def key(self, key: str) -> Decision | None:
        """Apply a keyboard shortcut (:data:`SHORTCUTS`); other keys do nothing."""
        decision = SHORTCUTS.get(key.lower())
        if decision is None or self.current is None:
            return None
        if decision == "delete" and not self.current.can_delete:
            return None
        return self.decide(decision)

    def counts(self) -> dict[str, int]:
        """How many cards got each decision so far, and how many are left."""
        out = {d: 0 for d in DECISIONS}
        for d in self.decided.values():
            out[d] += 1
        out["pending"] = self.remaining
        return out


def cards_table(cards: Sequence[ReviewCard], names: Sequence[str]) -> pd.DataFrame:
    """The cards as a table: image, kind, score, reason, label and suggested class."""
    def cname(box: dict | None) -> str:
        if box is None:
            return ""
        return names[box["class"]] if 0 <= box["class"] < len(names) else str(box["class"])

    return pd.DataFrame({
        "image": [c.stem for c in cards], "kind": [c.kind for c in cards],
        "score": [c.score for c in cards], "label": [cname(c.label) for c in cards],
        "suggestion": [cname(c.suggestion) if c.suggestion else "(remove)" for c in cards],
        "reason": [c.reason for c in cards]})


def _corners(box: dict, w: int, h: int) -> np.ndarray:
    cx, cy, bw, bh = box["box"]
    return np.array([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w,
                     (cy + bh / 2) * h])


def _dashed(img: np.ndarray, x0: int, y0: int, x1: int, y1: int, colour: tuple, dash: int = 6
            ) -> None:
    for a, b in (((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x1, y1), (x0, y1)),
                 ((x0, y1), (x0, y0))):
        length = max(abs(b[0] - a[0]), abs(b[1] - a[1]))
        for t in range(0, length, 2 * dash):
            s, e = t / max(length, 1), min(t + dash, length) / max(length, 1)
            p = (int(a[0] + (b[0] - a[0]) * s), int(a[1] + (b[1] - a[1]) * s))
            q = (int(a[0] + (b[0] - a[0]) * e), int(a[1] + (b[1] - a[1]) * e))
            cv2.line(img, p, q, colour, 2)


def card_image(card: ReviewCard, names: Sequence[str], *, zoom: float = 3.0, size: int = 256
               ) -> np.ndarray:
    """The card's crop (``zoom`` x the boxes, at least 64 px) as a BGR image ``size`` wide:
    the label box solid green, the detector's box dashed magenta, names above them."""
    image = read_image(card.image)
    h, w = image.shape[:2]
    boxes = [b for b in (card.label, card.detection) if b is not None]
    corners = np.array([_corners(b, w, h) for b in boxes])
    cx, cy = corners[:, [0, 2]].mean(), corners[:, [1, 3]].mean()
    half = max(32.0, zoom * max(corners[:, 2].max() - corners[:, 0].min(),
                                corners[:, 3].max() - corners[:, 1].min()) / 2)
    x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
    x1, y1 = int(min(w, cx + half)), int(min(h, cy + half))
    crop = image[y0:y1, x0:x1]
    scale = size / max(crop.shape[1], 1)
    crop = cv2.resize(crop, (size, max(1, int(round(crop.shape[0] * scale)))),
                      interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    for box, colour, solid in ((card.label, (60, 200, 60), True),
                               (card.detection, (220, 60, 220), False)):
        if box is None:
            continue
        bx = ((_corners(box, w, h) - [x0, y0, x0, y0]) * scale).round().astype(int)
        if solid:
            cv2.rectangle(crop, tuple(bx[:2]), tuple(bx[2:]), colour, 2)
        else:
            _dashed(crop, *bx.tolist(), colour)
        c = box["class"]
        text = names[c] if 0 <= c < len(names) else str(c)
        cv2.putText(crop, text, (int(bx[0]), max(10, int(bx[1]) - 3)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4, colour, 1, cv2.LINE_AA)
    return crop
