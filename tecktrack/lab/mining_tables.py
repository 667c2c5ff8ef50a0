"""Tables the mining notebook shows: label-issue candidates checked against the label-noise
manifest of ``tecktrack synth`` (which candidates really were corrupted, and how).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from tecktrack.errors import DatasetError

__all__ = ["label_issue_hits", "label_noise"]


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
        :func:`tecktrack.mining.rank_label_issues` output (``image`` = stem), best first.
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

