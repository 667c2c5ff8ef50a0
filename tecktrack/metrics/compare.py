"""Two models on the same images: COCO numbers, paired bootstrap of the difference, TIDE dAP.

The two models are resampled with the *same* image draws (a paired bootstrap), so the
interval of ``B - A`` reflects how the difference varies over images, not the two models'
separate uncertainties. ``P(B>A)`` is the share of resamples in which B scores higher.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tecktrack.detections import Detections
from tecktrack.errors import EvaluationError
from tecktrack.metrics._inputs import ExactBoxes, Names
from tecktrack.metrics.bootstrap import (
    ResampledMetrics,
    percentile_interval,
    resample_counts,
    resampled_metrics,
)
from tecktrack.metrics.coco import SUMMARY_KEYS, Evaluation, evaluate
from tecktrack.metrics.errors import ERROR_KEYS, ErrorBreakdown, error_breakdown


def _share_greater(b: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Per column: share of rows (both defined) where ``b > a``; NaN without such rows."""
    ok = ~np.isnan(a) & ~np.isnan(b)
    n = ok.sum(axis=0)
    wins = ((b > a) & ok).sum(axis=0)
    return np.where(n > 0, wins / np.maximum(n, 1), np.nan)


@dataclass(frozen=True)
class Comparison:
    """Result of :func:`compare_models` (model ``A`` = first, ``B`` = second).

    Attributes
    ----------
    names : (str, str)
        Display names of A and B.
    evaluations : dict
        ``{name: Evaluation}`` on all images.
    samples : dict
        ``{name: ResampledMetrics}`` of the shared resamples (empty without bootstrap).
    errors : dict
        ``{name: ErrorBreakdown}`` (TIDE).
    confidence : float
        Interval coverage.
    seed : int
        Seed of the resamples.
    """

    names: tuple[str, str]
    evaluations: dict[str, Evaluation]
    samples: dict[str, ResampledMetrics]
    errors: dict[str, ErrorBreakdown]
    confidence: float
    seed: int

    @property
    def n_resamples(self) -> int:
        """Number of shared resamples (0: no intervals)."""
        return len(next(iter(self.samples.values())).summary) if self.samples else 0

    def _interval(self, values: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray]:
        if values is None:
            return np.full(n, np.nan), np.full(n, np.nan)
        lo, hi = percentile_interval(values, self.confidence)
        return lo, hi

    def _table(self, point: dict[str, np.ndarray], draws: dict[str, np.ndarray],
               index: pd.Index) -> pd.DataFrame:
        a, b = self.names
        cols: dict[str, Any] = {}
        n = len(index)
        for name in self.names:
            lo, hi = self._interval(draws[name], n)
            cols.update({name: point[name], f"{name} lo": lo, f"{name} hi": hi})
        lo, hi = self._interval(draws[b] - draws[a] if self.samples else None, n)
        cols.update({"diff": point[b] - point[a], "diff lo": lo, "diff hi": hi})
        cols[f"P({b}>{a})"] = (_share_greater(draws[b], draws[a]) if self.samples
                               else np.full(len(index), np.nan))
        return pd.DataFrame(cols, index=index)

    def summary_table(self) -> pd.DataFrame:
        """The 12 COCO numbers: each model with its interval, ``diff = B - A`` with its
        interval and ``P(B>A)``.

        Examples
        --------
        >>> g = {i: Detections([[0, 0, 10, 10]], [0]) for i in range(6)}
        >>> a = {i: Detections([[0, 0, 10, 10]], [0], [0.9]) for i in range(3)}
        >>> b = {i: Detections([[0, 0, 10, 10]], [0], [0.9]) for i in range(5)}
        >>> c = compare_models(g, {"a": a, "b": b}, n_resamples=200, quiet=True)
        >>> row = c.summary_table().loc["map50"]
        >>> round(float(row["diff"]), 3), bool(row["diff lo"] >= 0), float(row["P(b>a)"])
        (0.327, True, 0.925)
        """
        point = {n: np.array([self.evaluations[n].summary[k] for k in SUMMARY_KEYS])
                 for n in self.names}
        point = {n: np.where(v < 0, np.nan, v) for n, v in point.items()}
        draws = {n: self.samples[n].summary if self.samples else None for n in self.names}
        return self._table(point, draws, pd.Index(SUMMARY_KEYS, name="metric"))

    def class_table(self, column: str = "mAP50-95") -> pd.DataFrame:
        """Per-class AP (``"mAP50-95"`` or ``"mAP50"``) of both models and their difference.

        Indexed by class name.
        """
        if column not in ("mAP50-95", "mAP50"):
            raise EvaluationError(f"column must be 'mAP50-95' or 'mAP50', got {column!r}")
        point = {n: self.evaluations[n].per_class[column].to_numpy(np.float64)
                 for n in self.names}
        attr = "class_ap" if column == "mAP50-95" else "class_ap50"
        draws = {n: getattr(self.samples[n], attr) if self.samples else None
                 for n in self.names}
        names = self.evaluations[self.names[0]].per_class["class"].tolist()
        return self._table(point, draws, pd.Index(names, name="class"))

    def errors_table(self) -> pd.DataFrame:
        """TIDE dAP of each model (rows ``ERROR_KEYS``), and each model's TIDE AP50."""
        frame = pd.DataFrame({n: self.errors[n].to_dict() for n in self.names})
        frame.loc["AP50 (TIDE)"] = [self.errors[n].ap50 for n in self.names]
        frame.index.name = "error"
        return frame

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: per model the 12 numbers with intervals and dAP; the difference."""
        summary = self.summary_table()
        classes = self.class_table()

        def records(frame: pd.DataFrame, cols: list[str], keys: list[str]) -> dict[str, Any]:
            return {str(idx): {k: _num(row[c]) for k, c in zip(keys, cols, strict=True)}
                    for idx, row in frame.iterrows()}

        a, b = self.names
        models = {}
        for n in self.names:
            models[n] = {
                "summary": records(summary, [n, f"{n} lo", f"{n} hi"], ["value", "lo", "hi"]),
                "per_class_ap": records(classes, [n, f"{n} lo", f"{n} hi"],
                                        ["value", "lo", "hi"]),
                "errors": self.errors[n].to_dict(),
                "error_counts": dict(self.errors[n].counts),
                "ap50_tide": float(self.errors[n].ap50),
            }
        diff_cols = ["diff", "diff lo", "diff hi", f"P({b}>{a})"]
        diff_keys = ["value", "lo", "hi", "p_b_better"]
        return {
            "models": list(self.names), "a": a, "b": b,
            "n_resamples": self.n_resamples, "seed": self.seed, "confidence": self.confidence,
            "n_images": self.evaluations[a].n_images,
            "per_model": models,
            "difference": {"of": f"{b} - {a}",
                           "summary": records(summary, diff_cols, diff_keys),
                           "per_class_ap": records(classes, diff_cols, diff_keys),
                           "errors": {k: float(self.errors[b].dap[k] - self.errors[a].dap[k])
                                      for k in ERROR_KEYS}},
        }


def _num(value: Any) -> float | None:
    value = float(value)
    return None if np.isnan(value) else value


def compare_models(gt: Mapping[Hashable, Detections],
                   models: Mapping[str, Mapping[Hashable, Detections]], *,
                   n_resamples: int = 1000, seed: int = 0, confidence: float = 0.95,
                   names: Names = None, areas: Mapping[Hashable, np.ndarray] | None = None,
                   iscrowd: Mapping[Hashable, np.ndarray] | None = None,
                   quiet: bool = False, workers: int = 2,
                   exact: Mapping[str, ExactBoxes] | None = None) -> Comparison:
    """Evaluate two models on the same ground truth with a paired bootstrap and TIDE.

    Parameters
    ----------
    gt : Mapping
        ``{image: Detections}`` ground truth.
    models : Mapping
        ``{display name: {image: Detections}}`` with exactly two models, A then B.
    n_resamples, seed : int
        Shared image resamples (0: no intervals).
    confidence : float
        Interval coverage.
    names, areas, iscrowd
        As in :func:`tecktrack.metrics.evaluate`.
    exact : Mapping, optional
        ``{display name: ExactBoxes}``: the float64 values each model's inputs were read
        from (see :func:`tecktrack.metrics.evaluate`).

    Returns
    -------
    Comparison
    """
    if len(models) != 2:
        raise EvaluationError(f"compare needs exactly two models, got {len(models)}")
    if len(set(models)) != 2:
        raise EvaluationError("the two models need different names")
    if not 0.0 < confidence < 1.0:
        raise EvaluationError(f"confidence must be in (0, 1), got {confidence}")
    if n_resamples < 0:
        raise EvaluationError(f"the number of resamples must be >= 0, got {n_resamples}")
    kw = {"names": names, "areas": areas, "iscrowd": iscrowd}
    exact = dict(exact or {})
    evaluations = {n: evaluate(gt, p, exact=exact.get(n), **kw) for n, p in models.items()}
    samples = {}
    if n_resamples:
        counts = resample_counts(len(gt), n_resamples, seed)
        samples = {n: resampled_metrics(gt, p, counts, quiet=quiet, workers=workers,
                                         exact=exact.get(n), **kw)
                   for n, p in models.items()}
    errors = {n: error_breakdown(gt, p, names=names, iscrowd=iscrowd, exact=exact.get(n))
              for n, p in models.items()}
    return Comparison(names=tuple(models), evaluations=evaluations, samples=samples,
                      errors=errors, confidence=float(confidence), seed=int(seed))
