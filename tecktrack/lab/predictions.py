"""A model's predictions on a dataset split, held in memory for the analysis notebooks.

:func:`predict_split` runs a detector over the images of one split (optionally a seeded
sample of them) and keeps ground truth and predictions keyed by image stem, in sorted stem
order, ready for :mod:`tecktrack.metrics` (``sp.gt``, ``sp.preds``) and for mining
(``sp.tables()`` gives the aligned :class:`~tecktrack.datasets.BoxTable` pair).
:func:`annotated` draws a detector's boxes on an image file (the augmented views are in
:mod:`tecktrack.lab.augmentation`).

Examples
--------
>>> from tecktrack.model import load_model                               # doctest: +SKIP
>>> sp = predict_split(load_model("demo-n", conf=0.001), "data/synth/data.yaml", "val",
...                    n_images=20, seed=0)                             # doctest: +SKIP
>>> from tecktrack.metrics import evaluate                              # doctest: +SKIP
>>> evaluate(sp.gt, sp.preds, names=sp.names).summary["map50"]          # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tecktrack.datasets.box_table import BoxTable
from tecktrack.datasets.dataset import Dataset, DatasetItem
from tecktrack.datasets.images import read_image
from tecktrack.detections import Detections
from tecktrack.draw import draw_detections
from tecktrack.errors import DatasetError
from tecktrack.model.image_files import detect_files
from tecktrack.model.protocol import Detector

__all__ = ["SplitPredictions", "annotated",
           "ground_truth", "predict_split", "sample_items", "side_by_side"]


@dataclass(frozen=True)
class SplitPredictions:
    """Ground truth and one model's predictions on some images of a dataset split.

    Attributes
    ----------
    items : list of DatasetItem
        The images (with label paths), sorted by stem.
    sizes : list of (int, int)
        ``(width, height)`` of each image.
    gt, preds : dict of str to Detections
        Ground truth and predictions keyed by image stem, in ``items`` order.
    names : list of str
        Class names of the dataset.
    """

    items: list[DatasetItem]
    sizes: list[tuple[int, int]]
    gt: dict[str, Detections]
    preds: dict[str, Detections]
    names: list[str]

    @property
    def stems(self) -> list[str]:
        """Image stems in order (the keys of ``gt`` and ``preds``)."""
        return [item.stem for item in self.items]

    def item(self, stem: str) -> DatasetItem:
        """The dataset item of an image stem.

        Raises
        ------
        DatasetError
            When the stem is not one of the predicted images.
        """
        for item in self.items:
            if item.stem == stem:
                return item
        raise DatasetError(f"image {stem!r} is not among the {len(self.items)} predicted images")

    def tables(self) -> tuple[BoxTable, BoxTable]:
        """Aligned ``(predictions, ground truth)`` tables for :mod:`tecktrack.mining`.

        Examples
        --------
        >>> it = DatasetItem(Path("a.jpg"), Path("a.txt"), "val")
        >>> sp = SplitPredictions([it], [(100, 50)], {"a": Detections([[0, 0, 50, 50]], [0])},
        ...                       {"a": Detections([[0, 0, 50, 50]], [0], [0.9])}, ["x"])
        >>> pred, gt = sp.tables()
        >>> len(pred.scores), gt.scores, gt.boxes.tolist()
        (1, None, [[0.25, 0.5, 0.5, 1.0]])
        """
        stems = self.stems
        pred = BoxTable.from_detections(stems, [self.preds[s] for s in stems], self.sizes)
        if pred.scores is None:  # no image at all: keep the table a prediction table
            pred.scores = np.zeros(0, np.float32)
        gt = BoxTable.from_detections(stems, [self.gt[s] for s in stems], self.sizes)
        return pred, gt


def sample_items(dataset: Dataset, split: str | None, n_images: int | None = None,
                 seed: int = 0) -> list[DatasetItem]:
    """The items of ``split`` (``None``: all splits) sorted by stem, or a seeded sample.

    Raises
    ------
    DatasetError
        Unknown split, an empty split, or ``n_images < 1``.

    Examples
    --------
    >>> import tempfile, cv2
    >>> root = Path(tempfile.mkdtemp()); (root / "images").mkdir()
    >>> for i in range(5):
    ...     _ = cv2.imwrite(str(root / "images" / f"{i}.png"), np.zeros((4, 4, 3), np.uint8))
    >>> ds = Dataset.from_images(root / "images", names=["x"], split="val")
    >>> [it.stem for it in sample_items(ds, "val", 2, seed=0)]
    ['3', '4']
    """
    items = sorted(dataset.items(split), key=lambda it: (it.stem, it.split))
    if not items:
        raise DatasetError(f"split {split!r} has no images", dataset.root)
    if n_images is None or n_images >= len(items):
        return items
    if n_images < 1:
        raise DatasetError(f"n_images must be at least 1, got {n_images}", dataset.root)
    chosen = np.random.default_rng(seed).choice(len(items), size=int(n_images), replace=False)
    return [items[i] for i in np.sort(chosen)]


def ground_truth(dataset: Dataset, items: Sequence[DatasetItem]) -> dict[str, Detections]:
    """Labels of ``items`` keyed by stem; an image without a label file has no objects.

    Raises
    ------
    FormatError
        A malformed label line (with file and line).
    """
    out = {}
    for item in items:
        labelled = item.label_path.is_file()
        out[item.stem] = dataset.load_labels(item) if labelled else Detections.empty(False)
    return out


def predict_split(model: Detector, data: str | Path | Dataset, split: str = "val", *,
                  n_images: int | None = None, seed: int = 0,
                  quiet: bool = True, cluster: Any = None,
                  shard_size: int = 256) -> SplitPredictions:
    """Run ``model`` over (a seeded sample of) a split and keep labels and predictions.

    Parameters
    ----------
    model : Detector
        A loaded detector; its own score threshold applies (load it with a low ``conf``,
        e.g. 0.001, for mAP and PR curves).
    data : path or Dataset
        A ``data.yaml`` or an opened :class:`~tecktrack.datasets.Dataset`.
    split : str
        Split to predict.
    n_images : int, optional
        Predict a seeded random sample of this many images (default: all of them).
    seed : int
        Seed of the sample.
    quiet : bool
        Hide the progress bar.
    cluster : str or distributed.Client, optional
        Predict shards of ``shard_size`` images on Dask workers (``model`` must then be a
        loaded :class:`~tecktrack.model.Model`; workers load the same file): the same
        predictions (:func:`tecktrack.inference.sharded.detect_sharded`).
    shard_size : int
        Images per shard on a cluster.

    Returns
    -------
    SplitPredictions

    Examples
    --------
    >>> class Echo:  # a "detector" that finds one fixed box
    ...     def predict(self, frame):
    ...         return Detections([[0, 0, 2, 2]], [0], [0.5])
    >>> import tempfile, cv2
    >>> root = Path(tempfile.mkdtemp()); (root / "images").mkdir(); (root / "labels").mkdir()
    >>> _ = cv2.imwrite(str(root / "images" / "a.png"), np.zeros((4, 4, 3), np.uint8))
    >>> _ = (root / "labels" / "a.txt").write_text("0 0.25 0.25 0.5 0.5\\n")
    >>> sp = predict_split(Echo(), Dataset.from_images(root / "images", ["x"], "val"))
    >>> sp.stems, sp.gt["a"].xyxy.tolist(), sp.preds["a"].scores.tolist()
    (['a'], [[0.0, 0.0, 2.0, 2.0]], [0.5])
    """
    dataset = data if isinstance(data, Dataset) else Dataset.from_yaml(data)
    items = sample_items(dataset, split, n_images, seed)
    gt = ground_truth(dataset, items)
    if cluster is not None:
        from tecktrack.inference.sharded import detect_sharded

        dets, sizes = detect_sharded(model, [item.image_path for item in items],
                                     cluster=cluster, shard_size=shard_size, quiet=quiet)
        preds = {item.stem: d for item, d in zip(items, dets, strict=True)}
        return SplitPredictions(items, sizes, gt, preds, list(dataset.names))
    dets, sizes = detect_files(model, [item.image_path for item in items],
                               desc=f"predict {split}", quiet=quiet)
    preds = {item.stem: det for item, det in zip(items, dets, strict=True)}
    return SplitPredictions(items, sizes, gt, preds, list(dataset.names))


def annotated(detector: Detector, image: str | Path, names: Sequence[str],
              min_score: float = 0.0, class_id: int | None = None) -> np.ndarray:
    """An image file with the detector's boxes scoring at least ``min_score`` drawn on it.

    ``class_id`` keeps only the boxes of that class.

    Examples
    --------
    >>> class One:
    ...     def predict(self, frame):
    ...         return Detections([[1, 1, 8, 8], [2, 2, 5, 5]], [0, 0], [0.9, 0.1])
    >>> import tempfile, cv2
    >>> p = Path(tempfile.mkdtemp()) / "a.png"
    >>> _ = cv2.imwrite(str(p), np.zeros((10, 10, 3), np.uint8))
    >>> bool(annotated(One(), p, ["x"], min_score=0.5).any())
    True
    >>> bool(annotated(One(), p, ["x"], class_id=1).any())
    False
    """
    frame = read_image(image)
    det = detector.predict(frame)
    keep = np.ones(len(det), bool) if det.scores is None else det.scores >= min_score
    if class_id is not None:
        keep &= det.class_ids == class_id
    return draw_detections(frame, det[keep], names)


def side_by_side(sp: SplitPredictions, stem: str, min_score: float = 0.0) -> np.ndarray:
    """An image of the split with its labels (left) beside its predictions scoring at least
    ``min_score`` (right), as one BGR array.

    Examples
    --------
    >>> import tempfile, cv2
    >>> p = Path(tempfile.mkdtemp()) / "a.png"
    >>> _ = cv2.imwrite(str(p), np.zeros((10, 20, 3), np.uint8))
    >>> sp = SplitPredictions([DatasetItem(p, p.with_suffix(".txt"), "val")], [(20, 10)],
    ...                       {"a": Detections.empty()}, {"a": Detections.empty()}, ["x"])
    >>> side_by_side(sp, "a").shape
    (10, 40, 3)
    """
    image = read_image(sp.item(stem).image_path)
    return np.hstack([draw_detections(image, sp.gt[stem], sp.names),
                      draw_detections(image, sp.preds[stem].above(min_score), sp.names)])
