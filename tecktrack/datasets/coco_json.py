"""COCO JSON files to records and columns, fast, with the standard library as the reference.

A COCO file (UTF-8) is decoded by msgspec, typed: ``images``, ``annotations`` and
``categories`` (or a results list) become lists of small records holding only the fields
TeckTrack reads, each as the JSON value ``json.loads`` would give (``UNSET`` where a record
lacks it); the rest of the file (segmentations, ``info``) is checked as JSON and skipped. A
file the typed decode refuses (a record that is not an object, a missing list) is decoded
generically by msgspec into the same values as ``json.loads``; one msgspec refuses altogether
(NaN, lone surrogates, a byte order mark, broken JSON) or that is not UTF-8 is left to
``json``, which decides as it always has: its values, or its error with the line. Either way
:func:`column` returns the same lists, and the readers of :mod:`tecktrack.datasets.coco`
validate them the same way.
"""

from __future__ import annotations

from operator import attrgetter, itemgetter, methodcaller
from pathlib import Path
from typing import Any

import msgspec

from tecktrack.errors import DatasetError, FormatError

__all__ = ["column", "has_field", "load_ground_truth", "load_results", "records"]

UNSET = msgspec.UNSET


class _Image(msgspec.Struct, gc=False):
    id: Any = UNSET
    file_name: Any = UNSET
    width: Any = UNSET
    height: Any = UNSET


class _Annotation(msgspec.Struct, gc=False):
    id: Any = UNSET
    image_id: Any = UNSET
    category_id: Any = UNSET
    bbox: Any = UNSET
    area: Any = UNSET
    iscrowd: Any = UNSET


class _Category(msgspec.Struct, gc=False):
    id: Any = UNSET
    name: Any = UNSET


class _GroundTruth(msgspec.Struct, gc=False):
    images: list[_Image]
    annotations: list[_Annotation]
    categories: list[_Category]


class _Result(msgspec.Struct, gc=False):
    image_id: Any = UNSET
    category_id: Any = UNSET
    bbox: Any = UNSET
    score: Any = UNSET


_GROUND_TRUTH = msgspec.json.Decoder(_GroundTruth)
_RESULTS = msgspec.json.Decoder(list[_Result])


def load_ground_truth(path: Path) -> object:
    """A ground-truth file's value: typed records (see the module), or the generic JSON value
    for :func:`records` to judge.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "gt.json"
    >>> _ = p.write_text('{"images": [], "annotations": [], "categories": [{"id": 1}]}')
    >>> column(records(load_ground_truth(p), "categories", p), "id", "categories", p)
    [1]
    """
    return _load(path, _GROUND_TRUTH)


def load_results(path: Path) -> object:
    """A results file's value (``[{"image_id", "category_id", "bbox", "score"}]``), as
    :func:`load_ground_truth` reads it."""
    return _load(path, _RESULTS)


def _load(path: Path, typed: msgspec.json.Decoder) -> object:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError("JSON file not found", path) from None
    if not _is_utf8(data):  # the typed decode does not check the strings it skips
        return _load_with_json(data, path)
    try:
        return typed.decode(data)
    except msgspec.DecodeError:  # JSON of another shape, or what msgspec refuses
        pass
    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError:
        return _load_with_json(data, path)


def _is_utf8(data: bytes) -> bool:
    if data.isascii():
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _load_with_json(data: bytes, path: Path) -> object:
    import io
    import json

    try:  # as Path.read_text reads it: universal newlines, so error lines count \r too
        text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8").read()
    except UnicodeDecodeError:
        raise FormatError("not UTF-8 JSON text", path) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"invalid JSON: {exc.msg} (column {exc.colno})", path,
                          exc.lineno) from None


def records(data: object, key: str, path: Path) -> list:
    """The list ``data[key]`` (``data`` itself when it is not an object, as a results file).

    Raises
    ------
    FormatError
        It is not a list.
    """
    if isinstance(data, msgspec.Struct):
        return getattr(data, key)
    found = data.get(key) if isinstance(data, dict) else data
    if not isinstance(found, list):
        raise FormatError(f"{key}: expected a list", path)
    return found


def column(rows: list, field_name: str, key: str, path: Path, default: object = ...) -> list:
    """One field of every record; a missing field (without ``default``) names the record.

    Examples
    --------
    >>> column([{"id": 3}, {"id": 4}], "id", "images", Path("gt.json"))
    [3, 4]
    >>> column([{"id": 3}, {}], "id", "images", Path("gt.json"))
    Traceback (most recent call last):
    ...
    tecktrack.errors.FormatError: gt.json: images[1]: missing field 'id'
    """
    if rows and isinstance(rows[0], msgspec.Struct):
        return _struct_column(rows, field_name, key, path, default)
    try:
        if default is ...:
            return list(map(itemgetter(field_name), rows))
        return list(map(methodcaller("get", field_name, default), rows))
    except (KeyError, TypeError, AttributeError):
        index = next(i for i, r in enumerate(rows)
                     if not isinstance(r, dict) or (default is ... and field_name not in r))
        what = "not an object" if not isinstance(rows[index], dict) else \
            f"missing field {field_name!r}"
        raise FormatError(f"{key}[{index}]: {what}", path) from None


def _struct_column(rows: list, field_name: str, key: str, path: Path,
                   default: object) -> list:
    values = list(map(attrgetter(field_name), rows))
    if UNSET in values:
        if default is ...:
            raise FormatError(f"{key}[{values.index(UNSET)}]: missing field {field_name!r}",
                              path)
        values = [default if v is UNSET else v for v in values]
    return values


def has_field(rows: list, field_name: str) -> bool:
    """Whether any record has ``field_name``.

    Examples
    --------
    >>> has_field([{"a": 1}, {"id": 2}], "id"), has_field([{"a": 1}], "id")
    (True, False)
    """
    if rows and isinstance(rows[0], msgspec.Struct):
        return any(getattr(r, field_name) is not UNSET for r in rows)
    return any(isinstance(r, dict) and field_name in r for r in rows)
