"""Review files: a person's decisions about suspected label issues, and applying them.

A review file is JSON lines, one decision a line, appended the moment it is made (so a closed
browser loses nothing). Each line names the card it decides about and carries what applying
it needs, so the file alone is enough to apply it later:

``card``
    The card's id (stable for the same suspicion on the same labels).
``decision``
    ``keep`` (the label is right), ``apply`` (apply the suggestion), ``delete`` (delete the
    label box) or ``skip`` (no decision). A later line about the same card replaces an earlier
    one.
``labels``
    The YOLO label file (absolute path); ``image`` and ``kind``, ``reason`` describe the card.
``label``
    ``{"class": c, "box": [cx, cy, w, h]}``, the label line concerned (normalised), or null
    when the suspicion is an object without a label.
``suggestion``
    What the label should become, in the same form, or null when the suggestion is to remove
    the label box.

:func:`apply_review` applies the accepted decisions (``apply`` and ``delete``): each changed
label file gets its new text written to a staging folder, then two manifests of
:mod:`tecktrack.cleaning.moves` are applied in turn: the original label files move to a backup
folder, then the new ones move into place. A review record (JSON) lists both, so
:func:`undo_review` puts every original back and :func:`resume_review` finishes an interrupted
apply; nothing is overwritten or deleted on the way.

Examples
--------
>>> import tempfile
>>> root = Path(tempfile.mkdtemp()); labels = root / "a.txt"
>>> _ = labels.write_text("0 0.5 0.5 0.2 0.2\\n1 0.1 0.1 0.1 0.1\\n")
>>> log = root / "review.jsonl"
>>> append_decision(log, {"card": "c1", "decision": "apply", "labels": str(labels),
...                       "label": {"class": 1, "box": [0.1, 0.1, 0.1, 0.1]},
...                       "suggestion": {"class": 2, "box": [0.1, 0.1, 0.1, 0.1]}})
>>> record = apply_review(log)
>>> labels.read_text()
'0 0.5 0.5 0.2 0.2\\n2 0.100000 0.100000 0.100000 0.100000\\n'
>>> _ = undo_review(record); labels.read_text()
'0 0.5 0.5 0.2 0.2\\n1 0.1 0.1 0.1 0.1\\n'
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tecktrack.cleaning.moves import (
    apply_manifest,
    undo_manifest,
    write_manifest,
    write_new,
)
from tecktrack.datasets.yolo import has_polygon_rows, invalid_rows, polygon_box, row_problem
from tecktrack.errors import DatasetError, FormatError

__all__ = ["ACCEPTED", "DECISIONS", "REVIEW_VERSION", "append_decision", "apply_review",
           "edited_labels", "is_review_record", "latest_decisions", "read_review",
           "resume_review", "undo_review"]

#: The decisions a review line may hold, and those that change a label file.
DECISIONS = ("keep", "apply", "delete", "skip")
ACCEPTED = ("apply", "delete")
REVIEW_VERSION = 1
#: Largest difference (normalised units) between a card's label box and the file's line.
BOX_TOLERANCE = 5e-4
#: One line of a label file with its ending (``\n``, ``\r\n`` or ``\r``, as the readers
#: split), or the last line without one.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def append_decision(path: str | Path, line: Mapping[str, Any]) -> None:
    """Append one decision to the review file now (one JSON line, flushed to disk).

    Raises
    ------
    FormatError
        When ``decision`` is not one of :data:`DECISIONS` or ``card`` is missing.
    """
    _check_line(dict(line), Path(path), None)
    record = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **line}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _check_line(line: Any, path: Path, number: int | None) -> dict[str, Any]:
    if not isinstance(line, dict):
        raise FormatError("expected a JSON object per line", path, number)
    if not isinstance(line.get("card"), str) or not line["card"]:
        raise FormatError("card: expected a non-empty string", path, number)
    if line.get("decision") not in DECISIONS:
        raise FormatError(f"decision: expected one of {', '.join(DECISIONS)}, got "
                          f"{line.get('decision')!r}", path, number)
    for key in ("label", "suggestion"):
        box = line.get(key)
        if box is not None and not (isinstance(box, dict) and _is_int(box.get("class"))
                                    and isinstance(box.get("box"), list)
                                    and len(box["box"]) == 4
                                    and all(_is_number(v) for v in box["box"])):
            raise FormatError(f"{key}: expected null or {{\"class\": int, \"box\": [cx, cy, w, "
                              f"h]}}", path, number)
    suggestion = line.get("suggestion")
    if suggestion is not None:  # what an apply writes must be a label line the readers take
        row = np.array([[suggestion["class"], *suggestion["box"]]], np.float64)
        if invalid_rows(row)[0]:
            raise FormatError(f"suggestion: {row_problem(row[0])}", path, number)
    return line


def _is_int(value: Any) -> bool:
    """An int that is not a bool and fits a double exactly (JSON's ``true`` is no class)."""
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**53


def _is_number(value: Any) -> bool:
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


def read_review(path: str | Path) -> list[dict[str, Any]]:
    """Every decision line of a review file, in order (a torn last line is ignored).

    Raises
    ------
    DatasetError, FormatError
        A missing file; a malformed line (named by its number).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError("review file not found", path) from None
    lines = text.split("\n")
    out = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except json.JSONDecodeError as exc:
            if number == len(lines):     # written while the process died: not a decision
                continue
            raise FormatError(f"invalid JSON: {exc.msg}", path, number) from None
        out.append(_check_line(line, path, number))
    return out


def latest_decisions(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The last line about each card (a person may change their mind), in first-seen order.

    Examples
    --------
    >>> got = latest_decisions([{"card": "a", "decision": "skip"}, {"card": "b", "decision":
    ...                         "keep"}, {"card": "a", "decision": "delete"}])
    >>> {k: v["decision"] for k, v in got.items()}
    {'a': 'delete', 'b': 'keep'}
    """
    out: dict[str, dict[str, Any]] = {}
    for line in lines:
        out[line["card"]] = line
    return out


def _parse_label_line(text: str) -> tuple[int, list[float]] | None:
    """``(class, [cx, cy, w, h])`` of a box row, or of a polygon row's box (as the readers
    take it: the least and greatest x and y of its points)."""
    parts = text.split()
    if len(parts) < 5:
        return None
    try:
        values = [float(v) for v in parts[1:]]
        return int(float(parts[0])), values[:4] if len(parts) <= 6 else polygon_box(values)
    except ValueError:  # not numbers, or a polygon with an odd count of coordinates
        return None


def _format(box: Mapping[str, Any], polygon: bool = False) -> str:
    """A label row for ``box``; in a file of polygon rows, its rectangle as a polygon (a box
    row there would make Ultralytics refuse the file)."""
    cx, cy, w, h = (float(v) for v in box["box"])
    if not polygon:
        return f"{int(box['class'])} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}"
    x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    points = (x1, y1, x2, y1, x2, y2, x1, y2)
    return f"{int(box['class'])} " + " ".join(f"{v:.6f}" for v in points)


def _find_line(lines: list[str], taken: set[int], label: Mapping[str, Any]) -> int | None:
    want = [float(v) for v in label["box"]]
    for i, text in enumerate(lines):
        parsed = _parse_label_line(text)
        if i in taken or parsed is None or parsed[0] != int(label["class"]):
            continue
        if max(abs(a - b) for a, b in zip(parsed[1], want, strict=True)) <= BOX_TOLERANCE:
            return i
    return None


def edited_labels(path: str | Path, decisions: list[dict[str, Any]], review: Path) -> str:
    """The new text of one label file after the accepted ``decisions`` about it.

    Unchanged lines keep their exact text and line ending (``\\r\\n`` too, and a last line
    without one), as does a leading byte-order mark; changed lines are written with six
    decimals and their line's ending; added boxes go at the end, with the file's ending. In
    a file of polygon rows (a ``-seg`` dataset) a polygon is found by its box, and a new or
    moved box is written as its rectangle's four points.

    Raises
    ------
    DatasetError
        When a decision's label line is no longer in the file (it changed since the review).
    """
    path = Path(path)
    text = ""
    if path.is_file():
        with open(path, encoding="utf-8", newline="") as fh:  # line endings as they are
            text = fh.read()
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    raw = _LINE.findall(text[len(bom):])
    lines = [line.rstrip("\r\n") for line in raw]
    ends = [line[len(bare):] for line, bare in zip(raw, lines, strict=True)]
    replaced: dict[int, str | None] = {}
    added: list[str] = []
    polygons = has_polygon_rows([line.split() for line in lines])
    for d in decisions:
        label, suggestion = d.get("label"), d.get("suggestion")
        if label is None:
            if d["decision"] == "delete" or suggestion is None:
                raise DatasetError(f"card {d['card']}: nothing to delete (the suspicion has no "
                                   f"label box)", review)
            added.append(_format(suggestion, polygons))
            continue
        i = _find_line(lines, set(replaced), label)
        if i is None:
            raise DatasetError(f"card {d['card']}: label line {_format(label)!r} is not in "
                               f"{path} any more (changed since the review?)", review)
        keep_box = d["decision"] == "apply" and suggestion is not None
        replaced[i] = _format(suggestion, polygons) if keep_box else None
    kept = [replaced[i] + ends[i] if i in replaced else raw[i] for i in range(len(lines))
            if replaced.get(i, "") is not None]
    if added:
        eol = next((end for end in ends if end), "\n")
        if kept and not kept[-1].endswith(("\n", "\r")):
            kept[-1] += eol
        kept += [line + eol for line in added]
    return bom + "".join(kept)


def is_review_record(path: str | Path) -> bool:
    """Whether ``path`` is a review record written by :func:`apply_review`."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("kind") == "review"


def apply_review(review: str | Path, *, quiet: bool = True) -> Path:
    """Apply the accepted decisions of a review file; returns the review record's path.

    The record (``<review>-applied-<UTC time>-<hex>.json`` beside the review file) and the
    staging / backup folder next to it make the change undoable (:func:`undo_review`).

    Raises
    ------
    DatasetError
        No accepted decision, or a label line that changed since the review (nothing is
        changed then).
    """
    review = Path(review).resolve()
    accepted = [d for d in latest_decisions(read_review(review)).values()
                if d["decision"] in ACCEPTED]
    if not accepted:
        raise DatasetError("no accepted decision (apply or delete) in the review file", review)
    by_file: dict[Path, list[dict[str, Any]]] = {}
    for d in accepted:
        if not isinstance(d.get("labels"), str):
            raise FormatError(f"card {d['card']}: labels: expected the label file's path", review)
        by_file.setdefault(Path(d["labels"]).resolve(), []).append(d)
    texts = {path: edited_labels(path, ds, review) for path, ds in by_file.items()}
    stamp = f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"
    work = review.parent / f"{review.stem}-applied-{stamp}"
    (work / "new").mkdir(parents=True)
    backups, installs = [], []
    for n, (path, text) in enumerate(sorted(texts.items())):
        staged = work / "new" / f"{n:05d}_{path.name}"
        staged.write_text(text, encoding="utf-8", newline="")  # the endings as edited
        if path.is_file():
            backups.append((path, work / "original" / f"{n:05d}_{path.name}"))
        installs.append((staged, path))
    first = write_manifest(backups, work, work / "1-backup-manifest.json")
    record = work.parent / f"{work.name}.json"
    write_new(record, json.dumps({
        "version": REVIEW_VERSION, "kind": "review", "review": str(review),
        "decisions": len(accepted), "files": len(texts),
        "steps": [str(first), str(work / "2-install-manifest.json")],
        "installs": [[str(a), str(b)] for a, b in installs],
    }, indent=2) + "\n")
    resume_review(record, quiet=quiet)
    return record


def _record(record: str | Path) -> dict[str, Any]:
    record = Path(record)
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError("review record not found", record) from None
    except json.JSONDecodeError as exc:
        raise FormatError(f"invalid JSON: {exc.msg}", record, exc.lineno) from None
    if not isinstance(data, dict) or data.get("kind") != "review" or not isinstance(
            data.get("steps"), list) or len(data["steps"]) != 2:
        raise FormatError("not a review record (kind: review, two steps)", record)
    return data


def resume_review(record: str | Path, *, quiet: bool = True) -> dict[str, int]:
    """Do (or finish) the moves of a review record: back up originals, then install.

    The install manifest is written once the backups are done (its destinations must be
    free), so an apply interrupted in between is finished here too.
    """
    data = _record(record)
    backup, install = (Path(p) for p in data["steps"])
    counts = apply_manifest(backup, quiet=quiet)
    if not install.is_file():
        write_manifest([(Path(a), Path(b)) for a, b in data["installs"]], install.parent,
                       install)
    for key, value in apply_manifest(install, quiet=quiet).items():
        counts[key] = counts.get(key, 0) + value
    return counts


def undo_review(record: str | Path, *, quiet: bool = True) -> dict[str, int]:
    """Put every label file of a review record back as it was (last step first).

    Raises
    ------
    DatasetError
        When a label file changed after the review was applied (nothing is moved then).
    """
    backup, install = (Path(p) for p in _record(record)["steps"])
    counts = undo_manifest(install, quiet=quiet) if install.is_file() else {}
    for key, value in undo_manifest(backup, quiet=quiet).items():
        counts[key] = counts.get(key, 0) + value
    return counts
