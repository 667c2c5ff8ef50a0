"""A detection dataset on disk: images, YOLO labels, class names; checks and statistics.

Two layouts are understood: an ultralytics ``data.yaml`` whose splits point at image
folders (labels found by :func:`~tecktrack.datasets.label_path_for`), and a bare folder of
images with a sibling ``labels/`` folder. Statistics come back as pandas DataFrames for
exploration in notebooks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tecktrack.datasets.box_table import NAMES_FILE
from tecktrack.datasets.coco import CocoDataset, CocoImage
from tecktrack.datasets.data_yaml import read_data_yaml
from tecktrack.datasets.images import image_size, list_images
from tecktrack.datasets.label_text import read_label_bytes, repeated_rows
from tecktrack.datasets.yolo import (
    CLIPPED,
    ZERO_SIZE,
    LabelProblem,
    count_notes,
    label_path_for,
    read_yolo_labels,
)
from tecktrack.detections import Detections
from tecktrack.errors import DatasetError, TeckTrackError
from tecktrack.progress import progress

__all__ = ["SIZE_BUCKETS", "WARNING_KINDS", "Dataset", "DatasetItem", "DatasetStats",
           "size_bucket"]

#: COCO object-size buckets by pixel area: small < 32^2 <= medium < 96^2 <= large.
SIZE_BUCKETS = ("small", "medium", "large")
_BUCKET_EDGES = (32.0**2, 96.0**2)
_PROBLEM_COLUMNS = ["kind", "path", "line", "message"]
#: Kinds of :meth:`Dataset.check` rows that are warnings (the data loads), not problems.
WARNING_KINDS = ("box", "duplicate_label")


def size_bucket(area: np.ndarray) -> pd.Categorical:
    """COCO size bucket of each pixel area (ordered categorical small < medium < large).

    Examples
    --------
    >>> list(size_bucket(np.array([10.0, 1024.0, 9215.0, 9216.0])))
    ['small', 'medium', 'medium', 'large']
    """
    codes = np.searchsorted(np.asarray(_BUCKET_EDGES), np.asarray(area, np.float64), side="right")
    return pd.Categorical.from_codes(codes, categories=list(SIZE_BUCKETS), ordered=True)


@dataclass(frozen=True)
class DatasetItem:
    """One image of a dataset with the label file that belongs to it."""

    image_path: Path
    label_path: Path
    split: str

    @property
    def stem(self) -> str:
        """File name of the image without its suffix."""
        return self.image_path.stem


@dataclass
class DatasetStats:
    """Statistics of one dataset (or split) as DataFrames.

    Attributes
    ----------
    classes : DataFrame
        One row per class: ``class_id, name, instances, images``.
    boxes : DataFrame
        One row per box: ``split, image, class_id, name, width, height, area`` (pixels),
        ``width_norm, height_norm, area_norm`` (fractions of the image), ``aspect``
        (width / height, NaN for zero height) and ``size`` (COCO bucket).
    images : DataFrame
        One row per image: ``split, image, width, height, objects, labelled``.
    skipped : list of LabelProblem
        The label lines left out of the counts (bad rows, class ids beyond the names), each
        naming its file and line.
    noted : list of LabelProblem
        Boxes counted but not as their lines say: zero width or height, or clipped to the
        image by more than rounding (see :func:`tecktrack.datasets.yolo.box_notes`).
    unreadable : list of str
        Images that could not be read (left out of every count), one message each.
    overlap : dict of str to int
        Images that two splits share (``"train/val": 128``); each image is counted once,
        under the first split that lists it.
    """

    classes: pd.DataFrame
    boxes: pd.DataFrame
    images: pd.DataFrame
    skipped: list[LabelProblem] = field(default_factory=list)
    noted: list[LabelProblem] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    overlap: dict[str, int] = field(default_factory=dict)

    def overlap_notes(self) -> list[str]:
        """One sentence per pair of splits that share images (each image is counted once).

        Examples
        --------
        >>> s = DatasetStats(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(),
        ...                  overlap={"train/val": 128})
        >>> s.overlap_notes()
        ['note: the splits overlap: train/val share 128 images, each counted once']
        """
        return [f"note: the splits overlap: {pair} share {count} images, each counted once"
                for pair, count in self.overlap.items()]

    def objects_per_image(self) -> pd.Series:
        """How many images have 0, 1, 2, ... objects (labelled images only)."""
        counts = self.images.loc[self.images["labelled"], "objects"]
        return counts.value_counts().sort_index().rename("images")

    def size_counts(self) -> pd.Series:
        """Number of boxes per COCO size bucket."""
        return self.boxes["size"].value_counts().reindex(list(SIZE_BUCKETS), fill_value=0)

    def summary(self) -> dict:
        """A JSON-ready digest: counts, per-class table, size buckets, box-size quantiles.

        Examples
        --------
        >>> s = DatasetStats(pd.DataFrame(), pd.DataFrame({"size": size_bucket([5000.0])}),
        ...                  pd.DataFrame({"objects": [1, 0], "labelled": [True, True]}))
        >>> s.summary()["size_buckets"], s.summary()["objects_per_image"]
        ({'small': 0, 'medium': 1, 'large': 0}, {'0': 1, '1': 1})
        """
        labelled = self.images["labelled"] if len(self.images) else pd.Series(dtype=bool)
        columns = [c for c in ("width", "height", "area", "aspect") if c in self.boxes]
        quantiles = self.boxes[columns].quantile([0.0, 0.25, 0.5, 0.75, 1.0])
        return {
            "images": int(len(self.images)),
            "unlabelled_images": int((~labelled).sum()),
            "boxes": int(len(self.boxes)),
            "classes": self.classes.to_dict(orient="records"),
            "size_buckets": {k: int(v) for k, v in self.size_counts().items()},
            "objects_per_image": {str(k): int(v) for k, v in self.objects_per_image().items()},
            "box_quantiles": {col: {str(q): float(v) for q, v in quantiles[col].items()}
                              for col in quantiles.columns},
            "skipped_label_lines": len(self.skipped),
            "skipped_examples": [str(p) for p in self.skipped[:10]],
            "zero_size_boxes": sum(p.message == ZERO_SIZE for p in self.noted),
            "clipped_boxes": sum(p.message == CLIPPED for p in self.noted),
            "box_notes": count_notes(self.noted),
            "unreadable_images": len(self.unreadable),
            "unreadable_examples": self.unreadable[:10],
            "split_overlap": dict(self.overlap),
        }


def _boxes_frame(det: Detections, splits: np.ndarray, images: np.ndarray,
                 image_wh: np.ndarray, names: Sequence[str]) -> pd.DataFrame:
    """Per-box table from all boxes at once; ``image_wh`` is each box's image size."""
    wh = (det.xyxy[:, 2:] - det.xyxy[:, :2]).astype(np.float64)
    area = wh[:, 0] * wh[:, 1]
    aspect = np.full(len(wh), np.nan)
    np.divide(wh[:, 0], wh[:, 1], out=aspect, where=wh[:, 1] > 0)
    image_wh = image_wh.astype(np.float64).reshape(-1, 2)
    return pd.DataFrame({
        "split": splits, "image": images, "class_id": det.class_ids,
        "name": np.asarray(names, dtype=object)[det.class_ids],
        "width": wh[:, 0], "height": wh[:, 1], "area": area,
        "width_norm": wh[:, 0] / image_wh[:, 0], "height_norm": wh[:, 1] / image_wh[:, 1],
        "area_norm": area / image_wh.prod(axis=1), "aspect": aspect, "size": size_bucket(area),
    })


class Dataset:
    """Images + YOLO labels + class names, split into named subsets.

    Parameters
    ----------
    names : sequence of str
        Class names, index = class id.
    splits : dict of str to list of Path
        Image files per split.
    root : Path
        Dataset root (for display and relative paths).
    label_path : callable, optional
        Maps an image path to its label path (default :func:`label_path_for`).

    Examples
    --------
    >>> import tempfile, cv2
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "images").mkdir(); (root / "labels").mkdir()
    >>> _ = cv2.imwrite(str(root / "images" / "a.png"), np.zeros((10, 20, 3), np.uint8))
    >>> _ = (root / "labels" / "a.txt").write_text("0 0.5 0.5 0.5 0.5\\n")
    >>> ds = Dataset.from_images(root / "images", names=["cat"])
    >>> item = ds.items()[0]
    >>> ds.load_labels(item).xyxy
    array([[ 5. ,  2.5, 15. ,  7.5]], dtype=float32)
    >>> ds.stats().classes[["name", "instances", "images"]].values.tolist()
    [['cat', 1, 1]]
    """

    def __init__(self, names: Sequence[str], splits: dict[str, list[Path]], root: Path,
                 label_path: Callable[[Path], Path] = label_path_for,
                 background_without_label: bool = False) -> None:
        self.names = list(names)
        #: Ultralytics' reading: an image without a label file is background (no objects),
        #: not a problem. True for datasets opened from a data.yaml.
        self.background_without_label = background_without_label
        self.splits = {k: [Path(p) for p in v] for k, v in splits.items()}
        self.root = Path(root)
        self._label_path = label_path
        self._sizes: dict[Path, tuple[int, int]] = {}

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, path: str | Path) -> Dataset:
        """Open the dataset an ultralytics ``data.yaml`` describes.

        Examples
        --------
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()); (d / "images").mkdir()
        >>> _ = (d / "data.yaml").write_text("train: images\\nval: images\\nnames: [a, b]\\n")
        >>> Dataset.from_yaml(d / "data.yaml").names
        ['a', 'b']
        """
        cfg = read_data_yaml(path)
        return cls(cfg.names, cfg.splits, cfg.root, background_without_label=True)

    @classmethod
    def from_images(cls, folder: str | Path, names: Sequence[str] | None = None,
                    split: str = "all") -> Dataset:
        """Open a bare image folder whose labels sit in a sibling ``labels/`` folder.

        ``folder/x/a.jpg`` is labelled by ``folder/../labels/x/a.txt``. Class names come from
        ``names``, else a ``classes.txt`` (one name per line) in the labels or parent folder,
        else ``"0", "1", ...`` up to the largest class id found in the labels.

        Examples
        --------
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()); (d / "pics").mkdir(); (d / "labels").mkdir()
        >>> _ = (d / "labels" / "classes.txt").write_text("cat\\ndog\\n")
        >>> Dataset.from_images(d / "pics").names
        ['cat', 'dog']
        """
        folder = Path(folder).resolve()
        labels = folder.parent / "labels"
        if folder == labels:
            raise DatasetError("the image folder cannot itself be named labels/", folder)
        images = list_images(folder)

        def label_path(image: Path) -> Path:
            return (labels / image.relative_to(folder)).with_suffix(".txt")

        if names is None:
            names = _names_beside(labels, folder.parent) or _names_from_labels(
                [label_path(p) for p in images])
        return cls(names, {split: images}, folder.parent, label_path)

    # -- access -------------------------------------------------------------------------
    @property
    def nc(self) -> int:
        """Number of classes."""
        return len(self.names)

    def items(self, split: str | None = None) -> list[DatasetItem]:
        """Images with their label paths, for one split or (``None``) all splits in order."""
        if split is not None and split not in self.splits:
            raise DatasetError(f"no split {split!r}; this dataset has {sorted(self.splits)}",
                               self.root)
        keys = list(self.splits) if split is None else [split]
        return [DatasetItem(p, self._label_path(p), k) for k in keys for p in self.splits[k]]

    def image_size(self, item: DatasetItem) -> tuple[int, int]:
        """``(width, height)`` of an item's image (read from the header once, then cached)."""
        size = self._sizes.get(item.image_path)
        if size is None:
            size = self._sizes[item.image_path] = image_size(item.image_path)
        return size

    def load_labels(self, item: DatasetItem, strict: bool = True,
                    problems: list[LabelProblem] | None = None,
                    notes: list[LabelProblem] | None = None,
                    ultralytics: bool = False) -> Detections:
        """Ground truth of one item in pixel corners (class ids checked against ``names``).

        Raises :class:`~tecktrack.errors.DatasetError` when the label file is missing and,
        with ``strict``, :class:`~tecktrack.errors.FormatError` at the first bad line.
        ``notes`` collects zero-size and clipped boxes; ``ultralytics`` reads the file as
        ``yolo val`` does (see ``read_yolo_labels``).
        """
        width, height = self.image_size(item)
        return read_yolo_labels(item.label_path, width, height, n_classes=self.nc,
                                strict=strict, problems=problems, notes=notes,
                                ultralytics=ultralytics)

    # -- checks and statistics ----------------------------------------------------------
    def check(self, quiet: bool = True) -> pd.DataFrame:
        """Every problem in the dataset, one row each: ``kind, path, line, message``.

        ``kind`` is ``missing_label`` (an image without a label file: reported separately,
        since an *empty* label file means "no objects"; not for data.yaml datasets, where
        such an image is background as Ultralytics reads it), ``image`` (unreadable
        image), ``label`` (a bad line), ``duplicate_stem`` (two images with one file stem:
        they share a label file, and ``mine`` / ``evaluate`` match files by stem),
        ``orphan_label`` (a label file beside the others with no image) or ``box`` (a box
        that loads but not as its line says: zero width or height, or clipped by more than
        rounding; a warning, see :data:`WARNING_KINDS`) or ``duplicate_label`` (a line that
        repeats an earlier one of its file: one object, as ``val`` and Ultralytics read it; a
        warning). Images listed in several splits are checked once.

        Examples
        --------
        >>> import tempfile, cv2
        >>> root = Path(tempfile.mkdtemp()); (root / "images").mkdir()
        >>> _ = cv2.imwrite(str(root / "images" / "a.png"), np.zeros((4, 4, 3), np.uint8))
        >>> Dataset.from_images(root / "images", names=["x"]).check()["kind"].tolist()
        ['missing_label']
        """
        rows: list[tuple[str, str, int | None, str]] = []
        first: dict[Path, DatasetItem] = {}
        for item in self.items():
            first.setdefault(item.image_path, item)
        unique = list(first.values())
        rows.extend(_duplicate_stems(unique))
        for item in progress(unique, desc="check", quiet=quiet, unit="img"):
            rows.extend(self._check_item(item))
        rows.extend(_orphan_labels(unique))
        frame = pd.DataFrame(rows, columns=_PROBLEM_COLUMNS)
        frame["line"] = frame["line"].astype("Int64")
        return frame

    def _check_item(self, item: DatasetItem) -> list[tuple[str, str, int | None, str]]:
        try:
            self.image_size(item)
        except TeckTrackError as exc:
            return [("image", str(item.image_path), None, getattr(exc, "message", str(exc)))]
        if not item.label_path.is_file():
            if self.background_without_label:
                return []
            return [("missing_label", str(item.label_path), None,
                     f"no label file for {item.image_path.name}")]
        found: list[LabelProblem] = []
        noted: list[LabelProblem] = []
        self.load_labels(item, strict=False, problems=found, notes=noted)
        repeats = [] if found else repeated_rows(read_label_bytes(item.label_path))
        return ([("label", str(p.path), p.line, p.message) for p in found]
                + [("box", str(p.path), p.line, p.message) for p in noted]
                + [("duplicate_label", str(item.label_path), line,
                    f"repeats line {first}: one object (val and Ultralytics keep one)")
                   for line, first in repeats])

    def stats(self, split: str | None = None, quiet: bool = True) -> DatasetStats:
        """Class, box and image statistics (bad label lines skipped, missing labels noted).

        Unreadable images are skipped and listed in ``unreadable``; zero-size and clipped
        boxes are counted and listed in ``noted``.

        Examples
        --------
        >>> import tempfile, cv2
        >>> root = Path(tempfile.mkdtemp()); (root / "images").mkdir(); (root / "labels").mkdir()
        >>> _ = cv2.imwrite(str(root / "images" / "a.png"), np.zeros((100, 100, 3), np.uint8))
        >>> _ = (root / "labels" / "a.txt").write_text("0 0.5 0.5 0.5 0.5\\n0 0.1 0.1 0.1 0.1\\n")
        >>> s = Dataset.from_images(root / "images", names=["x"]).stats()
        >>> s.boxes["size"].tolist(), s.images["objects"].tolist()
        (['medium', 'small'], [2])
        """
        unique, overlap = self._unique_items(split)
        dets, rows, skipped, noted, unreadable, items = [], [], [], [], [], []
        for item in progress(unique, desc="stats", quiet=quiet, unit="img"):
            try:
                width, height = self.image_size(item)
            except TeckTrackError as exc:
                unreadable.append(str(exc))
                continue
            items.append(item)
            has_file = item.label_path.is_file()
            labelled = has_file or self.background_without_label
            det = (self.load_labels(item, strict=False, problems=skipped, notes=noted)
                   if has_file else Detections.empty(False))
            dets.append(det)
            rows.append((item.split, str(item.image_path), width, height, len(det), labelled))
        images = pd.DataFrame(rows, columns=["split", "image", "width", "height", "objects",
                                             "labelled"])
        owner = np.repeat(np.arange(len(items)), images["objects"].to_numpy(np.int64))
        boxes = _boxes_frame(
            Detections.concat(dets) if dets else Detections.empty(False),
            images["split"].to_numpy(object)[owner], images["image"].to_numpy(object)[owner],
            images[["width", "height"]].to_numpy()[owner], self.names)
        return DatasetStats(self._class_table(boxes), boxes, images, skipped, noted, unreadable,
                            overlap)

    def _unique_items(self, split: str | None) -> tuple[list[DatasetItem], dict[str, int]]:
        """Items with each image once (first split wins) and the images splits share."""
        items = self.items(split)
        owner: dict[Path, str] = {}
        overlap: dict[str, int] = {}
        unique = []
        for item in items:
            first = owner.get(item.image_path)
            if first is None:
                owner[item.image_path] = item.split
                unique.append(item)
            elif first != item.split:
                pair = f"{first}/{item.split}"
                overlap[pair] = overlap.get(pair, 0) + 1
        return unique, overlap

    def background_images(self, split: str | None = None) -> int:
        """Images without a label file (background under Ultralytics' reading), each once."""
        return sum(not item.label_path.is_file() for item in self._unique_items(split)[0])

    def _class_table(self, boxes: pd.DataFrame) -> pd.DataFrame:
        ids = boxes["class_id"].to_numpy(dtype=np.int64)
        instances = np.bincount(ids, minlength=self.nc)
        unique = boxes.drop_duplicates(["image", "class_id"])["class_id"].to_numpy(np.int64)
        return pd.DataFrame({"class_id": np.arange(self.nc), "name": self.names,
                             "instances": instances, "images": np.bincount(unique,
                                                                           minlength=self.nc)})

    # -- export -------------------------------------------------------------------------
    def to_coco(self, split: str, quiet: bool = True) -> CocoDataset:
        """The ground truth of one split as COCO (image ids 1..n in item order, category ids
        1..nc), e.g. to evaluate with pycocotools. Label files must be valid.

        Examples
        --------
        >>> import tempfile, cv2
        >>> root = Path(tempfile.mkdtemp()); (root / "images").mkdir(); (root / "labels").mkdir()
        >>> _ = cv2.imwrite(str(root / "images" / "a.png"), np.zeros((10, 10, 3), np.uint8))
        >>> _ = (root / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\\n")
        >>> coco = Dataset.from_images(root / "images", names=["x"]).to_coco("all")
        >>> coco.images[0].file_name, coco.annotations[1].xyxy
        ('images/a.png', array([[4., 4., 6., 6.]], dtype=float32))
        """
        images, annotations = [], {}
        for image_id, item in enumerate(progress(self.items(split), desc="coco", quiet=quiet),
                                        start=1):
            width, height = self.image_size(item)
            name = item.image_path.relative_to(self.root) if item.image_path.is_relative_to(
                self.root) else item.image_path
            images.append(CocoImage(image_id, Path(name).as_posix(), width, height))
            annotations[image_id] = self.load_labels(item)
        return CocoDataset(images, self.names, list(range(1, self.nc + 1)), annotations)

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={len(v)}" for k, v in self.splits.items())
        return f"Dataset(root={str(self.root)!r}, nc={self.nc}, {counts})"


def _duplicate_stems(items: list[DatasetItem]) -> list[tuple[str, str, None, str]]:
    """One row per image whose stem another image already has (a.jpg and a.png share
    labels/a.txt; ``mine`` and ``evaluate`` refuse such datasets, matching files by stem)."""
    seen: dict[str, DatasetItem] = {}
    rows = []
    for item in items:
        other = seen.setdefault(item.stem, item)
        if other is item:
            continue
        shared = " and its label file" if other.label_path == item.label_path else ""
        rows.append(("duplicate_stem", str(item.image_path), None,
                     f"shares the stem {item.stem!r}{shared} with {other.image_path}"))
    return rows


def _orphan_labels(items: list[DatasetItem]) -> list[tuple[str, str, None, str]]:
    """Label files in the label folders of ``items`` that belong to no image."""
    wanted = {item.label_path for item in items}
    rows = []
    for folder in sorted({p.parent for p in wanted}):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.txt")):
            if path not in wanted and path.name != NAMES_FILE:
                rows.append(("orphan_label", str(path), None, "label file has no image"))
    return rows


def _names_beside(*folders: Path) -> list[str] | None:
    for folder in folders:
        path = folder / NAMES_FILE
        if path.is_file():
            names = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
            return [n for n in names if n]
    return None


def _names_from_labels(label_paths: list[Path]) -> list[str]:
    largest = -1
    for path in label_paths:
        if path.is_file():
            det = read_yolo_labels(path, 1, 1, strict=False)
            if len(det):
                largest = max(largest, int(det.class_ids.max()))
    return [str(i) for i in range(largest + 1)]
