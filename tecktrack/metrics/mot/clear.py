"""CLEAR MOT metrics (Bernardin & Stiefelhagen 2008) with TrackEval's matching rules.

Per frame, ground truth and tracker boxes are matched by the Hungarian algorithm on IoU
(pairs below ``threshold`` never match), preferring to continue the pairs of the previous
frame: a pair that matched there scores 1000 on top of its IoU. An identity switch is a
ground-truth object matched to a different track than the last time it was matched (any
number of frames before); a fragmentation is a track of an object resuming after frames in
which it was not matched. MOTA = (TP - FP - IDSW) / (TP + FN); MOTP is the mean IoU of
the matched pairs (a fraction, not a distance).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from tecktrack.metrics.mot.sequence import MotSequence

__all__ = ["clear_metrics"]

_EPS = np.finfo("float").eps


def _final(res: dict) -> dict:
    tp, fn, fp, idsw = res["CLR_TP"], res["CLR_FN"], res["CLR_FP"], res["IDSW"]
    gt_total = max(1.0, tp + fn)
    num_gt_ids = res["MT"] + res["PT"] + res["ML"]
    res.update({
        "MOTA": (tp - fp - idsw) / gt_total,
        "MODA": (tp - fp) / gt_total,
        "MOTP": res["MOTP_sum"] / max(1.0, tp),
        "sMOTA": (res["MOTP_sum"] - fp - idsw) / gt_total,
        "CLR_Re": tp / gt_total,
        "CLR_Pr": tp / max(1.0, tp + fp),
        "MTR": res["MT"] / max(1.0, num_gt_ids),
        "PTR": res["PT"] / max(1.0, num_gt_ids),
        "MLR": res["ML"] / max(1.0, num_gt_ids),
    })
    return res


def _empty(seq: MotSequence) -> dict:
    """TrackEval's early exit: counts only, every rate 0 except MLR = 1."""
    no_tracks = seq.num_tracker_dets == 0
    res = {"CLR_TP": 0, "CLR_FN": seq.num_gt_dets if no_tracks else 0,
           "CLR_FP": 0 if no_tracks else seq.num_tracker_dets, "IDSW": 0, "Frag": 0, "MT": 0,
           "PT": 0, "ML": seq.num_gt_ids if no_tracks else 0, "MOTP_sum": 0.0}
    res.update(dict.fromkeys(("MOTA", "MODA", "MOTP", "sMOTA", "CLR_Re", "CLR_Pr", "MTR",
                              "PTR"), 0.0))
    res["MLR"] = 1.0
    return res


def clear_metrics(seq: MotSequence, threshold: float = 0.5,
                  events: list | None = None) -> dict[str, float | int]:
    """CLEAR metrics of one sequence: MOTA, MOTP, IDSW, Frag, MT/PT/ML and the counts.

    Parameters
    ----------
    seq : MotSequence
        From :func:`~tecktrack.metrics.mot.prepare_sequence`.
    threshold : float
        Least IoU of a match (TrackEval's default 0.5).
    events : list, optional
        When given, each identity switch is appended as ``(frame, gt_id, old_track_id,
        new_track_id)`` with the files' ids.

    Returns
    -------
    dict
        ``MOTA``, ``MOTP``, ``MODA``, ``sMOTA``, ``CLR_Re``, ``CLR_Pr``, ``IDSW``, ``Frag``,
        ``MT``, ``PT``, ``ML`` (+ ratios), ``CLR_TP``, ``CLR_FN``, ``CLR_FP``.

    Examples
    --------
    >>> from tecktrack.datasets.mot import MotRows
    >>> from tecktrack.metrics.mot import prepare_sequence
    >>> gt = MotRows.from_arrays([1, 2, 3], [1, 1, 1], [[0, 0, 10, 10]] * 3)
    >>> tr = MotRows.from_arrays([1, 2, 3], [7, 7, 8], [[0, 0, 10, 10]] * 3)
    >>> r = clear_metrics(prepare_sequence(gt, tr))
    >>> r["IDSW"], round(r["MOTA"], 4), r["MOTP"]
    (1, 0.6667, 1.0)
    """
    if seq.num_tracker_dets == 0 or seq.num_gt_dets == 0:
        return _empty(seq)
    n_gt = seq.num_gt_ids
    gt_count = np.zeros(n_gt)
    matched_count = np.zeros(n_gt)
    frag_count = np.zeros(n_gt)
    last_track = np.full(n_gt, np.nan)        # the last track each object matched, ever
    prev_step = np.full(n_gt, np.nan)         # the track it matched at the previous step
    tp = fn = fp = idsw = 0
    motp_sum = 0.0
    for t in range(seq.num_frames):
        g, k = seq.gt_ids[t], seq.tracker_ids[t]
        if len(g) == 0:
            fp += len(k)
            continue
        if len(k) == 0:
            fn += len(g)
            gt_count[g] += 1
            continue
        sim = seq.similarity[t]
        score = 1000.0 * (k[None, :] == prev_step[g][:, None]) + sim
        score[sim < threshold - _EPS] = 0
        rows, cols = linear_sum_assignment(-score)
        ok = score[rows, cols] > _EPS
        rows, cols = rows[ok], cols[ok]
        mg, mk = g[rows], k[cols]
        before = last_track[mg]
        switched = ~np.isnan(before) & (mk != before)
        idsw += int(np.count_nonzero(switched))
        if events is not None and switched.any():
            events.extend((t + 1, int(seq.gt_labels[a]), int(seq.tracker_labels[int(b)]),
                           int(seq.tracker_labels[c]))
                          for a, b, c in zip(mg[switched], before[switched], mk[switched],
                                             strict=True))
        gt_count[g] += 1
        matched_count[mg] += 1
        was_untracked = np.isnan(prev_step)
        last_track[mg] = mk
        prev_step[:] = np.nan
        prev_step[mg] = mk
        frag_count += was_untracked & ~np.isnan(prev_step)
        tp += len(mg)
        fn += len(g) - len(mg)
        fp += len(k) - len(mg)
        motp_sum += float(np.sum(sim[rows, cols]))
    seen = gt_count > 0
    ratio = matched_count[seen] / gt_count[seen]
    mt = int(np.count_nonzero(ratio > 0.8))
    pt = int(np.count_nonzero(ratio >= 0.2)) - mt
    res = {"CLR_TP": tp, "CLR_FN": fn, "CLR_FP": fp, "IDSW": idsw,
           "Frag": int(np.sum(frag_count[frag_count > 0] - 1)), "MT": mt, "PT": pt,
           "ML": n_gt - mt - pt, "MOTP_sum": motp_sum}
    return _final(res)
