"""Where mining reads from: a prediction folder and a labelled dataset, matched by file stem.

Ground truth may be a ``data.yaml`` (every split; an image without a label file has no
objects), a dataset folder holding one, a folder with a ``labels/`` tree, or a flat folder
of ``.txt`` files. Predictions are a folder of ``<stem>.txt`` (``class cx cy w h conf``), or
a tree of them under the folder or its ``labels/`` sub-folder (``tecktrack predict --out``
keeps the source's sub-folders, e.g. ``labels/train/000001.txt``). Stems must be unique.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tecktrack.datasets.box_table import (
    BoxTable,
    label_files_under,
    list_label_files,
    read_label_files,
)
from tecktrack.errors import DatasetError
from tecktrack.mining.matching import align_tables

__all__ = ["Sources", "images_by_stem", "load_aligned", "load_ground_truth", "load_predictions",
           "load_sources"]


@dataclass(eq=False)
class Sources:
    """Aligned predictions and labels plus what could not be paired.

    Attributes
    ----------
    pred, gt : BoxTable
        Tables over the same stems (sorted).
    names : list of str or None
        Class names when the labels came from a ``data.yaml``.
    pred_only, gt_only : int
        Prediction files without a labelled image, labelled images without predictions.
    """

    pred: BoxTable
    gt: BoxTable
    names: list[str] | None
    pred_only: int
    gt_only: int


def load_predictions(path: str | Path, *, quiet: bool = True,
                     n_classes: int | None = None,
                     reader: Callable[..., BoxTable] = read_label_files) -> BoxTable:
    """Read a prediction folder (``<stem>.txt`` with confidence, or its ``labels/``).

    With ``n_classes`` (the number of class names), a class id outside ``[0, n_classes)``
    is refused, naming the file and line, as ``evaluate`` refuses it.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); (d / "labels" / "val").mkdir(parents=True)
    >>> _ = (d / "labels" / "val" / "a.txt").write_text("0 0.5 0.5 0.1 0.1 0.8\\n")
    >>> load_predictions(d).scores
    array([0.8], dtype=float32)
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DatasetError("prediction folder not found", folder)
    files = list_label_files(folder)
    if not files:
        files = _label_tree(folder / "labels" if (folder / "labels").is_dir() else folder)
    if not files:
        raise DatasetError("no prediction .txt files found (nor under labels/)", folder)
    return reader(list(files), list(files.values()), with_scores=True, quiet=quiet,
                  n_classes=n_classes)


def load_ground_truth(path: str | Path, *, quiet: bool = True,
                      reader: Callable[..., BoxTable] = read_label_files
                      ) -> tuple[BoxTable, list[str] | None]:
    """Read labels from a ``data.yaml``, a dataset folder or a label folder.

    Returns the table (one image per labelled image, sorted by stem) and the class names
    (``None`` when no ``data.yaml`` was involved).

    Raises
    ------
    DatasetError
        Missing path, no labels, or two images with the same stem in different splits.
    FormatError
        A bad label line, or (from a data.yaml) a class id beyond its names.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); _ = (d / "a.txt").write_text("1 0.5 0.5 0.1 0.1\\n")
    >>> table, names = load_ground_truth(d)
    >>> table.stems, names
    (['a'], None)
    """
    path = Path(path)
    if path.is_file():
        return _from_yaml(path, quiet, reader)
    if not path.is_dir():
        raise DatasetError("ground truth not found (expected data.yaml or a folder)", path)
    for name in ("data.yaml", "data.yml"):
        if (path / name).is_file():
            return _from_yaml(path / name, quiet, reader)
    files = list_label_files(path)
    if not files and (path / "labels").is_dir():
        files = _label_tree(path / "labels")
    if not files:
        raise DatasetError("no label .txt files found (nor data.yaml, nor labels/)", path)
    return reader(list(files), list(files.values()), quiet=quiet), None


def load_sources(prediction_dir: str | Path, annotations: str | Path, *,
                 quiet: bool = True,
                 reader: Callable[..., BoxTable] = read_label_files) -> Sources:
    """Read predictions and labels and keep the stems both have.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); (d / "p").mkdir(); (d / "g").mkdir()
    >>> _ = (d / "p" / "a.txt").write_text("0 0.5 0.5 0.1 0.1 0.8\\n")
    >>> _ = (d / "g" / "a.txt").write_text("0 0.5 0.5 0.1 0.1\\n")
    >>> _ = (d / "g" / "b.txt").write_text("")
    >>> s = load_sources(d / "p", d / "g")
    >>> s.pred.stems, s.gt_only
    (['a'], 1)
    """
    gt, names = load_ground_truth(annotations, quiet=quiet, reader=reader)
    pred = load_predictions(prediction_dir, quiet=quiet,
                            n_classes=None if names is None else len(names), reader=reader)
    pred, gt, left = align_tables(pred, gt)
    if not pred.n_images:
        raise DatasetError(f"no prediction file matches a labelled image by stem "
                           f"(labels from {annotations})", prediction_dir)
    return Sources(pred, gt, names, left["pred_only"], left["gt_only"])


def load_aligned(prediction_dir: str | Path, annotations: str | Path
                 ) -> tuple[BoxTable, BoxTable, list[str] | None]:
    """``(pred, gt, names)`` of :func:`load_sources`, for callers that need only those."""
    src = load_sources(prediction_dir, annotations)
    return src.pred, src.gt, src.names


def _label_tree(labels: Path) -> dict[str, str]:
    found: dict[str, str | None] = {}
    for file in label_files_under(labels):
        _add_unique(found, file.stem, str(file), labels)
    return dict(sorted(found.items()))


def _add_unique(found: dict, stem: str, path: object, where: Path | None) -> None:
    if stem in found:
        raise DatasetError(f"two images share the stem {stem!r}; predictions are matched by stem",
                           where)
    found[stem] = path


def images_by_stem(source: str | Path | Sequence[str | Path]) -> dict[str, Path]:
    """Image paths keyed by file stem, from a ``data.yaml`` (every split), a dataset folder
    holding one, an image folder (recursive) or a list of paths.

    Raises
    ------
    DatasetError
        Nothing found, or two images with the same stem.

    Examples
    --------
    >>> images_by_stem(["a/x.jpg", "b/y.png"])
    {'x': PosixPath('a/x.jpg'), 'y': PosixPath('b/y.png')}
    """
    from tecktrack.datasets.dataset import Dataset
    from tecktrack.datasets.images import list_images

    if isinstance(source, (str, Path)):
        path = Path(source)
        yaml = path if path.is_file() else next(
            (path / n for n in ("data.yaml", "data.yml") if (path / n).is_file()), None)
        if yaml is not None:
            items = Dataset.from_yaml(yaml).items()
            found = _unique_images([it.image_path for it in items], yaml)
        else:
            found = _unique_images(list_images(path), path)
    else:
        path, found = None, _unique_images([Path(p) for p in source], None)
    if not found:
        raise DatasetError("no images found (give an image folder or a data.yaml)", path)
    return found


def _unique_images(paths: list[Path], where: Path | None) -> dict[str, Path]:
    """Paths by stem; the same file listed twice (a folder serving two splits) is one image."""
    found: dict[str, Path] = {}
    for image in dict.fromkeys(paths):
        _add_unique(found, image.stem, image, where)
    return found


def _from_yaml(yaml_path: Path, quiet: bool,
               reader: Callable[..., BoxTable] = read_label_files) -> tuple[BoxTable, list[str]]:
    from tecktrack.datasets.dataset import Dataset

    dataset = Dataset.from_yaml(yaml_path)   # the one data.yaml reader, as every command
    items = dataset.items()
    labels = {it.image_path: it.label_path for it in items}
    found: dict[str, str | None] = {}
    for stem, image in sorted(_unique_images(list(labels), yaml_path).items()):
        label = labels[image]
        found[stem] = str(label) if label.is_file() else None
    return (reader(list(found), list(found.values()), quiet=quiet,
                   n_classes=len(dataset.names)), list(dataset.names))
