"""One mining pass over a prediction folder and a dataset: the three rankings as plain data.

This is what ``tecktrack mine`` prints and writes as JSON: ``hard_negatives`` (images by
loss, with components), ``misclassifications`` (classes by count, with confusions) and
``label_issues`` (images whose labels look wrong), each list best first.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from tecktrack.mining.hard_negatives import HardNegativeMining
from tecktrack.mining.label_issues import rank_label_issues
from tecktrack.mining.second_look import SecondLook
from tecktrack.mining.sources import Sources, images_by_stem, load_sources

__all__ = ["mine", "mining_summary", "write_summary"]


def mining_summary(sources: Sources, miner: HardNegativeMining | None = None,
                   top: int | None = 10, look: SecondLook | None = None) -> dict[str, Any]:
    """The three rankings of aligned sources as JSON-ready lists (each best first).

    ``look`` (a :class:`~tecktrack.mining.SecondLook`) re-checks the label-issue
    candidates on zoomed crops; the other two rankings use the prediction files only.

    Examples
    --------
    >>> from tecktrack.datasets.box_table import BoxTable
    >>> g = BoxTable(["a"], [0], [0], [[.5, .5, .2, .2]])
    >>> p = BoxTable(["a"], [0], [1], [[.5, .5, .2, .2]], [0.9])
    >>> out = mining_summary(Sources(p, g, ["cat", "dog"], 0, 0))
    >>> out["misclassifications"][0]["confused_with"], out["label_issues"][0]["image"]
    ({'dog': 1}, 'a')
    """
    miner = miner or HardNegativeMining()
    match = miner.match(sources.pred, sources.gt)
    hard = miner.hard_negatives(sources.pred, sources.gt, top, match)
    confused = miner.misclassifications(sources.pred, sources.gt, top, match, sources.names)
    issues = rank_label_issues(sources.pred, sources.gt, match, top=top, names=sources.names,
                               iou_threshold=miner.iou_threshold, look=look)
    return {
        "hard_negatives": _records(hard),
        "misclassifications": _records(confused),
        "label_issues": _records(issues[["image", "score", "reason"]]),
        "images": sources.pred.n_images,
        "unpaired": {"predictions_without_labels": sources.pred_only,
                     "labelled_images_without_predictions": sources.gt_only},
    }


def mine(prediction_dir: str | Path, annotations: str | Path, *, top: int | None = 10,
         miner: HardNegativeMining | None = None, quiet: bool = True, model: Any = None,
         images: str | Path | None = None, zoom: float = 4.0, cluster: Any = None,
         shard_size: int = 256) -> dict[str, Any]:
    """Read the folders and return :func:`mining_summary`.

    ``model`` (a loaded model, a name under ``models/`` or a path) turns on the second look
    for label issues; its images come from ``images`` (a folder or data.yaml), else from
    ``annotations`` when that is a data.yaml or a dataset folder holding one. ``zoom`` is
    the second look's window factor. ``cluster`` (an address or a ``distributed.Client``)
    reads the files and runs the second look on Dask workers, in shards of ``shard_size``
    images, with the same result (:func:`tecktrack.mining.sharded.mine_sharded`).

    Examples
    --------
    >>> summary = mine("results/predict-noisy/labels", "data/synth-noisy/data.yaml",
    ...                model="demo-s")                                  # doctest: +SKIP
    >>> summary["label_issues"][0]["reason"]                            # doctest: +SKIP
    'unlabelled object: barcode (confidence 0.91, 0.93 on a closer look, best IoU 0.00)'
    """
    if cluster is not None:
        from tecktrack.mining.sharded import mine_sharded

        return mine_sharded(prediction_dir, annotations, top=top, miner=miner, quiet=quiet,
                            model=model, images=images, zoom=zoom, cluster=cluster,
                            shard_size=shard_size)
    sources = load_sources(prediction_dir, annotations, quiet=quiet)
    look = None
    if model is not None:
        if isinstance(model, (str, Path)):
            from tecktrack.model import load_model

            model = load_model(model)
        look = SecondLook(model, images_by_stem(images if images is not None else annotations),
                          factor=zoom, quiet=quiet)
    return mining_summary(sources, miner, top, look)


def write_summary(summary: dict[str, Any], path: str | Path) -> Path:
    """Write the summary as JSON to a new file (never overwriting one) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=2)
        fh.write("\n")
    return path


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _plain(value: Any) -> Any:
    if isinstance(value, float) or hasattr(value, "dtype") and value.dtype.kind == "f":
        value = float(value)
        return round(value, 6) if math.isfinite(value) else None
    if hasattr(value, "dtype") and value.dtype.kind in "iu":
        return int(value)
    return value
