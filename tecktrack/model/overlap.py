"""Run a sequence of network calls with the work around each one on a second core.

:meth:`~tecktrack.model.core.Model.predict_batch` makes one forward pass per batch (per frame
for networks with a fixed batch of one). Between two passes the frames of the next call have
to be written into an input blob and the outputs of the last one decoded, suppressed and
mapped back: work that reads and writes megabytes right after the forward has pushed them out
of the caches. :func:`overlapped` does it on a helper thread while the network runs the next
call (ONNX Runtime, OpenCV DNN and the compiled kernels release the GIL), so a run of ``n``
calls costs the ``n`` forwards plus the first preparation and the last finish.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

from tecktrack.cluster import usable_cores

__all__ = ["overlapped", "spare_core"]

Prepared = TypeVar("Prepared")
Outputs = TypeVar("Outputs")
Result = TypeVar("Result")

#: Each calling thread's helper: ``(process id, executor)``.
_HELPERS = threading.local()


def spare_core() -> bool:
    """Whether this process may run on more than one core (then overlapping pays).

    Examples
    --------
    >>> isinstance(spare_core(), bool)
    True
    """
    return usable_cores() > 1


def overlapped(count: int, prepare: Callable[[int], Prepared],
               forward: Callable[[Prepared], Outputs],
               finish: Callable[[int, Prepared, Outputs], Result], *,
               overlap: bool = True) -> list[Result]:
    """``[finish(k, p, forward(p)) for p = prepare(k)]``, with ``prepare(k + 1)`` and
    ``finish(k - 1, ...)`` running on a helper thread while ``forward(k)`` runs.

    ``forward`` always runs on the calling thread, in order. ``prepare(k + 1)`` runs while
    ``forward(k)`` may still read what ``prepare(k)`` returned, so the two must not share
    memory (alternate two buffers: ``k % 2``); ``prepare(k + 2)`` starts only after
    ``forward(k)`` has returned. An exception from any of the three propagates once the
    helper's running step has ended. Each calling thread has its own helper thread, kept
    from call to call. With ``overlap=False``, or for a single call, every step runs on the
    calling thread, one after the other (the same results).

    Parameters
    ----------
    count : int
        Number of calls.
    prepare : callable
        ``prepare(k)``: the input of call ``k``.
    forward : callable
        ``forward(prepared)``: the outputs of a call.
    finish : callable
        ``finish(k, prepared, outputs)``: the result of call ``k``.
    overlap : bool
        Use the helper thread (callers pass their own setting, e.g. ``Model.overlap``).

    Returns
    -------
    list
        The results, in call order.

    Examples
    --------
    >>> overlapped(3, lambda k: k * 10, lambda x: x + 1, lambda k, p, out: (k, out))
    [(0, 1), (1, 11), (2, 21)]
    """
    if not overlap or count <= 1:
        return [finish(k, p, forward(p)) for k, p in ((k, prepare(k)) for k in range(count))]
    results: list = [None] * count
    helper = _helper()
    prepared, waiting = prepare(0), None
    for k in range(count):
        side = helper.submit(_side_work, prepare if k + 1 < count else None, k + 1, finish,
                             waiting)
        try:
            outputs = forward(prepared)
        finally:  # the helper's step ends before anything else happens, error or not
            wait([side])
        following, finished = side.result()
        if waiting is not None:
            results[waiting[0]] = finished
        waiting, prepared = (k, prepared, outputs), following
    results[count - 1] = finish(*waiting)
    return results


def _helper() -> ThreadPoolExecutor:
    """The calling thread's helper thread, started on first use and kept: starting one
    costs ~0.2 ms a call. It ends with its calling thread (the executor is collected with
    the thread's locals), and a forked child starts its own (a fork copies no thread)."""
    held = getattr(_HELPERS, "executor", None)
    if held is None or held[0] != os.getpid():
        held = _HELPERS.executor = (os.getpid(), ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="tecktrack-overlap"))
    return held[1]


def _side_work(prepare: Callable | None, k: int, finish: Callable,
               waiting: tuple | None) -> tuple:
    """The helper's step: prepare call ``k`` (if any) and finish the call ``waiting``."""
    following = None if prepare is None else prepare(k)
    return following, None if waiting is None else finish(*waiting)
