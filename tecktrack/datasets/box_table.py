"""Columnar boxes of many images at once, read in bulk from YOLO label folders.

Mining looks at every label and prediction file of a dataset. Reading them one file at a
time through per-line parsing is the slow part, so :func:`read_label_dir` reads every file's
bytes, parses all numbers of all files in one NumPy call and validates them vectorised,
falling back to a line-by-line scan only to name the exact ``file:line`` of a bad row.

A :class:`BoxTable` keeps YOLO-normalised ``cx, cy, w, h`` (float64) with an image index per
box; :meth:`BoxTable.detections` turns one image back into pixel :class:`Detections`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tecktrack.datasets.label_text import label_line_numbers, parse_label_texts, read_label_bytes
from tecktrack.datasets.yolo import (
    CLIPPED,
    ZERO_SIZE,
    LabelProblem,
    LabelWarning,
    box_notes,
    invalid_rows,
    notes_sentence,
    polygon_box_text,
    read_yolo_labels,
)
from tecktrack.detections import Detections, cxcywh_to_xyxy, xyxy_to_cxcywh, xyxy_to_yolo
from tecktrack.errors import FormatError
from tecktrack.progress import progress

__all__ = ["NAMES_FILE", "BoxTable", "label_files_under", "list_label_files", "read_label_dir",
           "read_label_files"]


@dataclass(eq=False)
class BoxTable:
    """Boxes of many images in flat arrays (YOLO-normalised ``cx, cy, w, h``).

    Parameters
    ----------
    stems : list of str
        Image names (file stems), one per image; ``image`` indexes into it.
    image : ndarray, shape (n,)
        Image index of each box (int64), sorted ascending.
    class_ids : ndarray, shape (n,)
        Class id of each box (int64).
    boxes : ndarray, shape (n, 4)
        Normalised ``cx, cy, w, h`` (float64).
    scores : ndarray, shape (n,), optional
        Confidence of each box (float32); ``None`` for ground truth.

    Examples
    --------
    >>> t = BoxTable.from_detections(["a"], [Detections([[0, 0, 50, 50]], [1])], [(100, 100)])
    >>> t.boxes
    array([[0.25, 0.25, 0.5 , 0.5 ]])
    """

    stems: list[str]
    image: np.ndarray
    class_ids: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.image = np.asarray(self.image, dtype=np.int64).reshape(-1)
        self.class_ids = np.asarray(self.class_ids, dtype=np.int64).reshape(-1)
        self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        if self.scores is not None:
            self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        n = len(self.image)
        if len(self.class_ids) != n or len(self.boxes) != n or (
                self.scores is not None and len(self.scores) != n):
            raise ValueError("BoxTable columns must all have the same length")
        if n and np.any(np.diff(self.image) < 0):
            raise ValueError("BoxTable.image must be sorted ascending")

    @property
    def n_images(self) -> int:
        """Number of images (including images without boxes)."""
        return len(self.stems)

    def __len__(self) -> int:
        return len(self.image)

    def counts(self) -> np.ndarray:
        """Number of boxes in each image, shape ``(n_images,)``."""
        return np.bincount(self.image, minlength=self.n_images)

    def starts(self) -> np.ndarray:
        """Index of each image's first box, shape ``(n_images,)``."""
        return np.concatenate([[0], np.cumsum(self.counts())[:-1]]).astype(np.int64)

    def detections(self, index: int, width: float = 1.0, height: float = 1.0) -> Detections:
        """The boxes of image ``index`` as pixel :class:`Detections`.

        Examples
        --------
        >>> t = BoxTable(["a"], [0], [2], [[0.5, 0.5, 0.2, 0.2]], [0.9])
        >>> t.detections(0, 100, 100).xyxy
        array([[40., 40., 60., 60.]], dtype=float32)
        """
        lo, hi = np.searchsorted(self.image, [index, index + 1])
        scores = None if self.scores is None else self.scores[lo:hi]
        return Detections.from_yolo(self.boxes[lo:hi], self.class_ids[lo:hi], width, height, scores)

    def take_images(self, order: Sequence[int] | np.ndarray) -> BoxTable:
        """A new table holding images ``order`` (in that order), re-indexed from 0.

        Examples
        --------
        >>> t = BoxTable(["a", "b"], [0, 1], [0, 1], [[.5, .5, .1, .1], [.5, .5, .2, .2]])
        >>> t.take_images([1]).stems, t.take_images([1]).class_ids
        (['b'], array([1]))
        """
        order = np.asarray(order, dtype=np.int64).reshape(-1)
        starts, counts = self.starts(), self.counts()
        sel_counts = counts[order]
        total = int(sel_counts.sum())
        new_image = np.repeat(np.arange(len(order)), sel_counts)
        offsets = np.arange(total) - np.repeat(np.cumsum(sel_counts) - sel_counts, sel_counts)
        rows = np.repeat(starts[order], sel_counts) + offsets
        return BoxTable([self.stems[i] for i in order], new_image, self.class_ids[rows],
                        self.boxes[rows], None if self.scores is None else self.scores[rows])

    @classmethod
    def from_detections(cls, stems: Sequence[str], items: Sequence[Detections],
                        sizes: Sequence[tuple[float, float]]) -> BoxTable:
        """Build from per-image pixel Detections and ``(width, height)`` sizes.

        Scores are kept when every image has them.
        """
        if not (len(stems) == len(items) == len(sizes)):
            raise ValueError("stems, items and sizes must have the same length")
        counts = np.array([len(d) for d in items], dtype=np.int64)
        boxes = [xyxy_to_yolo(d.xyxy, w, h) for d, (w, h) in zip(items, sizes, strict=True)]
        keep_scores = all(d.scores is not None for d in items) and len(items) > 0
        return cls(
            list(stems),
            np.repeat(np.arange(len(items)), counts),
            np.concatenate([d.class_ids for d in items]) if items else np.zeros(0),
            np.concatenate(boxes) if boxes else np.zeros((0, 4)),
            np.concatenate([d.scores for d in items]) if keep_scores else None,
        )


#: The class-name list labelling tools (LabelImg, Darknet's converters) write beside the label
#: files: not a label file.
NAMES_FILE = "classes.txt"


def list_label_files(directory: str | Path) -> dict[str, str]:
    """Map stem -> path (a plain string, cheap for 100,000 files) of every ``*.txt`` in
    ``directory`` (not recursive) but :data:`NAMES_FILE`, sorted by stem.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "b.txt").write_text(""), (d / "a.txt").write_text("")
    >>> list(list_label_files(d))
    ['a', 'b']
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FormatError("label folder does not exist", directory)
    with os.scandir(directory) as entries:
        found = {e.name[:-4]: e.path for e in entries
                 if e.name.endswith(".txt") and e.name != NAMES_FILE and e.is_file()}
    return dict(sorted(found.items()))


def label_files_under(folder: str | Path) -> list[Path]:
    """Every ``*.txt`` under ``folder`` (recursive), sorted, but :data:`NAMES_FILE`.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); (d / "val").mkdir()
    >>> _ = (d / "val" / "a.txt").write_text(""), (d / "classes.txt").write_text("cat\\n")
    >>> [p.name for p in label_files_under(d)]
    ['a.txt']
    """
    return sorted(f for f in Path(folder).rglob("*.txt") if f.name != NAMES_FILE)


def read_label_dir(directory: str | Path, *, with_scores: bool = False,
                   quiet: bool = True) -> BoxTable:
    """Read every YOLO ``.txt`` file in ``directory`` into one :class:`BoxTable`.

    Parameters
    ----------
    directory : str or Path
        Folder of ``<stem>.txt`` files: ``class cx cy w h`` per line (plus ``conf`` when
        ``with_scores``).
    with_scores : bool
        Prediction files (6 columns) instead of ground truth (5 columns).
    quiet : bool
        Hide the progress bar.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); _ = (d / "x.txt").write_text("3 0.5 0.5 0.2 0.4\\n")
    >>> read_label_dir(d).class_ids
    array([3])
    """
    files = list_label_files(directory)
    return read_label_files(list(files), list(files.values()), with_scores=with_scores,
                            quiet=quiet)


def read_label_files(stems: Sequence[str], paths: Sequence[str | Path | None], *,
                     with_scores: bool = False, quiet: bool = True,
                     n_classes: int | None = None) -> BoxTable:
    """Read the given YOLO files (``None`` = image without a file, i.e. no boxes).

    Every number of every file is parsed in one NumPy call and checked vectorised with the
    rules of :func:`tecktrack.datasets.read_yolo_labels` (polygon rows are their boxes;
    values within :data:`~tecktrack.datasets.COORD_TOLERANCE` of [0, 1] are clipped); a file
    that breaks
    them is re-read by ``read_yolo_labels``, which names the line. Boxes are clipped to the
    image, as ``read_yolo_labels`` clips them; zero-size boxes and boxes clipped by more than
    rounding are kept and counted in one :class:`~tecktrack.datasets.yolo.LabelWarning`.
    With ``n_classes``, a class id outside ``[0, n_classes)`` is refused as a bad row.

    Raises
    ------
    FormatError
        Naming ``file:line`` of the first bad row.
    DatasetError
        A listed file does not exist.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "x.txt"; _ = p.write_text("3 0.5 0.5 0.2 0.4 0.9\\n")
    >>> read_label_files(["x", "y"], [p, None], with_scores=True).counts()
    array([1, 0])
    """
    ncols = 6 if with_scores else 5
    texts = [b"" if path is None else read_label_bytes(path)
             for path in progress(paths, total=len(paths), desc="reading labels", quiet=quiet,
                                  unit="file")]
    parsed = parse_label_texts(texts, ncols)
    if isinstance(parsed, int) and not with_scores:  # polygon rows? read as their boxes
        texts = [text if path is None else polygon_box_text(text, path, n_classes) or text
                 for text, path in zip(texts, paths, strict=True)]
        parsed = parse_label_texts(texts, ncols)
    if isinstance(parsed, int):
        _raise_from_file(paths[parsed], with_scores)
    values, counts = parsed
    image = np.repeat(np.arange(len(paths)), counts)
    bad = invalid_rows(values, n_classes)
    if bad.any():
        _raise_from_file(paths[int(image[np.argmax(bad)])], with_scores, n_classes=n_classes)
    clipped = np.clip(values[:, 1:], 0.0, 1.0)
    _warn_box_notes(clipped[:, :4], image, counts, paths)
    corners = np.clip(cxcywh_to_xyxy(clipped[:, :4]), 0.0, 1.0)   # as read_yolo_labels does
    return BoxTable(list(stems), image, values[:, 0].astype(np.int64), xyxy_to_cxcywh(corners),
                    clipped[:, 4].astype(np.float32) if with_scores else None)


def _warn_box_notes(boxes: np.ndarray, image: np.ndarray, counts: np.ndarray,
                    paths: Sequence[str | Path | None]) -> None:
    """One warning counting zero-size and clipped boxes, naming the first ``file:line`` of
    each kind (the line is the box's row: blank lines aside, as the per-file reader counts)."""
    zero, clipped = box_notes(boxes)
    if not (zero.any() or clipped.any()):
        return
    first_row = np.concatenate([[0], np.cumsum(counts)[:-1]])
    summary = {}
    for mask, message in ((zero, ZERO_SIZE), (clipped, CLIPPED)):
        if mask.any():
            i = int(np.argmax(mask))
            path = paths[image[i]]
            first = LabelProblem(Path(path), _line_of(path, i - first_row[image[i]]), message)
            summary[message] = (int(mask.sum()), first)
    warnings.warn(notes_sentence(summary), LabelWarning, stacklevel=3)


def _line_of(path: str | Path, row: int) -> int:
    """1-based line number of the ``row``-th non-blank line of a label file."""
    return label_line_numbers(read_label_bytes(path))[row]


def _raise_from_file(path: str | Path, with_scores: bool, n_classes: int | None = None) -> None:
    """Let the one-file reader raise the precise ``file:line`` error for ``path``."""
    read_yolo_labels(path, 1.0, 1.0, with_scores=with_scores, strict=True, n_classes=n_classes)
    raise FormatError("malformed label file", path)  # not reached: the reader refused it
