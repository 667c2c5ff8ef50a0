"""The JSON report of an evaluation: summary, per-class table, P/R table, confusion matrix."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from tecktrack.errors import EvaluationError
from tecktrack.metrics.coco import Evaluation


def _clean(value: Any) -> Any:
    """JSON-safe scalars: NaN/NA -> None, NumPy numbers -> Python numbers."""
    if value is None or value is pd.NA:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def frame_records(frame: pd.DataFrame, index_name: str) -> list[dict[str, Any]]:
    """DataFrame rows as JSON-ready dicts, the index as field ``index_name``.

    Examples
    --------
    >>> frame_records(pd.DataFrame({"p": [0.5, float("nan")]}, index=["a", "b"]), "class")
    [{'class': 'a', 'p': 0.5}, {'class': 'b', 'p': None}]
    """
    out = []
    for idx, row in zip(frame.index, frame.to_dict("records"), strict=True):
        out.append({index_name: _clean(idx), **{k: _clean(v) for k, v in row.items()}})
    return out


def confusion_dict(cm: pd.DataFrame) -> dict[str, Any]:
    """A confusion matrix as ``{labels, rows, columns, matrix}``.

    Examples
    --------
    >>> cm = pd.DataFrame([[1, 0], [2, 0]], index=["cat", "background"],
    ...                   columns=["cat", "background"])
    >>> confusion_dict(cm)["matrix"]
    [[1, 0], [2, 0]]
    """
    return {"labels": [str(x) for x in cm.index], "rows": "true", "columns": "predicted",
            "matrix": cm.to_numpy().tolist()}


def evaluation_report(ev: Evaluation, pr: pd.DataFrame, cm: pd.DataFrame, *, conf: float,
                      iou: float, notes: Sequence[str] = ()) -> dict[str, Any]:
    """``{"summary", "per_class", "precision_recall", "confusion", "params", "notes"}``.

    Examples
    --------
    >>> from tecktrack.detections import Detections
    >>> from tecktrack.metrics import confusion_matrix, evaluate, precision_recall
    >>> g = {"a": Detections([[0, 0, 10, 10]], [0])}
    >>> p = {"a": Detections([[0, 0, 10, 10]], [0], [0.9])}
    >>> r = evaluation_report(evaluate(g, p), precision_recall(g, p), confusion_matrix(g, p),
    ...                       conf=0.5, iou=0.5)
    >>> sorted(r), r["confusion"]["matrix"]
    (['confusion', 'notes', 'params', 'per_class', 'precision_recall', 'summary'], [[1, 0], [0, 0]])
    """
    base = ev.to_dict()
    return {
        "summary": base["summary"],
        "per_class": frame_records(ev.per_class, "class_id"),
        "precision_recall": frame_records(pr, "class"),
        "confusion": {**confusion_dict(cm), "conf": conf, "iou": iou},
        "params": {**base["params"], "pr_conf": conf, "pr_iou": iou},
        "notes": list(notes),
    }


def write_report(path: str | Path, report: dict[str, Any],
                 inputs: Sequence[str | Path] = (), *, force: bool = False) -> Path:
    """Write the report as JSON (parents created) to a new file.

    An existing file is replaced only with ``force=True``, and an input file never.

    Examples
    --------
    >>> import tempfile
    >>> out = write_report(Path(tempfile.mkdtemp()) / "r" / "eval.json", {"summary": {}})
    >>> out.read_text()
    '{\\n  "summary": {}\\n}'
    """
    path = Path(path)
    if any(path.resolve() == Path(p).resolve() for p in inputs):
        raise EvaluationError("--json would overwrite an input file; refusing", path)
    if path.exists() and not force:
        raise EvaluationError("--json file exists already; pass --force to replace it", path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, allow_nan=False), encoding="utf-8")
    return path
