"""Move files with a manifest that can resume or undo the job; nothing is deleted or overwritten.

The manifest (JSON, written *before* the first move) lists every move as ``source``,
``destination`` and the file's ``sha256``. The state of each move is read from the disk, so
an apply that was interrupted at any point can be resumed or undone:

============  ==============================================  =============  ===========
state         on disk                                          apply          undo
============  ==============================================  =============  ===========
pending       source exists, destination does not              move           nothing
linked        both exist and are the same file (hard link)     finish         drop link
done          destination exists, source does not              nothing        move back
conflict      anything else, or content != sha256              refuse         refuse
============  ==============================================  =============  ===========

A move is ``os.link(source, destination)`` (fails rather than overwrite) followed by
``os.unlink(source)``; the bytes always stay reachable. Where hard links are not supported
it falls back to ``os.rename`` after checking the destination is free.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from collections.abc import Sequence
from pathlib import Path

from tecktrack.errors import DatasetError, FormatError
from tecktrack.progress import progress

__all__ = ["MANIFEST_VERSION", "apply_manifest", "move_states", "read_manifest", "sha256_of",
           "undo_manifest", "write_manifest"]

MANIFEST_VERSION = 1


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "x"; _ = p.write_bytes(b"abc")
    >>> sha256_of(p)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(moves: Sequence[tuple[Path, Path]], folder: str | Path,
                   path: str | Path | None = None) -> Path:
    """Write a new manifest for ``moves`` (checked first) and return its path.

    The default path is beside ``folder``: ``<folder>-clean-manifest-<UTC time>-<hex>.json``.

    Raises
    ------
    DatasetError
        A source is missing or a symbolic link, a destination already exists, two moves
        share a destination, or the manifest file exists.
    """
    folder = Path(folder).resolve()
    seen: set[Path] = set()
    entries = []
    for source, destination in moves:
        source, destination = Path(source), Path(destination).resolve()
        if source.is_symlink():  # resolving it would move the file it points to
            raise DatasetError("is a symbolic link; refusing to move the file it points to",
                               source)
        source = source.resolve()
        if not source.is_file():
            raise DatasetError("file to move not found", source)
        if destination.exists() or destination in seen:
            raise DatasetError("destination already exists; refusing to overwrite", destination)
        seen.add(destination)
        entries.append({"source": str(source), "destination": str(destination),
                        "sha256": sha256_of(source)})
    if path is None:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        path = folder.parent / f"{folder.name}-clean-manifest-{stamp}-{secrets.token_hex(3)}.json"
    path = Path(path)
    data = {"version": MANIFEST_VERSION, "folder": str(folder),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "moves": entries}
    write_new(path, json.dumps(data, indent=2) + "\n")
    return path


def write_new(path: Path, text: str) -> None:
    """Write ``text`` to a new file atomically: a complete file or none, never a replaced one."""
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    partial.write_text(text, encoding="utf-8")
    try:
        os.link(partial, path)
    except FileExistsError:
        raise DatasetError("manifest already exists; refusing to overwrite", path) from None
    except OSError:                      # no hard links here: check, then rename
        if path.exists():
            raise DatasetError("manifest already exists; refusing to overwrite", path) from None
        os.rename(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def read_manifest(path: str | Path) -> list[dict[str, str]]:
    """The moves of a manifest; :class:`FormatError` naming the field if it is malformed."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError("manifest not found", path) from None
    except json.JSONDecodeError as exc:
        raise FormatError(f"invalid JSON: {exc.msg}", path, exc.lineno) from None
    if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
        raise FormatError(f"not a cleaning manifest (version {MANIFEST_VERSION})", path)
    moves = data.get("moves")
    if not isinstance(moves, list):
        raise FormatError("moves: expected a list", path)
    for i, m in enumerate(moves):
        if not isinstance(m, dict) or not all(isinstance(m.get(k), str)
                                              for k in ("source", "destination", "sha256")):
            raise FormatError(f"moves[{i}]: needs source, destination and sha256 strings", path)
    return moves


def move_states(moves: list[dict[str, str]]) -> list[str]:
    """State of every move as found on disk (see the module table)."""
    return [_state(Path(m["source"]), Path(m["destination"]), m["sha256"]) for m in moves]


def apply_manifest(path: str | Path, *, quiet: bool = True) -> dict[str, int]:
    """Do (or resume) every move of a manifest; returns counts by what was done.

    Raises
    ------
    DatasetError
        If any move is in conflict (nothing is moved then).
    """
    return _replay(path, forward=True, quiet=quiet)


def undo_manifest(path: str | Path, *, quiet: bool = True) -> dict[str, int]:
    """Put every moved file of a manifest back (last move first); returns counts.

    Raises
    ------
    DatasetError
        If any move is in conflict, e.g. a moved file was changed (nothing is moved then).
    """
    return _replay(path, forward=False, quiet=quiet)


# What each direction does in each state: (count key, action) with action "move" (from the
# direction's start to its end), "unlink" (drop the start's hard link) or None.
_FORWARD = {"pending": ("moved", "move"), "linked": ("finished", "unlink"),
            "done": ("already done", None)}
_BACKWARD = {"done": ("restored", "move"), "linked": ("unlinked", "unlink"),
             "pending": ("not moved", None)}


def _replay(path: str | Path, *, forward: bool, quiet: bool) -> dict[str, int]:
    """The one replay loop of apply and undo: read states from disk, refuse conflicts, act."""
    moves = read_manifest(path)
    states = move_states(moves)
    _refuse_conflicts(moves, states, path)
    table = _FORWARD if forward else _BACKWARD
    counts = {key: 0 for key, _ in table.values()}
    pairs = list(zip(moves, states, strict=True))
    if not forward:
        pairs = pairs[::-1]
    for m, state in progress(pairs, total=len(pairs), desc="moving" if forward else "restoring",
                             quiet=quiet, unit="file"):
        start, end = Path(m["source"]), Path(m["destination"])
        if not forward:
            start, end = end, start
        key, action = table[state]
        if action == "move":
            _move(start, end)
        elif action == "unlink":
            os.unlink(start)
        counts[key] += 1
    return counts


def _state(src: Path, dst: Path, sha: str) -> str:
    s, d = src.is_file(), dst.is_file()
    if s and not d and not dst.exists():
        return "pending" if sha256_of(src) == sha else "conflict"
    if d and not s and not src.exists():
        return "done" if sha256_of(dst) == sha else "conflict"
    if s and d and os.path.samefile(src, dst):
        return "linked"
    return "conflict"


def _refuse_conflicts(moves: list[dict[str, str]], states: list[str], path: str | Path) -> None:
    bad = [m for m, s in zip(moves, states, strict=True) if s == "conflict"]
    if bad:
        first = bad[0]
        raise DatasetError(f"{len(bad)} move(s) cannot be done safely (files changed or both "
                           f"ends present), first: {first['source']} -> {first['destination']}",
                           path)


def _move(src: Path, dst: Path) -> None:
    """Move without ever replacing ``dst``."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except FileExistsError:
        raise DatasetError("destination appeared meanwhile; refusing to overwrite", dst) from None
    except OSError:
        if dst.exists():
            raise DatasetError("destination exists; refusing to overwrite", dst) from None
        os.rename(src, dst)
        return
    os.unlink(src)
