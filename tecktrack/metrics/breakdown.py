"""Per-class breakdowns of an :class:`~tecktrack.metrics.coco.Evaluation`: AP by object size
and AR@100, the per-class terms the COCO summary averages."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tecktrack.metrics.coco import Evaluation
from tecktrack.metrics.matching import AREA_RANGES

_AREAS = tuple(AREA_RANGES)


def class_size_table(ev: Evaluation) -> pd.DataFrame:
    """Per class: AP (0.50:0.95) overall and for small / medium / large objects, AP50, and
    AR@100 overall and per size, all at the last ``max_dets``.

    NaN where the class has no ground truth of that size. The column means over the classes
    that are defined are the COCO summary numbers (``map_small`` = mean of ``AP_small``).

    Examples
    --------
    >>> from tecktrack.detections import Detections
    >>> from tecktrack.metrics import evaluate
    >>> g = {"a": Detections([[0, 0, 10, 10], [0, 0, 200, 200]], [0, 1])}
    >>> p = {"a": Detections([[0, 0, 10, 10]], [0], [0.9])}
    >>> t = class_size_table(evaluate(g, p, names=["cat", "dog"]))
    >>> t[["AP", "AP_small", "AP_large"]].round(3).values.tolist()
    [[1.0, 1.0, nan], [0.0, nan, 0.0]]
    """
    ap = np.where(ev.ap[..., -1] > -1, ev.ap[..., -1], np.nan)          # (T, K, A)
    rec = np.where(ev.recall[..., -1] > -1, ev.recall[..., -1], np.nan)
    valid_ap = ~np.isnan(ap).any(axis=0)
    valid_rec = ~np.isnan(rec).any(axis=0)
    mean_ap = np.where(valid_ap, np.nan_to_num(ap).mean(axis=0), np.nan)   # (K, A)
    mean_rec = np.where(valid_rec, np.nan_to_num(rec).mean(axis=0), np.nan)
    t50 = [i for i, t in enumerate(ev.iou_thresholds) if abs(t - 0.5) < 1e-12]
    columns = {"class": list(ev.names),
               "instances": ev.per_class["instances"].to_numpy()}
    for i, area in enumerate(_AREAS):
        columns["AP" if area == "all" else f"AP_{area}"] = mean_ap[:, i]
    columns["AP50"] = ap[t50[0], :, 0] if t50 else np.full(len(ev.names), np.nan)
    for i, area in enumerate(_AREAS):
        columns["AR100" if area == "all" else f"AR_{area}"] = mean_rec[:, i]
    return pd.DataFrame(columns, index=pd.Index(ev.class_ids, name="class_id"))
