"""Mining on Dask workers: label files read in shards, the second look run in shards.

The rankings themselves are vectorised NumPy over every image and stay on the client; the
work that grows with the dataset goes to the workers:

* reading the prediction and label files (:class:`ShardedReader`, a drop-in for
  :func:`~tecktrack.datasets.box_table.read_label_files`): each worker parses a shard of
  files and returns a compact :class:`~tecktrack.datasets.box_table.BoxTable`;
* the second look (:class:`ShardedSecondLook`): each worker loads the detector once
  (:class:`~tecktrack.model.ModelSpec`), reads its shard of images itself and returns one
  confidence per box.

Tables are concatenated in shard order and boxes scattered back by row, so the rankings
equal a local run's.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tecktrack.cluster import ClusterSession, check_readable, cluster_session, shard
from tecktrack.datasets.box_table import BoxTable, read_label_files
from tecktrack.datasets.yolo import LabelWarning
from tecktrack.mining.hard_negatives import HardNegativeMining
from tecktrack.mining.second_look import SecondLook, image_groups, look_at_image
from tecktrack.model.spec import ModelSpec

__all__ = ["ShardedReader", "ShardedSecondLook", "concat_tables", "mine_sharded"]


def concat_tables(tables: Sequence[BoxTable]) -> BoxTable:
    """One table of consecutive image shards (image indices shifted by the shards before).

    Examples
    --------
    >>> a = BoxTable(["a"], [0], [1], [[.5, .5, .1, .1]])
    >>> b = BoxTable(["b", "c"], [1], [2], [[.5, .5, .2, .2]])
    >>> t = concat_tables([a, b]); t.stems, t.image.tolist()
    (['a', 'b', 'c'], [0, 2])
    """
    offsets = np.cumsum([0, *(t.n_images for t in tables)])[:-1]
    scored = all(t.scores is not None for t in tables)
    return BoxTable([s for t in tables for s in t.stems],
                    np.concatenate([t.image + o for t, o in zip(tables, offsets, strict=True)]),
                    np.concatenate([t.class_ids for t in tables]),
                    np.concatenate([t.boxes for t in tables]),
                    np.concatenate([t.scores for t in tables]) if scored else None)


def _read_shard(job: tuple[list[str], list[str | None], bool, int | None]
                ) -> tuple[BoxTable, list[str]]:
    """Worker side: parse one shard of label files (class ids checked against ``n_classes``);
    the table and the shard's label warnings (zero-size, clipped boxes) go back."""
    stems, paths, with_scores, n_classes = job
    check_readable([p for p in paths if p is not None])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LabelWarning)
        table = read_label_files(stems, paths, with_scores=with_scores, n_classes=n_classes)
    return table, [str(w.message) for w in caught if issubclass(w.category, LabelWarning)]


@dataclass
class ShardedReader:
    """:func:`~tecktrack.datasets.box_table.read_label_files` with the files parsed on workers.

    Examples
    --------
    >>> reader = ShardedReader(session, 256)                          # doctest: +SKIP
    >>> reader(["a"], ["labels/a.txt"]).stems                         # doctest: +SKIP
    ['a']
    """

    session: ClusterSession
    shard_size: int = 256

    def __call__(self, stems: Sequence[str], paths: Sequence[str | Path | None], *,
                 with_scores: bool = False, quiet: bool = True,
                 n_classes: int | None = None) -> BoxTable:
        pairs = list(zip(stems, (None if p is None else str(p) for p in paths), strict=True))
        if not pairs:
            return read_label_files([], [], with_scores=with_scores)
        jobs = [([s for s, _ in part], [p for _, p in part], with_scores, n_classes)
                for part in shard(pairs, self.shard_size)]
        parts = self.session.map(_read_shard, jobs, desc="reading labels")
        for _, notes in parts:          # the workers' label warnings, raised here (per shard)
            for note in notes:
                warnings.warn(note, LabelWarning, stacklevel=2)
        return concat_tables([table for table, _ in parts])


@dataclass(frozen=True)
class _LookJob:
    spec: ModelSpec
    items: list[tuple[str, np.ndarray, np.ndarray | None]]
    factor: float
    min_side: int
    conf: float
    min_iou: float


def _look_shard(job: _LookJob) -> list[np.ndarray]:
    """Worker side: the second look at one shard of images (read here, model cached)."""
    check_readable([path for path, _, _ in job.items])
    model = job.spec.cached()
    return [look_at_image(model, path, boxes, cls, factor=job.factor, min_side=job.min_side,
                          conf=job.conf, min_iou=job.min_iou)
            for path, boxes, cls in job.items]


class ShardedSecondLook(SecondLook):
    """A :class:`~tecktrack.mining.SecondLook` whose images are looked at on Dask workers.

    Parameters
    ----------
    spec : ModelSpec
        The detector the workers load (once each).
    images : mapping of str to path
        Image path per stem; paths must be visible to the workers.
    session : ClusterSession
        The open session (see :func:`tecktrack.cluster.cluster_session`).
    shard_size : int
        Images per shard.
    factor, min_side, conf, quiet
        As in :class:`~tecktrack.mining.SecondLook`.
    """

    def __init__(self, spec: ModelSpec, images: Mapping[str, str | Path], *,
                 session: ClusterSession, shard_size: int = 256, factor: float = 4.0,
                 min_side: int = 64, conf: float = 0.01, quiet: bool = True):
        super().__init__(None, images, factor=factor, min_side=min_side, conf=conf, quiet=quiet)
        self.spec = spec
        self.session = session
        self.shard_size = int(shard_size)

    def evidence(self, stems: Sequence[str], boxes: np.ndarray,
                 class_ids: np.ndarray | None = None, min_iou: float = 0.3) -> np.ndarray:
        """As :meth:`SecondLook.evidence`, one shard of images per task."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        out = np.zeros(len(boxes))
        stems = self.checked_stems(stems)
        groups = [g for g in image_groups(stems) if len(g)]
        parts = shard(groups, self.shard_size)
        jobs = [_LookJob(self.spec,
                         [(str(self.images[stems[g[0]]]), boxes[g],
                           None if class_ids is None else np.asarray(class_ids)[g])
                          for g in part],
                         self.factor, self.min_side, self.conf, float(min_iou))
                for part in parts]
        for part, found in zip(parts, self.session.map(_look_shard, jobs, desc="second look"),
                               strict=True):
            for rows, values in zip(part, found, strict=True):
                out[rows] = values
        return out


def mine_sharded(prediction_dir: str | Path, annotations: str | Path, *, top: int | None = 10,
                 miner: HardNegativeMining | None = None, quiet: bool = True, model: Any = None,
                 images: str | Path | None = None, zoom: float = 4.0, cluster: Any = "local",
                 shard_size: int = 256) -> dict[str, Any]:
    """:func:`~tecktrack.mining.mine` with files read and the second look run on workers.

    Returns the same summary (rankings included) as a local run.
    """
    from tecktrack.mining.pipeline import mining_summary
    from tecktrack.mining.sources import images_by_stem, load_sources

    with cluster_session(cluster, quiet=quiet) as session:
        reader = ShardedReader(session, shard_size)
        sources = load_sources(prediction_dir, annotations, quiet=quiet, reader=reader)
        look = None
        if model is not None:
            if isinstance(model, (str, Path)):
                from tecktrack.model import load_model

                model = load_model(model)
            look = ShardedSecondLook(ModelSpec.of(model),
                                     images_by_stem(images if images is not None else annotations),
                                     session=session, shard_size=shard_size, factor=zoom,
                                     quiet=quiet)
        return mining_summary(sources, miner, top, look)
