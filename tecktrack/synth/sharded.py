"""``synth dataset`` on Dask workers: the same bytes, rendered in shards of image indices.

Image ``i`` depends only on (seed, size, i, version), so any worker can render any shard.
Each worker renders its shard into a staging folder inside the dataset's own staging
folder and returns the clean boxes as compact arrays (counts, corners, class ids); the
client commits the JPEGs and writes the labels, ``data.yaml`` and ``synth.json`` exactly as
a local run does (the whole dataset still appears only when everything succeeded).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tecktrack.cluster import cluster_session, commit, discard, new_stage, shard
from tecktrack.cluster.staging import staged_files, start_run
from tecktrack.detections import Detections
from tecktrack.synth._io import frame_name, write_jpeg

__all__ = ["render_sharded"]


@dataclass(frozen=True)
class _Job:
    seed: int
    size: int
    items: list[tuple[int, str]]
    root: str
    index: int
    run: str


def _render_shard(job: _Job) -> dict[str, Any]:
    """Worker side: render one shard of images into a staging folder; boxes as arrays."""
    from tecktrack.synth.dataset import render_image

    stage = new_stage(job.root, job.index, job.run)
    dets = []
    for i, split in job.items:
        image, det = render_image(job.seed, i, job.size)
        target = stage / "images" / split / frame_name(i, ".jpg")
        target.parent.mkdir(parents=True, exist_ok=True)
        write_jpeg(target, image)
        dets.append(det)
    return {"stage": str(stage), "files": staged_files(stage),
            "counts": np.array([len(d) for d in dets], np.int64),
            "xyxy": np.concatenate([d.xyxy for d in dets]).reshape(-1, 4),
            "class_ids": np.concatenate([d.class_ids for d in dets])}


def render_sharded(seed: int, size: int, splits: list[str], root: str | Path, *,
                   cluster: Any = "local", shard_size: int = 256,
                   quiet: bool = False) -> list[Detections]:
    """Render images ``0..len(splits)-1`` under ``root/images/<split>/`` on Dask workers.

    Returns the clean ground truth of every image, in index order (as the local renderer).
    """
    root = Path(root)
    parts = shard(list(enumerate(splits)), shard_size)
    try:
        run = start_run(root)
        jobs = [_Job(seed, size, part, str(root), k, run) for k, part in enumerate(parts)]
        with cluster_session(cluster, quiet=quiet) as session:
            results = session.map(_render_shard, jobs, desc="synth dataset")
            for r in results:
                commit(r["stage"], root, r["files"])
    finally:
        discard(root)
    labels: list[Detections] = []
    for r in results:
        bounds = np.cumsum([0, *r["counts"].tolist()])
        labels.extend(Detections(r["xyxy"][a:b], r["class_ids"][a:b])
                      for a, b in zip(bounds[:-1], bounds[1:], strict=True))
    return labels
