"""Inference speed of a callable over inputs: mean, min, max and p95 milliseconds."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tecktrack.progress import progress


def time_callable(fn: Callable[[Any], Any], inputs: Iterable[Any], warmup: int = 3, *,
                  quiet: bool = False) -> dict[str, float]:
    """Time ``fn(x)`` once per input with :func:`time.perf_counter`, after warm-up calls.

    Parameters
    ----------
    fn : callable
        Called with one input at a time; its result is discarded.
    inputs : iterable
        The inputs (e.g. images); each is timed once.
    warmup : int
        Untimed calls first, cycling over the inputs (caches, lazy initialisation, JIT).
    quiet : bool
        Hide the progress bar.

    Returns
    -------
    dict
        ``mean_ms, min_ms, max_ms, p95_ms`` (float) and ``n`` (number of timed calls).

    Raises
    ------
    ValueError
        No inputs, or a negative ``warmup``.

    Examples
    --------
    >>> stats = time_callable(sum, [[1, 2], [3]], warmup=1, quiet=True)
    >>> stats["n"], stats["min_ms"] <= stats["p95_ms"] <= stats["max_ms"]
    (2, True)
    """
    items = list(inputs)
    if not items:
        raise ValueError("time_callable needs at least one input")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    for i in range(warmup):
        fn(items[i % len(items)])
    elapsed = np.empty(len(items))
    for i, x in enumerate(progress(items, total=len(items), desc="timing", quiet=quiet)):
        start = time.perf_counter()
        fn(x)
        elapsed[i] = time.perf_counter() - start
    ms = elapsed * 1000.0
    return {"mean_ms": float(ms.mean()), "min_ms": float(ms.min()), "max_ms": float(ms.max()),
            "p95_ms": float(np.percentile(ms, 95)), "n": len(items)}
