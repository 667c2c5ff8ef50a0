"""HOTA (Luiten et al. 2021): detection, association and localisation accuracy over alpha.

For each localisation threshold alpha in 0.05, 0.10, ..., 0.95 boxes are matched per frame
by the Hungarian algorithm on ``A(g, k) * IoU`` where ``A`` is the global alignment score
of the object and the track over the whole sequence (so association guides matching), and
a matched pair counts when its IoU is at least alpha. Then

- DetA = TP / (TP + FN + FP);
- AssA = mean over TP of TPA / (TPA + FNA + FPA) of its object-track pair;
- HOTA = sqrt(DetA * AssA); LocA = mean IoU of the TP.

The summary values are means over the 19 alphas, as TrackEval reports them.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from tecktrack.metrics.mot.sequence import MotSequence

__all__ = ["HOTA_ALPHAS", "HOTA_FIELDS", "hota_metrics"]

#: The localisation thresholds, the same floats TrackEval uses.
HOTA_ALPHAS = np.arange(0.05, 0.99, 0.05)
#: Per-alpha arrays :func:`hota_metrics` returns.
HOTA_FIELDS = ("HOTA", "DetA", "AssA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA")
_EPS = np.finfo("float").eps


def _final(tp: np.ndarray, fn: np.ndarray, fp: np.ndarray, ass: dict[str, np.ndarray],
           loca: np.ndarray) -> dict[str, np.ndarray]:
    res = {"HOTA_TP": tp, "HOTA_FN": fn, "HOTA_FP": fp, "LocA": loca, **ass}
    res["DetRe"] = tp / np.maximum(1, tp + fn)
    res["DetPr"] = tp / np.maximum(1, tp + fp)
    res["DetA"] = tp / np.maximum(1, tp + fn + fp)
    res["HOTA"] = np.sqrt(res["DetA"] * res["AssA"])
    return res


def _empty(seq: MotSequence) -> dict[str, np.ndarray]:
    zeros = np.zeros(len(HOTA_ALPHAS))
    res = {k: zeros.copy() for k in HOTA_FIELDS}
    res.update(HOTA_TP=zeros.copy(), HOTA_FN=zeros.copy(), HOTA_FP=zeros.copy())
    if seq.num_tracker_dets == 0:
        res["HOTA_FN"] = np.full(len(HOTA_ALPHAS), float(seq.num_gt_dets))
    else:
        res["HOTA_FP"] = np.full(len(HOTA_ALPHAS), float(seq.num_tracker_dets))
    res["LocA"] = np.ones(len(HOTA_ALPHAS))
    return res


def _soft_iou(sim: np.ndarray) -> np.ndarray:
    denom = sim.sum(0)[None, :] + sim.sum(1)[:, None] - sim
    out = np.zeros_like(sim)
    mask = denom > _EPS
    out[mask] = sim[mask] / denom[mask]
    return out


def _alignment(seq: MotSequence) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    potential = np.zeros((seq.num_gt_ids, seq.num_tracker_ids))
    for g, k, sim in zip(seq.gt_ids, seq.tracker_ids, seq.similarity, strict=False):
        potential[g[:, None], k[None, :]] += _soft_iou(sim)
    gt_count = np.bincount(np.concatenate(seq.gt_ids), minlength=seq.num_gt_ids)[:, None]
    tr_count = np.bincount(np.concatenate(seq.tracker_ids),
                           minlength=seq.num_tracker_ids)[None, :]
    return potential / (gt_count + tr_count - potential), gt_count[:, 0], tr_count[0]


def hota_metrics(seq: MotSequence) -> dict[str, np.ndarray]:
    """HOTA, DetA, AssA, LocA (and DetRe/DetPr/AssRe/AssPr, TP/FN/FP) per alpha.

    Returns
    -------
    dict of str to ndarray
        Arrays of shape ``(19,)``, one value per :data:`HOTA_ALPHAS`.

    Examples
    --------
    >>> from tecktrack.datasets.mot import MotRows
    >>> from tecktrack.metrics.mot import prepare_sequence
    >>> gt = MotRows.from_arrays([1, 2], [1, 1], [[0, 0, 10, 10]] * 2)
    >>> tr = MotRows.from_arrays([1, 2], [3, 4], [[0, 0, 10, 10]] * 2)
    >>> r = hota_metrics(prepare_sequence(gt, tr))
    >>> float(r["DetA"].mean()), float(r["AssA"].mean()), round(float(r["HOTA"].mean()), 4)
    (1.0, 0.5, 0.7071)
    """
    if seq.num_tracker_dets == 0 or seq.num_gt_dets == 0:
        return _empty(seq)
    alignment, gt_count, tr_count = _alignment(seq)
    n_alpha = len(HOTA_ALPHAS)
    tp, fn, fp, loca = (np.zeros(n_alpha) for _ in range(4))
    pair_g, pair_k = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    pair_hit = [np.zeros((n_alpha, 0), bool)]
    for g, k, sim in zip(seq.gt_ids, seq.tracker_ids, seq.similarity, strict=False):
        if len(g) == 0 or len(k) == 0:
            fp += len(k)
            fn += len(g)
            continue
        rows, cols = linear_sum_assignment(-(alignment[g[:, None], k[None, :]] * sim))
        matched = sim[rows, cols]
        hit = matched[None, :] >= HOTA_ALPHAS[:, None] - _EPS      # (alpha, pair)
        n_hit = hit.sum(1)
        tp += n_hit
        fn += len(g) - n_hit
        fp += len(k) - n_hit
        loca += (hit * matched[None, :]).sum(1)
        pair_g.append(g[rows])
        pair_k.append(k[cols])
        pair_hit.append(hit)
    ass = _association(np.concatenate(pair_g), np.concatenate(pair_k),
                       np.concatenate(pair_hit, axis=1), gt_count, tr_count, tp)
    loca = np.maximum(1e-10, loca) / np.maximum(1e-10, tp)
    return _final(tp, fn, fp, ass, loca)


def _association(pg: np.ndarray, pk: np.ndarray, hit: np.ndarray, gt_count: np.ndarray,
                 tr_count: np.ndarray, tp: np.ndarray) -> dict[str, np.ndarray]:
    """AssA/AssRe/AssPr from the matched (object, track) pairs of every frame."""
    pair_id, pair_index = np.unique(pg * (len(tr_count) + 1) + pk, return_inverse=True)
    counts = np.zeros((hit.shape[0], len(pair_id)))
    np.add.at(counts.T, pair_index, hit.T.astype(np.float64))
    g = pair_id // (len(tr_count) + 1)
    k = pair_id % (len(tr_count) + 1)
    gc, kc = gt_count[g][None, :], tr_count[k][None, :]
    denom = np.maximum(1, tp)
    return {"AssA": np.sum(counts * (counts / np.maximum(1, gc + kc - counts)), 1) / denom,
            "AssRe": np.sum(counts * (counts / np.maximum(1, gc)), 1) / denom,
            "AssPr": np.sum(counts * (counts / np.maximum(1, kc)), 1) / denom}
