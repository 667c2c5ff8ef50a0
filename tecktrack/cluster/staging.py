"""Shard outputs that are never half-written or doubled.

The client opens a run folder, ``OUT/.tecktrack-partial/run-<token>/`` (:func:`start_run`);
a shard writes its files under a staging folder of its own inside it,
``shard-NNNNNN-<token>/`` (a fresh token per attempt), mirroring the final layout. Only when
every shard of the run succeeded does :func:`commit` rename the staged files into place:
a worker that died mid-shard leaves a staging folder nobody commits (removed with
:func:`discard`), and a retried shard replaces only its own files.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tecktrack.cluster.cache import worker_address
from tecktrack.errors import ClusterError

__all__ = ["MANIFEST", "PARTIAL", "check_readable", "commit", "discard", "new_stage",
           "staged_files", "start_run", "write_manifest"]

#: Hidden folder under an output folder holding the shards' staging folders.
PARTIAL = ".tecktrack-partial"

#: The manifest a cluster run writes beside its outputs.
MANIFEST = "cluster-manifest.json"


def start_run(out: str | Path) -> str:
    """Create the run folder under ``out/.tecktrack-partial`` (client side); its name.

    Examples
    --------
    >>> import tempfile
    >>> start_run(tempfile.mkdtemp()).startswith("run-")
    True
    """
    run = f"run-{secrets.token_hex(4)}"
    (Path(out) / PARTIAL / run).mkdir(parents=True)
    return run


def new_stage(out: str | Path, shard: int, run: str) -> Path:
    """Create and return a fresh staging folder for one attempt of ``shard`` of ``run``.

    The run folder must exist: a shard still running after its run failed (and was
    discarded) cannot stage anything any more.

    Examples
    --------
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> new_stage(out, 3, start_run(out)).name.startswith("shard-000003-")
    True
    """
    stage = Path(out) / PARTIAL / run / f"shard-{shard:06d}-{secrets.token_hex(4)}"
    try:
        stage.mkdir()
    except FileNotFoundError:
        raise ClusterError("the run this shard belongs to was stopped; nothing staged",
                           stage.parent) from None
    return stage


def staged_files(stage: Path) -> list[str]:
    """Files under a staging folder, as sorted POSIX paths relative to it."""
    return sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file())


def commit(stage: str | Path, out: str | Path, files: Iterable[str]) -> None:
    """Rename the staged ``files`` (relative paths) into ``out``; remove the staging folder.

    Renames replace an existing file (a retried shard's own output), never another shard's.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()); st = new_stage(out, 0, start_run(out))
    >>> _ = (st / "a.txt").write_text("x"); commit(st, out, ["a.txt"])
    >>> (out / "a.txt").read_text(), st.exists()
    ('x', False)
    """
    stage, out = Path(stage), Path(out)
    made: set[Path] = set()
    for rel in files:
        target = out / rel
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        os.replace(stage / rel, target)
    shutil.rmtree(stage, ignore_errors=True)


def discard(out: str | Path) -> None:
    """Remove every staging folder under ``out`` (dead attempts, or a failed run)."""
    shutil.rmtree(Path(out) / PARTIAL, ignore_errors=True)


@contextmanager
def staged_run(out: str | Path) -> Iterator[str]:
    """A run staged under ``out`` (:func:`start_run`); yields the run's name.

    On any failure inside the block every staging folder is discarded, and ``out`` itself is
    removed again when this run created it and left it empty, so a failed run writes nothing.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "new"
    >>> try:
    ...     with staged_run(out) as run:
    ...         raise ValueError(run)
    ... except ValueError:
    ...     pass
    >>> out.exists()
    False
    """
    out = Path(out)
    created = not out.exists()
    try:
        yield start_run(out)
    except BaseException:
        discard(out)
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise


def commit_shards(out: str | Path, results: Sequence[dict], session: Any) -> list[str]:
    """Commit every shard's staged ``files`` into ``out``, discard the staging folders and
    write the manifest; returns the committed files (relative paths, shard order).

    Each result is a shard's ``{"stage": folder, "files": [relative paths], ...}``.
    """
    files = [f for r in results for f in r["files"]]
    for r in results:
        commit(r["stage"], out, r["files"])
    discard(out)
    write_manifest(out, files, session)
    return files


def check_readable(paths: Sequence[str | Path]) -> None:
    """Raise :class:`ClusterError` naming the first path this worker cannot read.

    Paths must be visible to every worker (a shared filesystem); this runs before a shard
    writes anything.

    Examples
    --------
    >>> check_readable(["/no/such/image.jpg"])
    Traceback (most recent call last):
    ...
    tecktrack.errors.ClusterError: /no/such/image.jpg: worker pid ... cannot read it (no such ...
    """
    for path in paths:
        p = Path(path)
        if p.is_file() and os.access(p, os.R_OK):
            continue
        why = "no such file" if not p.exists() else "not a readable file"
        raise ClusterError(f"worker {worker_address()} cannot read it ({why}; paths must be "
                           "visible to every worker)", p)


def write_manifest(out: str | Path, files: Sequence[str], session: Any) -> Path:
    """Write ``out/cluster-manifest.json``: every output once (sorted) and what ran where.

    ``session`` gives ``shards``, ``retried`` and ``workers`` (a
    :class:`~tecktrack.cluster.ClusterSession`).

    Examples
    --------
    >>> import tempfile, types
    >>> s = types.SimpleNamespace(shards=2, retried=1, workers={"a", "b"})
    >>> p = write_manifest(tempfile.mkdtemp(), ["b.txt", "a.txt"], s)
    >>> json.loads(p.read_text())["outputs"]
    ['a.txt', 'b.txt']
    """
    path = Path(out) / MANIFEST
    data = {"shards": session.shards, "retried": session.retried,
            "workers": len(session.workers), "outputs": sorted(files)}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path
