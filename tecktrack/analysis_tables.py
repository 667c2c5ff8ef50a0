"""Small tables the analysis notebooks show on top of mining, augmentation and cleaning.

* :func:`label_issue_hits`: label-issue candidates checked against the label-noise manifest
  of ``tecktrack synth`` (which candidates really were corrupted, and how).
* :func:`augmentation_summary`: the augmentation analysis by type.
* :func:`move_plan`, :func:`cleaning_sweep`, :func:`pick_examples` and :func:`sample_layout`:
  the dry-run move plan, outcome counts over confidence thresholds, a seeded pick of images
  per outcome, and a seeded subset of a cleaning layout.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from tecktrack.cleaning import FolderLayout, classify_images, misfiled_scores, outcome_counts
from tecktrack.errors import DatasetError

__all__ = ["augmentation_summary", "cleaning_sweep", "label_issue_hits", "label_noise",
           "move_plan", "pick_examples", "sample_layout"]

_OUTCOMES = ("TP", "TN", "FP", "FN")


def label_noise(manifest: str | Path, split: str | None = None) -> pd.DataFrame:
    """The corrupted images of a ``label_noise.json``: ``image`` (stem), ``split``, ``kind``.

    An image corrupted more than once keeps its kinds joined by ``+`` (sorted).

    Raises
    ------
    DatasetError
        When the file is missing or is not a label-noise manifest.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "label_noise.json"
    >>> _ = p.write_text(json.dumps({"images": [
    ...     {"image": "000001.jpg", "split": "val", "kind": "box_missing"},
    ...     {"image": "000001.jpg", "split": "val", "kind": "class_swapped"},
    ...     {"image": "000002.jpg", "split": "train", "kind": "spurious_box"}]}))
    >>> label_noise(p, "val").values.tolist()
    [['000001', 'val', 'box_missing+class_swapped']]
    """
    path = Path(manifest)
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["images"]
        frame = pd.DataFrame({"image": [Path(str(e["image"])).stem for e in entries],
                              "split": [str(e["split"]) for e in entries],
                              "kind": [str(e["kind"]) for e in entries]})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"not a label-noise manifest with 'images' ({type(exc).__name__})",
                           path) from None
    if split is not None:
        frame = frame[frame["split"] == split]
    grouped = frame.groupby(["image", "split"], sort=True)["kind"]
    return grouped.agg(lambda kinds: "+".join(sorted(set(kinds)))).reset_index()


def label_issue_hits(issues: pd.DataFrame, noise: pd.DataFrame) -> pd.DataFrame:
    """Mark each label-issue candidate with the corruption it really has (``""``: none).

    Parameters
    ----------
    issues : DataFrame
        :func:`tecktrack.label_issues.rank_label_issues` output (``image`` = stem), best first.
    noise : DataFrame
        :func:`label_noise` of the same images.

    Returns
    -------
    DataFrame
        ``issues`` plus ``true_kind`` and ``precision_at_k`` (the share of the first k
        candidates that are really corrupted).

    Examples
    --------
    >>> issues = pd.DataFrame({"image": ["a", "b"], "score": [0.9, 0.5]})
    >>> noise = pd.DataFrame({"image": ["b"], "split": ["val"], "kind": ["box_missing"]})
    >>> label_issue_hits(issues, noise)[["true_kind", "precision_at_k"]].values.tolist()
    [['', 0.0], ['box_missing', 0.5]]
    """
    kinds = dict(zip(noise["image"], noise["kind"], strict=True))
    out = issues.copy()
    out["true_kind"] = [kinds.get(str(s), "") for s in out["image"]]
    hits = (out["true_kind"] != "").to_numpy(np.float64)
    out["precision_at_k"] = np.cumsum(hits) / np.arange(1, len(out) + 1)
    return out


def augmentation_summary(analysis: pd.DataFrame) -> pd.DataFrame:
    """Augmentation analysis by type: how the loss changes, averaged over images.

    Parameters
    ----------
    analysis : DataFrame
        :func:`tecktrack.augment_analysis.augmentation_analysis` output.

    Returns
    -------
    DataFrame
        Indexed by ``type``: ``images, original_loss, augmented_loss, change`` (means;
        change = augmented - original), ``harder`` and ``easier`` (image counts).

    Examples
    --------
    >>> a = pd.DataFrame({"image": ["x", "y"], "original_loss": [1.0, 2.0],
    ...                   "augmented_loss": [1.5, 1.0], "type": ["flip", "flip"]})
    >>> augmentation_summary(a).loc["flip"].tolist()
    [2.0, 1.5, 1.25, -0.25, 1.0, 1.0]
    """
    change = analysis["augmented_loss"] - analysis["original_loss"]
    frame = analysis.assign(change=change, harder=change > 0, easier=change < 0)
    grouped = frame.groupby("type", sort=False)
    return pd.DataFrame({
        "images": grouped["image"].count(),
        "original_loss": grouped["original_loss"].mean(),
        "augmented_loss": grouped["augmented_loss"].mean(),
        "change": grouped["change"].mean(),
        "harder": grouped["harder"].sum(),
        "easier": grouped["easier"].sum(),
    }).astype({"images": np.int64, "harder": np.int64, "easier": np.int64})


def move_plan(frame: pd.DataFrame, root: str | Path) -> pd.DataFrame:
    """The moves a cleaning run proposes, paths relative to the layout ``root`` (dry run).

    Parameters
    ----------
    frame : DataFrame
        :func:`tecktrack.cleaning.classify_images` output.
    root : path
        The folder holding ``background/`` and the positive folder.

    Returns
    -------
    DataFrame
        ``outcome, source, destination, score`` for FN and FP images, highest score first
        within each outcome (FP first).

    Examples
    --------
    >>> f = pd.DataFrame({"image": ["/d/pos/a.jpg", "/d/background/b.jpg"],
    ...                   "move_to": ["", "/d/pos/b.jpg"], "outcome": ["TP", "FP"],
    ...                   "score": [0.9, 0.8]})
    >>> move_plan(f, "/d").values.tolist()
    [['FP', 'background/b.jpg', 'pos/b.jpg', 0.8]]
    """
    root = Path(root)
    moves = frame[frame["move_to"] != ""]
    plan = pd.DataFrame({
        "outcome": moves["outcome"].to_numpy(),
        "source": [Path(p).relative_to(root).as_posix() for p in moves["image"]],
        "destination": [Path(p).relative_to(root).as_posix() for p in moves["move_to"]],
        "score": moves["score"].to_numpy(np.float64),
    })
    plan = plan.sort_values(["outcome", "score", "source"], ascending=[True, False, True],
                            kind="stable", key=lambda c: c.map({"FP": 0, "FN": 1})
                            if c.name == "outcome" else c)
    return plan.reset_index(drop=True)


def cleaning_sweep(layout: FolderLayout, scores: np.ndarray, thresholds: Sequence[float],
                   truth_manifest: str | Path | None = None) -> pd.DataFrame:
    """TP/TN/FP/FN (and, with the manifest, move precision/recall) at several thresholds.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> for f in ("pos/a.jpg", "background/b.jpg"):
    ...     (d / f).parent.mkdir(exist_ok=True); (d / f).touch()
    >>> from tecktrack.cleaning import folder_layout
    >>> sweep = cleaning_sweep(folder_layout(d), np.array([0.9, 0.1]), [0.05, 0.5])
    >>> sweep[["TP", "TN", "FP", "FN"]].values.tolist()   # images: background/b, pos/a
    [[1, 0, 1, 0], [0, 0, 1, 1]]
    """
    rows = []
    for conf in thresholds:
        frame = classify_images(layout, scores, float(conf))
        row = {"conf": float(conf), **outcome_counts(frame)}
        if truth_manifest is not None:
            s = misfiled_scores(frame, truth_manifest)
            row.update(move_precision=s["precision"], move_recall=s["recall"])
        rows.append(row)
    return pd.DataFrame(rows)


def pick_examples(frame: pd.DataFrame, per_outcome: int, seed: int = 0) -> pd.DataFrame:
    """A seeded sample of up to ``per_outcome`` rows of each outcome (TP, TN, FP, FN order).

    Examples
    --------
    >>> f = pd.DataFrame({"name": list("abcd"), "outcome": ["TP", "TP", "FN", "TP"]})
    >>> pick_examples(f, 2, seed=0)[["name", "outcome"]].values.tolist()
    [['b', 'TP'], ['d', 'TP'], ['c', 'FN']]
    """
    if per_outcome < 1:
        raise ValueError(f"per_outcome must be at least 1, got {per_outcome}")
    rng = np.random.default_rng(seed)
    parts = []
    for outcome in _OUTCOMES:
        rows = np.flatnonzero(frame["outcome"].to_numpy() == outcome)
        if len(rows) > per_outcome:
            rows = np.sort(rng.choice(rows, size=per_outcome, replace=False))
        parts.append(frame.iloc[rows])
    return pd.concat(parts).reset_index(drop=True)


def sample_layout(layout: FolderLayout, n_images: int | None, seed: int = 0) -> FolderLayout:
    """The layout restricted to a seeded sample of ``n_images`` images (``None``: all).

    Examples
    --------
    >>> lay = FolderLayout(Path("d"), Path("d/p"), Path("d/background"),
    ...                    tuple(Path(f"d/p/{i}.jpg") for i in range(5)))
    >>> [p.name for p in sample_layout(lay, 2, seed=0).images]
    ['3.jpg', '4.jpg']
    """
    if n_images is None or n_images >= len(layout.images):
        return layout
    if n_images < 1:
        raise ValueError(f"n_images must be at least 1, got {n_images}")
    chosen = np.random.default_rng(seed).choice(len(layout.images), size=int(n_images),
                                                replace=False)
    return replace(layout, images=tuple(layout.images[i] for i in np.sort(chosen)))
