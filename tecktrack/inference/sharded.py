"""``predict`` on Dask workers: shards of image paths in, the files of a local run out.

Each worker loads the detector once (cached per model file and options, see
:class:`ModelSpec`), checks it can read every path of its shard, predicts them with the very
loop a local run uses into a staging folder, and returns compact counts: images done,
detections per class (an array), per-stage seconds (an array), unreadable files and the
staged file names. The client commits the staged files into ``out`` once every shard
succeeded, then writes ``summary.json`` (as a local run) and ``cluster-manifest.json``
(every output once, and what ran where).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tecktrack.cluster import (
    check_readable,
    cluster_session,
    new_stage,
    shard,
)
from tecktrack.cluster.staging import commit_shards, staged_files, staged_run
from tecktrack.detections import Detections
from tecktrack.inference.batch import STAGES, Clock, predict_loop, write_summary
from tecktrack.model.core import Model
from tecktrack.model.spec import ModelSpec

__all__ = ["detect_sharded", "predict_sharded"]

@dataclass(frozen=True)
class _Job:
    spec: ModelSpec
    root: str
    images: list[str]
    out: str
    index: int
    run: str
    save_images: bool


def _predict_shard(job: _Job) -> dict[str, Any]:
    """Worker side: predict one shard into a staging folder; return compact counts."""
    check_readable(job.images)
    model = job.spec.cached()
    stage = new_stage(job.out, job.index, job.run)
    clock, per_class = Clock(), Counter()
    n_done, unreadable = predict_loop(model, [Path(p) for p in job.images], Path(job.root),
                                      stage, job.save_images, clock, per_class)
    return {"stage": str(stage), "files": staged_files(stage), "n_done": n_done,
            "unreadable": unreadable,
            "seconds": np.array([clock.total[s] for s in STAGES]),
            "counts": np.array([per_class[n] for n in model.names], np.int64)}


def predict_sharded(model: Model, images: list[Path], root: Path, out: str | Path, *,
                    save_images: bool = False, quiet: bool = False, cluster: Any = "local",
                    shard_size: int = 256) -> dict:
    """:func:`~tecktrack.inference.batch.predict_images` on Dask workers, same files.

    Parameters
    ----------
    model : Model
        The detector as loaded on the client; workers load the same file with the same
        options (:class:`~tecktrack.model.ModelSpec`).
    images, root, out, save_images, quiet
        As in :func:`~tecktrack.inference.batch.predict_images`.
    cluster : str, distributed.Client or ClusterSession
        Where to run (see :func:`tecktrack.cluster.cluster_session`).
    shard_size : int
        Images per shard.

    Raises
    ------
    ClusterError
        A worker cannot read an image path (nothing is written), or the cluster failed.
    """
    out = Path(out)
    start = time.perf_counter()
    spec = ModelSpec.of(model)
    parts = shard(images, shard_size)
    with staged_run(out) as run:
        jobs = [_Job(spec, str(root), [str(p) for p in part], str(out), i, run, save_images)
                for i, part in enumerate(parts)]
        with cluster_session(cluster, quiet=quiet) as session:
            results = session.map(_predict_shard, jobs, desc="predict")
            commit_shards(out, results, session)
    names = model.names
    counts = np.sum([r["counts"] for r in results], axis=0)
    per_class = Counter({names[i]: int(c) for i, c in enumerate(counts) if c})
    seconds = np.sum([r["seconds"] for r in results], axis=0)
    return write_summary(model, out, sum(r["n_done"] for r in results), per_class,
                         [u for r in results for u in r["unreadable"]],
                         dict(zip(STAGES, seconds.tolist(), strict=True)),
                         wall_seconds=time.perf_counter() - start)


@dataclass(frozen=True)
class _DetectJob:
    spec: ModelSpec
    images: list[str]


def _detect_shard(job: _DetectJob) -> dict[str, np.ndarray]:
    """Worker side: detections of one shard of images as flat arrays, plus image sizes."""
    from tecktrack.datasets.images import read_image

    check_readable(job.images)
    model = job.spec.cached()
    dets, sizes = [], []
    for path in job.images:
        frame = read_image(path)
        sizes.append((frame.shape[1], frame.shape[0]))
        dets.append(model.predict(frame))
    return {"sizes": np.array(sizes, np.int64).reshape(-1, 2),
            "counts": np.array([len(d) for d in dets], np.int64),
            "xyxy": np.concatenate([d.xyxy for d in dets]).reshape(-1, 4),
            "class_ids": np.concatenate([d.class_ids for d in dets]),
            "scores": np.concatenate([d.scores for d in dets])}


def detect_sharded(model: Model, images: list[str | Path], *, cluster: Any = "local",
                   shard_size: int = 256, quiet: bool = True
                   ) -> tuple[list[Detections], list[tuple[int, int]]]:
    """``model.predict`` on every image, on Dask workers: detections and ``(width, height)``.

    What :func:`tecktrack.lab.predict_split` keeps in memory, in image order; equal to
    calling ``model.predict(read_image(path))`` here. Workers send flat arrays per shard.

    Examples
    --------
    >>> dets, sizes = detect_sharded(model, paths, cluster="local:2")  # doctest: +SKIP
    """
    jobs = [_DetectJob(ModelSpec.of(model), [str(p) for p in part])
            for part in shard(list(images), shard_size)]
    with cluster_session(cluster, quiet=quiet) as session:
        results = session.map(_detect_shard, jobs, desc="predict")
    dets: list[Detections] = []
    sizes: list[tuple[int, int]] = []
    for r in results:
        bounds = np.cumsum([0, *r["counts"].tolist()])
        dets.extend(Detections(r["xyxy"][a:b], r["class_ids"][a:b], r["scores"][a:b])
                    for a, b in zip(bounds[:-1], bounds[1:], strict=True))
        sizes.extend((int(w), int(h)) for w, h in r["sizes"])
    return dets, sizes
