"""The MOT summary: CLEAR, Identity and HOTA of a tracker file against ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tecktrack.datasets.mot import MotRows, read_mot
from tecktrack.metrics.mot.clear import clear_metrics
from tecktrack.metrics.mot.hota import HOTA_ALPHAS, HOTA_FIELDS, hota_metrics
from tecktrack.metrics.mot.identity import identity_metrics
from tecktrack.metrics.mot.sequence import MotSequence, prepare_sequence

__all__ = ["MOT_SUMMARY_KEYS", "evaluate_tracks", "evaluate_track_files", "hota_table",
           "id_switches"]

#: Keys of the summary, in print order (IDSW is a count, the rest are fractions).
MOT_SUMMARY_KEYS = ("HOTA", "DetA", "AssA", "LocA", "MOTA", "MOTP", "IDF1", "IDP", "IDR",
                    "IDSW")
_COUNTS = ("Frag", "MT", "PT", "ML", "CLR_TP", "CLR_FN", "CLR_FP", "IDTP", "IDFN", "IDFP")


def _sequence(gt: MotRows | MotSequence, tracks: MotRows | None) -> MotSequence:
    return gt if isinstance(gt, MotSequence) else prepare_sequence(gt, tracks)


def evaluate_tracks(gt: MotRows | MotSequence, tracks: MotRows | None = None,
                    threshold: float = 0.5) -> dict[str, float | int]:
    """HOTA, DetA, AssA, LocA, MOTA, MOTP, IDF1, IDP, IDR, IDSW and more, as plain numbers.

    HOTA-family values are means over the 19 alphas; MOTA, MOTP and IDF1 use the IoU
    ``threshold``. Numbers equal TrackEval's for the same sequence (class-agnostic, no
    distractor preprocessing: MOTChallenge's rules for MOT15 and for files whose rows all
    belong to one class).

    Parameters
    ----------
    gt : MotRows or MotSequence
        Ground truth rows (or an already prepared sequence, then ``tracks`` is ignored).
    tracks : MotRows
        Tracker rows.
    threshold : float
        IoU of a CLEAR / Identity match.

    Examples
    --------
    >>> gt = MotRows.from_arrays([1, 2], [1, 1], [[0, 0, 10, 10]] * 2)
    >>> r = evaluate_tracks(gt, MotRows.from_arrays([1, 2], [5, 5], [[0, 0, 10, 10]] * 2))
    >>> r["HOTA"], r["MOTA"], r["IDF1"], r["IDSW"]
    (1.0, 1.0, 1.0, 0)
    """
    seq = _sequence(gt, tracks)
    clear = clear_metrics(seq, threshold)
    ident = identity_metrics(seq, threshold)
    hota = hota_metrics(seq)
    out: dict[str, float | int] = {k: float(np.mean(hota[k])) for k in HOTA_FIELDS}
    out["HOTA(0)"] = float(hota["HOTA"][0])
    out.update({k: float(clear[k]) for k in ("MOTA", "MOTP", "MODA", "CLR_Re", "CLR_Pr")})
    out.update({k: float(ident[k]) for k in ("IDF1", "IDP", "IDR")})
    out["IDSW"] = int(clear["IDSW"])
    out.update({k: int({**clear, **ident}[k]) for k in _COUNTS})
    out["gt_ids"] = seq.num_gt_ids
    out["tracker_ids"] = seq.num_tracker_ids
    out["frames"] = seq.num_frames
    return {k: out[k] for k in (*MOT_SUMMARY_KEYS, *[k for k in out
                                                      if k not in MOT_SUMMARY_KEYS])}


def evaluate_track_files(gt_path: str | Path, tracks_path: str | Path,
                         threshold: float = 0.5) -> dict[str, float | int]:
    """:func:`evaluate_tracks` of two MOTChallenge files (see :func:`read_mot`).

    Examples
    --------
    >>> evaluate_track_files("gt.txt", "tracks.txt")["HOTA"]       # doctest: +SKIP
    0.8123
    """
    return evaluate_tracks(read_mot(gt_path), read_mot(tracks_path), threshold)


def hota_table(gt: MotRows | MotSequence, tracks: MotRows | None = None) -> pd.DataFrame:
    """HOTA, DetA, AssA, LocA, ... per alpha: one row per localisation threshold.

    Examples
    --------
    >>> gt = MotRows.from_arrays([1], [1], [[0, 0, 10, 10]])
    >>> hota_table(gt, MotRows.from_arrays([1], [2], [[0, 0, 10, 9]])).shape
    (19, 8)
    """
    hota = hota_metrics(_sequence(gt, tracks))
    table = pd.DataFrame({k: hota[k] for k in HOTA_FIELDS}, index=np.round(HOTA_ALPHAS, 2))
    table.index.name = "alpha"
    return table


def id_switches(gt: MotRows | MotSequence, tracks: MotRows | None = None,
                threshold: float = 0.5) -> pd.DataFrame:
    """Every CLEAR identity switch: ``frame, gt_id, from_track, to_track`` (files' ids).

    Examples
    --------
    >>> gt = MotRows.from_arrays([1, 2], [1, 1], [[0, 0, 10, 10]] * 2)
    >>> id_switches(gt, MotRows.from_arrays([1, 2], [5, 6], [[0, 0, 10, 10]] * 2)).values
    array([[2, 1, 5, 6]])
    """
    events: list = []
    clear_metrics(_sequence(gt, tracks), threshold, events=events)
    return pd.DataFrame(events, columns=["frame", "gt_id", "from_track", "to_track"],
                        dtype=np.int64)
