"""YOLO label text to a float64 row table, fast: the parse both label readers share.

A label file is read as bytes. Its lines end at ``\\n``, ``\\r\\n`` or ``\\r`` and its tokens
are separated by ASCII whitespace (``bytes.splitlines`` and ``bytes.split``); every non-blank
line must hold exactly ``ncols`` tokens and every token must be a number by Python's
``float`` (ASCII only). :func:`parse_label_texts` checks that for many files at once and parses
all their numbers in one call; it returns the index of the first file that breaks the rule
instead, and the callers let the line-by-line reader of :mod:`tecktrack.datasets.yolo` name
the ``file:line``.

Numbers are parsed as one JSON array by ``msgspec`` when every token is made of the
characters of a decimal number (JSON's number grammar is a subset of ``float``'s, and both
round correctly), and by ``float`` otherwise (``nan``, ``inf``, ``1_0``, ``.5``): the same
values either way (``tests/test_label_text.py`` checks it bit for bit).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import msgspec
import numpy as np

from tecktrack.errors import DatasetError

__all__ = ["BOM", "label_line_numbers", "parse_label_texts", "parse_numbers", "read_label_bytes",
           "repeated_rows"]

#: The UTF-8 byte order mark some editors write first; the readers skip it.
BOM = b"\xef\xbb\xbf"

_JSON_NUMBERS = b"0123456789.+-eE,"  # every byte a comma-separated list of JSON numbers has
_FLOATS = msgspec.json.Decoder(list[float])
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0)


def read_label_bytes(path: str | Path) -> bytes:
    """The bytes of a label file, without a leading byte order mark.

    Raises
    ------
    DatasetError
        The file does not exist, or is a folder.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "a.txt"; _ = p.write_bytes(BOM + b"0 0.5\\n")
    >>> read_label_bytes(p)
    b'0 0.5\\n'
    """
    try:
        fd = os.open(path, _READ_FLAGS)  # without a buffered file object: twice as fast
    except FileNotFoundError:
        raise DatasetError("label file not found", path) from None
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    except IsADirectoryError:
        raise DatasetError("expected a label file, found a folder", path) from None
    finally:
        os.close(fd)
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return data[len(BOM):] if data.startswith(BOM) else data


def label_line_numbers(data: bytes) -> list[int]:
    """1-based line numbers of the non-blank lines (row ``i`` of the table is on line
    ``label_line_numbers(data)[i]``).

    Examples
    --------
    >>> label_line_numbers(b"0 1\\r\\n\\n \\t\\n2 3")
    [1, 4]
    """
    return [n for n, line in enumerate(data.splitlines(), start=1) if line.split()]


def parse_numbers(tokens: Sequence[bytes]) -> np.ndarray | None:
    """The tokens as float64, each exactly ``float(token)``; None if one is not a number.

    Examples
    --------
    >>> parse_numbers([b"1", b"0.25", b"-0", b"nan"])
    array([ 1.  ,  0.25, -0.  ,   nan])
    >>> parse_numbers([b"1", b"0,5"]) is None
    True
    """
    joined = b",".join(tokens)
    # JSON numbers, one per token: no other byte, no comma inside a token; and not "-0",
    # which is JSON's integer 0 but float's -0.0
    if (not joined.translate(None, _JSON_NUMBERS) and joined.count(b",") == len(tokens) - 1
            and (b"-0" not in joined or b",-0," not in b"," + joined + b",")):
        try:
            return np.array(_FLOATS.decode(b"[" + joined + b"]"), dtype=np.float64)
        except msgspec.DecodeError:  # e.g. "5.", "00.5", "1e999": float() decides
            pass
    try:
        return np.array(tokens, dtype=np.float64)
    except ValueError:
        return None


def _rows(data: bytes, ncols: int) -> int | None:
    """Non-blank lines of a text, or None when a line does not hold exactly ``ncols`` tokens."""
    lengths = list(map(len, map(bytes.split, data.splitlines())))
    blank = lengths.count(0)
    return len(lengths) - blank if lengths.count(ncols) + blank == len(lengths) else None


def parse_label_texts(texts: Sequence[bytes], ncols: int
                      ) -> tuple[np.ndarray, np.ndarray] | int:
    """Parse many label texts into one ``(rows, ncols)`` float64 table and rows per text.

    Returns the index of the first text that breaks the line rule instead (a line without
    exactly ``ncols`` tokens, or a token that is not a number), for the line-by-line reader to
    explain; values are not range-checked here.

    Examples
    --------
    >>> values, counts = parse_label_texts([b"0 0.5\\n1 .25\\n", b"", b"2 1e-3"], 2)
    >>> values.tolist(), counts.tolist()
    ([[0.0, 0.5], [1.0, 0.25], [2.0, 0.001]], [2, 0, 1])
    >>> parse_label_texts([b"0 0.5\\n", b"0 0.5 0.5\\n"], 2)
    1
    """
    rows = [_rows(data, ncols) for data in texts]
    if None not in rows:
        values = parse_numbers(texts[0].split() if len(texts) == 1
                               else b"\n".join(texts).split())
        if values is not None:
            return values.reshape(-1, ncols), np.array(rows, dtype=np.int64)
    # the first broken text: one with a bad line, or before it one with a bad number
    stop = rows.index(None) if None in rows else len(texts)
    return next((i for i in range(stop) if parse_numbers(texts[i].split()) is None), stop)


def repeated_rows(data: bytes, ncols: int = 5) -> list[tuple[int, int]]:
    """``(line, first line)`` of every row of a label file that repeats an earlier row: the
    same numbers in float32, as Ultralytics compares rows when it drops repeats (``0.50`` and
    ``.5`` are one value). Empty when a line does not parse (the reader reports that).

    Examples
    --------
    >>> repeated_rows(b"0 0.5 0.5 0.2 0.2\\n1 0.5 0.5 0.2 0.2\\n\\n0 .50 0.5 0.2 0.20\\n")
    [(4, 1)]
    """
    parsed = parse_label_texts([data], ncols)
    if isinstance(parsed, int):
        return []
    rows = parsed[0].astype(np.float32)
    _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    repeats = np.flatnonzero(first[inverse.ravel()] != np.arange(len(rows)))
    lines = label_line_numbers(data)
    return [(lines[i], lines[first[inverse.ravel()[i]]]) for i in repeats]
