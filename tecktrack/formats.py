"""File formats at TeckTrack's boundary: YOLO labels, ``data.yaml``, COCO JSON, image headers.

The COCO readers and writers live in :mod:`tecktrack.coco` and are re-exported here.

Everything read here becomes a :class:`~tecktrack.detections.Detections` (pixel corners)
or a :class:`DataConfig`; everything malformed becomes a :class:`~tecktrack.errors.FormatError`
or :class:`~tecktrack.errors.DatasetError` naming the file, the line and what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tecktrack.coco import (
    CocoDataset,
    CocoImage,
    coco_results,
    coco_to_dict,
    read_coco,
    read_coco_results,
    write_coco,
    write_coco_results,
)
from tecktrack.detections import Detections, xyxy_to_yolo, yolo_to_xyxy
from tecktrack.errors import DatasetError, FormatError

__all__ = [
    "COORD_TOLERANCE",
    "IMAGE_SUFFIXES",
    "CocoDataset",
    "CocoImage",
    "DataConfig",
    "LabelProblem",
    "coco_results",
    "coco_to_dict",
    "read_coco",
    "read_coco_results",
    "write_coco",
    "write_coco_results",
    "image_size",
    "read_image",
    "label_path_for",
    "list_images",
    "read_data_yaml",
    "read_yolo_labels",
    "write_yolo_labels",
]

#: How far outside [0, 1] a normalised coordinate may stray before it is an error (then clipped).
COORD_TOLERANCE = 1e-3

#: Image file suffixes recognised in folders and list files (compared lower-case).
IMAGE_SUFFIXES = frozenset({".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp"})

_SPLITS = ("train", "val", "test")
_REQUIRED_SPLITS = ("train", "val")
_COLUMNS = ("class", "cx", "cy", "w", "h", "confidence")
# EXIF orientations that rotate by 90 degrees, so decoders swap width and height.
_EXIF_ORIENTATION_TAG = 0x0112
_SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})


# ---------------------------------------------------------------------------------------
# images
# ---------------------------------------------------------------------------------------
def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file to a BGR uint8 array (EXIF orientation applied, as OpenCV does).

    Raises
    ------
    FormatError
        Naming the file, if it cannot be decoded as an image.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "x.jpg"; _ = p.write_bytes(b"text")
    >>> try:
    ...     read_image(p)
    ... except FormatError as exc:
    ...     print(exc.message, exc.path.endswith("x.jpg"))
    not an image (cannot be decoded) True
    """
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FormatError("not an image (cannot be decoded)", path)
    return image


def image_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` of an image, read from its header without decoding the pixels.

    The size is the one a decoder that honours EXIF orientation (``cv2.imread``) returns,
    so width and height are swapped for images stored rotated by 90 degrees.

    Parameters
    ----------
    path : str or Path
        An image file.

    Returns
    -------
    tuple of int
        ``(width, height)`` in pixels.

    Raises
    ------
    DatasetError
        If the file is missing or is not an image PIL can identify.

    Examples
    --------
    >>> import tempfile, cv2
    >>> p = Path(tempfile.mkdtemp()) / "a.png"
    >>> _ = cv2.imwrite(str(p), np.zeros((20, 30, 3), np.uint8))
    >>> image_size(p)
    (30, 20)
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as img:
            width, height = img.size
            orientation = img.getexif().get(_EXIF_ORIENTATION_TAG)
    except FileNotFoundError:
        raise DatasetError("image file not found", path) from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DatasetError(f"not a readable image ({exc.__class__.__name__})", path) from None
    if orientation in _SWAPPING_ORIENTATIONS:
        width, height = height, width
    return int(width), int(height)


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


def list_images(folder: str | Path) -> list[Path]:
    """Image files under ``folder`` (recursively), sorted by path.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); (d / "b.JPG").touch(); (d / "a.txt").touch()
    >>> [p.name for p in list_images(d)]
    ['b.JPG']
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError("image folder not found", folder)
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES
                  and p.is_file())


# ---------------------------------------------------------------------------------------
# YOLO label files
# ---------------------------------------------------------------------------------------
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


def _split_rows(text: str) -> tuple[list[int], list[list[str]]]:
    """1-based line numbers and whitespace tokens of the non-blank lines."""
    numbers, rows = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if tokens:
            numbers.append(number)
            rows.append(tokens)
    return numbers, rows


def _to_float(tokens: list[str]) -> list[float] | None:
    try:
        return [float(t) for t in tokens]
    except ValueError:
        return None


def _parse_numbers(rows: list[list[str]], ncols: int) -> tuple[np.ndarray, dict[int, str]]:
    """Rows of exactly ``ncols`` numbers as a float64 array; other rows -> {row: message}.

    Rows that are not parsed stay NaN in the array (and are flagged invalid later).
    """
    if all(len(r) == ncols for r in rows):  # the common case: one conversion, no bookkeeping
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


def _row_problem(row: np.ndarray, n_classes: int | None, tol: float) -> str | None:
    """Why one parsed row is invalid, or None (called only for rows the vector check flagged)."""
    if not np.all(np.isfinite(row)):
        return "non-finite value (nan or inf)"
    cls = row[0]
    if cls != np.floor(cls):
        return f"class id {cls:g} is not an integer"
    if cls < 0 or cls >= (2.0**53 if n_classes is None else n_classes):
        limit = "2**53" if n_classes is None else str(n_classes)
        return f"class id {cls:g} out of range [0, {limit})"
    for name, value in zip(("w", "h"), row[3:5], strict=True):
        if value < -tol:
            return f"negative size {name}={value:g}"
    for name, value in zip(_COLUMNS[1:], row[1:], strict=False):
        if value < -tol or value > 1 + tol:
            return f"{name}={value:g} outside [0, 1]"
    return None


def _invalid_mask(values: np.ndarray, n_classes: int | None, tol: float) -> np.ndarray:
    """Vectorised check of parsed rows; True where a row breaks any rule (NaN/inf included,
    since every comparison with NaN is False)."""
    ncols = values.shape[1]
    top_class = (n_classes - 1) if n_classes is not None else 2.0**53 - 1
    low = np.full(ncols, -tol)
    high = np.full(ncols, 1 + tol)
    low[0], high[0] = 0, top_class
    cls = values[:, 0]
    return ~(((values >= low) & (values <= high)).all(axis=1) & (cls == np.floor(cls)))


def _decode(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError("label file not found", path) from None
    except IsADirectoryError:
        raise DatasetError("expected a label file, found a folder", path) from None
    return data.decode("utf-8", errors="replace")


def read_yolo_labels(path: str | Path, width: float, height: float, *,
                     n_classes: int | None = None, with_scores: bool = False,
                     strict: bool = True,
                     problems: list[LabelProblem] | None = None) -> Detections:
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
    path = Path(path)
    ncols = 6 if with_scores else 5
    numbers, rows = _split_rows(_decode(path))
    if not rows:
        return Detections.empty(with_scores=with_scores)
    values, bad = _parse_numbers(rows, ncols)
    invalid = _invalid_mask(values, n_classes, COORD_TOLERANCE)
    for i in np.flatnonzero(invalid) if invalid.any() else ():
        if int(i) not in bad:
            bad[int(i)] = _row_problem(values[i], n_classes, COORD_TOLERANCE)
    if bad:
        first = min(bad)
        if strict:
            raise FormatError(bad[first], path, numbers[first])
        if problems is not None:
            problems.extend(LabelProblem(path, numbers[i], bad[i]) for i in sorted(bad))
        keep = np.ones(len(rows), dtype=bool)
        keep[list(bad)] = False
        values = values[keep]
    values = values.reshape(-1, ncols)
    clipped = np.clip(values[:, 1:], 0.0, 1.0)
    xyxy = yolo_to_xyxy(clipped[:, :4], width, height)
    np.clip(xyxy, 0.0, np.array([width, height, width, height], dtype=np.float32), out=xyxy)
    return Detections(xyxy, values[:, 0].astype(np.int64),
                      clipped[:, 4] if with_scores else None)


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


# ---------------------------------------------------------------------------------------
# data.yaml
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DataConfig:
    """An ultralytics-style ``data.yaml``, resolved.

    Attributes
    ----------
    path : Path
        The yaml file itself.
    root : Path
        Dataset root: the yaml's ``path:`` resolved against the yaml's folder.
    names : list of str
        Class names, index = class id.
    splits : dict of str to list of Path
        Image files per split (``train``, ``val`` and, when given, ``test``).
    """

    path: Path
    root: Path
    names: list[str]
    splits: dict[str, list[Path]] = field(default_factory=dict)

    @property
    def nc(self) -> int:
        """Number of classes."""
        return len(self.names)


def _yaml_load(path: Path) -> dict:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError("data.yaml not found", path) from None
    except (UnicodeDecodeError, IsADirectoryError) as exc:
        raise FormatError(f"not a readable YAML text file ({exc.__class__.__name__})",
                          path) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = None if mark is None else mark.line + 1
        raise FormatError(f"invalid YAML: {getattr(exc, 'problem', exc)}", path, line) from None
    if not isinstance(data, dict):
        raise FormatError("expected a mapping with path/train/val/names", path)
    return data


def _parse_names(data: dict, path: Path) -> list[str]:
    names = data.get("names")
    if isinstance(names, dict):
        keys = sorted(names)
        if not all(isinstance(k, int) for k in keys) or keys != list(range(len(keys))):
            raise FormatError(f"names: dict keys must be the ids 0..{len(keys) - 1}", path)
        names = [names[k] for k in keys]
    if not isinstance(names, list) or not names:
        raise FormatError("names: expected a non-empty list or {id: name} mapping", path)
    if "nc" in data and data["nc"] != len(names):
        raise FormatError(f"nc: {data['nc']} but names lists {len(names)} classes", path)
    return [str(n) for n in names]


def _read_list_file(list_file: Path) -> list[Path]:
    images = []
    base = list_file.parent
    for number, line in enumerate(list_file.read_text(encoding="utf-8").splitlines(), start=1):
        entry = line.strip()
        if not entry:
            continue
        image = Path(entry) if Path(entry).is_absolute() else base / entry
        if not image.is_file():
            raise DatasetError(f"listed image not found: {entry}", list_file, number)
        images.append(image)
    return images


def _split_images(entries: object, key: str, root: Path, yaml_path: Path) -> list[Path]:
    if isinstance(entries, (str, Path)):
        entries = [entries]
    if not isinstance(entries, list) or not all(isinstance(e, (str, Path)) for e in entries):
        raise FormatError(f"{key}: expected a folder, a list of folders or a .txt file", yaml_path)
    images: list[Path] = []
    for entry in entries:
        location = Path(entry) if Path(entry).is_absolute() else root / entry
        if location.is_dir():
            images.extend(list_images(location))
        elif location.is_file() and location.suffix.lower() == ".txt":
            images.extend(_read_list_file(location))
        elif location.is_file() and location.suffix.lower() in IMAGE_SUFFIXES:
            images.append(location)
        else:
            raise DatasetError(f"{key}: {entry!s} not found (looked for {location})", yaml_path)
    return images


def read_data_yaml(path: str | Path) -> DataConfig:
    """Read an ultralytics-style ``data.yaml`` and list the image files of every split.

    ``path:`` (default: the yaml's folder) is resolved relative to the yaml file.
    ``train`` and ``val`` are required, ``test`` optional; each may be a folder of images
    (searched recursively), a list of folders, an image file, or a ``.txt`` list of image
    paths (relative ones resolved against the list file's folder).

    Raises
    ------
    DatasetError
        The yaml, a split folder or a listed image is missing.
    FormatError
        Invalid YAML, missing ``names``/``train``/``val``, or names that are neither a list
        nor a ``{0: ..., 1: ...}`` mapping.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); (d / "images").mkdir(); (d / "images" / "a.jpg").touch()
    >>> _ = (d / "data.yaml").write_text("path: .\\ntrain: images\\nval: images\\nnames: [cat]\\n")
    >>> cfg = read_data_yaml(d / "data.yaml")
    >>> cfg.names, [p.name for p in cfg.splits["val"]]
    (['cat'], ['a.jpg'])
    """
    path = Path(path).resolve()
    data = _yaml_load(path)
    names = _parse_names(data, path)
    root_entry = data.get("path") or "."
    root = Path(str(root_entry))
    root = (root if root.is_absolute() else path.parent / root).resolve()
    if not root.is_dir():
        raise DatasetError(f"path: dataset root {root} not found", path)
    splits: dict[str, list[Path]] = {}
    for key in _SPLITS:
        entries = data.get(key)
        if entries in (None, "", []):
            if key in _REQUIRED_SPLITS:
                raise FormatError(f"{key}: missing (train and val are required)", path)
            continue
        splits[key] = _split_images(entries, key, root, path)
    return DataConfig(path=path, root=root, names=names, splits=splits)
