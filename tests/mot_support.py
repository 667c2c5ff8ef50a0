"""Random MOT sequences for the tracking-metric tests, and TrackEval run on them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tecktrack.datasets.mot import MotRows, write_mot


def random_sequence(seed: int, frames: int = 30, objects: int = 6) -> tuple[MotRows, MotRows]:
    """Ground truth with objects that come and go, and a tracker that drops, swaps and
    invents boxes; coordinates with two decimals as MOT files hold them."""
    rng = np.random.default_rng(seed)
    rows_gt, rows_tr = [], []
    next_track = 100
    for obj in range(objects):
        start = int(rng.integers(1, frames))
        stop = int(rng.integers(start, frames + 1))
        x, y = rng.uniform(0, 200, 2)
        w, h = rng.uniform(10, 60, 2)
        vx, vy = rng.uniform(-3, 3, 2)
        track = next_track
        next_track += 1
        for f in range(start, stop + 1):
            box = np.round([x + vx * f, y + vy * f, w, h], 2)
            consider = 0 if rng.random() < 0.05 else 1
            rows_gt.append((f, obj + 1, *box, consider))
            if rng.random() < 0.15:              # missed
                continue
            if rng.random() < 0.07:              # identity switch / fragment
                track = next_track
                next_track += 1
            noise = np.round(rng.normal(0, rng.choice([1.0, 6.0]), 4), 2)
            noise[2:] = np.abs(noise[2:])
            rows_tr.append((f, track, *(box + noise), round(float(rng.random()), 3)))
    for _ in range(frames // 2):                 # false positives, some reusing ids
        f = int(rng.integers(1, frames + 1))
        box = np.round(np.r_[rng.uniform(0, 200, 2), rng.uniform(5, 40, 2)], 2)
        rows_tr.append((f, int(rng.integers(500, 505)), *box, 0.3))
    gt = _rows(rows_gt)
    tr = _rows(rows_tr)
    return gt, _unique_per_frame(tr)


def _rows(rows: list) -> MotRows:
    a = np.array(rows, dtype=np.float64).reshape(-1, 7)
    return MotRows.from_arrays(a[:, 0], a[:, 1], a[:, 2:6], conf=a[:, 6],
                               classes=np.ones(len(a)), visibility=np.ones(len(a)))


def _unique_per_frame(rows: MotRows) -> MotRows:
    key = rows.frames * 10_000 + rows.ids
    _, first = np.unique(key, return_index=True)
    return rows[np.sort(first)]


def trackeval_data(gt: MotRows, tr: MotRows, num_frames: int) -> dict:
    """The dict TrackEval's metrics take, built with TrackEval's own IoU."""
    from trackeval.datasets._base_dataset import _BaseDataset

    gt = gt[np.trunc(gt.conf) != 0]  # the consider flag as TrackEval reads it (an int)
    gt_map = {v: i for i, v in enumerate(np.unique(gt.ids))}
    tr_map = {v: i for i, v in enumerate(np.unique(tr.ids))}
    data = {"gt_ids": [], "tracker_ids": [], "similarity_scores": []}
    for f in range(1, num_frames + 1):
        g, t = gt[gt.frames == f], tr[tr.frames == f]
        data["gt_ids"].append(np.array([gt_map[i] for i in g.ids], int))
        data["tracker_ids"].append(np.array([tr_map[i] for i in t.ids], int))
        data["similarity_scores"].append(
            _BaseDataset._calculate_box_ious(g.xywh.copy(), t.xywh.copy(), box_format="xywh"))
    data.update(num_timesteps=num_frames, num_gt_ids=len(gt_map), num_tracker_ids=len(tr_map),
                num_gt_dets=len(gt), num_tracker_dets=len(tr))
    return data


def trackeval_files(tmp: Path, gt: MotRows | str, tr: MotRows, num_frames: int) -> dict:
    """TrackEval's whole MOTChallenge pipeline (file reading included) on two files; ``gt``
    may be the ground-truth file's text itself."""
    import trackeval

    (tmp / "gt" / "seq" / "gt").mkdir(parents=True)
    if isinstance(gt, str):
        (tmp / "gt" / "seq" / "gt" / "gt.txt").write_text(gt)
    else:
        write_mot(tmp / "gt" / "seq" / "gt" / "gt.txt", gt, tracker=False)
    write_mot(tmp / "trackers" / "t" / "data" / "seq.txt", tr)
    config = {"GT_FOLDER": str(tmp / "gt"), "TRACKERS_FOLDER": str(tmp / "trackers"),
              "TRACKERS_TO_EVAL": ["t"], "SKIP_SPLIT_FOL": True, "DO_PREPROC": False,
              "SEQ_INFO": {"seq": num_frames}, "PRINT_CONFIG": False,
              "OUTPUT_FOLDER": str(tmp / "out")}
    evaluator = trackeval.Evaluator({"USE_PARALLEL": False, "PRINT_RESULTS": False,
                                     "PRINT_CONFIG": False, "TIME_PROGRESS": False,
                                     "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False,
                                     "PLOT_CURVES": False, "OUTPUT_EMPTY_CLASSES": False,
                                     "DISPLAY_LESS_PROGRESS": True})
    metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR({"PRINT_CONFIG": False}),
               trackeval.metrics.Identity({"PRINT_CONFIG": False})]
    res, _ = evaluator.evaluate([trackeval.datasets.MotChallenge2DBox(config)], metrics)
    seq = res["MotChallenge2DBox"]["t"]["seq"]["pedestrian"]
    return {**seq["HOTA"], **seq["CLEAR"], **seq["Identity"]}
