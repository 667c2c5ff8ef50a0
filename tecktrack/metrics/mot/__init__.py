"""Multi-object tracking metrics: CLEAR (MOTA, MOTP, IDSW, Frag), Identity (IDF1, IDP, IDR)
and HOTA (HOTA, DetA, AssA, LocA over alpha 0.05..0.95), on MOTChallenge files.

The numbers equal TrackEval's (checked to 1e-9 in ``tests/test_mot_metrics.py``); see each
module for the exact rules.

Examples
--------
>>> from tecktrack.datasets.mot import MotRows
>>> gt = MotRows.from_arrays([1, 2], [1, 1], [[0, 0, 10, 10], [2, 0, 12, 10]])
>>> tracks = MotRows.from_arrays([1, 2], [9, 9], [[0, 0, 10, 10], [2, 0, 12, 10]])
>>> evaluate_tracks(gt, tracks)["IDF1"]
1.0
"""

from tecktrack.metrics.mot.clear import clear_metrics
from tecktrack.metrics.mot.evaluate import (
    MOT_SUMMARY_KEYS,
    evaluate_track_files,
    evaluate_tracks,
    hota_table,
    id_switches,
)
from tecktrack.metrics.mot.hota import HOTA_ALPHAS, HOTA_FIELDS, hota_metrics
from tecktrack.metrics.mot.identity import identity_metrics
from tecktrack.metrics.mot.sequence import MotSequence, prepare_sequence

__all__ = ["HOTA_ALPHAS", "HOTA_FIELDS", "MOT_SUMMARY_KEYS", "MotSequence", "clear_metrics",
           "evaluate_track_files", "evaluate_tracks", "hota_metrics", "hota_table",
           "id_switches", "identity_metrics", "prepare_sequence"]
