"""What the tracking notebook uses: a tracked run, the peer tracker on the same detections,
the MOT table, the identity-switch timeline and the trajectories over the first frame.

Examples
--------
>>> from tecktrack.lab.tracking import track_video, tracking_table   # doctest: +SKIP
>>> result = track_video("../data/synth-video/video.mp4", "demo-s")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tecktrack.datasets.mot import MotRows, read_mot
from tecktrack.detections import xyxy_to_xywh
from tecktrack.draw import class_colors
from tecktrack.inference import InferenceResult, InferenceService
from tecktrack.metrics.mot import MOT_SUMMARY_KEYS, evaluate_tracks, id_switches

__all__ = ["TABLE_COLUMNS", "id_switch_timeline", "peer_tracks", "track_video", "tracks_of",
           "tracking_table", "trajectory_plot"]

#: Columns of :func:`tracking_table`.
TABLE_COLUMNS = (*MOT_SUMMARY_KEYS, "Frag", "tracker_ids", "gt_ids")


def track_video(video: str | Path, model: str | Path, tracker: str | Path | None = None, *,
                runs_dir: str | Path | None = None, conf: float = 0.1,
                drop_rate: int = 1) -> InferenceResult:
    """Detect and track ``video`` with the inference service (``save_frames`` off).

    The result keeps every frame's detections (with ``tracker_ids``); the run folder holds
    ``tracks.txt``.
    """
    from tecktrack.model import load_model

    service = InferenceService(load_model(model, conf=conf), drop_rate=drop_rate,
                               runs_dir=runs_dir, quiet=True, track=tracker or True)
    return service.run_inference(video)


def tracks_of(result: InferenceResult) -> MotRows:
    """The run's ``tracks.txt``."""
    return read_mot(result.run_dir / "tracks.txt")


def peer_tracks(result: InferenceResult, frame_rate: float | None = None) -> MotRows | None:
    """roboflow ``trackers``' ByteTrackTracker (its defaults) on the run's own detections.

    It gets each frame's timestamp (source index / frame rate), so it too knows the gaps a
    ``drop_rate`` leaves.

    ``None`` when ``trackers`` is not installed (it is in the ``dev`` extra).
    """
    try:
        import supervision as sv
        from trackers import ByteTrackTracker
    except ImportError:
        return None
    if frame_rate is None:
        config = json.loads((result.run_dir / "config.json").read_text(encoding="utf-8"))
        frame_rate = (config.get("tracker") or {}).get("frame_rate", 30.0)
    tracker = ByteTrackTracker(frame_rate=frame_rate)
    parts = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for frame in result.frames:
            d = frame.detections
            out = tracker.update(sv.Detections(xyxy=d.xyxy, confidence=d.scores,
                                               class_id=d.class_ids),
                                 timestamp=frame.index / frame_rate)   # gaps, as ours
            keep = out.tracker_id >= 0
            parts.append((np.full(int(keep.sum()), frame.index + 1), out.tracker_id[keep],
                          xyxy_to_xywh(out.xyxy[keep].astype(np.float64)),
                          out.confidence[keep].astype(np.float64)))
    if not parts:
        return MotRows.empty()
    return MotRows.from_arrays(*(np.concatenate(c) for c in zip(*parts, strict=True)))


def tracking_table(gt: MotRows, runs: Mapping[str, MotRows]) -> pd.DataFrame:
    """HOTA, DetA, AssA, LocA, MOTA, MOTP, IDF1, IDP, IDR, IDSW, Frag per tracker.

    Select ``gt`` to the frames the trackers saw first (e.g. a ``drop_rate`` stride).

    Examples
    --------
    >>> gt = MotRows.from_arrays([1, 2], [1, 1], [[0, 0, 10, 10]] * 2)
    >>> t = tracking_table(gt, {"t": MotRows.from_arrays([1, 2], [4, 4], [[0, 0, 10, 10]] * 2)})
    >>> float(t.loc["t", "HOTA"]), int(t.loc["t", "IDSW"])
    (1.0, 0)
    """
    rows = {name: evaluate_tracks(gt, tracks) for name, tracks in runs.items()}
    table = pd.DataFrame.from_dict(rows, orient="index")[list(TABLE_COLUMNS)]
    table.index.name = "tracker"
    return table


def id_switch_timeline(gt: MotRows, tracks: MotRows) -> Figure:
    """Each ground-truth object's life (grey) and where its track changed id (red marks)."""
    events = id_switches(gt, tracks)
    ids = np.unique(gt.ids)
    row = {int(i): k for k, i in enumerate(ids)}
    fig, ax = plt.subplots(figsize=(11, 0.28 * len(ids) + 1.6))
    for i in ids:
        frames = gt.frames[gt.ids == i]
        ax.scatter(frames, np.full(len(frames), row[int(i)]), s=4, color="0.75", marker="|")
    if len(events):
        ax.scatter(events["frame"], [row[int(g)] for g in events["gt_id"]], s=60,
                   color="tab:red", marker="x", label="identity switch", zorder=3)
        ax.legend(loc="upper right")
    ax.set_yticks(range(len(ids)), [f"gt {i}" for i in ids])
    ax.set_xlabel("frame")
    ax.set_title(f"identity switches over time: {len(events)}")
    fig.tight_layout()
    return fig


def trajectory_plot(first_frame_bgr: np.ndarray, tracks: MotRows, min_length: int = 5
                    ) -> Figure:
    """Each track's centre path (tracks of at least ``min_length`` boxes) over a frame."""
    height, width = first_frame_bgr.shape[:2]
    fig, ax = plt.subplots(figsize=(9, 9 * height / width))
    ax.imshow(first_frame_bgr[:, :, ::-1])
    ids, counts = np.unique(tracks.ids, return_counts=True)
    ids = ids[counts >= min_length]
    colors = class_colors(int(ids.max(initial=0)) + 1)[:, ::-1] / 255.0
    for i in ids:
        mine = tracks[tracks.ids == i]
        centre = mine.xywh[:, :2] + mine.xywh[:, 2:] / 2
        ax.plot(centre[:, 0], centre[:, 1], color=colors[i], linewidth=1.5)
        ax.text(centre[0, 0], centre[0, 1], str(int(i)), color=colors[i], fontsize=8,
                bbox={"facecolor": "black", "alpha": 0.5, "pad": 1, "linewidth": 0})
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.axis("off")
    ax.set_title(f"{len(ids)} tracks of at least {min_length} boxes")
    fig.tight_layout()
    return fig
