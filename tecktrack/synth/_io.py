"""File helpers shared by the synthetic generators: JPEG/label writing, staging, workers."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np

from tecktrack.cluster import usable_cores
from tecktrack.errors import DatasetError
from tecktrack.progress import progress

T = TypeVar("T")
R = TypeVar("R")

#: JPEG quality of every generated image (fixed, so bytes are reproducible).
JPEG_QUALITY = 90


def frame_name(index: int, suffix: str) -> str:
    """Zero-padded 6-digit file name, e.g. ``frame_name(42, ".jpg") == "000042.jpg"``."""
    return f"{index:06d}{suffix}"


def write_jpeg(path: Path, image: np.ndarray) -> None:
    """Encode ``image`` (BGR uint8) as JPEG with :data:`JPEG_QUALITY` and write it."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise DatasetError("OpenCV could not encode the image as JPEG", path)
    path.write_bytes(buf.tobytes())


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented, key-ordered-as-given JSON with a trailing newline."""
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def refuse_existing(path: Path) -> None:
    """Raise :class:`DatasetError` if ``path`` exists and is not an empty folder."""
    if path.exists() and not (path.is_dir() and not any(path.iterdir())):
        raise DatasetError("output already exists; generated data never overwrites anything, "
                           "remove it or choose another path", path)


@contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """Yield a fresh sibling folder that becomes ``out`` only when the block succeeds.

    A crash leaves no half-written ``out`` behind. ``out`` must not exist or be empty.
    """
    refuse_existing(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = out.parent / f".{out.name}.partial-{os.getpid()}"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir()
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    if out.exists():
        out.rmdir()
    stage.rename(out)


def _init_worker() -> None:
    cv2.setNumThreads(1)


def default_workers(n_items: int) -> int:
    """Worker processes to use: up to 2 (the target machine), 1 for small jobs."""
    return 1 if n_items < 64 else min(2, usable_cores())


def parallel_map(fn: Callable[[T], R], items: Sequence[T], *, workers: int | None = None,
                 desc: str = "", quiet: bool = False) -> list[R]:
    """``[fn(x) for x in items]`` with a progress bar, in worker processes when useful.

    Results come back in input order; every item must carry its own seed so the output does
    not depend on which process ran it.

    Examples
    --------
    >>> parallel_map(abs, [-1, 2, -3], quiet=True)
    [1, 2, 3]
    """
    workers = default_workers(len(items)) if workers is None else workers
    if workers <= 1:
        return [fn(x) for x in progress(items, total=len(items), desc=desc, quiet=quiet)]
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    with ctx.Pool(workers, initializer=_init_worker) as pool:
        chunk = max(1, min(16, len(items) // (workers * 8)))
        return list(progress(pool.imap(fn, items, chunksize=chunk), total=len(items),
                             desc=desc, quiet=quiet))
