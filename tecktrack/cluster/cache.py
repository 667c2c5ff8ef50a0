"""What a worker keeps between shards: objects built once per process (e.g. a loaded model).

The executor knows no model; a batch step names its object by a key (for a detector: the
model file's identity and the load options) and a factory that builds it on first use.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["cache_size", "clear_cache", "file_key", "worker_address", "worker_cache"]

T = TypeVar("T")

_CACHE: dict[Hashable, Any] = {}
_LOCK = threading.Lock()
_KEY_LOCKS: dict[Hashable, threading.Lock] = {}


def worker_cache(key: Hashable, factory: Callable[[], T], *, per_thread: bool = False) -> T:
    """The object cached under ``key`` in this process, built by ``factory()`` the first time.

    Threads of one worker (or in-process workers) share the cache; ``factory`` runs once per
    key even when several threads ask at the same time. ``per_thread=True`` keeps one object
    per thread instead, for objects that must not be used by two threads at once (an OpenCV
    DNN network is not thread-safe: two worker threads sharing one return wrong boxes).

    Examples
    --------
    >>> calls = []
    >>> worker_cache(("doc", 1), lambda: calls.append(1) or "built")
    'built'
    >>> worker_cache(("doc", 1), lambda: calls.append(1) or "again"), len(calls)
    ('built', 1)
    """
    if per_thread:
        key = (key, threading.get_ident())
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with lock:
        with _LOCK:
            if key in _CACHE:
                return _CACHE[key]
        value = factory()
        with _LOCK:
            _CACHE[key] = value
        return value


def cache_size() -> int:
    """Number of objects cached in this process."""
    with _LOCK:
        return len(_CACHE)


def clear_cache() -> None:
    """Forget every cached object of this process."""
    with _LOCK:
        _CACHE.clear()
        _KEY_LOCKS.clear()


def file_key(path: str | Path) -> tuple[str, int, int]:
    """Identity of a file for cache keys: resolved path, size and modification time (ns).

    A model file replaced on the shared filesystem gets a new key, so workers reload it.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "m.onnx"; _ = p.write_bytes(b"12")
    >>> file_key(p)[1]
    2
    """
    path = Path(path).resolve()
    stat = path.stat()
    return str(path), int(stat.st_size), int(stat.st_mtime_ns)


def worker_address() -> str:
    """The Dask worker running this code (its address), else ``pid <n>`` outside a worker.

    Examples
    --------
    >>> worker_address().startswith("pid ")
    True
    """
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"
