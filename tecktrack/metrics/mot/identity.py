"""Identity metrics (Ristani et al. 2016): IDF1, IDP, IDR with TrackEval's rules.

Each ground-truth object is assigned at most one track for the whole sequence (and each
track at most one object) by the Hungarian algorithm, minimising the boxes left unmatched
(IDFN + IDFP); a box pair counts as an identity match when its IoU is at least
``threshold``. IDF1 = IDTP / (IDTP + (IDFP + IDFN) / 2).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from tecktrack.metrics.mot.sequence import MotSequence

__all__ = ["identity_metrics"]


def _final(idtp: int, idfn: int, idfp: int) -> dict[str, float | int]:
    return {"IDTP": idtp, "IDFN": idfn, "IDFP": idfp,
            "IDR": idtp / max(1.0, idtp + idfn), "IDP": idtp / max(1.0, idtp + idfp),
            "IDF1": idtp / max(1.0, idtp + 0.5 * idfp + 0.5 * idfn)}


def _counts(seq: MotSequence, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g_all = np.concatenate(seq.gt_ids)
    k_all = np.concatenate(seq.tracker_ids)
    gt_count = np.bincount(g_all, minlength=seq.num_gt_ids).astype(np.float64)
    tr_count = np.bincount(k_all, minlength=seq.num_tracker_ids).astype(np.float64)
    frames = zip(seq.gt_ids, seq.tracker_ids, seq.similarity, strict=True)
    pairs = [(g[r], k[c]) for g, k, s in frames for r, c in [np.nonzero(s >= threshold)]]
    pg = np.concatenate([p[0] for p in pairs]) if pairs else np.zeros(0, np.int64)
    pk = np.concatenate([p[1] for p in pairs]) if pairs else np.zeros(0, np.int64)
    potential = np.zeros((seq.num_gt_ids, seq.num_tracker_ids))
    np.add.at(potential, (pg, pk), 1)
    return gt_count, tr_count, potential


def identity_metrics(seq: MotSequence, threshold: float = 0.5) -> dict[str, float | int]:
    """IDF1, IDP, IDR and the IDTP/IDFN/IDFP counts of one sequence.

    Examples
    --------
    >>> from tecktrack.datasets.mot import MotRows
    >>> from tecktrack.metrics.mot import prepare_sequence
    >>> gt = MotRows.from_arrays([1, 2, 3, 4], [1] * 4, [[0, 0, 10, 10]] * 4)
    >>> tr = MotRows.from_arrays([1, 2, 3, 4], [7, 7, 7, 8], [[0, 0, 10, 10]] * 4)
    >>> r = identity_metrics(prepare_sequence(gt, tr))
    >>> r["IDTP"], r["IDFN"], r["IDFP"], r["IDF1"]
    (3, 1, 1, 0.75)
    """
    if seq.num_tracker_dets == 0:
        return _final(0, seq.num_gt_dets, 0)
    if seq.num_gt_dets == 0:
        return _final(0, 0, seq.num_tracker_dets)
    gt_count, tr_count, potential = _counts(seq, threshold)
    n_g, n_t = seq.num_gt_ids, seq.num_tracker_ids
    fn_mat = np.zeros((n_g + n_t, n_g + n_t))
    fp_mat = np.zeros((n_g + n_t, n_g + n_t))
    fp_mat[n_g:, :n_t] = 1e10
    fn_mat[:n_g, n_t:] = 1e10
    fn_mat[:n_g, :n_t] = gt_count[:, None]
    fn_mat[np.arange(n_g), n_t + np.arange(n_g)] = gt_count
    fp_mat[:n_g, :n_t] = tr_count[None, :]
    fp_mat[n_g + np.arange(n_t), np.arange(n_t)] = tr_count
    fn_mat[:n_g, :n_t] -= potential
    fp_mat[:n_g, :n_t] -= potential
    rows, cols = linear_sum_assignment(fn_mat + fp_mat)
    idfn = int(fn_mat[rows, cols].sum())
    idfp = int(fp_mat[rows, cols].sum())
    return _final(int(gt_count.sum()) - idfn, idfn, idfp)
