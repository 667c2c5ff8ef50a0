"""YOLO label and prediction files (``class cx cy w h [conf]``), and the one row validator.

Every reader of label rows (this module's :func:`read_yolo_labels` and the columnar
:mod:`tecktrack.datasets.box_table`) parses them with
:func:`~tecktrack.datasets.label_text.parse_label_texts`, checks them with :func:`invalid_rows`
(or :func:`rows_valid`, its whole-table form) and explains them with :func:`row_problem`, so
they accept and refuse the same lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tecktrack.datasets.label_text import label_line_numbers, parse_label_texts, read_label_bytes
from tecktrack.detections import Detections, cxcywh_to_xyxy, xyxy_to_yolo
from tecktrack.errors import FormatError

__all__ = ["CLIPPED", "COORD_TOLERANCE", "ULTRALYTICS_TOLERANCE", "ZERO_SIZE", "LabelProblem",
           "LabelWarning", "box_notes", "count_notes", "has_polygon_rows", "invalid_rows",
           "label_path_for", "polygon_box", "polygon_box_text", "read_yolo_labels", "row_problem",
           "rows_valid", "write_yolo_labels"]

#: How far outside [0, 1] a normalised coordinate may stray before it is an error (then clipped).
COORD_TOLERANCE = 1e-3
#: Ultralytics' own reading (``verify_image_label``): values up to 1.01 and down to -0.01,
#: sizes not below 0, and the boxes kept as written (not clipped).
ULTRALYTICS_TOLERANCE = 0.01

_COLUMNS = ("class", "cx", "cy", "w", "h", "confidence")


def label_path_for(image_path: str | Path) -> Path:
    """The YOLO label file of an image: last ``images`` folder -> ``labels``, suffix ``.txt``.

    An image with no ``images`` component in its path gets a label file beside it.

    Examples
    --------
    >>> label_path_for("data/images/train/a.jpg").as_posix()
    'data/labels/train/a.txt'
    >>> label_path_for("images/x/images/b.png").as_posix()
    'images/x/labels/b.txt'
    """
    path = Path(image_path)
    parts = list(path.parts)
    folders = parts[:-1]
    if "images" in folders:
        index = len(folders) - 1 - folders[::-1].index("images")
        parts[index] = "labels"
    return Path(*parts).with_suffix(".txt")



@dataclass(frozen=True)
class LabelProblem:
    """One bad line in a label file, collected by ``read_yolo_labels(..., strict=False)``.

    Examples
    --------
    >>> str(LabelProblem(Path("a.txt"), 3, "expected 5 columns, got 4"))
    'a.txt:3: expected 5 columns, got 4'
    """

    path: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = str(self.path) if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


def _split_rows(data: bytes) -> tuple[list[int], list[list[str]]]:
    """1-based line numbers and whitespace tokens of the non-blank lines.

    Lines end at ``\\n``, ``\\r\\n`` or ``\\r`` and tokens are separated by ASCII whitespace
    only, as :mod:`tecktrack.datasets.label_text` splits them: a Unicode line or space
    separator (U+2028, NBSP) stays inside a token, which is then not a number. Bytes that are
    not UTF-8 become U+FFFD.

    Examples
    --------
    >>> _split_rows("0 0.5\\u00a0 1\\u20281\\r\\n\\n2 3\\n".encode())
    ([1, 3], [['0', '0.5\\xa0', '1\\u20281'], ['2', '3']])
    """
    numbers, rows = [], []
    for number, line in enumerate(data.splitlines(), start=1):
        tokens = line.split()
        if tokens:
            numbers.append(number)
            rows.append([t.decode("utf-8", errors="replace") for t in tokens])
    return numbers, rows


def _to_float(tokens: list[str]) -> list[float] | None:
    """The one number rule of label files: ASCII decimal numbers only (``float`` alone would
    also take ``'٠.5'`` or full-width digits, which the columnar reader refuses)."""
    if not all(t.isascii() for t in tokens):
        return None
    try:
        return [float(t) for t in tokens]
    except ValueError:
        return None


def _parse_numbers(rows: list[list[str]], ncols: int) -> tuple[np.ndarray, dict[int, str]]:
    """Rows of exactly ``ncols`` numbers as a float64 array; other rows -> {row: message}.

    Rows that are not parsed stay NaN in the array (and are flagged invalid later).
    """
    ascii_only = all(t.isascii() for r in rows for t in r)
    if ascii_only and all(len(r) == ncols for r in rows):  # the common case: one conversion
        try:
            return np.array(rows, dtype=np.float64).reshape(-1, ncols), {}
        except ValueError:
            pass
    bad: dict[int, str] = {}
    values = np.full((len(rows), ncols), np.nan)
    for i, tokens in enumerate(rows):  # only reached for broken files: locate each problem
        if len(tokens) != ncols:
            bad[i] = f"expected {ncols} columns ({' '.join(_COLUMNS[:ncols])}), got {len(tokens)}"
            continue
        parsed = _to_float(tokens)
        if parsed is None:
            bad[i] = f"non-number in {' '.join(tokens)!r}"
        else:
            values[i] = parsed
    return values, bad


#: The message of a box row in a file of polygon rows (Ultralytics refuses such a file).
_MIXED = "a box row (class cx cy w h) among polygon rows"


def has_polygon_rows(rows: list[list[str]]) -> bool:
    """Whether a label file's rows are polygons (``class x1 y1 x2 y2 ...``): any row longer
    than six values, Ultralytics' rule (its segment labels, read as their boxes).

    Examples
    --------
    >>> has_polygon_rows([["0", "0.5", "0.5", "0.1", "0.1"]])
    False
    >>> has_polygon_rows([["0", "0.1", "0.1", "0.2", "0.1", "0.2", "0.2"]])
    True
    """
    return any(len(r) > 6 for r in rows)


def polygon_box(coords: Sequence[float]) -> list[float]:
    """``[cx, cy, w, h]`` of the box of a polygon's points ``x1 y1 x2 y2 ...``: their least and
    greatest x and y, as Ultralytics' ``segments2boxes`` (how every reader takes a polygon row).

    Raises
    ------
    ValueError
        An odd count of coordinates.

    Examples
    --------
    >>> polygon_box([0.25, 0.25, 0.75, 0.25, 0.5, 0.75])
    [0.5, 0.5, 0.5, 0.5]
    """
    points = np.asarray(coords, np.float64).reshape(-1, 2)
    low, high = points.min(axis=0), points.max(axis=0)
    return [*((low + high) / 2).tolist(), *(high - low).tolist()]


def _parse_polygons(rows: list[list[str]]) -> tuple[np.ndarray, dict[int, str]]:
    """Polygon rows as ``class cx cy w h`` rows of their bounding boxes (the points' least and
    greatest x and y, as Ultralytics' ``segments2boxes``); bad rows -> {row: message}."""
    bad: dict[int, str] = {}
    values = np.full((len(rows), 5), np.nan)
    for i, tokens in enumerate(rows):
        if len(tokens) == 5:
            bad[i] = _MIXED
            continue
        if len(tokens) < 7 or len(tokens) % 2 == 0:
            bad[i] = (f"a polygon row is a class and three or more x y points, got "
                      f"{len(tokens)} values")
            continue
        parsed = _to_float(tokens)
        if parsed is None:
            bad[i] = f"non-number in {' '.join(tokens)!r}"
            continue
        values[i] = [parsed[0], *polygon_box(parsed[1:])]
    return values, bad


def polygon_box_text(data: bytes, path: str | Path, n_classes: int | None = None
                     ) -> bytes | None:
    """A label file of polygon rows rewritten as the ``class cx cy w h`` rows of their boxes
    (one row per row, numbers written to round-trip), for the columnar reader; ``None`` when
    the file has no polygon rows.

    Raises
    ------
    FormatError
        At the first row that is not a valid polygon, naming ``file:line``.

    Examples
    --------
    >>> polygon_box_text(b"2 0.25 0.25 0.75 0.25 0.5 0.75\\n", "a.txt")
    b'2.0 0.5 0.5 0.5 0.5\\n'
    >>> polygon_box_text(b"2 0.5 0.5 0.1 0.1\\n", "a.txt") is None
    True
    """
    if not has_polygon_rows(_split_rows(data)[1]):
        return None
    values, _ = _read_lines(data, Path(path), 5, n_classes, True, None)
    return "".join(" ".join(repr(v) for v in row) + "\n" for row in values.tolist()).encode()


def row_problem(row: np.ndarray, n_classes: int | None = None,
                tol: float = COORD_TOLERANCE, min_size: float | None = None) -> str | None:
    """Why one parsed label row is invalid, or None: the message of :func:`invalid_rows`.

    Examples
    --------
    >>> row_problem(np.array([3.0, 0.5, 0.5, 0.1, 0.1]), n_classes=2)
    'class id 3 out of range [0, 2)'
    >>> row_problem(np.array([0.0, 0.5, 0.5, 0.1, 0.1])) is None
    True
    """
    if not np.all(np.isfinite(row)):
        return "non-finite value (nan or inf)"
    cls = row[0]
    if cls != np.floor(cls):
        return f"class id {cls:g} is not an integer"
    if cls < 0 or cls >= (2.0**53 if n_classes is None else n_classes):
        limit = "2**53" if n_classes is None else str(n_classes)
        return f"class id {cls:g} out of range [0, {limit})"
    for name, value in zip(("w", "h"), row[3:5], strict=True):
        if value < (-tol if min_size is None else min_size):
            return f"negative size {name}={value:g}"
    for name, value in zip(_COLUMNS[1:], row[1:], strict=False):
        if value < -tol or value > 1 + tol:
            return f"{name}={value:g} outside [0, 1]"
    return None


def invalid_rows(values: np.ndarray, n_classes: int | None = None,
                 tol: float = COORD_TOLERANCE, min_size: float | None = None) -> np.ndarray:
    """The one label-row rule, vectorised: True where a parsed row breaks it.

    A row is ``class cx cy w h [conf]``: a finite integer class id in ``[0, n_classes)``
    (``>= 0`` without ``n_classes``) and every other value in ``[0, 1]`` give or take ``tol``
    (``w`` and ``h`` not below ``min_size`` when given: 0 in Ultralytics' reading).
    NaN and inf break it, since every comparison with NaN is False. Every reader of label rows
    uses this check, and :func:`row_problem` to explain a row it flags.

    Examples
    --------
    >>> invalid_rows(np.array([[0, 0.5, 0.5, 0.2, 0.2], [1.5, 0.5, 0.5, 0.2, 0.2],
    ...                        [0, 0.5, 0.5, 1.2, 0.2], [0, np.nan, 0.5, 0.2, 0.2]]))
    array([False,  True,  True,  True])
    """
    top_class = (n_classes - 1) if n_classes is not None else 2.0**53 - 1
    cls, rest = values[:, 0], values[:, 1:]
    ok = (cls >= 0) & (cls <= top_class) & (cls == np.floor(cls))
    ok &= ((rest >= -tol) & (rest <= 1 + tol)).all(axis=1)
    if min_size is not None:
        ok &= (values[:, 3:5] >= min_size).all(axis=1)
    return ~ok


def rows_valid(values: np.ndarray, n_classes: int | None = None,
               tol: float = COORD_TOLERANCE, min_size: float | None = None) -> bool:
    """``not invalid_rows(values, n_classes, tol).any()``, in a few whole-table reductions:
    the check of a good file (the common case) builds no per-row masks.

    Examples
    --------
    >>> rows_valid(np.array([[0, 0.5, 0.5, 0.2, 0.2], [2, 0.5, 0.5, 0.2, 1.0005]]), 3)
    True
    >>> rows_valid(np.array([[0, 0.5, 0.5, 0.2, 0.2], [2, 0.5, np.nan, 0.2, 0.2]]))
    False
    """
    if not len(values):
        return True
    top_class = (n_classes - 1) if n_classes is not None else 2.0**53 - 1
    low, high = values.min(axis=0).tolist(), values.max(axis=0).tolist()
    # a NaN makes its column's min and max NaN, and every comparison with NaN is False
    if not (low[0] >= 0 and high[0] <= top_class and all(v >= -tol for v in low[1:])
            and all(v <= 1 + tol for v in high[1:])):
        return False
    if min_size is not None and not (low[3] >= min_size and low[4] >= min_size):
        return False
    cls = values[:, 0]
    return not (cls - np.floor(cls)).any()


#: What :func:`box_notes` says about a box that loads but is not what its line says.
ZERO_SIZE = "box of zero width or height (it can never be matched)"
CLIPPED = "box reaches outside the image by more than rounding; clipped to the image"


def box_notes(boxes: np.ndarray, tol: float = COORD_TOLERANCE) -> tuple[np.ndarray, np.ndarray]:
    """Boxes that load but change: ``(zero_size, clipped)`` masks over normalised rows.

    ``boxes`` are YOLO ``cx, cy, w, h`` after the per-value clip to [0, 1]. A box is
    *clipped* when a corner lies outside the image by more than ``tol`` (the readers then cut
    it to the image, so it is smaller than its line says); *zero-size* when, inside the image,
    it has no width or height. A zero-size box is not also counted as clipped.

    Examples
    --------
    >>> zero, clipped = box_notes(np.array([[0.5, 0.5, 0.0, 0.2], [0.95, 0.5, 0.2, 0.2],
    ...                                     [0.5, 0.5, 0.2, 0.2], [1.0, 0.5, 0.0, 0.1]]))
    >>> zero.tolist(), clipped.tolist()
    ([True, False, False, True], [False, True, False, False])
    """
    corners = cxcywh_to_xyxy(np.asarray(boxes, np.float64).reshape(-1, 4))
    outside = ((corners < -tol) | (corners > 1 + tol)).any(axis=1)
    inside = np.clip(corners, 0.0, 1.0)
    zero = (inside[:, 2] <= inside[:, 0]) | (inside[:, 3] <= inside[:, 1])
    return zero, outside & ~zero


class LabelWarning(UserWarning):
    """Label boxes that load but are not what their lines say (zero-size, clipped), with a
    count and the first ``file:line``."""


def count_notes(notes: list[LabelProblem]) -> str | None:
    """One sentence counting noted boxes by kind, naming the first of each; None if none.

    Examples
    --------
    >>> count_notes([LabelProblem(Path("a.txt"), 2, ZERO_SIZE), LabelProblem(Path("b.txt"), 1,
    ...                                                                       ZERO_SIZE)])
    '2 label boxes of zero width or height (they can never be matched), first a.txt:2'
    >>> count_notes([]) is None
    True
    """
    summary: dict[str, tuple[int, LabelProblem]] = {}
    for note in notes:
        count, first = summary.get(note.message, (0, note))
        summary[note.message] = (count + 1, first)
    return notes_sentence(summary)


_NOTE_WORDS = {ZERO_SIZE: "of zero width or height (they can never be matched)",
               CLIPPED: "reach outside the image by more than rounding (clipped to it)"}


def notes_sentence(summary: dict[str, tuple[int, LabelProblem]]) -> str | None:
    """The sentence of :func:`count_notes` from ``{message: (count, first note)}``."""
    parts = []
    for message, words in _NOTE_WORDS.items():
        count, first = summary.get(message, (0, None))
        if count:
            where = first.path if first.line is None else f"{first.path}:{first.line}"
            parts.append(f"{count} label boxes {words}, first {where}")
    return "; ".join(parts) or None


def read_yolo_labels(path: str | Path, width: float, height: float, *,
                     n_classes: int | None = None, with_scores: bool = False,
                     strict: bool = True,
                     problems: list[LabelProblem] | None = None,
                     notes: list[LabelProblem] | None = None,
                     exact: list[np.ndarray] | None = None,
                     ultralytics: bool = False) -> Detections:
    """Read one YOLO label file (``class cx cy w h``) or prediction file (``... conf``).

    Parameters
    ----------
    path : str or Path
        The ``.txt`` file. An empty (or all-blank) file means an image with no objects.
    width, height : float
        Image size in pixels, to turn normalised boxes into pixel corners.
    n_classes : int, optional
        Class ids must lie in ``[0, n_classes)``; without it only ``>= 0`` is checked.
    with_scores : bool
        Read 6-column prediction files; the result then has ``scores``.
    strict : bool
        Raise :class:`FormatError` at the first bad line (True) or skip bad lines and
        append a :class:`LabelProblem` for each to ``problems`` (False).
    problems : list of LabelProblem, optional
        Where ``strict=False`` collects what it skipped.
    notes : list of LabelProblem, optional
        Where boxes that load but change are noted, one per line (see :func:`box_notes`):
        zero width or height, or clipped to the image by more than rounding.
    exact : list of ndarray, optional
        Where one float64 array is appended: the returned boxes as COCO ``x, y, w, h`` in
        pixels before the float32 cast (plus the score column with ``with_scores``), for
        metrics that keep float64 (see :class:`tecktrack.metrics.ExactBoxes`).
    ultralytics : bool
        Read as Ultralytics reads labels (``yolo val``): values within
        :data:`ULTRALYTICS_TOLERANCE` of [0, 1], sizes not below 0, boxes kept as written
        (neither the values nor the corners clipped; no notes).

    Returns
    -------
    Detections
        Pixel-corner boxes, clipped to the image (a box may be written with a centre near an
        edge and a size that overhangs it); ``scores`` is None unless ``with_scores``.

    Raises
    ------
    FormatError
        (strict) wrong column count, non-numbers, non-finite values, a class id that is not
        an integer or out of range, a coordinate or confidence outside [0, 1] by more than
        :data:`COORD_TOLERANCE` (values within it are clipped), a negative width or height.
    DatasetError
        The file does not exist.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "a.txt"
    >>> _ = p.write_text("1 0.5 0.5 0.5 0.5\\n")
    >>> read_yolo_labels(p, 100, 50).xyxy
    array([[25. , 12.5, 75. , 37.5]], dtype=float32)
    >>> _ = p.write_text("1 0.5 0.5 0.5\\n3 0.5 0.5 0.2 0.2\\n")
    >>> found = []
    >>> d = read_yolo_labels(p, 100, 50, n_classes=2, strict=False, problems=found)
    >>> len(d), [str(f.line) + ": " + f.message for f in found]
    (0, ['1: expected 5 columns (class cx cy w h), got 4', '2: class id 3 out of range [0, 2)'])
    """
    if not (width > 0 and height > 0):
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if n_classes is not None and n_classes < 0:
        raise ValueError(f"n_classes must be >= 0, got {n_classes}")
    ncols = 6 if with_scores else 5
    data = read_label_bytes(path)
    parsed = parse_label_texts([data], ncols)
    values = None if isinstance(parsed, int) else parsed[0]
    numbers = None  # line numbers of the rows, found when a message needs them
    rule = (ULTRALYTICS_TOLERANCE, 0.0) if ultralytics else (COORD_TOLERANCE, None)
    if values is None or not rows_valid(values, n_classes, *rule):
        values, numbers = _read_lines(data, Path(path), ncols, n_classes, strict, problems,
                                      rule)
    clipped = values[:, 1:] if ultralytics else values[:, 1:].clip(0.0, 1.0)
    if notes is not None and not ultralytics:
        for mask, message in zip(box_notes(clipped[:, :4]), (ZERO_SIZE, CLIPPED), strict=True):
            if mask.any():
                numbers = label_line_numbers(data) if numbers is None else numbers
                notes.extend(LabelProblem(Path(path), numbers[i], message)
                             for i in np.flatnonzero(mask))
    size = np.array([width, height, width, height], dtype=np.float64)
    xyxy = cxcywh_to_xyxy(clipped[:, :4] * size)
    if not ultralytics:
        xyxy = xyxy.clip(0.0, size)
    if exact is not None:
        xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
        exact.append(np.concatenate([xywh, clipped[:, 4:]], axis=1))
    return Detections(xyxy.astype(np.float32), values[:, 0].astype(np.int64),
                      clipped[:, 4] if with_scores else None)


def _read_lines(data: bytes, path: Path, ncols: int, n_classes: int | None, strict: bool,
                problems: list[LabelProblem] | None,
                rule: tuple[float, float | None] = (COORD_TOLERANCE, None)
                ) -> tuple[np.ndarray, list[int]]:
    """The line-by-line reading of a file the fast parse refused: raise at the first bad line
    (``strict``) or drop bad lines into ``problems``; the good rows and their line numbers."""
    numbers, rows = _split_rows(data)
    polygons = ncols == 5 and has_polygon_rows(rows)
    values, bad = _parse_polygons(rows) if polygons else _parse_numbers(rows, ncols)
    invalid = invalid_rows(values, n_classes, *rule)
    for i in np.flatnonzero(invalid) if invalid.any() else ():
        if int(i) not in bad:
            bad[int(i)] = row_problem(values[i], n_classes, *rule)
    if bad:
        first = min(bad)
        if strict:
            raise FormatError(bad[first], path, numbers[first])
        if problems is not None:
            problems.extend(LabelProblem(path, numbers[i], bad[i]) for i in sorted(bad))
        keep = np.ones(len(rows), dtype=bool)
        keep[list(bad)] = False
        values = values[keep]
        numbers = [n for n, k in zip(numbers, keep, strict=True) if k]
    return values.reshape(-1, ncols), numbers


def write_yolo_labels(path: str | Path, detections: Detections, width: float,
                      height: float) -> None:
    """Write detections as a YOLO label file (5 columns) or prediction file (6 with scores).

    Boxes are clipped to the image first so the file always reads back with
    :func:`read_yolo_labels`; numbers use fixed 6-decimal precision. Parent folders are
    created; no detections writes an empty file.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "labels" / "a.txt"
    >>> write_yolo_labels(p, Detections([[25, 12.5, 75, 37.5]], [1], [0.9]), 100, 50)
    >>> p.read_text()
    '1 0.500000 0.500000 0.500000 0.500000 0.900000\\n'
    """
    if not (width > 0 and height > 0):
        raise ValueError(f"image size must be positive, got {width}x{height}")
    path = Path(path)
    xyxy = detections.xyxy.astype(np.float64)
    xyxy = np.clip(xyxy, 0.0, np.array([width, height, width, height], dtype=np.float64))
    xyxy[:, 2:] = np.maximum(xyxy[:, 2:], xyxy[:, :2])
    columns = [detections.class_ids.astype(np.float64)[:, None],
               xyxy_to_yolo(xyxy, width, height) + 0.0]
    fmt = "%d %.6f %.6f %.6f %.6f"
    if detections.scores is not None:
        columns.append(np.clip(detections.scores.astype(np.float64), 0.0, 1.0)[:, None])
        fmt += " %.6f"
    table = np.concatenate(columns, axis=1)
    text = ((fmt + "\n") * len(table)) % tuple(table.ravel().tolist())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


