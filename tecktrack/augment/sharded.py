"""``augment dataset`` on Dask workers: the same files and the same ``augmentations.csv``.

Every output depends only on (seed, image name, item index), never on order or process, so
shards of images can run anywhere. Each worker checks it can read its images and label
files, augments them into a staging folder and returns its rows of the log (the final
paths) and the staged file names; the client commits the files once every shard succeeded,
refusing (before any rename) to overwrite a file that exists, then writes the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tecktrack.augment.apply import apply_augmentations
from tecktrack.cluster import (
    check_readable,
    cluster_session,
    new_stage,
    shard,
)
from tecktrack.cluster.staging import commit_shards, staged_files, staged_run
from tecktrack.errors import DatasetError

__all__ = ["augment_sharded"]


@dataclass(frozen=True)
class _Job:
    items: list[tuple[str, str | None, str]]
    out: str
    index: int
    run: str
    seed: int
    min_visibility: float
    backgrounds: list[tuple[Path, Path | None]]
    n_classes: int | None = None


def _final(path: str, stage: Path, out: str) -> str:
    return str(Path(out) / Path(path).relative_to(stage))


def _augment_shard(job: _Job) -> dict[str, Any]:
    """Worker side: augment one shard of images into a staging folder."""
    check_readable([p for image, labels, _ in job.items for p in (image, labels)
                    if p is not None])
    stage = new_stage(job.out, job.index, job.run)
    frames = [apply_augmentations(image, labels, stage, ops, seed=job.seed,
                                  min_visibility=job.min_visibility,
                                  backgrounds=job.backgrounds, n_classes=job.n_classes)
              for image, labels, ops in job.items]
    log = pd.concat(frames, ignore_index=True)
    for col in ("image", "labels"):
        log[col] = [_final(p, stage, job.out) for p in log[col]]
    return {"stage": str(stage), "files": staged_files(stage), "log": log}


def augment_sharded(items: list[tuple[Path, Path | None, str]], out_dir: str | Path, *,
                    seed: int = 0, min_visibility: float = 0.3,
                    backgrounds: list[tuple[Path, Path | None]] | None = None,
                    n_classes: int | None = None, cluster: Any = "local", shard_size: int = 256,
                    quiet: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """Augment ``(image, labels, ops)`` items on Dask workers into ``out_dir``.

    Returns the log (rows in item order, as a local run) and the committed files (relative
    to ``out_dir``). Used by :func:`tecktrack.augment.dataset.augment_dataset`, which checks
    every label file first; ``n_classes`` (the data.yaml's) is checked again as the workers
    read the labels, as :func:`~tecktrack.augment.apply_augmentations` does locally.
    """
    out = Path(out_dir)
    parts = shard(items, shard_size)
    with staged_run(out) as run:
        jobs = [_Job([(str(i), None if lbl is None else str(lbl), ops) for i, lbl, ops in part],
                     str(out), k, run, seed, min_visibility, list(backgrounds or []), n_classes)
                for k, part in enumerate(parts)]
        with cluster_session(cluster, quiet=quiet) as session:
            results = session.map(_augment_shard, jobs, desc="augmenting")
            for f in (f for r in results for f in r["files"]):
                if (out / f).exists():
                    raise DatasetError("refusing to overwrite an existing file", out / f)
            files = commit_shards(out, results, session)
    return pd.concat([r["log"] for r in results], ignore_index=True), files
