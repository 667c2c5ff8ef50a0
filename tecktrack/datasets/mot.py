"""MOTChallenge track files: ``frame,id,x,y,w,h,conf,class,visibility[,unused]``.

One row per box and frame; frames count from 1; ``x, y`` is the top-left corner and
``w, h`` the size in pixels (COCO order). Ground-truth files use column 7 as the
"consider" flag (0: ignore the row, as the MOTChallenge benchmark does), column 8 as the
class and column 9 as the visible fraction; tracker files write ``conf`` there and
``-1, -1, -1`` after it. Both commas and whitespace separate columns, as TrackEval reads
them. Every malformed line is an error naming the file and the line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tecktrack.detections import xywh_to_xyxy
from tecktrack.errors import FormatError

__all__ = ["MotRows", "read_mot", "write_mot", "MOT_COLUMNS"]

#: Column names of a MOTChallenge row, in order (the first 6 are required).
MOT_COLUMNS = ("frame", "id", "x", "y", "w", "h", "conf", "class", "visibility", "unused")
_DEFAULTS = (1.0, -1.0, -1.0, -1.0)  # conf, class, visibility, unused when absent


@dataclass(eq=False)
class MotRows:
    """The rows of one MOTChallenge file, columnar, sorted by frame then id.

    Parameters
    ----------
    frames, ids : (n,) int64
        1-based frame numbers and track (or ground-truth object) identities.
    xywh : (n, 4) float64
        Top-left corner and size in pixels.
    conf, classes, visibility : (n,)
        Column 7 (float64), column 8 (int64, -1 when absent) and column 9 (float64).

    Examples
    --------
    >>> rows = MotRows.from_arrays([2, 1], [7, 7], [[0, 0, 10, 10], [1, 1, 10, 10]])
    >>> rows.frames.tolist(), len(rows), rows.num_frames
    ([1, 2], 2, 2)
    """

    frames: np.ndarray
    ids: np.ndarray
    xywh: np.ndarray
    conf: np.ndarray
    classes: np.ndarray
    visibility: np.ndarray

    @classmethod
    def from_arrays(cls, frames, ids, xywh, conf=None, classes=None,
                    visibility=None) -> MotRows:
        """Build from arrays (any order; rows are sorted by frame, then id).

        Examples
        --------
        >>> MotRows.from_arrays([1], [3], [[0.5, 0, 2, 2]], conf=[0.9]).conf.tolist()
        [0.9]
        """
        frames = np.asarray(frames, np.int64).reshape(-1)
        n = len(frames)
        ids = np.asarray(ids, np.int64).reshape(-1)
        xywh = np.asarray(xywh, np.float64).reshape(n, 4)
        conf = np.ones(n) if conf is None else np.asarray(conf, np.float64).reshape(-1)
        classes = (np.full(n, -1, np.int64) if classes is None
                   else np.asarray(classes, np.int64).reshape(-1))
        visibility = (np.full(n, -1.0) if visibility is None
                      else np.asarray(visibility, np.float64).reshape(-1))
        order = np.lexsort((ids, frames))
        return cls(frames[order], ids[order], xywh[order], conf[order], classes[order],
                   visibility[order])

    @classmethod
    def empty(cls) -> MotRows:
        """No rows."""
        return cls.from_arrays(np.zeros(0), np.zeros(0), np.zeros((0, 4)))

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, mask: np.ndarray) -> MotRows:
        """Rows selected by a boolean mask or an index array (order kept)."""
        return MotRows(self.frames[mask], self.ids[mask], self.xywh[mask], self.conf[mask],
                       self.classes[mask], self.visibility[mask])

    @property
    def xyxy(self) -> np.ndarray:
        """Pixel corners, float64 (``x + w`` as TrackEval computes them)."""
        return xywh_to_xyxy(self.xywh)

    @property
    def num_frames(self) -> int:
        """The last frame number (0 when empty)."""
        return int(self.frames.max()) if len(self) else 0


def _number(token: str, column: str, path: Path, line: int) -> float:
    # ASCII decimal numbers only, as the YOLO readers: float() alone would also take '٣',
    # full-width digits and '1_0'
    if not token:
        raise FormatError(f"column '{column}' is empty", path, line)
    try:
        if not token.isascii() or "_" in token:
            raise ValueError
        value = float(token)
    except ValueError:
        raise FormatError(f"column '{column}' is not a number: {token!r}", path, line) from None
    if not math.isfinite(value):
        raise FormatError(f"column '{column}' is not finite: {token!r}", path, line)
    return value


def _integer(token: str, column: str, path: Path, line: int) -> int:
    value = _number(token, column, path, line)
    if value != round(value):
        raise FormatError(f"column '{column}' must be a whole number, got {token!r}", path, line)
    return int(value)


def _split_lines(text: str) -> list[tuple[int, list[str]]]:
    """(1-based line number, tokens) of the non-blank lines.

    Lines end at ``\\n``, ``\\r\\n`` or ``\\r``. A line with commas is split at each comma,
    its fields stripped of ASCII whitespace: an empty field stays as an empty token (an error
    later, as TrackEval refuses it; merging the separators shifted the later columns left),
    one trailing comma is dropped. A line without commas is split at ASCII whitespace (as the
    YOLO readers split): a Unicode line or space separator stays inside a token, which is
    then not a number.

    Examples
    --------
    >>> _split_lines("1,2, 3\\u2028\\r\\n\\n4 5\\n1,,3,\\n")
    [(1, ['1', '2', '3\\u2028']), (3, ['4', '5']), (4, ['1', '', '3'])]
    """
    data = text.encode("utf-8", errors="surrogatepass")
    out = []
    for number, raw in enumerate(data.splitlines(), start=1):
        if b"," in raw:  # comma-separated (MOTChallenge): an empty field stays, as an error
            tokens = [t.strip() for t in raw.split(b",")]
            if tokens[-1] == b"":  # one trailing comma, which TrackEval tolerates too
                tokens.pop()
            if not any(tokens):
                continue
        else:
            tokens = raw.split()
        if tokens:
            out.append((number, [t.decode("utf-8", errors="replace") for t in tokens]))
    return out


def _parse_line(tokens: list[str], path: Path, line: int) -> tuple:
    if not 6 <= len(tokens) <= 10:
        raise FormatError(f"expected 6 to 10 columns (frame,id,x,y,w,h[,conf,class,"
                          f"visibility,unused]), got {len(tokens)}", path, line)
    frame = _integer(tokens[0], "frame", path, line)
    if frame < 1:
        raise FormatError(f"frame numbers start at 1, got {frame}", path, line)
    track = _integer(tokens[1], "id", path, line)
    box = [_number(t, c, path, line) for t, c in zip(tokens[2:6], MOT_COLUMNS[2:6], strict=False)]
    if box[2] < 0 or box[3] < 0:
        raise FormatError(f"box width and height must be >= 0, got w={tokens[4]} "
                          f"h={tokens[5]}", path, line)
    rest = [_number(t, c, path, line) for t, c in zip(tokens[6:], MOT_COLUMNS[6:], strict=False)]
    rest += list(_DEFAULTS[len(rest):])
    if rest[1] != round(rest[1]):
        raise FormatError(f"column 'class' must be a whole number, got {tokens[7]!r}",
                          path, line)
    return frame, track, box, rest[0], int(rest[1]), rest[2], line


def read_mot(path: str | Path) -> MotRows:
    """Read a MOTChallenge ground-truth or tracker file.

    Blank lines are skipped. A line with too few or too many columns, a value that is not
    a (finite) number, a frame or id that is not a whole number, a frame below 1, a
    negative width or height, or the same id twice in one frame raises
    :class:`~tecktrack.errors.FormatError` naming the file and line.

    Parameters
    ----------
    path : str or Path
        The ``.txt`` file; an empty file is a valid sequence with no boxes.

    Returns
    -------
    MotRows

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "gt.txt"
    >>> _ = p.write_text("1,1,10.5,20,30,40,1,1,0.8\\n2,1,12,20,30,40,1,1,1\\n")
    >>> rows = read_mot(p)
    >>> rows.frames.tolist(), rows.xyxy[0].tolist()
    ([1, 2], [10.5, 20.0, 40.5, 60.0])
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise FormatError("no such MOT file", path) from None
    except UnicodeDecodeError:
        raise FormatError("not a UTF-8 text file", path) from None
    except OSError as exc:
        raise FormatError(f"cannot read MOT file ({exc.strerror})", path) from None
    parsed = [_parse_line(tokens, path, i) for i, tokens in _split_lines(text)]
    if not parsed:
        return MotRows.empty()
    frames, ids, boxes, conf, classes, vis, lines = zip(*parsed, strict=False)
    rows = MotRows.from_arrays(frames, ids, boxes, conf, classes, vis)
    _refuse_repeated_ids(rows, np.asarray(lines), np.asarray(frames), np.asarray(ids), path)
    return rows


def _refuse_repeated_ids(rows: MotRows, lines: np.ndarray, frames: np.ndarray,
                         ids: np.ndarray, path: Path) -> None:
    same = (np.diff(rows.frames) == 0) & (np.diff(rows.ids) == 0)
    if not np.any(same):
        return
    k = int(np.argmax(same))
    frame, track = int(rows.frames[k]), int(rows.ids[k])
    where = np.flatnonzero((frames == frame) & (ids == track))
    raise FormatError(f"id {track} appears twice in frame {frame} (also on line "
                      f"{int(lines[where[0]])})", path, int(lines[where[1]]))


def write_mot(path: str | Path, rows: MotRows, *, tracker: bool = True) -> None:
    """Write rows as a MOTChallenge file (refuses to overwrite an existing file).

    Tracker files (``tracker=True``) get ``frame,id,x,y,w,h,conf,-1,-1,-1``; ground truth
    gets ``frame,id,x,y,w,h,conf,class,visibility``. Coordinates keep two decimals, as
    MOTChallenge files do; confidences and visibility keep four.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "t.txt"
    >>> write_mot(p, MotRows.from_arrays([1], [4], [[1, 2, 3, 4]], conf=[0.5]))
    >>> p.read_text()
    '1,4,1.00,2.00,3.00,4.00,0.5000,-1,-1,-1\\n'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "x", encoding="utf-8") as handle:
        handle.write(format_mot(rows, tracker=tracker))


def format_mot(rows: MotRows, *, tracker: bool = True) -> str:
    """The text :func:`write_mot` writes (one line per row, each ending in a newline).

    Examples
    --------
    >>> format_mot(MotRows.from_arrays([3], [1], [[0, 0, 5, 5]], classes=[2],
    ...                                visibility=[1.0]), tracker=False)
    '3,1,0.00,0.00,5.00,5.00,1,2,1.0000\\n'
    """
    if not len(rows):
        return ""
    boxes = [np.char.mod("%.2f", rows.xywh[:, k]) for k in range(4)]
    head = [rows.frames.astype(str), rows.ids.astype(str)] + boxes
    if tracker:
        tail = [np.char.mod("%.4f", rows.conf), np.full(len(rows), "-1,-1,-1")]
    else:
        tail = [np.char.mod("%d", np.trunc(rows.conf).astype(np.int64)), rows.classes.astype(str),
                np.char.mod("%.4f", rows.visibility)]
    columns = head + tail
    out = columns[0]
    for column in columns[1:]:
        out = np.char.add(np.char.add(out, ","), column)
    return "\n".join(out.tolist()) + "\n"
